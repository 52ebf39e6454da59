"""A vision network ready for costing: its layer records and the same as numpy arrays.

:func:`build_network` expands a :class:`~inferchip.spec.vision.VisionNetworkSpec`'s graph steps
through the blocks of :mod:`inferchip.workload.vision.blocks`; :func:`load_network` takes a bundled
id, a network YAML or an ``.onnx`` file.
"""

from __future__ import annotations

import inspect
import math
import types
import typing
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import ValidationError

from inferchip.errors import InvalidSettingError, SpecError, UnknownIdError, labelled
from inferchip.input_files import user_path
from inferchip.spec.vision import SPATIAL_RANK, VisionNetworkSpec
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


# Whole-number step arguments that may be 0 (every other one counts something there must be one of, or is a
# stride, kernel or factor that 0 would make meaningless): no padding, no head tower, no classifier head, no
# decode step, the first pyramid level.
MAX_STEP_INT = 10_000_000
"""Largest whole-number step argument (channels, kernel, stride, repeats, vocabulary): over 65 times the largest a
bundled network states (vla-vitb16-qwen2.5-0.5b's vocabulary, 151,936). Before (stop 45's fuzz), ``out: 10**40``
was traced and costed, and ``n: 10**40`` repeats looped for ever (``tracer.MAX_TRACED_LAYERS`` also bounds those)."""
_ZERO_ALLOWED = {"pad", "convs", "output_tokens", "first_level"}
_ZERO_ALLOWED_IN = {("vit", "classes")}


def _kinds(ann: Any) -> set[Any]:
    """The member types of an annotation: ``int | list[int]`` -> {int, ("list", int)}."""
    if typing.get_origin(ann) in (typing.Union, types.UnionType):
        return set().union(*(_kinds(a) for a in typing.get_args(ann)))
    if typing.get_origin(ann) in (list, tuple):
        return {("list", a) for a in typing.get_args(ann) if a is not Ellipsis}
    return {ann}


def _value_error(op: str, name: str, value: Any, kinds: set[Any]) -> str | None:
    """Why ``value`` cannot be the step argument ``name`` of type ``kinds`` (None when it can)."""
    least = 0 if name in _ZERO_ALLOWED or (op, name) in _ZERO_ALLOWED_IN else 1
    whole = f"a whole number from {least} to {MAX_STEP_INT:,}"
    if value is None and type(None) in kinds:
        return None
    if int in kinds and isinstance(value, int) and not isinstance(value, bool):
        return None if least <= value <= MAX_STEP_INT else whole
    if ("list", int) in kinds and isinstance(value, list):
        ok = all(isinstance(v, int) and not isinstance(v, bool) and least <= v <= MAX_STEP_INT for v in value)
        return None if ok else f"a list of whole numbers from {least} to {MAX_STEP_INT:,}"
    if ("list", str) in kinds and isinstance(value, list):
        return None if all(isinstance(v, str) for v in value) else "a list of tensor names"
    if float in kinds and isinstance(value, int | float) and not isinstance(value, bool):
        return None if math.isfinite(value) and value > 0 else "a finite number above 0"
    if bool in kinds and isinstance(value, bool):
        return None
    if str in kinds and isinstance(value, str):
        return None
    names = {int: whole, ("list", int): f"a list of whole numbers from {least}", bool: "true or false",
             ("list", str): "a list of tensor names", float: "a finite number above 0", str: "a name",
             type(None): "null"}
    return " or ".join(names[k] for k in names if k in kinds)


def _check_values(fn: Any, op: str, args: dict[str, Any], where: str) -> None:
    """Each argument of a step has its builder's type and a sensible floor, before any layer is traced: a string
    "false" is not a bool, 2.5 or NaN channels are not a width, and a stride of 0 is not a stride."""
    hints = typing.get_type_hints(fn)
    for name, value in args.items():
        if name in hints:
            allowed = _value_error(op, name, value, _kinds(hints[name]))
            if allowed is not None:
                shown = "with" if name == "with_" else name
                raise SpecError(f"{where}: {shown} = {value!r}; allowed: {allowed}")


