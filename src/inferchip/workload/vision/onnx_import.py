"""Read an ONNX graph into a :class:`~inferchip.workload.vision.network.VisionNetwork`.

The ``onnx`` package parses the file and its shape inference gives every tensor's shape once the
graph inputs' symbolic (dynamic) sizes are fixed from the command line (``--dim NAME=VALUE``).
Nodes map to layers through :mod:`inferchip.workload.vision.onnx_ops`. One "frame" is one run of
the graph at the sizes given. Nodes that cannot be costed are kept as ``uncosted`` layers and
named in the network's notes with their share of the activation traffic.

Bad input gets a :class:`~inferchip.errors.SpecError` (malformed or truncated file, unsupported
opset) or :class:`~inferchip.errors.InvalidSettingError` (a dynamic size not given, or one given
that the graph does not have).
"""

from __future__ import annotations

import math
import os
import re
from collections import Counter
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from inferchip.errors import InvalidSettingError, SpecError, current_spelling
from inferchip.input_files import read_regular_bytes, user_path
from inferchip.spec.vision import VisionLayer
from inferchip.workload.vision.model import VisionNetwork
from inferchip.workload.vision.onnx_ops import COPIES, RESIZES, map_node

PARAM_OPS = frozenset({"conv", "matmul", "attention", "depthwise", "norm", "elementwise"})
"""Layers whose initializer inputs are parameters (weights, biases, norm scales); shape and scale inputs of
copies and resizes are not."""
# ONNX Einsum's equation grammar (onnx/defs/math/defs.cc): subscript letters, ',' between operands, '->' before the
# output, '...' for broadcast axes, spaces. onnx's own shape inference does not return on some equations outside it
# (onnx 1.23.2, the version installed here: a byte such as 0xb6 in place of a letter, or two '...' in one operand),
# so an equation is checked before shape inference runs.
_EINSUM_EQUATION = re.compile(r"^(?:[A-Za-z ,]|\.\.\.|->)*$")
MIN_OPSET = 7  # ONNX 1.2: the oldest opset whose Conv/Gemm/BatchNormalization signatures are mapped here


def _onnx() -> Any:
    try:
        import onnx
    except ImportError:  # pragma: no cover - onnx is a dependency
        raise InvalidSettingError("reading .onnx files needs the 'onnx' package: pip install onnx") from None
    return onnx


def _read(path: Path) -> Any:
    onnx = _onnx()
    raw = read_regular_bytes(path, "the ONNX file")
    if not raw:
        raise SpecError(f"{path}: the ONNX file is empty")
    try:
        model = onnx.load_model_from_string(raw)
    except Exception as exc:  # protobuf DecodeError and friends
        raise SpecError(f"{path}: not a valid ONNX model (malformed or truncated protobuf: "
                        f"{type(exc).__name__})") from None
    if not model.HasField("graph") or not model.graph.node:
        raise SpecError(f"{path}: not an ONNX model: the file has no graph nodes (truncated or not ONNX)")
    return model


def _check_opset(model: Any, path: Path) -> int:
    onnx = _onnx()
    newest = int(onnx.defs.onnx_opset_version())
    versions = {o.domain or "ai.onnx": int(o.version) for o in model.opset_import}
    v = versions.get("ai.onnx")
    if v is None:
        raise SpecError(f"{path}: opset_import names no default ('ai.onnx') opset; allowed: {MIN_OPSET}..{newest}")
    if not MIN_OPSET <= v <= newest:
        raise SpecError(f"{path}: opset {v} is not supported; allowed: ai.onnx opset {MIN_OPSET}..{newest} "
                        f"(onnx {onnx.__version__}); convert with onnx.version_converter")
    for i, node in enumerate(model.graph.node):  # else ONNX's shape inference fails naming no node
        if (node.domain or "ai.onnx") not in versions:
            raise SpecError(f"{_node_where(path, node, i)}: domain '{node.domain}' is not declared in the graph's "
                            f"opset_import (a malformed graph); declared: {', '.join(sorted(versions))}")
    return v


