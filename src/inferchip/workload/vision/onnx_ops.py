"""ONNX node types mapped to vision layer records (the operator table of the ONNX import).

Each mapper gets the node, a shape lookup and the set of initializer (weight) names, and returns
the layer's fields, or None when the node costs nothing (reshapes, shape arithmetic). A node type
not in the table, or one whose shapes shape inference could not resolve, becomes an ``uncosted``
layer so that the import reports it with its share of the work instead of dropping it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from inferchip.errors import SpecError

Shapes = Callable[[str], list[int] | None]
Fields = dict[str, Any]

FREE = frozenset({"Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity", "Shape", "Constant", "ConstantOfShape",
                  "Dropout", "Size", "Range", "EyeLike", "NonZero"})
COPIES = frozenset({"Transpose", "Concat", "Split", "Slice", "Pad", "Expand", "Tile", "Gather", "GatherElements",
                    "GatherND", "ScatterND", "ScatterElements", "DepthToSpace", "SpaceToDepth", "Trilu", "CumSum"})
ELEMENTWISE_OPS: dict[str, float] = {
    **dict.fromkeys(("Relu", "LeakyRelu", "Clip", "Add", "Sub", "Mul", "Div", "Neg", "Abs", "Max", "Min", "Where",
                     "Not", "And", "Or", "Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual", "Cast",
                     "PRelu", "Floor", "Ceil", "Round", "Sign", "Mod", "Reciprocal", "Sum", "Mean",
                     "QuantizeLinear", "DequantizeLinear"), 1.0),
    **dict.fromkeys(("Sigmoid", "HardSigmoid", "HardSwish", "Tanh", "Exp", "Log", "Sqrt", "Pow", "Softplus",
                     "Elu", "Selu", "Celu", "ThresholdedRelu"), 4.0),
    **dict.fromkeys(("Erf", "Gelu", "Mish", "Sin", "Cos"), 8.0),
    **dict.fromkeys(("Softmax", "LogSoftmax", "Hardmax"), 5.0),
}
NORMS: dict[str, float] = {"BatchNormalization": 2.0, "LayerNormalization": 5.0, "InstanceNormalization": 5.0,
                           "GroupNormalization": 5.0, "LpNormalization": 3.0, "MeanVarianceNormalization": 5.0,
                           "RMSNormalization": 4.0}
REDUCES = frozenset({"ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL2", "ReduceL1",
                     "ReduceSumSquare", "ReduceLogSumExp", "ArgMax", "ArgMin"})
POOLS = frozenset({"MaxPool", "AveragePool", "LpPool"})
GLOBAL_POOLS = frozenset({"GlobalAveragePool", "GlobalMaxPool", "GlobalLpPool"})
RESIZES = frozenset({"Resize", "Upsample"})
MIN_INPUTS: dict[str, int] = {"Conv": 2, "ConvTranspose": 2, "MatMul": 2, "Gemm": 2, "MatMulInteger": 2, "Einsum": 1,
                              "QLinearMatMul": 8, "Attention": 3, "NonMaxSuppression": 2, "GridSample": 2,
                              "TopK": 2, **dict.fromkeys(ELEMENTWISE_OPS, 1), **dict.fromkeys(NORMS, 1)}
"""Inputs each mapped node type requires (ONNX operator schemas); fewer is a malformed graph."""
AUTO_PADS = frozenset({"NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID", ""})
"""Values of the ``auto_pad`` attribute of Conv, ConvTranspose and the pools (onnx/defs/nn/defs.cc), and '' which
onnxruntime reads as NOTSET; onnxruntime refuses any other when it loads the graph (microsoft/onnxruntime
onnxruntime/core/providers/common.h, ``StringToAutoPadType``)."""
NMS_COMPARES_PER_BOX = 10.0  # IoU test of one box pair: areas, intersection, compare (estimate)


def _n(shape: list[int] | None) -> float:
    return float(math.prod(shape)) if shape is not None else 0.0


def _attr(node: Any, name: str, default: Any) -> Any:
    for a in node.attribute:
        if a.name == name:
            if a.ints:
                return list(a.ints)
            return a.i if a.type == 2 else a.f if a.type == 1 else a.s.decode() if a.type == 3 else default
    return default


def _conv(node: Any, shape: Shapes, weights: set[str]) -> Fields | None:
    x, w, y = shape(node.input[0]), shape(node.input[1]), shape(node.output[0])
    if x is None or w is None or y is None or len(x) < 3:
        return None
    g = int(_attr(node, "group", 1))
    kvol = float(math.prod(w[2:]))
    cin, cout = x[1], y[1]
    wants = w[0] if node.op_type == "ConvTranspose" else w[1] * g  # input channels the weight expects
    if g < 1 or len(w) != len(x) or cin != wants:
        raise ValueError(f"input '{node.input[0]}' of shape {x} against weight '{node.input[1]}' of shape {w} "
                         f"with group {g}: the weight expects {wants} input channels")
    if g == cin and g > 1 and w[1] == 1:
        # one multiply-add per weight tap per output element of a convolution; a transposed convolution scatters
        # each input element through its kvol taps instead, so its MACs follow the (smaller) input: counting its
        # output would multiply them by stride^2
        spread = _n(x) if node.op_type == "ConvTranspose" else _n(y)
        return {"op": "depthwise", "weight_elems": _n(w), "in_elems": _n(x), "out_elems": _n(y),
                "vector_ops": 2.0 * spread * kvol}
    if node.op_type == "ConvTranspose":
        return {"op": "conv", "m": _n(x[:1] + x[2:]), "k": cin / g, "n": cout / g * kvol, "groups": g,
                "weight_elems": _n(w), "in_elems": _n(x), "out_elems": _n(y), "vector_ops": _n(y)}
    return {"op": "conv", "m": _n(y[:1] + y[2:]), "k": w[1] * kvol, "n": cout / g, "groups": g,
            "weight_elems": _n(w), "in_elems": _n(x), "out_elems": _n(y), "vector_ops": _n(y)}


def _matmul(node: Any, shape: Shapes, weights: set[str]) -> Fields | None:
    a, b, y = shape(node.input[0]), shape(node.input[1]), shape(node.output[0])
    if a is None or b is None or y is None or not a or not b:
        return None
    if node.op_type == "Gemm":
        ta, tb = int(_attr(node, "transA", 0)), int(_attr(node, "transB", 0))
        m, k = (a[1], a[0]) if ta else (a[0], a[1])
        n = b[0] if tb else b[1]
        return {"op": "matmul", "m": m, "k": k, "n": n, "weight_elems": _n(b) if node.input[1] in weights else 0.0,
                "in_elems": _n(a), "out_elems": _n(y), "vector_ops": _n(y)}
    k = a[-1]
    n = b[-1] if len(b) > 1 else 1
    if node.input[1] in weights or node.input[0] in weights:
        rows = _n(y) / n if n else 0.0
        wt = b if node.input[1] in weights else a
        return {"op": "matmul", "m": rows, "k": k, "n": n, "weight_elems": _n(wt), "in_elems": _n(a) + _n(b) - _n(wt),
                "out_elems": _n(y)}
    m = a[-2] if len(a) > 1 else 1
    groups = max(1.0, _n(y) / max(m * n, 1))
    return {"op": "attention", "m": m, "k": k, "n": n, "groups": groups, "batch_in_m": False,
            "in_elems": _n(a) + _n(b), "out_elems": _n(y)}


def _attention(node: Any, shape: Shapes, weights: set[str]) -> Fields | None:
    q, k, y = shape(node.input[0]), shape(node.input[1]), shape(node.output[0])
    if q is None or k is None or y is None:
        return None
    if len(q) == 4:  # (batch, heads, seq, head_dim)
        b, h, s, d = q
        skv = k[2]
    else:
        h = int(_attr(node, "q_num_heads", 1))
        b, s, d = q[0], q[1], q[2] // h
        skv = k[1]
    return {"op": "attention", "m": s, "k": d, "n": skv, "groups": 2 * h * b, "batch_in_m": False,
            "in_elems": _n(q) + 2 * _n(k), "out_elems": _n(y), "vector_ops": 5.0 * b * h * s * skv}


def _einsum(node: Any, shape: Shapes, weights: set[str]) -> Fields | None:
    """A two-operand Einsum as the product it is: letters in both operands and the output are groups (G), in one
    operand and the output its free side (M, N), in both operands only the contraction (K); 2 G M K N ops. A weight
    operand without group letters makes it a layer with weights (a matmul); anything else this reading does not
    cover (one or three operands, ``...``, a letter repeated in an operand or in one operand only, a grouped weight)
    is left uncosted."""
    eq = str(_attr(node, "equation", "")).replace(" ", "")
    if len(node.input) != 2 or "->" not in eq or "." in eq:
        return None
    lhs, out_s = eq.split("->")
    ins = lhs.split(",")
    a, b, y = shape(node.input[0]), shape(node.input[1]), shape(node.output[0])
    if len(ins) != 2 or a is None or b is None or y is None:
        return None
    sa, sb = ins
    if len(sa) != len(a) or len(sb) != len(b) or len(out_s) != len(y):
        return None
    if any(len(set(t)) != len(t) for t in (sa, sb, out_s)):
        return None
    size = {**dict(zip(sa, a, strict=True)), **dict(zip(sb, b, strict=True)), **dict(zip(out_s, y, strict=True))}
    if any(sum(c in t for t in (sa, sb, out_s)) < 2 for c in size):
        return None

    def prod(letters: str) -> float:
        return float(math.prod(size[c] for c in letters))

    groups = prod("".join(c for c in size if c in sa and c in sb and c in out_s))
    m = prod("".join(c for c in size if c in sa and c in out_s and c not in sb))
    n = prod("".join(c for c in size if c in sb and c in out_s and c not in sa))
    k = prod("".join(c for c in size if c in sa and c in sb and c not in out_s))
    wa, wb = node.input[0] in weights, node.input[1] in weights
    if k == 1:  # nothing contracted: an elementwise or outer product, one multiply per output element
        return {"op": "elementwise", "in_elems": _n(a) + _n(b), "out_elems": _n(y), "vector_ops": _n(y),
                "fusable": True}
    if wa or wb:
        if groups != 1 or (wa and wb):
            return None
        act, wt, rows, cols = (a, b, m, n) if wb else (b, a, n, m)
        return {"op": "matmul", "m": rows, "k": k, "n": cols, "weight_elems": _n(wt), "in_elems": _n(act),
                "out_elems": _n(y)}
    return {"op": "attention", "m": m, "k": k, "n": n, "groups": groups, "batch_in_m": False,
            "in_elems": _n(a) + _n(b), "out_elems": _n(y)}


def map_node(node: Any, shape: Shapes, weights: set[str], where: str = "") -> Fields | None:
    """Layer fields for ``node``; ``{"op": "uncosted"}`` when it cannot be costed; None when it is free.
    A node missing inputs its type requires, or with attributes that do not fit its tensors, is a
    malformed graph: SpecError naming it (``where``)."""
    where = where or f"node '{node.name or node.op_type}' ({node.op_type})"
    need = MIN_INPUTS.get(node.op_type, 0)
    given = [x for x in node.input if x]
    if len(given) < need or len(node.input) < need or not node.output:
        raise SpecError(f"{where}: has {len(given)} input(s) and {len(node.output)} output(s); a {node.op_type} "
                        f"node needs at least {need} input(s) and one output (a malformed graph)")
    try:
        return _map(node, shape, weights, where)
    except (TypeError, ValueError, IndexError, ZeroDivisionError, UnicodeDecodeError) as exc:
        raise SpecError(f"{where}: its attributes do not fit its tensors ({type(exc).__name__}: {exc}); "
                        "a malformed graph") from None


def _map(node: Any, shape: Shapes, weights: set[str], where: str) -> Fields | None:
    t = node.op_type
    out = shape(node.output[0]) if node.output else None
    inp = shape(node.input[0]) if node.input and node.input[0] else None
    if t in FREE:
        return None
    pad = _attr(node, "auto_pad", "NOTSET")
    if (t in ("Conv", "ConvTranspose") or t in POOLS) and pad not in AUTO_PADS:
        raise ValueError(f"auto_pad {pad!r}; allowed: {', '.join(sorted(AUTO_PADS - {''}))} (or empty, as NOTSET)")
    fields: Fields | None
    if t in ("Conv", "ConvTranspose"):
        fields = _conv(node, shape, weights)
    elif t in ("MatMul", "Gemm", "MatMulInteger", "QLinearMatMul"):
        fields = _matmul(node, shape, weights)
    elif t == "Attention":
        fields = _attention(node, shape, weights)
    elif t == "Einsum":
        fields = _einsum(node, shape, weights)
    elif t in ("NonMaxSuppression", "TopK") and inp is not None:  # output size is data-dependent
        boxes = float(inp[-2]) if t == "NonMaxSuppression" and len(inp) >= 2 else _n(inp)
        scores = shape(node.input[1]) if t == "NonMaxSuppression" and len(node.input) > 1 else None
        classes = float(scores[1]) if scores is not None and len(scores) == 3 else 1.0
        ops = classes * boxes * math.log2(max(boxes, 2.0)) * (NMS_COMPARES_PER_BOX if t == "NonMaxSuppression"
                                                               else 1.0)
        fields = {"op": "postprocess", "in_elems": _n(inp) + _n(scores), "out_elems": _n(out), "vector_ops": ops}
    elif out is None or inp is None:
        fields = None
    elif t in ELEMENTWISE_OPS:
        fields = {"op": "elementwise", "in_elems": _n(inp), "out_elems": _n(out),
                  "vector_ops": ELEMENTWISE_OPS[t] * _n(out), "fusable": t not in ("Softmax", "LogSoftmax")}
    elif t in NORMS:
        fields = {"op": "norm", "in_elems": _n(inp), "out_elems": _n(out), "vector_ops": NORMS[t] * _n(out),
                  "fusable": t == "BatchNormalization"}
    elif t in POOLS:
        k = _attr(node, "kernel_shape", [1])
        fields = {"op": "pool", "in_elems": _n(inp), "out_elems": _n(out), "vector_ops": _n(out) * math.prod(k)}
    elif t in GLOBAL_POOLS or t in REDUCES:
        fields = {"op": "pool", "in_elems": _n(inp), "out_elems": _n(out), "vector_ops": _n(inp)}
    elif t in RESIZES:
        fields = {"op": "resize", "in_elems": _n(inp), "out_elems": _n(out), "vector_ops": 8.0 * _n(out)}
    elif t == "GridSample":
        taps = 4.0 * _n(out)
        fields = {"op": "gather", "in_elems": taps, "out_elems": _n(out), "vector_ops": 2.0 * taps,
                  "n": float(out[1]) if out is not None and len(out) > 1 else 0.0}  # channels per sampled map
    elif t in COPIES:
        fields = {"op": "elementwise", "in_elems": _n(inp), "out_elems": _n(out), "vector_ops": 0.0}
    else:
        fields = None
    if fields is None:
        return {"op": "uncosted", "in_elems": _n(inp), "out_elems": _n(out)}
    return fields