def _call(fn: blocks.Block, tr: Tracer, x: Tensor, args: dict[str, Any], where: str, op: str) -> Tensor:
    if "with" in args:
        args["with_"] = args.pop("with")
    target = tr.conv if fn is blocks.conv else fn
    sig = inspect.signature(target)
    try:
        sig.bind(x, **args) if fn is blocks.conv else sig.bind(tr, x, **args)
    except TypeError as exc:
        allowed = [p for p in sig.parameters if p not in ("tr", "x")]
        raise SpecError(f"{where}: {exc}; allowed arguments: {', '.join(allowed)}") from None
    _check_values(target, op, args, where)
    try:
        return fn(tr, x, **args)
    except ValidationError as exc:  # a layer record the arguments make impossible (e.g. fewer channels than groups)
        reasons = "; ".join(str(e["msg"]).removeprefix("Value error, ") for e in exc.errors())
        raise SpecError(f"{where}: {reasons}") from None
    except (TypeError, ValueError, ZeroDivisionError) as exc:
        raise SpecError(f"{where}: {exc}") from None


def build_network(spec: VisionNetworkSpec, where: str | None = None) -> VisionNetwork:
    """Expand the graph steps into layers (SpecError naming the step for an unknown op or bad argument)."""
    src = where or spec.id
    rank = SPATIAL_RANK.get(spec.family)
    if rank is not None and len(spec.input.spatial) != rank:
        sizes = "D, H, W" if rank == 3 else "H, W"
        raise SpecError(f"{src}: input.spatial = {spec.input.spatial}: a '{spec.family}' network takes {rank} spatial "
                        f"sizes ({sizes}), not {len(spec.input.spatial)} (its layers would be traced "
                        f"{len(spec.input.spatial)}-D); allowed: {rank} whole numbers")
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
        y = _call(fn, tr, source, args, here, op)
        if scope:
            for j in range(before, len(tr.layers)):
                tr.layers[j] = tr.layers[j].model_copy(update={"name": f"{scope}/{tr.layers[j].name}"})
        tr.tensors["_"] = y
        if save_as:
            tr.tensors[str(save_as)] = y
    net = VisionNetwork(id=spec.id, name=spec.name, family=spec.family, precision=spec.precision,
                        layers=tuple(tr.layers), frames_per_sample=spec.frames_per_sample,
                        sources=tuple(s.citation for s in spec.sources),
                        notes=(spec.notes,) if spec.notes else (), spec=spec, file=where)
    off = published_mismatches(net, spec, src)
    return replace(net, notes=(*net.notes, *off)) if off else net


def at_views(net: VisionNetwork, views: int) -> VisionNetwork | None:
    """``net`` rebuilt from its spec with ``views`` camera views a sample (a BEV network on a rig of that many cameras:
    the image backbone runs per view, and a spatial cross-attention with ``cameras_hit: all`` samples them all), or
    None where it has no spec to rebuild (an ONNX graph: its input shape is the file's). The id is kept; the name
    says the views."""
    spec = net.spec if isinstance(net.spec, VisionNetworkSpec) else None
    if spec is None or spec.input.views == views:
        return None if spec is None else net
    key = (id(net), views)  # the network is kept in the entry, so its id is not reused while the entry lives
    if key not in _VIEWS_CACHE:
        at = spec.model_copy(update={"input": spec.input.model_copy(update={"views": views}), "published": {},
                                     "name": f"{spec.name} (rebuilt at {views} camera views)"})
        _VIEWS_CACHE[key] = (net, build_network(at, where=net.file))  # published figures: its own configuration's
    return _VIEWS_CACHE[key][1]


_VIEWS_CACHE: dict[tuple[int, int], tuple[VisionNetwork, VisionNetwork]] = {}


def network_views(net: Any) -> int:
    """Camera views one sample of ``net`` takes (``cameras``/``views`` attribute, or its spec's
    ``input.views``); 1 when the network says nothing."""
    spec_input = getattr(getattr(net, "spec", None), "input", None)
    for v in (getattr(net, "cameras", None), getattr(net, "views", None), getattr(spec_input, "views", None)):
        if isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= 1:
            return int(v)
    return 1


def checked_own_views(own_views: Any) -> bool:
    """``own_views`` (``ic.drive``'s, ``ic.frame_cost``'s, ``--own-views``) as a flag; anything but True or False
    (a numpy bool too) is an InvalidSettingError naming it: a string was read by its truth (``own_views="no"`` kept
    the network's own views)."""
    if not isinstance(own_views, bool | np.bool_):
        raise InvalidSettingError(f"{labelled('own_views')}: value {own_views!r}; allowed: True or False")
    return bool(own_views)


