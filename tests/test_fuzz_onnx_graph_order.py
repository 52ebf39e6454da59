"""ONNX graphs that break the IR's order (found by tools/fuzz/fuzz_commands.py, stop 45): a node reading a name no
earlier node, input or initializer defines (a cycle, a self-loop, a typo, nodes out of order), a name written twice,
and an ``auto_pad`` value outside the schema (onnxruntime refuses it at load). Before, each imported with exit 0:
the out-of-order node was left unsized and costed as 0 s, the duplicate costed twice, the bad auto_pad ignored.
Now each is a SpecError naming the file, the node and the name; seeded mutations of a valid graph check every
position."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from cli_in_process import run_main
from inferchip.errors import SpecError
from inferchip.workload.vision.onnx_import import import_onnx

F = TensorProto.FLOAT


def _graph(nodes: list[onnx.NodeProto], out: str = "y") -> onnx.ModelProto:
    inits = [numpy_helper.from_array(np.ones((8, 3, 3, 3), np.float32), "w"),
             numpy_helper.from_array(np.ones((8, 10), np.float32), "m")]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", F, [1, 3, 16, 16])],
                          [helper.make_tensor_value_info(out, F, None)], inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def _nodes(**conv: object) -> list[onnx.NodeProto]:
    return [helper.make_node("Conv", ["x", "w"], ["c"], name="conv", pads=[1, 1, 1, 1], **conv),
            helper.make_node("Relu", ["c"], ["r"], name="relu"),
            helper.make_node("GlobalAveragePool", ["r"], ["p"], name="pool"),
            helper.make_node("Flatten", ["p"], ["f"], name="flat"),
            helper.make_node("MatMul", ["f", "m"], ["y"], name="fc")]


def _save(tmp_path: Path, model: onnx.ModelProto) -> Path:
    path = tmp_path / "g.onnx"
    path.write_bytes(model.SerializeToString())
    return path


def test_the_valid_graph_imports(tmp_path):
    net = import_onnx(_save(tmp_path, _graph(_nodes())))
    assert sum(x.op != "uncosted" for x in net.layers) == 4


@pytest.mark.parametrize(("extra", "out", "name"), [
    (helper.make_node("Add", ["y", "z"], ["z"], name="cycle"), "z", "z"),  # reads its own output
    (helper.make_node("Relu", ["q"], ["q"], name="self"), "q", "q"),
    (helper.make_node("Relu", ["nope"], ["z"], name="typo"), "z", "nope"),
])
def test_a_node_reading_an_undefined_name_is_refused(tmp_path, extra, out, name):
    path = _save(tmp_path, _graph([*_nodes(), extra], out))
    with pytest.raises(SpecError, match=rf"g\.onnx: node 5 '{extra.name}' .*input '{name}' is not a graph input"):
        import_onnx(path)


def test_seeded_swaps_out_of_topological_order_are_refused(tmp_path):
    """Every adjacent pair of nodes swapped (seeded over the positions): the later node's input is not yet defined."""
    rng = random.Random(45)
    for i in rng.sample(range(4), 4):
        nodes = _nodes()
        nodes[i], nodes[i + 1] = nodes[i + 1], nodes[i]
        with pytest.raises(SpecError, match=rf"node {i} '{nodes[i].name}' .*topological order"):
            import_onnx(_save(tmp_path, _graph(nodes)))


@pytest.mark.parametrize("name", ["c", "r", "x", "w"])
def test_a_name_written_twice_is_refused(tmp_path, name):
    nodes = [*_nodes(), helper.make_node("Relu", ["c"], [name], name="again")]
    with pytest.raises(SpecError, match=rf"node 5 'again' \(Relu\): output '{name}' is already defined"):
        import_onnx(_save(tmp_path, _graph(nodes)))


@pytest.mark.parametrize("pad", ["WHAT", "same_upper", " VALID"])
def test_an_auto_pad_outside_the_schema_is_refused(tmp_path, pad):
    nodes = _nodes(auto_pad=pad)
    del nodes[0].attribute[[a.name for a in nodes[0].attribute].index("pads")]
    with pytest.raises(SpecError, match=rf"node 0 'conv' \(Conv\): .*auto_pad '{pad}'; allowed: NOTSET, SAME_LOWER"):
        import_onnx(_save(tmp_path, _graph(nodes)))


@pytest.mark.parametrize("pad", ["SAME_UPPER", "VALID", "NOTSET", ""])
def test_an_auto_pad_of_the_schema_imports(tmp_path, pad):
    nodes = _nodes(auto_pad=pad)
    del nodes[0].attribute[[a.name for a in nodes[0].attribute].index("pads")]
    assert import_onnx(_save(tmp_path, _graph(nodes))).layers


def test_cli_names_the_file_and_node_without_a_traceback(tmp_path):
    path = _save(tmp_path, _graph([*_nodes(), helper.make_node("Add", ["y", "z"], ["z"], name="cycle")], "z"))
    code, out = run_main(["vision", "--chip", "nvidia-h100-sxm-80gb", "--model", str(path), "--batch", "1"])
    assert code == 2 and "Traceback" not in out
    assert "g.onnx: node 5 'cycle' (Add): input 'z'" in out
