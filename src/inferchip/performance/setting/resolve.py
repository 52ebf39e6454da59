"""Resolving a setting once: :func:`resolve_setting` is the only place that turns user choices (catalogue ids or paths,
format names, layout sizes, the estimate corner, calibration and assumptions files, the step budget and the back
end's step padding) into a :class:`~inferchip.performance.setting.resolved.Setting`, and the only place that checks
them: every error is an :class:`~inferchip.errors.InvalidSettingError` naming the option, the value and what is
allowed. The settings of recent arguments are kept (:data:`SETTINGS_CACHED`)."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import replace
from numbers import Integral
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from inferchip.catalog.engines import loaded_calibration
from inferchip.errors import InvalidSettingError, named, named_as, positive
from inferchip.mapping.format_defaults import checkpoint_choice, format_sources
from inferchip.mapping.layout import Layout, candidate_layouts, check_layout, check_scaleup, row_layouts
from inferchip.performance.prediction import CHUNK_GIVEN
from inferchip.performance.setting.formats import format_choice
from inferchip.performance.setting.resolved import (
    PADDING_ENGINE,
    PADDING_GIVEN,
    PADDING_NONE,
    PADDING_SERVED,
    Setting,
    checked_chunk,
    engine_padding,
)
from inferchip.spec.assumptions import Assumptions
from inferchip.spec.calibration import Calibration
from inferchip.spec.chip import ChipParams, ChipSpec, EstimateLevel
from inferchip.spec.engine.padding import PaddingLadder
from inferchip.spec.model import ModelSpec
from inferchip.spec.params import runtime_device_view
from inferchip.workload.limits import MAX_CHIPS

if TYPE_CHECKING:
    from inferchip.catalog.models import UserConfig

ESTIMATES: tuple[EstimateLevel, ...] = ("low", "central", "high")


def resolve_setting(chip: str | ChipParams, model: str | ModelSpec, *, count: int = 1, weights: str | None = None,
                    activations: str | None = None, kv: str | None = None, tp: int | None = None,
                    pp: int | None = None, ep: int | None = None, attn_dp: bool | None = None,
                    estimate: str = "central", calibration: Calibration | str | None = None,
                    assumptions: str | Assumptions | None = None, chip_spec: ChipSpec | None = None,
                    within: bool = False, attention_weights: str | None = None,
                    attention_out_weights: str | None = None, config: UserConfig | None = None,
                    chunk_tokens: int | None = None,
                    padding: PaddingLadder | Literal["engine"] | None = "engine", engine: str | None = None,
                    moe_kernel: str | None = None) -> Setting:
    """Resolve and check a setting once.

    ``chip``/``model``: catalogue ids or file paths (a chip by id also brings its spec), or
    ready objects (``chip_spec`` then gives the ChipParams' spec). ``count``: chips in the
    system. ``tp``/``pp``/``ep``: the layout; any one given fixes it (the others 1; ``ep`` = ``tp``
    under attention DP), none given lets the layout be searched. ``attn_dp``: True forces
    attention data parallelism over the tp chips (MLA/MoE models), False forbids it, None lets
    the search decide. ``within``: the sizes given constrain the search instead of fixing the
    layout (a measurement row's rule: :func:`~inferchip.mapping.layout.row_layouts`). ``estimate``: low, central
    or high for estimated chip figures. A package its runtime sees as several devices (an MI250X) becomes ``count``
    x that many devices (:func:`~inferchip.spec.params.runtime_device_view`).
    ``weights``: the weights' number format; None (not given): the format the model's checkpoint ships
    (:func:`checkpoint_choice`: its ``quantization_config``, else its ``torch_dtype``), said in
    ``Setting.weights_source``; activations then default as for that format given (:func:`resolve_formats`) and
    KV to the checkpoint's model dtype (:func:`~inferchip.mapping.format_defaults.kv_choice`), each source in
    ``Setting.activations_source`` /
    ``kv_source`` (:func:`format_sources`).
    ``activations``/``kv``: as given, else those defaults.
    ``calibration``: a Calibration, a YAML path, ``"none"``, or None (the shipped one).
    ``assumptions``: energy/money constants, a YAML path merged over the bundled file, or None.
    ``config``: with a ModelSpec ``model``, the user's config file it was read from
    (``catalog.models.load_model_config``), the checkpoint's formats then read from it, not from a file again.
    ``chunk_tokens``: the prefill token budget of a step per chip (an engine's ``max_num_batched_tokens``); None: the
    default engine's on the chip (``sim.batching.scheduler.run_caps``, as ``inferchip predict`` / ``serve`` / ``curve``
    take it without ``--chunk-tokens``), said in ``Setting.chunk_source``.
    ``padding``: the compiled step shapes every step is padded to, said in ``Setting.padding_source``: ``"engine"``
    (the default) the default engine's back end's on the chip at its running-batch cap and the step budget (vLLM's TPU
    and Gaudi back ends; none elsewhere: :func:`~inferchip.performance.setting.resolved.engine_padding`), as
    ``ic.predict``, ``ic.serve``, ``inferchip predict`` / ``serve`` / ``curve`` run them; None: unpadded; a
    :class:`~inferchip.spec.engine.padding.PaddingLadder`: those shapes.
    ``engine``: a serving engine of ``catalog/engines.yaml`` (vllm, sglang, trtllm, ...; None: none named), as
    ``inferchip predict --engine`` takes it, resolved once (:func:`~inferchip.performance.setting.engine.
    served_engine`): its calibration over ``calibration``, its running-batch cap and step budget on the chip (where
    ``chunk_tokens`` is not given), its back end's padding (``padding="engine"``), the attention formats it serves the
    checkpoint with (where ``attention_weights`` is not given) and the host time per request, which ``predict`` adds to
    TTFT and E2E (``Setting.engine``); ``moe_kernel``: the kernel it serves a MoE model's experts with (None: its
    default on the chip; needs ``engine``)."""
    chunk_tokens = None if chunk_tokens is None else checked_chunk(chunk_tokens)  # True or 8192.0: not keys of 1, 8192
    args = (chip, model, count, weights, activations, kv, tp, pp, ep, attn_dp, estimate, calibration, assumptions,
            chip_spec, within, attention_weights, attention_out_weights, config, chunk_tokens, padding, engine,
            moe_kernel)
    types = tuple(map(type, args))  # 2.0 and True hash as 2 and 1: an int's setting let count=2.0 through unchecked
    try:  # every argument hashable (ids, paths, names, numbers): the arguments and their types are the key
        key = (*args, *types)
        hash(key)
    except TypeError:
        key = (*(_key(x) for x in args), *types)
    hit = _SETTINGS.get(key)
    if hit is not None:
        _SETTINGS.move_to_end(key)
        return hit[1]
    setting = _resolve(*args)
    _SETTINGS[key] = (args, setting)  # the arguments are kept alive, so an id in a key is never reused
    if len(_SETTINGS) > SETTINGS_CACHED:
        _SETTINGS.popitem(last=False)
    return setting


SETTINGS_CACHED = 8  # settings kept (each with its mapped models and sweeps)
_SETTINGS: OrderedDict[tuple[object, ...], tuple[tuple[object, ...], Setting]] = OrderedDict()


def _key(x: Any) -> Any:
    """Hashable values by value (ids, paths, names, numbers), other objects (ChipParams, Calibration)
    by identity: a setting is resolved once per distinct argument (a file is read once per path)."""
    try:
        hash(x)
    except TypeError:
        return ("id", id(x))
    return x


def estimate_level(estimate: str) -> EstimateLevel:
    """``estimate`` as an estimate corner; InvalidSettingError unless it is low, central or high."""
    for level in ESTIMATES:
        if estimate == level:
            return level
    raise InvalidSettingError(f"{named('estimate')} must be low, central or high, got {estimate!r}")


def _resolve(chip: str | ChipParams, model: str | ModelSpec, count: int, weights: str | None, activations: str | None,
             kv: str | None, tp: int | None, pp: int | None, ep: int | None, attn_dp: bool | None, estimate: str,
             calibration: Calibration | str | None, assumptions: str | Assumptions | None,
             chip_spec: ChipSpec | None, within: bool, attention_weights: str | None = None,
             attention_out_weights: str | None = None, config: UserConfig | None = None,
             chunk_tokens: int | None = None, padding: PaddingLadder | Literal["engine"] | None = "engine",
             engine: str | None = None, moe_kernel: str | None = None) -> Setting:
    for name, v in (("count", count), ("tp", tp), ("pp", pp), ("ep", ep)):
        positive(name, v, bounded=True)  # MAX_CHIPS below
        if (v is None and name == "count") or (v is not None and (not isinstance(v, Integral) or v > MAX_CHIPS)):
            # 2.5, 1e30, None: a raw TypeError in the layout search (stop 39); 10**12: minutes of it (stop 48)
            raise InvalidSettingError(f"{named(name)} must be a whole number of chips, got {v!r} ({type(v).__name__}); "
                                      f"allowed: a whole number from 1 to {MAX_CHIPS:,}")
    if attn_dp is not None and not isinstance(attn_dp, (bool, np.bool_)):  # 'yes': "none suits" at every count
        raise InvalidSettingError(f"{named_as('attn_dp', repr(attn_dp))}: allowed: True, False or None (searched)")
    level = estimate_level(estimate)
    if isinstance(chip, ChipParams):
        cp = chip
    else:
        from inferchip.catalog.chips import get_chip_params, load_chip

        cp = get_chip_params(chip, level)
        chip_spec = chip_spec or load_chip(chip)
    cp, count, device_note = runtime_device_view(cp, count)
    # a user's config file, read once: the model, its weights' format and its per-layer map (``config``: the file
    # a ModelSpec ``model`` was read from, as read, catalog.models.load_model_config)
    if isinstance(model, ModelSpec):
        ms = model
    else:
        from inferchip.catalog.models import load_model_config

        ms, config = load_model_config(model)
    model_id = model if isinstance(model, str) else ms.id
    served = None
    if engine is not None or moe_kernel is not None:  # the engine's six changes, resolved once (setting.engine)
        from inferchip.performance.setting.engine import GivenModel, served_engine

        served = served_engine(engine, moe_kernel, calibration, chip, GivenModel(model_id, ms, config), weights)
        cal = served.calibration
        if served.attention is not None and attention_weights is None and attention_out_weights is None:
            attention_weights, attention_out_weights = served.attention[:2]
    else:
        cal = calibration if isinstance(calibration, Calibration) else loaded_calibration(calibration, cp.family)
    weights, source, kv_asked = checkpoint_choice(model_id, weights, kv, config)  # the checkpoint read once
    fmt, got, notes = format_choice(weights, activations, kv_asked, attention_weights, chip=cp, model_id=model_id,
                                    attention_out_weights=attention_out_weights, config=config,
                                    expert_activations=cal.moe_activations if ms.is_moe else None)
    act_source, kv_source = format_sources(fmt, activations, kv, source,
                                           cal.moe_activations if ms.is_moe else None)
    given = tp is not None or pp is not None or ep is not None
    if within:
        layouts = row_layouts(ms, count, tp, pp, ep, cp.max_scaleup_domain, cp.layer_pipeline)
    elif given:
        lay = Layout(tp=tp or 1, pp=pp or 1, ep=(tp or 1) if attn_dp and ep is None else (ep or 1),
                     attn_dp=bool(attn_dp))
        check_layout(ms, lay, count)
        notes.extend(check_scaleup(lay, cp.max_scaleup_domain, cp.id, ms.is_moe))
        layouts = [replace(lay, replicas=max(1, count // lay.chips_per_replica))]
    else:
        if attn_dp and not ms.is_moe:  # a dense model's refusal holds at every count: raised as it is, not per count
            check_layout(ms, Layout(tp=2, ep=2, attn_dp=True), count)
        found = candidate_layouts(ms, count, cp.max_scaleup_domain, cp.layer_pipeline)
        if attn_dp and ms.attention != "mla":  # searched unasked for MLA MoE models only; asked for, on any MoE model
            found = [replace(lay, attn_dp=True) for lay in found if lay.tp > 1 and lay.ep == lay.tp]
        layouts = [lay for lay in found if attn_dp is None or lay.attn_dp == attn_dp]
        if not layouts and attn_dp:  # the reason the widest tp of the scale-up domain cannot run it
            widest = max(d for d in range(1, count + 1) if count % d == 0 and d <= max(1, cp.max_scaleup_domain))
            try:
                check_layout(ms, Layout(tp=widest, ep=widest, attn_dp=True), count)
            except InvalidSettingError as exc:
                raise InvalidSettingError(f"{named('attn_dp')} on {count} chip(s) of {cp.id} (scale-up domain "
                                          f"{cp.max_scaleup_domain}), the widest tp searched {widest}: {exc}") from None
        if not layouts:
            why = "" if attn_dp is None else f" with attention data parallelism {'on' if attn_dp else 'off'}"
            raise InvalidSettingError(f"no parallel layout of {count} chips{why} suits {ms.id} (heads {ms.num_heads})")
    from inferchip.catalog.assumptions import load_assumptions
    from inferchip.sim.batching.scheduler import run_caps

    a = assumptions if isinstance(assumptions, Assumptions) else load_assumptions(assumptions)
    # the engine's (else the default engine's) step budget on the chip, where no chunk is given
    caps = run_caps(None, cp) if served is None else served.choice.caps
    chunk = int(caps.chunk_tokens) if chunk_tokens is None else chunk_tokens
    if padding == "engine" and served is not None:  # the named engine's back end, at the step budget
        ladder, padding_source = served.choice.padding_at(chunk), PADDING_SERVED
    elif padding == "engine":  # the one resolution of the back end's padding (at the step budget)
        ladder, padding_source = engine_padding(cp, chunk), PADDING_ENGINE
    elif padding is None or isinstance(padding, PaddingLadder):
        ladder, padding_source = padding, PADDING_NONE if padding is None else PADDING_GIVEN
    else:
        raise InvalidSettingError(f"padding must be 'engine', None or a PaddingLadder, got {padding!r}")
    if served is not None and served.attention is not None:  # the checkpoint the engine serves, where not its own
        notes.append(served.attention[2])
    return Setting(cp, chip_spec, ms, fmt, got, (*notes, *([device_note] if device_note else [])), count,
                   tuple(layouts), given and not within, level, cal, a, assumptions if isinstance(assumptions, str)
                   else None, source, act_source, kv_source, chunk,
                   chunk_source=caps.reason if chunk_tokens is None else CHUNK_GIVEN, padding=ladder,
                   padding_source=padding_source, engine=served)