def dynamic_axes(path: str | os.PathLike[str]) -> set[str]:
    """The names of the graph inputs' dynamic axes (``--dim`` names) of the ONNX file at ``path``; an axis with no
    name reads as ``INPUT[?]``, as the error asking for its size names it."""
    model = _read(user_path(path))
    weights = {t.name for t in model.graph.initializer}
    return {d.dim_param or f"{vi.name}[?]" for vi in model.graph.input
            if vi.name not in weights and vi.type.HasField("tensor_type")
            for d in vi.type.tensor_type.shape.dim if d.HasField("dim_param") or not d.HasField("dim_value")}


def dim(name: str, value: object) -> str:
    """A dynamic axis's size as the interface running takes it: ``--dim N=1`` on the command line (``vision``,
    ``drive``), ``N=1`` in the Python API (``ic.load_network(FILE, N=1)``'s keyword)."""
    return f"--dim {name}={value}" if current_spelling().options else f"{name}={value}"


def dims_named(names: list[str]) -> str:
    """Dynamic axes a message is about, as the interface running names them: ``--dim N, H`` on the command line,
    ``N=, H=`` (``ic.load_network``'s keywords) in the Python API."""
    return f"--dim {', '.join(names)}" if current_spelling().options else ", ".join(f"{n}=" for n in names)


def _fix_dims(model: Any, dims: dict[str, int], path: Path) -> None:
    """Write the given sizes into the graph inputs' symbolic dims; unknown or missing names -> error."""
    weights = {t.name for t in model.graph.initializer}
    symbolic: set[str] = set()
    owners: dict[str, list[str]] = {}  # dynamic axis -> "'input' [N, 3, H, W]" of the graph inputs that carry it
    for vi in model.graph.input:
        if vi.name in weights or not vi.type.HasField("tensor_type"):
            continue
        shape = _shape_text(vi)  # as the file writes it, before the sizes given are written over its names
        for axis, d in enumerate(vi.type.tensor_type.shape.dim):
            if d.HasField("dim_value") and not d.HasField("dim_param") and d.dim_value < 1:
                raise SpecError(f"{path}: graph input '{vi.name}' has size {d.dim_value} on axis {axis}; a network "
                                "input needs sizes >= 1 (a corrupted file, or an axis meant to be dynamic)")
            if d.HasField("dim_param") or not d.HasField("dim_value"):
                name = d.dim_param or f"{vi.name}[?]"
                symbolic.add(name)
                if f"'{vi.name}' {shape}" not in owners.get(name, []):  # an axis named twice in one input
                    owners.setdefault(name, []).append(f"'{vi.name}' {shape}")
                if name in dims:
                    d.dim_value = int(dims[name])
    extra = sorted(set(dims) - symbolic)
    if extra:
        raise InvalidSettingError(f"{dims_named(extra)}: {path} has no such dynamic axis; "
                                  f"its dynamic axes: {', '.join(sorted(symbolic)) or 'none'}")
    missing = sorted(symbolic - set(dims))
    if missing:
        axes = f"dynamic axes {', '.join(missing)} have" if len(missing) > 1 else f"dynamic axis {missing[0]} has"
        inputs = list(dict.fromkeys(o for m in missing for o in owners[m]))
        where = f"graph input{'s' if len(inputs) > 1 else ''} {', '.join(inputs)}"
        how = (f"with {dim('NAME', 'VALUE')}, here {' '.join(dim(m, 'SIZE') for m in missing)}"
               if current_spelling().options else  # the API: ic.load_network's keywords
               f"as a keyword of load_network, here load_network({str(path)!r}, "
               f"{', '.join(dim(m, 'SIZE') for m in missing)})")
        raise InvalidSettingError(f"{path}: {where}: {axes} no size; give each {how} (a dynamic shape is not guessed)")
    bad = {k: v for k, v in dims.items() if isinstance(v, bool) or not isinstance(v, int) or v < 1}
    if bad:
        given = ("--dim " if current_spelling().options else "") + ", ".join(f"{k}={v}" for k, v in bad.items())
        raise InvalidSettingError(f"{given}: sizes must be whole numbers >= 1")


