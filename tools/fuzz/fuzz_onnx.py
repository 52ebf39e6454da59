"""Generated bad ONNX graphs for ``tools/fuzz/fuzz_commands.py`` (``vision --model FILE.onnx``): a small valid
Conv-Relu-Pool-MatMul graph and seeded mutations of it (sizes, attributes, structure, bytes). Not part of the suite."""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

Case = tuple[str, bytes, list[str]]  # label, file bytes, extra argv (--dim ...)


def _graph(conv_attrs: dict[str, Any] | None = None, x_dims: list[Any] | None = None,
           extra_nodes: list[Any] | None = None, extra_inits: list[Any] | None = None, out: str = "Y",
           opset: int = 17) -> onnx.ModelProto:
    x = helper.make_tensor_value_info("X", TensorProto.FLOAT, x_dims or ["N", 3, 32, 32])
    y = helper.make_tensor_value_info(out, TensorProto.FLOAT, None)
    w = numpy_helper.from_array(np.ones((8, 3, 3, 3), np.float32), "W")
    m = numpy_helper.from_array(np.ones((8, 10), np.float32), "M")
    attrs = {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1]}
    attrs.update(conv_attrs or {})
    nodes = [helper.make_node("Conv", ["X", "W"], ["c"], name="conv", **attrs),
             helper.make_node("Relu", ["c"], ["r"], name="relu"),
             helper.make_node("GlobalAveragePool", ["r"], ["p"], name="pool"),
             helper.make_node("Flatten", ["p"], ["f"], name="flat"),
             helper.make_node("MatMul", ["f", "M"], ["Y"], name="fc")]
    g = helper.make_graph(nodes + (extra_nodes or []), "g", [x], [y], [w, m, *(extra_inits or [])])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])


def _b(model: onnx.ModelProto) -> bytes:
    return bytes(model.SerializeToString())


def _nested_if(depth: int) -> onnx.ModelProto:
    cond = numpy_helper.from_array(np.array(True), "C")
    leaf = helper.make_graph([helper.make_node("Identity", ["f"], ["z0"])], "b0", [],
                             [helper.make_tensor_value_info("z0", TensorProto.FLOAT, None)])
    inner = leaf
    for i in range(1, depth):  # the else branch a leaf: both branches nested would double the file each level
        inner = helper.make_graph([helper.make_node("If", ["C"], [f"z{i}"], then_branch=inner, else_branch=leaf)],
                                  f"b{i}", [], [helper.make_tensor_value_info(f"z{i}", TensorProto.FLOAT, None)])
    node = helper.make_node("If", ["C"], ["Z"], then_branch=inner, else_branch=leaf)
    return _graph(extra_nodes=[node], extra_inits=[cond], out="Z")


