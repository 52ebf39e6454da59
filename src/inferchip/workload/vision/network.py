"""A vision network ready for costing: its layer records and the same as numpy arrays.

:func:`build_network` expands a :class:`~inferchip.spec.vision.VisionNetworkSpec`'s graph steps
through the blocks of :mod:`inferchip.workload.vision.blocks`; :func:`load_network` takes a bundled
id, a network YAML or an ``.onnx`` file.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

from inferchip.errors import InvalidSettingError, SpecError, UnknownIdError
from inferchip.spec.vision import VisionNetworkSpec
from inferchip.workload.vision import bev, blocks
from inferchip.workload.vision.model import VisionNetwork
from inferchip.workload.vision.tracer import Tensor, Tracer

BLOCKS: dict[str, blocks.Block] = {
    "conv": blocks.conv, "maxpool": blocks.maxpool, "global_pool": blocks.global_pool, "linear": blocks.linear,
    "upsample": blocks.upsample, "concat": blocks.concat, "resnet_stage": blocks.resnet_stage, "fpn": blocks.fpn,
    "retina_head": blocks.retina_head, "ssd_extras": blocks.ssd_extras, "ssd_heads": blocks.ssd_heads,
    "aspp": blocks.aspp, "c2f": blocks.c2f, "sppf": blocks.sppf, "yolo_detect": blocks.yolo_detect,
    "vit": blocks.vit, "tokens": blocks.tokens, "llm_decoder": blocks.llm_decoder,
    "bev_encoder": bev.bev_encoder, "detr_decoder": bev.detr_decoder,
}


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
        try:
            spec = load_network_spec(given)
        except UnknownIdError as err:  # `inferchip models` lists both families: an LLM id gets the command for it
            from inferchip.catalog.models import model_ids

            if given in model_ids():
                err.args = (f"'{given}' is an LLM, not a vision network; predict it with `inferchip predict --model "
                            f"{given}` (or `inferchip serve`)",)
            raise
        _CACHE[given] = build_network(spec)
    return _CACHE[given]