def at_rig_views(name: str, net: Any, views: int, cameras: int, own: bool, notes: list[str]) -> Any:
    """The network a rig of ``cameras`` runs: one taking several ``views`` rebuilt at the rig's cameras
    (:func:`at_views`), or as it is where ``own`` or it cannot be rebuilt (an ONNX graph), a note in ``notes`` saying
    which; no note where the views are 1 or the rig's."""
    if views in (1, cameras):
        return net
    at = None if own or not isinstance(net, VisionNetwork) else at_views(net, cameras)
    if at is not None:
        notes.append(f"{name} costed at the rig's {cameras} camera views (its own configuration takes {views}: the "
                     f"image backbone runs per view; --own-views, API own_views=True, costs it at {views})")
        return at
    why = "" if own else ": an ONNX graph keeps its file's input shape"
    notes.append(f"{name} takes {views} camera views per sample and is costed so; the rig has {cameras} cameras (its "
                 f"cost is not rescaled to them{why})")
    return net


def published_mismatches(net: VisionNetwork, spec: VisionNetworkSpec, where: str) -> list[str]:
    """A note per ``published`` figure the built graph misses by more than its stated tolerance: the costs are the
    graph's, so a user whose graph and stated figure disagree is told which to check (the bundled networks are held
    to their tolerances by tests/test_vision_networks.py, so they carry none)."""
    notes = []
    for what, fig in spec.published.items():
        if what == "params":
            got = net.params_in(fig.scope) if fig.scope else net.params
        else:
            got = net.macs_in(fig.scope) if fig.scope else net.macs_per_frame
        if abs(got / fig.value - 1.0) > fig.tolerance:
            scope = f" in scope '{fig.scope}'" if fig.scope else ""
            notes.append(f"{where}: the graph counts {got:,.4g} {what}{scope}, {got / fig.value:.3g} x the published "
                         f"{fig.value:,.4g} (published.{what}, tolerance {fig.tolerance:.0%}); the costs are the "
                         "graph's: check the graph or the figure")
    return notes


def load_network(name_or_path: str | Path, **dynamic_axes: int) -> VisionNetwork:
    """A bundled network id, a network YAML, or an ONNX file (``dynamic_axes`` give its symbolic sizes)."""
    if not isinstance(name_or_path, str | Path):  # None was "unknown vision network 'None'"
        raise InvalidSettingError(f"network: {name_or_path!r} ({type(name_or_path).__name__}) names no network; "
                                  "allowed: a vision network id (`inferchip models`), a network YAML or a FILE.onnx")
    given = str(name_or_path).strip()
    if given.lower().endswith(".onnx"):
        from inferchip.workload.vision.onnx_import import import_onnx

        return import_onnx(user_path(given), dynamic_axes)
    if dynamic_axes:
        from inferchip.workload.vision.onnx_import import dims_named

        raise InvalidSettingError(f"{dims_named(list(dynamic_axes))}: dynamic axes apply to ONNX files only, "
                                  f"not to '{given}'")
    return _build_cached(given)


_CACHE: dict[tuple[str, int, int], VisionNetwork] = {}


def _build_cached(given: str) -> VisionNetwork:
    """Built once per id, or per (path, modification time, size) of a network YAML: an edited file is rebuilt."""
    from inferchip.catalog.vision_networks import load_network_spec

    path = user_path(given)
    own_file = given.endswith((".yaml", ".yml")) and path.is_file()
    stat = path.stat() if own_file else None
    key = (given, stat.st_mtime_ns, stat.st_size) if stat else (given, 0, 0)
    if key not in _CACHE:
        try:
            spec = load_network_spec(given)
        except UnknownIdError as err:  # `inferchip models` lists both families: an LLM id gets the command for it
            from inferchip.catalog.models import model_ids

            if given in model_ids():
                err.args = (f"'{given}' is an LLM, not a vision network; predict it with `inferchip predict --model "
                            f"{given}` (or `inferchip serve`)",)
            raise
        _CACHE[key] = build_network(spec, where=given if own_file else None)
    return _CACHE[key]