def onnx_cases(rng: random.Random) -> list[Case]:
    good = _b(_graph())
    dim = ["--dim", "N=1"]
    out: list[Case] = [("valid", good, dim), ("valid-no-dim", good, []), ("dim-zero", good, ["--dim", "N=0"]),
                       ("dim-huge", good, ["--dim", "N=1000000000000"]), ("dim-word", good, ["--dim", "N=abc"]),
                       ("dim-unknown", good, ["--dim", "Q=1"]), ("dim-nan", good, ["--dim", "N=nan"]),
                       ("truncated", good[: len(good) // 2], dim), ("empty", b"", dim)]
    for _ in range(12):
        raw = bytearray(good)
        pos = rng.randrange(len(raw))
        raw[pos] = rng.randrange(256)
        out.append((f"byte{pos}={raw[pos]}", bytes(raw), dim))
    for label, attrs in [("strides0", {"strides": [0, 0]}), ("kernel-huge", {"kernel_shape": [100000, 100000]}),
                         ("pads-neg", {"pads": [-5, -5, -5, -5]}), ("dil0", {"dilations": [0, 0]}),
                         ("group0", {"group": 0}), ("group3", {"group": 3}), ("pads-huge", {"pads": [10**9] * 4}),
                         ("kernel-neg", {"kernel_shape": [-3, -3]}), ("auto-pad-bad", {"auto_pad": "WHAT"})]:
        out.append((f"conv-{label}", _b(_graph(attrs)), dim))
    for label, dims in [("x-huge", [1, 3, 10**6, 10**6]), ("x-zero", [1, 0, 32, 32]), ("x-neg", [1, -3, 32, 32]),
                        ("x-rank1", [3]), ("x-rank9", [1, 3, 2, 2, 2, 2, 2, 2, 2]), ("x-2e31", [1, 3, 2**31, 2**31])]:
        out.append((label, _b(_graph(x_dims=dims)), []))
    shp = numpy_helper.from_array(np.array([10**7, 10**7, 10**7], np.int64), "S")
    out.append(("expand-huge", _b(_graph(extra_nodes=[helper.make_node("Expand", ["Y", "S"], ["Z"])],
                                         extra_inits=[shp], out="Z")), dim))
    rep = numpy_helper.from_array(np.array([10**9, 10**9], np.int64), "R")
    out.append(("tile-huge", _b(_graph(extra_nodes=[helper.make_node("Tile", ["Y", "R"], ["Z"])],
                                       extra_inits=[rep], out="Z")), dim))
    sc = numpy_helper.from_array(np.array([1, 1, 1e9, 1e9], np.float32), "SC")
    out.append(("resize-huge", _b(_graph(extra_nodes=[helper.make_node("Resize", ["r", "", "SC"], ["Z"])],
                                         extra_inits=[sc], out="Z")), dim))
    out.append(("cycle", _b(_graph(extra_nodes=[helper.make_node("Add", ["Y", "Z"], ["Z"])], out="Z")), dim))
    out.append(("self-loop-relu", _b(_graph(extra_nodes=[helper.make_node("Relu", ["Q"], ["Q"])], out="Q")), dim))
    out.append(("missing-input", _b(_graph(extra_nodes=[helper.make_node("Relu", ["nope"], ["Z"])], out="Z")), dim))
    out.append(("unknown-op", _b(_graph(extra_nodes=[helper.make_node("FooBar", ["Y"], ["Z"])], out="Z")), dim))
    out.append(("custom-domain", _b(_graph(extra_nodes=[helper.make_node("Foo", ["Y"], ["Z"], domain="x.y")],
                                           out="Z")), dim))
    out.append(("opset1", _b(_graph(opset=1)), dim))
    out.append(("opset9999", _b(_graph(opset=9999)), dim))
    for depth in (10, 30):
        out.append((f"nested-if-{depth}", _b(_nested_if(depth)), dim))
    chain = [helper.make_node("Relu", ["Y" if i == 0 else f"q{i - 1}"], [f"q{i}"]) for i in range(50_000)]
    out.append(("chain-50k", _b(_graph(extra_nodes=chain, out="q49999")), dim))
    dup = _graph()
    dup.graph.node.append(helper.make_node("Relu", ["c"], ["r"], name="dup"))
    out.append(("dup-output", _b(dup), dim))
    big_w = _graph()
    big_w.graph.initializer[0].dims[:] = [10**9, 3, 3, 3]
    out.append(("init-dims-lie", _b(big_w), dim))
    topk = numpy_helper.from_array(np.array([10**12], np.int64), "K")
    out.append(("topk-huge", _b(_graph(extra_nodes=[helper.make_node("TopK", ["Y", "K"], ["Z", "I"])],
                                       extra_inits=[topk], out="Z")), dim))
    rng_l = [numpy_helper.from_array(np.array(v, np.int64), n) for v, n in ((0, "A0"), (10**12, "A1"), (1, "A2"))]
    out.append(("range-huge", _b(_graph(extra_nodes=[helper.make_node("Range", ["A0", "A1", "A2"], ["Z"])],
                                        extra_inits=rng_l, out="Z")), dim))
    cos = numpy_helper.from_array(np.array([10**6, 10**6, 10**6], np.int64), "CS")
    out.append(("const-of-shape-huge", _b(_graph(extra_nodes=[helper.make_node("ConstantOfShape", ["CS"], ["Z"])],
                                                 extra_inits=[cos], out="Z")), dim))
    return out
