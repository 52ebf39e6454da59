"""ONNX import: graphs built in the test with ``onnx.helper`` (nothing downloaded), mapped to layers whose
work is checked by hand; dynamic axes from ``--dim``; uncosted nodes reported with their share; bad files
and sizes answered with clear errors (also through the CLI, fuzz-style: exit 2, no traceback)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from cli_in_process import run_main
from inferchip.errors import InvalidSettingError, SpecError
from inferchip.workload.vision.network import load_network

F = TensorProto.FLOAT


def _w(name: str, *shape: int) -> onnx.TensorProto:
    return numpy_helper.from_array(np.zeros(shape, dtype=np.float32), name)


def _save(tmp_path: Path, nodes, inputs, inits, name: str = "g.onnx", opset: int = 17) -> Path:
    g = helper.make_graph(nodes, "g", inputs, [helper.make_tensor_value_info(nodes[-1].output[0], F, None)], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    path = tmp_path / name
    onnx.save(m, str(path))
    return path


def _cnn(tmp_path: Path) -> Path:
    """conv 3->16 3x3 s2, BN, ReLU, depthwise 3x3, 1x1 conv 16->32, resize x2, global pool, gemm 32->10, NMS-ish."""
    nodes = [
        helper.make_node("Conv", ["x", "w1"], ["c1"], strides=[2, 2], pads=[1, 1, 1, 1]),
        helper.make_node("BatchNormalization", ["c1", "s", "b", "mu", "var"], ["bn"]),
        helper.make_node("Relu", ["bn"], ["r"]),
        helper.make_node("Conv", ["r", "wd"], ["d"], group=16, pads=[1, 1, 1, 1]),
        helper.make_node("Conv", ["d", "w2"], ["c2"]),
        helper.make_node("Resize", ["c2", "", "scales"], ["up"], mode="nearest"),
        helper.make_node("GlobalAveragePool", ["up"], ["gp"]),
        helper.make_node("Flatten", ["gp"], ["fl"]),
        helper.make_node("Gemm", ["fl", "wf"], ["y"], transB=1),
    ]
    inits = [_w("w1", 16, 3, 3, 3), _w("s", 16), _w("b", 16), _w("mu", 16), _w("var", 16), _w("wd", 16, 1, 3, 3),
             _w("w2", 32, 16, 1, 1), _w("wf", 10, 32),
             numpy_helper.from_array(np.array([1, 1, 2, 2], dtype=np.float32), "scales")]
    x = helper.make_tensor_value_info("x", F, ["batch", 3, 64, 64])
    return _save(tmp_path, nodes, [x], inits)


def test_cnn_maps_to_layers_with_hand_counted_work(tmp_path):
    net = load_network(str(_cnn(tmp_path)), batch=2)
    ops = [x.op for x in net.layers]
    assert ops == ["conv", "norm", "elementwise", "depthwise", "conv", "resize", "pool", "matmul"]
    c1, c2, fc = net.layers[0], net.layers[4], net.layers[-1]
    assert c1.m == 2 * 32 * 32 and c1.k == 27 and c1.n == 16
    assert c2.macs == 2 * 32 * 32 * 16 * 32
    assert fc.m == 2 and fc.k == 32 and fc.n == 10
    assert net.macs_per_frame == 2 * 32 * 32 * 27 * 16 + 2 * 32 * 32 * 16 * 32 + 2 * 32 * 10
    assert net.params == 16 * 27 + 4 * 16 + 16 * 9 + 32 * 16 + 320  # scales is an input of Resize, not a weight
    assert net.layers[1].fusable and net.layers[2].fusable


def test_import_onnx_takes_a_str_or_any_path_like(tmp_path):
    """``import_onnx`` (behind the public ``ic.load_network``) takes a ``str`` path as well as a Path (a str
    raised AttributeError), and a missing file given as a str is the clear SpecError, not a traceback."""
    from inferchip.workload.vision.onnx_import import import_onnx

    path = _cnn(tmp_path)
    as_path, as_str = import_onnx(path, {"batch": 2}), import_onnx(str(path), {"batch": 2})
    assert [x.macs for x in as_str.layers] == [x.macs for x in as_path.layers]
    with pytest.raises(SpecError, match="cannot read the ONNX file"):
        import_onnx(str(tmp_path / "missing.onnx"))


def test_attention_pattern_is_a_matrix_layer(tmp_path):
    """Q K^T -> Softmax -> P V on activations: both matmuls costed on the matrix unit, grouped by head."""
    nodes = [helper.make_node("MatMul", ["q", "kt"], ["s"]), helper.make_node("Softmax", ["s"], ["p"], axis=-1),
             helper.make_node("MatMul", ["p", "v"], ["o"])]
    ins = [helper.make_tensor_value_info("q", F, [1, 8, 100, 64]),
           helper.make_tensor_value_info("kt", F, [1, 8, 64, 100]),
           helper.make_tensor_value_info("v", F, [1, 8, 100, 64])]
    net = load_network(str(_save(tmp_path, nodes, ins, [])))
    qk, sm, pv = net.layers
    assert qk.op == pv.op == "attention" and qk.groups == 8 and not qk.batch_in_m
    assert qk.macs == 8 * 100 * 64 * 100 and pv.macs == 8 * 100 * 100 * 64
    assert sm.op == "elementwise" and not sm.fusable


def test_conv_transpose_and_grid_sample(tmp_path):
    nodes = [helper.make_node("ConvTranspose", ["x", "w"], ["u"], strides=[2, 2], kernel_shape=[2, 2]),
             helper.make_node("GridSample", ["u", "grid"], ["g"])]
    ins = [helper.make_tensor_value_info("x", F, [1, 8, 16, 16]), helper.make_tensor_value_info("grid", F,
                                                                                                [1, 10, 10, 2])]
    net = load_network(str(_save(tmp_path, nodes, ins, [_w("w", 8, 4, 2, 2)])))
    ct, gs = net.layers
    assert ct.op == "conv" and ct.macs == 16 * 16 * 8 * 4 * 4  # input elements x C_out/groups x kernel volume
    assert gs.op == "gather" and gs.out_elems == 4 * 10 * 10


def test_nms_is_post_processing(tmp_path):
    nodes = [helper.make_node("NonMaxSuppression", ["boxes", "scores"], ["sel"])]
    ins = [helper.make_tensor_value_info("boxes", F, [1, 1000, 4]),
           helper.make_tensor_value_info("scores", F, [1, 80, 1000])]
    net = load_network(str(_save(tmp_path, nodes, ins, [])))
    (nms,) = net.layers
    assert nms.op == "postprocess" and nms.vector_ops > 80 * 1000  # classes x boxes x log2(boxes) x compares


def test_unsupported_node_reported_with_its_share(tmp_path):
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"]),
             helper.make_node("Einsum", ["c", "c"], ["e"], equation="...hw,...hw->...hw")]
    ins = [helper.make_tensor_value_info("x", F, [1, 4, 8, 8])]
    net = load_network(str(_save(tmp_path, nodes, ins, [_w("w", 4, 4, 1, 1)])))
    assert net.layers[-1].op == "uncosted" and net.layers[-1].onnx_op == "Einsum"
    assert 0 < net.uncosted_share() < 1
    assert any("Einsum x1" in n and "% of the activation traffic" in n for n in net.notes)


def test_1000_node_graph_imports(tmp_path):
    nodes, x = [], "x"
    for i in range(500):
        nodes += [helper.make_node("Conv", [x, "w"], [f"c{i}"], pads=[1, 1, 1, 1]),
                  helper.make_node("Relu", [f"c{i}"], [f"r{i}"])]
        x = f"r{i}"
    ins = [helper.make_tensor_value_info("x", F, [1, 8, 16, 16])]
    net = load_network(str(_save(tmp_path, nodes, ins, [_w("w", 8, 8, 3, 3)])))
    assert len(net.layers) == 1000 and net.params == 8 * 8 * 9


# --- bad input -------------------------------------------------------------------------------


def test_truncated_file(tmp_path):
    good = _cnn(tmp_path).read_bytes()
    bad = tmp_path / "cut.onnx"
    bad.write_bytes(good[: len(good) // 3])
    with pytest.raises(SpecError, match=r"cut\.onnx: not (a valid ONNX model|an ONNX model)"):
        load_network(str(bad), batch=1)


def test_garbage_and_empty_and_missing(tmp_path):
    g = tmp_path / "garbage.onnx"
    g.write_bytes(b"\xff\xfe not protobuf at all " * 10)
    with pytest.raises(SpecError, match="garbage.onnx: not"):
        load_network(str(g))
    e = tmp_path / "empty.onnx"
    e.write_bytes(b"")
    with pytest.raises(SpecError, match="empty"):
        load_network(str(e))
    with pytest.raises(SpecError, match="cannot read"):
        load_network(str(tmp_path / "missing.onnx"))


@pytest.mark.parametrize("opset", [3, 99])
def test_unsupported_opset(tmp_path, opset):
    nodes = [helper.make_node("Relu", ["x"], ["y"])]
    path = _save(tmp_path, nodes, [helper.make_tensor_value_info("x", F, [1, 4])], [], opset=opset)
    with pytest.raises(SpecError, match=f"opset {opset} is not supported; allowed"):
        load_network(str(path))


def test_unknown_and_missing_dynamic_sizes(tmp_path):
    path = _cnn(tmp_path)
    with pytest.raises(InvalidSettingError,
                       match=r"graph input 'x' \[batch, .*dynamic axis batch has no size; give each as a keyword of "
                             r"load_network, here load_network\(.*, batch=SIZE\)"):
        load_network(str(path))
    with pytest.raises(InvalidSettingError, match="^height=: .* no such dynamic axis; its dynamic axes: batch"):
        load_network(str(path), batch=1, height=5)
    with pytest.raises(InvalidSettingError, match="dynamic axes apply to ONNX files only"):
        load_network("resnet50-v1.5", batch=1)


def test_cli_fuzz_bad_onnx_inputs(tmp_path):
    """Every bad input exits non-zero with a message naming the problem and no traceback."""
    good = _cnn(tmp_path)
    cut = tmp_path / "cut.onnx"
    cut.write_bytes(good.read_bytes()[:200])
    base = ["vision", "--chip", "nvidia-l4", "--model"]
    cases = [
        ([*base, str(cut), "--dim", "batch=1"], "cut.onnx"),
        ([*base, str(good)], "--dim"),
        ([*base, str(good), "--dim", "batch=0"], "--dim"),
        ([*base, str(good), "--dim", "batch=x"], "--dim"),
        ([*base, str(good), "--dim", "batch"], "--dim"),
        ([*base, str(good), "--dim", "batch=1", "--dim", "batch=2"], "twice"),
        ([*base, str(good), "--dim", "batch=" + "9" * 40], "--dim"),
        ([*base, str(good), "--dim", "batch=1", "--batch", "0"], "--batch"),
        ([*base, str(good), "--dim", "batch=1", "--batch", "a,b"], "--batch"),
        ([*base, "no-such-net"], "no-such-net"),
        ([*base, str(tmp_path / "nope.onnx")], "nope.onnx"),
    ]
    for args, word in cases:
        code, text = run_main(args)
        assert code != 0, args
        assert "Traceback" not in text, args
        assert word in text, (args, text)
    code, text = run_main([*base, str(good), "--dim", "batch=1", "--batch", "1,4", "--format", "json"])
    assert code == 0 and '"frames_per_s"' in text


def test_llm_commands_point_an_onnx_file_to_the_vision_command(tmp_path):
    path = _cnn(tmp_path)
    code, text = run_main(["predict", "--chip", "nvidia-l4", "--model", str(path), "--batch", "1"])
    assert code != 0 and "Traceback" not in text
    assert "inferchip vision --model FILE.onnx" in text