def _shape_text(vi: Any) -> str:
    """A graph input's shape as written in the file, dynamic axes by name: "[N, 3, H, W]" ("?" for an unnamed one)."""
    return "[" + ", ".join(d.dim_param if d.HasField("dim_param") else str(d.dim_value) if d.HasField("dim_value")
                           else "?" for d in vi.type.tensor_type.shape.dim) + "]"


def _leading_axis_notes(model: Any, given: dict[str, int]) -> list[str]:
    """A note per graph input whose first axis, sized, is above 1: one frame is one run of the graph, so if that axis
    is the batch (ONNX's NCHW convention), each frame holds that many images and frames/s and energy per frame count
    runs of the graph, not images. Nothing is refused or rescaled: a first axis may be a sequence (a time-major
    graph), which only the user knows."""
    weights = {t.name for t in model.graph.initializer}
    notes = []
    for vi in model.graph.input:
        if vi.name in weights or not vi.type.HasField("tensor_type"):
            continue
        dims = vi.type.tensor_type.shape.dim
        if len(dims) < 2:
            continue
        name = dims[0].dim_param if dims[0].HasField("dim_param") else ""
        size = given.get(name) if name else (dims[0].dim_value if dims[0].HasField("dim_value") else None)
        if not isinstance(size, int) or isinstance(size, bool) or size <= 1:
            continue
        n = size
        how = dim(name, n) if name else "fixed in the file"
        fix = dim(name, 1) if name else "a graph exported with a first axis of 1"
        batched = (f"`vision --batch {n}`" if current_spelling().options else f"frame_cost's batch={n}")
        # the way to batch images differs by command (the note is the network's, read by vision and drive alike):
        # vision batches a call's frames by --batch, drive by its cameras (a tick's frames, up to --max-batch)
        notes.append(f"graph input '{vi.name}' has a first axis of {n} ({how}): one frame here is one run of the "
                     f"graph; if that axis is the batch, each frame is {n} images and frames/s and energy per frame "
                     f"count runs, not images ({fix} gives per-image figures, batched by {batched} or "
                     "by `drive`'s cameras)")
    return notes


def _shapes(model: Any) -> dict[str, list[int] | None]:
    out: dict[str, list[int] | None] = {}
    g = model.graph
    for t in g.initializer:
        out[t.name] = list(t.dims)
    for vi in [*g.input, *g.value_info, *g.output]:
        if not vi.type.HasField("tensor_type") or not vi.type.tensor_type.HasField("shape"):
            continue
        dims = vi.type.tensor_type.shape.dim
        out[vi.name] = [int(d.dim_value) for d in dims] if all(d.HasField("dim_value") for d in dims) else None
    return out


CONSTANT_TENSOR_ATTRS = ("value", "sparse_value")
"""Attributes of an ONNX ``Constant`` node that hold a tensor (the operator's schema; the others hold scalars, lists
or strings)."""


def _constant_tensors(model: Any) -> set[str]:
    """Outputs of ``Constant`` nodes holding a tensor: weights as much as initializers are (exporters such as
    tf2onnx, and torch.onnx without constant folding, write them so), so a MatMul or Gemm reading one is priced as a
    layer with weights (read once per call) rather than an activation product (read per frame), and its parameters
    are counted."""
    return {n.output[0] for n in model.graph.node
            if n.op_type == "Constant" and n.domain in ("", "ai.onnx") and n.output
            and any(a.name in CONSTANT_TENSOR_ATTRS for a in n.attribute)}


NAMED_NODES = 3
"""Node names listed per operator type in the not-costed notes (the rest counted)."""


def _kinds(c: Counter[str], names: dict[str, list[str]] | None = None) -> str:
    """"OP xN ('name', ...)" per operator type, most frequent first: the type and the nodes a user finds in a graph
    viewer (Netron shows node names), the first :data:`NAMED_NODES` of each type named."""
    def named(k: str) -> str:
        got = (names or {}).get(k, [])
        if not got:
            return ""
        more = f", +{len(got) - NAMED_NODES} more" if len(got) > NAMED_NODES else ""
        return " (" + ", ".join(repr(n) for n in got[:NAMED_NODES]) + more + ")"
    return ", ".join(f"{k} x{v}{named(k)}" for k, v in c.most_common())


