"""A vision network ready for costing: its layer records and the same as numpy arrays.

:func:`build_network` expands a :class:`~inferchip.spec.vision.VisionNetworkSpec`'s graph steps
through the blocks of :mod:`inferchip.workload.vision.blocks`; :func:`load_network` takes a bundled
id, a network YAML or an ``.onnx`` file.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from inferchip.errors import InvalidSettingError, SpecError
from inferchip.spec.vision import GATHER_OPS, MATRIX_OPS, VisionLayer, VisionNetworkSpec
from inferchip.workload.vision import bev, blocks
from inferchip.workload.vision.tracer import Tensor, Tracer

FloatArray = npt.NDArray[np.float64]

UNIT_MATRIX, UNIT_VECTOR, UNIT_GATHER, UNIT_NONE = 0, 1, 2, 3

BLOCKS: dict[str, blocks.Block] = {
    "conv": blocks.conv, "maxpool": blocks.maxpool, "global_pool": blocks.global_pool, "linear": blocks.linear,
    "upsample": blocks.upsample, "concat": blocks.concat, "resnet_stage": blocks.resnet_stage, "fpn": blocks.fpn,
    "retina_head": blocks.retina_head, "ssd_extras": blocks.ssd_extras, "ssd_heads": blocks.ssd_heads,
    "aspp": blocks.aspp, "c2f": blocks.c2f, "sppf": blocks.sppf, "yolo_detect": blocks.yolo_detect,
    "vit": blocks.vit, "tokens": blocks.tokens, "llm_decoder": blocks.llm_decoder,
    "bev_encoder": bev.bev_encoder, "detr_decoder": bev.detr_decoder,
}


@dataclass(frozen=True)
class LayerArrays:
    """Per-layer quantities per frame, one entry per layer (the cost model's input)."""

    m: FloatArray
    k: FloatArray
    n: FloatArray
    groups: FloatArray
    weight_elems: FloatArray
    in_elems: FloatArray
    out_elems: FloatArray
    vector_ops: FloatArray
    repeats: FloatArray
    fusable: npt.NDArray[np.bool_]
    batch_in_m: npt.NDArray[np.bool_]
    unit: npt.NDArray[np.int64]
    precision: tuple[str | None, ...]

    @classmethod
    def of(cls, layers: tuple[VisionLayer, ...]) -> LayerArrays:
        def col(name: str) -> FloatArray:
            return np.array([float(getattr(x, name)) for x in layers], dtype=float)

        unit = np.array([UNIT_MATRIX if x.op in MATRIX_OPS else UNIT_GATHER if x.op in GATHER_OPS
                         else UNIT_NONE if x.op == "uncosted" else UNIT_VECTOR for x in layers], dtype=np.int64)
        return cls(m=col("m"), k=col("k"), n=col("n"), groups=col("groups"), weight_elems=col("weight_elems"),
                   in_elems=col("in_elems"), out_elems=col("out_elems"), vector_ops=col("vector_ops"),
                   repeats=col("repeats"), fusable=np.array([x.fusable for x in layers], dtype=bool),
                   batch_in_m=np.array([x.batch_in_m for x in layers], dtype=bool), unit=unit,
                   precision=tuple(x.precision for x in layers))


@dataclass(frozen=True)
class VisionNetwork:
    """A network as the cost model sees it. ``macs_per_frame`` counts matrix work only."""

    id: str
    name: str
    family: str
    precision: str
    layers: tuple[VisionLayer, ...]
    frames_per_sample: float = 1.0
    sources: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    spec: VisionNetworkSpec | None = None
    arrays: LayerArrays = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if not self.layers:
            raise SpecError(f"{self.id}: a network needs at least one layer")
        object.__setattr__(self, "arrays", LayerArrays.of(self.layers))

    @property
    def params(self) -> float:
        return float(sum(x.param_elems for x in self.layers))

    @property
    def macs_per_frame(self) -> float:
        return float(sum(x.macs for x in self.layers))

    @property
    def flop_per_frame(self) -> float:
        """Matrix FLOP (2 per MAC) plus vector operations, per frame."""
        a = self.arrays
        return float(2.0 * self.macs_per_frame + np.sum(a.vector_ops * a.repeats))

    def macs_in(self, prefix: str) -> float:
        return float(sum(x.macs for x in self.layers if x.name.startswith(prefix)))

    def params_in(self, prefix: str) -> float:
        return float(sum(x.param_elems for x in self.layers if x.name.startswith(prefix)))

    def uncosted_share(self) -> float:
        """Share of the activation traffic (elements in + out) in layers that could not be costed."""
        a = self.arrays
        traffic = (a.in_elems + a.out_elems) * a.repeats
        total = float(np.sum(traffic))
        return float(np.sum(traffic[a.unit == UNIT_NONE]) / total) if total > 0 else 0.0


def _call(fn: blocks.Block, tr: Tracer, x: Tensor, args: dict[str, Any], where: str) -> Tensor:
    if "with" in args:
        args["with_"] = args.pop("with")
    sig = inspect.signature(tr.conv if fn is blocks.conv else fn)
    try:
        sig.bind(x, **args) if fn is blocks.conv else sig.bind(tr, x, **args)
    except TypeError as exc:
        allowed = [p for p in sig.parameters if p not in ("tr", "x")]
        raise SpecError(f"{where}: {exc}; allowed arguments: {', '.join(allowed)}") from None
    try:
        return fn(tr, x, **args)
    except (TypeError, ValueError, ZeroDivisionError) as exc:
        raise SpecError(f"{where}: {exc}") from None


def build_network(spec: VisionNetworkSpec, where: str | None = None) -> VisionNetwork:
    """Expand the graph steps into layers (SpecError naming the step for an unknown op or bad argument)."""
    src = where or spec.id
    tr = Tracer(src)
    x = Tensor(spec.input.views, spec.input.channels, tuple(spec.input.spatial))
    tr.tensors["input"] = tr.tensors["_"] = x
    for i, raw in enumerate(spec.graph):
        step = dict(raw)
        op = step.pop("op")
        here = f"{src}: graph[{i}] (op {op})"
        if op not in BLOCKS:
            raise SpecError(f"{here}: unknown op; allowed: {', '.join(sorted(BLOCKS))}")
        fn = BLOCKS[op]
        accepted = inspect.signature(tr.conv if op == "conv" else fn).parameters
        args = {k: v for k, v in spec.defaults.items() if k in accepted}
        args.update(step)
        source = tr.get(str(args.pop("in", "_")))
        save_as = args.pop("as", None)
        scope = args.pop("scope", None)
        before = len(tr.layers)
        y = _call(fn, tr, source, args, here)
        if scope:
            for j in range(before, len(tr.layers)):
                tr.layers[j] = tr.layers[j].model_copy(update={"name": f"{scope}/{tr.layers[j].name}"})
        tr.tensors["_"] = y
        if save_as:
            tr.tensors[str(save_as)] = y
    return VisionNetwork(id=spec.id, name=spec.name, family=spec.family, precision=spec.precision,
                         layers=tuple(tr.layers), frames_per_sample=spec.frames_per_sample,
                         sources=tuple(s.citation for s in spec.sources),
                         notes=(spec.notes,) if spec.notes else (), spec=spec)


def load_network(name_or_path: str | Path, **dynamic_axes: int) -> VisionNetwork:
    """A bundled network id, a network YAML, or an ONNX file (``dynamic_axes`` give its symbolic sizes)."""
    given = str(name_or_path).strip()
    if given.lower().endswith(".onnx"):
        from inferchip.workload.vision.onnx_import import import_onnx

        return import_onnx(Path(given).expanduser(), dynamic_axes)
    if dynamic_axes:
        raise InvalidSettingError(f"--dim {', '.join(dynamic_axes)}: dynamic axes apply to ONNX files only, "
                                  f"not to '{given}'")
    return _build_cached(given)


_CACHE: dict[str, VisionNetwork] = {}


def _build_cached(given: str) -> VisionNetwork:
    from inferchip.catalog.vision_networks import load_network_spec

    if given not in _CACHE:
        _CACHE[given] = build_network(load_network_spec(given))
    return _CACHE[given]
