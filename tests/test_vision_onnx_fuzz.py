"""Bad ONNX graphs as a new user makes them: corrupted bytes, negative or zero input sizes, a node missing
its weight, channels that do not match, operators shape inference cannot size. Each gets a SpecError
naming the file and node, never a traceback; nodes that cannot be costed are counted honestly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper

from cli_in_process import run_main
from inferchip.catalog.chips import load_chip
from inferchip.errors import InferchipError, SpecError
from inferchip.performance.vision import frame_cost
from inferchip.workload.vision.onnx_import import import_onnx

F = TensorProto.FLOAT


def _w(name: str, *shape: int) -> onnx.TensorProto:
    return numpy_helper.from_array(np.zeros(shape, dtype=np.float32), name)


def _model(nodes, inputs, inits=(), outputs=None, opsets=(("", 17),)) -> onnx.ModelProto:
    outs = outputs or [helper.make_tensor_value_info(nodes[-1].output[0], F, None)]
    g = helper.make_graph(nodes, "g", inputs, outs, list(inits))
    return helper.make_model(g, opset_imports=[helper.make_opsetid(d, v) for d, v in opsets])


def _save(tmp_path: Path, model: onnx.ModelProto, name: str = "g.onnx") -> Path:
    path = tmp_path / name
    onnx.save(model, str(path))
    return path


def _small_net() -> bytes:
    """Conv, BN, ReLU, depthwise, ConvTranspose, pool, Gemm, Einsum (uncosted): every mapper path once."""
    nodes = [helper.make_node("Conv", ["x", "w1"], ["c1"], pads=[1, 1, 1, 1], strides=[2, 2]),
             helper.make_node("BatchNormalization", ["c1", "s", "b", "m", "v"], ["bn"]),
             helper.make_node("Relu", ["bn"], ["r"]),
             helper.make_node("Conv", ["r", "wd"], ["d"], group=8, pads=[1, 1, 1, 1]),
             helper.make_node("ConvTranspose", ["d", "wt"], ["u"], strides=[2, 2], kernel_shape=[2, 2]),
             helper.make_node("Einsum", ["u", "u"], ["e"], equation="...hw,...hw->...hw"),
             helper.make_node("GlobalAveragePool", ["e"], ["gp"]),
             helper.make_node("Flatten", ["gp"], ["fl"]),
             helper.make_node("Gemm", ["fl", "wg"], ["y"], transB=1)]
    inits = [_w("w1", 8, 3, 3, 3), _w("s", 8), _w("b", 8), _w("m", 8), _w("v", 8), _w("wd", 8, 1, 3, 3),
             _w("wt", 8, 4, 2, 2), _w("wg", 10, 4)]
    return _model(nodes, [helper.make_tensor_value_info("x", F, [1, 3, 16, 16])], inits).SerializeToString()


GOOD = _small_net()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cut=st.integers(0, len(GOOD)), flips=st.lists(st.tuples(st.integers(0, len(GOOD) - 1), st.integers(0, 255)),
                                                     max_size=6))
def test_corrupted_bytes_import_or_fail_cleanly(tmp_path, cut, flips):
    """Any truncation and byte flips of a valid graph: the import and a cost either work or raise an
    InferchipError (clear message), never another exception."""
    data = bytearray(GOOD)
    for pos, val in flips:
        data[pos] = val
    path = tmp_path / "f.onnx"
    path.write_bytes(bytes(data[: cut or len(data)]))
    try:
        net = import_onnx(path)
        frame_cost(load_chip("nvidia-l4"), net, np.array([1.0, 4.0]), weights="int8")
    except InferchipError as exc:
        assert str(exc)


def test_seeded_corruption_sweep(tmp_path):
    """400 seeded corruptions (1-5 random bytes each) and 100 truncations of the valid graph: every one
    imports and costs, or raises an InferchipError. (A byte flipped inside an operator name once gave a
    pydantic traceback; a flipped dimension a negative layer size.)"""
    import random

    rng = random.Random(14)
    chip = load_chip("nvidia-l4")
    blobs = [GOOD[:k] for k in range(1, len(GOOD), max(1, len(GOOD) // 100))]
    for _ in range(400):
        b = bytearray(GOOD)
        for _ in range(rng.randint(1, 5)):
            b[rng.randrange(len(b))] = rng.randrange(256)
        blobs.append(bytes(b))
    path = tmp_path / "f.onnx"
    for blob in blobs:
        path.write_bytes(blob)
        try:
            frame_cost(chip, import_onnx(path), np.array([1.0]), weights="int8")
        except InferchipError as exc:
            assert str(exc)


@pytest.mark.parametrize("size", [0, -5])
def test_non_positive_input_size_is_refused(tmp_path, size):
    m = _model([helper.make_node("Relu", ["x"], ["y"])], [helper.make_tensor_value_info("x", F, [1, size, 4])])
    with pytest.raises(SpecError, match=rf"graph input 'x' has size {size} on axis 1; .* sizes >= 1"):
        import_onnx(_save(tmp_path, m))


def test_input_smaller_than_the_kernel_names_the_node(tmp_path):
    m = _model([helper.make_node("Conv", ["x", "w"], ["y"], kernel_shape=[3, 3])],
               [helper.make_tensor_value_info("x", F, [1, 3, 1, 1])], [_w("w", 8, 3, 3, 3)])
    with pytest.raises(SpecError, match=r"node 0 'Conv' \(Conv\): shape inference gives tensor 'y' .* negative"):
        import_onnx(_save(tmp_path, m))


def test_conv_without_its_weight_is_malformed(tmp_path):
    m = _model([helper.make_node("Conv", ["x"], ["y"])], [helper.make_tensor_value_info("x", F, [1, 3, 8, 8])])
    with pytest.raises(SpecError, match=r"\(Conv\): has 1 input\(s\) .* needs at least 2"):
        import_onnx(_save(tmp_path, m))


def test_channel_mismatch_is_malformed(tmp_path):
    m = _model([helper.make_node("Conv", ["x", "w"], ["y"], kernel_shape=[3, 3])],
               [helper.make_tensor_value_info("x", F, [1, 5, 8, 8])], [_w("w", 8, 3, 3, 3)])
    with pytest.raises(SpecError, match="the weight expects 3 input channels"):
        import_onnx(_save(tmp_path, m))


def test_note_counts_costed_free_and_uncosted_nodes(tmp_path):
    path = tmp_path / "n.onnx"
    path.write_bytes(GOOD)
    net = import_onnx(path)
    count = next(n for n in net.notes if n.startswith("ONNX opset"))
    assert "9 nodes: 7 costed, 1 free (reshapes, shape arithmetic), 1 not costed" in count
    assert sum(x.op != "uncosted" for x in net.layers) == 7


def test_unsized_nodes_are_reported_apart_from_the_share(tmp_path):
    """A node after a data-dependent size (NonZero) cannot be sized: reported as of unknown share, not 0 %."""
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"]), helper.make_node("NonZero", ["c"], ["nz"]),
             helper.make_node("Cast", ["nz"], ["f"], to=F)]
    m = _model(nodes, [helper.make_tensor_value_info("x", F, [1, 4, 8, 8])], [_w("w", 4, 4, 1, 1)])
    net = import_onnx(_save(tmp_path, m))
    unsized = [n for n in net.notes if n.startswith("not costed, sizes unknown")]
    assert unsized and "Cast x1" in unsized[0] and "share of the work is unknown" in unsized[0]
    assert not any(n.startswith("not costed: ") for n in net.notes)


def test_graph_of_only_uncosted_nodes_is_refused(tmp_path):
    n = helper.make_node("MyOp", ["x"], ["y"], domain="com.acme")
    m = _model([n, helper.make_node("Relu", ["y"], ["z"])], [helper.make_tensor_value_info("x", F, [1, 4])],
               opsets=(("", 17), ("com.acme", 1)))
    with pytest.raises(SpecError, match=r"no node .* can be costed \(not costed: .*MyOp x1"):
        import_onnx(_save(tmp_path, m))


def test_cli_bad_graphs_exit_2_without_traceback(tmp_path):
    cases = {
        "neg.onnx": _model([helper.make_node("Relu", ["x"], ["y"])], [helper.make_tensor_value_info("x", F, [-1, 4])]),
        "noweight.onnx": _model([helper.make_node("Conv", ["x"], ["y"])],
                                [helper.make_tensor_value_info("x", F, [1, 3, 8, 8])]),
    }
    for name, m in cases.items():
        code, text = run_main(["vision", "--chip", "nvidia-l4", "--model", str(_save(tmp_path, m, name))])
        assert code == 2 and "Traceback" not in text and "internal error" not in text and name in text, text


def test_a_node_of_an_undeclared_domain_names_the_node_and_domain(tmp_path):
    """A custom operator whose domain the graph's opset_import does not declare used to fail in ONNX's shape
    inference with its own text ("Cannot infer type and shape for node name ."), naming no node."""
    nodes = [helper.make_node("Relu", ["x"], ["r"]), helper.make_node("MyOp", ["r"], ["y"], name="mine",
                                                                        domain="com.acme")]
    m = _model(nodes, [helper.make_tensor_value_info("x", F, [1, 4])])
    with pytest.raises(SpecError, match=r"g\.onnx: node 1 'mine' \(MyOp\): domain 'com\.acme' is not declared in "
                                        r"the graph's opset_import .*declared: ai\.onnx"):
        import_onnx(_save(tmp_path, m))


# ---------------------------------------------------------------- a first axis above 1 (newuser40)

def _conv_graph(first) -> onnx.ModelProto:
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"]), helper.make_node("Relu", ["c"], ["y"])]
    return _model(nodes, [helper.make_tensor_value_info("x", F, [first, 3, 16, 16])], [_w("w", 8, 3, 3, 3)])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(n=st.integers(min_value=1, max_value=512), symbolic=st.booleans())
def test_a_first_axis_above_one_is_noted_with_the_per_image_way(tmp_path, n, symbolic):
    """Before: `vision --dim N=64` (the error asking for the size suggests --dim N=1) costed 64 images per 'frame'
    with no word, so frames/s and energy per frame were 64x off per image (ResNet-like graph on an H100 at --batch 4:
    3,635 'frames'/s for 232,600 images/s). The work per run scales with the axis; the note names it and the way to
    per-image figures."""
    path = _save(tmp_path, _conv_graph("N" if symbolic else n))
    net = import_onnx(path, {"N": n} if symbolic else None)
    one = import_onnx(_save(tmp_path, _conv_graph(1), "one.onnx"))
    assert net.flop_per_frame == pytest.approx(n * one.flop_per_frame)
    noted = [x for x in net.notes if x.startswith("graph input 'x' has a first axis of")]
    if n == 1:
        assert not noted
        return
    how, fix = (f"N={n}", "N=1") if symbolic else ("fixed in the file",
                                                                "a graph exported with a first axis of 1")
    # the way to batch images names both calls' (drive has no batch: it batches its cameras' frames; frame51), in
    # the API's spelling here (load_network's keyword N=, frame_cost's batch=; the CLI's --dim, --batch: engine52)
    assert noted == [f"graph input 'x' has a first axis of {n} ({how}): one frame here is one run of the graph; if "
                     f"that axis is the batch, each frame is {n} images and frames/s and energy per frame count runs, "
                     f"not images ({fix} gives per-image figures, batched by frame_cost's batch={n} or by `drive`'s "
                     "cameras)"]


@pytest.mark.parametrize("equation", [b"...\xb6w,...hw->...hw", b"...hw\x91...hw->...hw", b"ij,jk->ik->k", b"ij;jk",
                                      b"......,->", b"a...b...,c->"])
def test_an_einsum_equation_outside_the_grammar_is_refused_before_shape_inference(tmp_path, equation):
    """Before: onnx's shape inference never returned on the first two (bytes the seeded corruption sweep flipped in
    the small net's equation), and the sweep hung; nor on the last two (two '...' in one operand). Now the equation
    is checked against ONNX's Einsum grammar first: a SpecError naming the file, the node and the equation."""
    node = helper.make_node("Einsum", ["a", "a"], ["e"])
    node.attribute.append(helper.make_attribute("equation", equation))
    path = _save(tmp_path, _model([node], [helper.make_tensor_value_info("a", F, [2, 3, 4])]))
    with pytest.raises(SpecError, match=r"g\.onnx.*Einsum equation .* is not an Einsum equation; allowed: letters"):
        import_onnx(path)


def test_an_einsum_equation_in_the_grammar_still_imports(tmp_path):
    """Spaces around ',' and '->' are in the grammar: the product imports and is costed."""
    node = helper.make_node("Einsum", ["a", "b"], ["e"], equation="ij, jk -> ik")
    inputs = [helper.make_tensor_value_info("a", F, [2, 3]), helper.make_tensor_value_info("b", F, [3, 4])]
    net = import_onnx(_save(tmp_path, _model([node], inputs)))
    assert len(net.layers) == 1