def _node_where(path: Path, node: Any, i: int) -> str:
    """"FILE: node NAME (OP)" for messages; a type name that is not text (a corrupted file) is an error."""
    op = node.op_type
    if not isinstance(op, str) or not op.isprintable() or not isinstance(node.name, str):
        raise SpecError(f"{path}: node {i}: its name or operator type is not valid text (a corrupted file)")
    return f"{path}: node {i} '{node.name or op}' ({op})"


def _check_sizes(node: Any, shapes: dict[str, list[int] | None], where: str) -> None:
    """A negative size after shape inference (an input smaller than a kernel, a corrupted attribute) -> error."""
    for name in [*node.input, *node.output]:
        shape = shapes.get(name) if name else None
        if shape is not None and any(d < 0 for d in shape):
            raise SpecError(f"{where}: shape inference gives tensor '{name}' the shape {shape}, with a negative "
                            "size (an input smaller than the kernel, or a corrupted attribute)")


def _check_einsum(model: Any, path: Path) -> None:
    """Every Einsum node's equation follows ONNX's grammar (letters, ',', one '->', at most one '...' an operand,
    spaces), before shape inference reads it."""
    for i, node in enumerate(model.graph.node):
        if node.op_type != "Einsum" or node.domain not in ("", "ai.onnx"):
            continue
        raw = next((a.s for a in node.attribute if a.name == "equation"), b"")
        text = raw.decode("utf-8", errors="replace")
        terms = re.split(r",|->", text)
        if (not raw.isascii() or not _EINSUM_EQUATION.match(text) or text.count("->") > 1
                or any(t.count("...") > 1 for t in terms)):
            raise SpecError(f"{_node_where(path, node, i)}: Einsum equation {text!r} is not an Einsum equation; "
                            "allowed: letters a-z and A-Z, ',' between operands, one '->', at most one '...' an "
                            "operand, and spaces")


def _check_order(model: Any, path: Path) -> None:
    """The graph is single static assignment and topologically sorted, as ONNX's IR requires (onnx/docs/IR.md,
    "Graphs": node output names unique; nodes in topological order, free of cycles): each node's inputs are graph
    inputs, initializers or outputs of earlier nodes, and no name is written twice. Shape inference leaves a node
    outside that order unsized, and the import would cost it as 0 s."""
    known = {vi.name for vi in model.graph.input} | {t.name for t in model.graph.initializer}
    for i, node in enumerate(model.graph.node):
        missing = [x for x in node.input if x and x not in known]
        if missing:
            raise SpecError(f"{_node_where(path, node, i)}: input '{missing[0]}' is not a graph input, an "
                            "initializer or an output of an earlier node; allowed: a graph in topological order "
                            "(ONNX IR: no cycles, each input defined before it is read)")
        twice = [x for x in node.output if x and x in known]
        if twice:
            raise SpecError(f"{_node_where(path, node, i)}: output '{twice[0]}' is already defined (a graph input, "
                            "an initializer or an earlier node's output); allowed: each name written once (ONNX IR: "
                            "single static assignment)")
        known.update(x for x in node.output if x)


def import_onnx(path: str | os.PathLike[str], dims: dict[str, int] | None = None) -> VisionNetwork:
    """The graph at ``path`` (a ``str`` or any path-like, ``~`` expanded) as a network, its dynamic axes sized
    from ``dims``."""
    path = user_path(path)
    onnx = _onnx()
    model = _read(path)
    opset = _check_opset(model, path)
    leading = _leading_axis_notes(model, dict(dims or {}))  # before _fix_dims writes the sizes over the names
    _fix_dims(model, dict(dims or {}), path)
    _check_einsum(model, path)
    _check_order(model, path)
    try:
        inferred = onnx.shape_inference.infer_shapes(model, strict_mode=False, data_prop=True)
    except Exception as exc:
        raise SpecError(f"{path}: ONNX shape inference failed: {str(exc).splitlines()[0][:300]}") from None
    shapes = _shapes(inferred)
    weights = {t.name for t in inferred.graph.initializer} | _constant_tensors(inferred)
    owned: set[str] = set()
    layers: list[VisionLayer] = []
    skipped: Counter[str] = Counter()
    unsized: Counter[str] = Counter()  # not costed because shape inference left their sizes unknown
    # operator type -> the names of its nodes not costed, in graph order, for each of the two counts
    named: dict[str, dict[str, list[str]]] = {"skipped": {}, "unsized": {}}
    free = folded = 0
    for i, node in enumerate(inferred.graph.node):
        where = _node_where(path, node, i)
        _check_sizes(node, shapes, where)
        given = [x for x in node.input if x]
        if node.domain in ("", "ai.onnx") and given and all(x in weights for x in given):
            # a node of constants only (a QDQ graph's weight DequantizeLinear, a weight's Transpose or Reshape) is
            # folded when the runtime loads the graph (onnxruntime's constant folding, TensorRT's builder): no work
            # per frame; its output is a weight of the layer that reads it
            weights.update(o for o in node.output if o)
            folded += 1
            continue
        if node.domain not in ("", "ai.onnx"):
            fields: dict[str, Any] | None = {"op": "uncosted"}
        else:
            fields = map_node(node, shapes.get, weights, where)
        if fields is None:
            free += 1
            continue
        counts = fields["op"] in PARAM_OPS and node.op_type not in COPIES and node.op_type not in RESIZES
        new = [w for w in node.input if counts and w in weights and w not in owned]
        owned.update(new)
        params = float(sum(math.prod(shapes[w] or [0]) for w in new))
        if fields["op"] == "uncosted":
            why = ("unsized" if any(x and x not in weights and shapes.get(x) is None
                                    for x in [*node.input, *node.output]) else "skipped")
            (unsized if why == "unsized" else skipped)[node.op_type] += 1
            named[why].setdefault(node.op_type, []).append(node.name or f"node {i}")
        try:
            layers.append(VisionLayer(name=node.name or f"{node.op_type}_{i}", onnx_op=node.op_type,
                                      param_elems=params, **fields))
        except ValidationError as exc:
            err = exc.errors()[0]
            field = ".".join(str(x) for x in err.get("loc", ())) or "node"
            raise SpecError(f"{where}: cannot be costed as given ({field}: {err.get('msg', exc)}); "
                            "a corrupted or malformed graph") from None
    not_costed = sum(skipped.values()) + sum(unsized.values())
    costed = len(layers) - not_costed
    if costed == 0:
        both = {k: named["skipped"].get(k, []) + named["unsized"].get(k, []) for k in skipped + unsized}
        kinds = _kinds(skipped + unsized, both)
        raise SpecError(f"{path}: no node of the graph does any work that can be costed"
                        + (f" (not costed: {kinds})" if kinds else ""))
    net = VisionNetwork(id=path.name, name=inferred.graph.name or path.stem, family="onnx", precision="int8",
                        layers=tuple(layers), sources=(f"ONNX file {path} (opset {opset})",))
    n = len(inferred.graph.node)
    notes = [f"ONNX opset {opset}; {n} node{'' if n == 1 else 's'}: {costed} costed, {free} free (reshapes, "
             f"shape arithmetic), {not_costed} not costed"
             + (f", {folded} folded (constants only: weights dequantized, transposed or reshaped at load)"
                if folded else "")]
    notes += leading
    if skipped:
        notes.append(f"not costed: {_kinds(skipped, named['skipped'])}; {net.uncosted_share():.1%} of the activation "
                     "traffic (counted as 0 s)")
    if unsized:
        notes.append(f"not costed, sizes unknown: {_kinds(unsized, named['unsized'])}; shape inference could not size "
                     "their tensors (data-dependent sizes, or an operator it does not know), so their share of the "
                     "work is unknown (counted as 0 s)")
    return VisionNetwork(id=net.id, name=net.name, family=net.family, precision=net.precision, layers=net.layers,
                         sources=net.sources, notes=tuple(notes), file=str(path))
