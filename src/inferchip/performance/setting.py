"""One resolved setting: the system and the model, checked once and passed down.

:func:`resolve_setting` is the only place that turns user choices (catalogue ids or paths, format names, layout
sizes, the estimate corner, calibration and assumptions files) into objects, and the only place that checks them:
every error is an :class:`~inferchip.errors.InvalidSettingError` naming the option, the value and what is allowed.
``predict``, serving (:func:`~inferchip.performance.serving.serving_model`) and validation read the :class:`Setting`
it returns instead of resolving again. It caches what does not change for it: the mapped models.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field, replace
from functools import cached_property
from numbers import Integral
from typing import TYPE_CHECKING, Any, TypedDict

from inferchip.catalog.engines import loaded_calibration
from inferchip.cost.peaks import executed_format, executed_note, four_bit_gemm_rate_text
from inferchip.errors import InvalidSettingError, positive
from inferchip.mapping.format_defaults import FOUR_BIT_FLOAT, checkpoint_choice, format_sources, kv_format_note
from inferchip.mapping.layout import Layout, candidate_layouts, check_layout, check_scaleup, row_layouts
from inferchip.mapping.memory_fit import Formats
from inferchip.performance.mapped import DEFAULT_CHUNK_TOKENS, MappedModel, map_model
from inferchip.performance.phases import PhaseMetrics
from inferchip.performance.prediction import CHUNK_GIVEN, setting_text
from inferchip.spec.assumptions import Assumptions
from inferchip.spec.calibration import Calibration
from inferchip.spec.chip import ChipParams, ChipSpec, EstimateLevel
from inferchip.spec.formats import NAME_FIELDS, FormatNames, check_format, check_names, compute_format
from inferchip.spec.model import ModelSpec
from inferchip.spec.params import runtime_device_view
from inferchip.workload.limits import MAX_CHIPS

if TYPE_CHECKING:  # cost.economics is imported where a setting is priced
    from inferchip.catalog.models import UserConfig
    from inferchip.cost.economics import ChipEconomy, ChipMoney
    from inferchip.performance.question import LengthDist
    from inferchip.spec.engine.padding import PaddingLadder

# A question's lengths and load (inputs, outputs, beams, queue wait, whole sequences per chip, running-batch cap per
# rank, coarse grid, with TTFT) -> {layout -> its concurrency sweep}: operating.operating_point's cache, kept here.
SweepKey = tuple["LengthDist", "LengthDist", int, bool, bool, float | None, bool, bool]
Sweeps = dict[SweepKey, dict[Layout, PhaseMetrics]]


class Derived(TypedDict, total=False):
    """What the performance layer keeps with a setting (fast_path.fast_layout)."""

    fast: tuple[object]  # fast_path.FastLayout once made, None where it does not apply (it imports this module)
    asked: int  # questions asked of the setting before then

ESTIMATES: tuple[EstimateLevel, ...] = ("low", "central", "high")
MAX_CHUNK_TOKENS = 1_048_576  # spec.engine.EngineSpec.chunk_tokens' bound


@dataclass(frozen=True, eq=False)
class Setting:
    """A resolved, checked setting (immutable; build it with :func:`resolve_setting`).

    ``chip``: parameters at the ``estimate`` corner; ``chip_spec``: its full spec (memory type, node, price) or None
    (energy then assumes defaults, said in the notes); ``formats``: weights, activations and KV with the defaults
    filled in; ``weights_source``: where the weight format came from (``"--weights"`` where given, else the
    checkpoint's ``quantization_config`` or ``torch_dtype``: :func:`checkpoint_choice`);
    ``activations_source``/``kv_source``: where those came from (:func:`format_sources`: the option, the default for a
    ``--weights`` given, or what the engines do with the checkpoint by default); ``compute_format``: the format the
    GEMMs run in on this chip (the next wider one where it has no units for the wanted one); ``layouts``: the one
    layout given (``layout_given``) or every candidate the search weighs, each with its replicas filling ``count``
    chips; ``padding``: the compiled step shapes every step is padded to (:meth:`with_padding`; None: unpadded);
    ``chunk_tokens``: a step's prefill budget per chip, ``chunk_source``: given, or the default engine's on the chip."""

    chip: ChipParams
    chip_spec: ChipSpec | None
    model: ModelSpec
    formats: Formats
    compute_format: str
    format_notes: tuple[str, ...]
    count: int
    layouts: tuple[Layout, ...]
    layout_given: bool
    estimate: EstimateLevel
    calibration: Calibration
    assumptions: Assumptions
    assumptions_path: str | None = None
    weights_source: str = "--weights"
    activations_source: str = "--activations"
    kv_source: str = "--kv"
    chunk_tokens: int = DEFAULT_CHUNK_TOKENS  # the per-step prefill token budget (predict --chunk-tokens)
    padding: PaddingLadder | None = None
    chunk_source: str = CHUNK_GIVEN  # where chunk_tokens came from (resolve_setting: given, else the engine's)
    _mapped: dict[Layout, MappedModel] = field(default_factory=dict, repr=False, compare=False)
    sweeps: Sweeps = field(default_factory=dict, repr=False, compare=False)  # see operating.operating_point
    derived: Derived = field(default_factory=lambda: Derived(), repr=False, compare=False)  # fast_path's

    def __repr__(self) -> str:  # a summary: the dataclass's printed every field whole, ~47,000 characters
        return setting_text(self)

    @property
    def layout(self) -> Layout:
        """The layout of a setting that fixes one (the first candidate otherwise)."""
        return self.layouts[0]

    @property
    def notes(self) -> list[str]:
        """What the user should know about the setting: format fallbacks, W4A4, the chip's notes."""
        return list(self.format_notes) + list(self.chip.notes)

    @cached_property
    def money(self) -> ChipMoney:
        """The chip's price for TCO (``cost.economics.chip_money`` at the estimate corner)."""
        from inferchip.cost.economics import chip_money, device_money

        return device_money(chip_money(self.chip_spec, self.assumptions, self.estimate), self.chip.devices_per_package)

    @cached_property
    def economy(self) -> ChipEconomy:
        """Power and money constants of the setting (``cost.economics.chip_economy``), for a chip with a TDP."""
        from inferchip.cost.economics import chip_economy

        mem_type = self.chip_spec.memory.technology() if self.chip_spec is not None else "HBM3"
        return chip_economy(self.chip_spec, mem_type, self.chip.tdp_w, self.chip.idle_w, self.money, self.assumptions,
                            self.chip.devices_per_package)

    def mapped(self, layout: Layout) -> MappedModel:
        """The model mapped onto ``layout`` (cached: the same object for the same layout)."""
        mm = self._mapped.get(layout)
        if mm is None:
            mm = map_model(self.model, self.chip, layout, self.formats, self.calibration)
            if self.chunk_tokens != mm.chunk_tokens or self.padding is not None:
                mm = replace(mm, chunk_tokens=self.chunk_tokens, padding=self.padding)
            self._mapped[layout] = mm
        return mm

    def with_chunk(self, chunk_tokens: int | None, source: str = CHUNK_GIVEN) -> Setting:
        """This setting with a prefill chunk of ``chunk_tokens`` per step and chip from ``source`` (None: itself), its
        mapped models and sweeps made anew (kept for the same chunk). InvalidSettingError: :func:`checked_chunk`."""
        chunk = self.chunk_tokens if chunk_tokens is None else checked_chunk(chunk_tokens)
        if chunk == self.chunk_tokens:  # the same mapped models and sweeps
            return self if chunk_tokens is None or source == self.chunk_source else replace(self, chunk_source=source)
        return replace(self, chunk_tokens=chunk, chunk_source=source, _mapped={}, sweeps={}, derived=Derived())

    def with_padding(self, padding: PaddingLadder | None) -> Setting:
        """This setting with its steps padded to ``padding`` (the same: itself), its mapped models, sweeps and fast
        path (which prices unpadded steps and is then not taken: ``fast_path.fast_layout``) made anew."""
        return self if padding == self.padding else replace(self, padding=padding, _mapped={}, sweeps={},
                                                                derived=Derived())


def dequantises_four_bit(chip: ChipParams | None, weights: str) -> bool:
    """True when ``chip`` has no 4-bit float units for ``weights`` (an NVFP4/MXFP4 checkpoint): the
    engines then run it weight-only, W4A16, the kernel dequantising each 4-bit weight tile to bf16
    in registers and multiplying at the 16-bit tensor-core rate (vLLM's MXFP4 MoE paths on Hopper,
    Marlin and triton ``matmul_ogs``: vllm ``model_executor/layers/quantization/mxfp4.py``), not
    W4A8. False without a chip, for other weights, or where the chip has the 4-bit units."""
    return chip is not None and weights in FOUR_BIT_FLOAT and executed_format(chip, weights) not in FOUR_BIT_FLOAT


def resolve_formats(weights: str, activations: str | None, kv: str | None,
                    attention_weights: str | None = None, chip: ChipParams | None = None,
                    attention_out_weights: str | None = None) -> Formats:
    """Number formats of a setting from the CLI choices, with the defaults filled in.

    Defaults: activations fp16 for fp16 weights (the one dtype a float16 checkpoint is served in),
    bf16 for other 16-bit/fp32 and weight-only int4 weights, fp8 for fp4/mxfp4
    weights (W4A8), else the weight format; KV as the activations (fp8 for 4-bit activations),
    bf16 otherwise. ``--activations fp4`` / ``mxfp4`` (W4A4, NVFP4 or MXFP4) needs 4-bit float
    weights; its GEMMs run at the 4-bit peak (``spec.formats.compute_format``) and attention
    at 16 bit (``cost.step``: fp8 attention needs fp8 activations and KV). On a chip with no
    4-bit units the GEMMs run at the next wider format it has (``spec.formats.WIDER``; on a chip with none as wide,
    emulated on its narrower units: ``cost.peaks``), said in the setting's notes. ``int4`` is weight-only
    (W4A16, ``spec.formats``): int4 activations are refused.
    ``attention_weights``: the attention projections' weight format where a checkpoint quantises
    only some layers (:class:`~inferchip.mapping.memory_fit.Formats`); None = ``weights``.
    ``attention_out_weights``: the output projection's where it differs from them; None = as they are.
    ``chip``: where given and it has no 4-bit float units, 4-bit float weights default to bf16
    activations and KV (W4A16, :func:`dequantises_four_bit`) instead of W4A8. Names: ``check_names``, once.
    """
    return _filled(check_names(weights, activations, kv, attention_weights, attention_out_weights), chip)


def _filled(names: FormatNames, chip: ChipParams | None) -> Formats:
    """:func:`resolve_formats` of names already checked (``spec.formats.check_names``): the defaults filled in."""
    weights, activations, kv = names.weights, names.activations, names.kv
    attention_weights, attention_out_weights = names.attention_weights, names.attention_out_weights
    if activations is None:
        activations = "bf16" if weights in ("int4", "fp4", "mxfp4", "bf16", "fp32") else weights
        if weights in FOUR_BIT_FLOAT and not dequantises_four_bit(chip, weights):
            activations = "fp8"
    if activations == "int4":
        raise InvalidSettingError("--activations int4: int4 is weight-only here (W4A16, activations stay wider); "
                                  "for 4-bit activations use --activations fp4 or mxfp4 (W4A4), else fp8 or bf16")
    if activations in FOUR_BIT_FLOAT and weights not in FOUR_BIT_FLOAT:
        raise InvalidSettingError(f"--activations {activations}: 4-bit activations need 4-bit float weights "
                                  f"(W4A4: --weights fp4 or mxfp4), got --weights {weights}")
    if kv is None:
        kv = activations if activations in ("fp8", "bf16", "fp16") else ("fp8" if activations in FOUR_BIT_FLOAT
                                                                        else "bf16")
    attn = None if attention_weights == weights else attention_weights
    return Formats(weights=weights, activations=activations, kv=kv, attention_weights=attn,
                   attention_out_weights=None if attention_out_weights == (attn or weights) else attention_out_weights)


def format_choice(weights: str, activations: str | None, kv: str | None, attention_weights: str | None, *,
                  chip: ChipParams | None, model_id: str | None, attention_out_weights: str | None = None,
                  config: UserConfig | None = None,
                  expert_activations: str | None = None) -> tuple[Formats, str, list[str]]:
    """The formats of a setting (:func:`resolve_formats`), the format its GEMMs run in on ``chip`` and the
    notes that say how they were chosen; one rule for predict and for validate's rows.

    ``attention_weights`` None: the attention projections' format from ``model_id``'s checkpoint
    (:func:`~inferchip.catalog.checkpoints.attention_weight_format`: NVFP4/MXFP4 checkpoints leave attention in
    bf16; ``config``: a user's config file as already read). Notes: that per-layer map, weight-only W4A16 on a chip
    without 4-bit float units (activations not given), a GEMM format the chip lacks and the next wider one it runs,
    W4A4. ``chip`` None (an unknown chip, reported elsewhere): the wanted GEMM format is returned as is.
    ``expert_activations``: the activations the engine's expert kernel takes (its ``moe_kernels`` entry:
    ``Calibration.moe_activations`` for a setting, the launch recipe's kernel for a row), the default of 4-bit float
    weights where ``activations`` is not given."""
    notes: list[str] = []
    # the names checked once (spec.formats.check_names: NVFP4 is fp4), before the per-layer map compares
    names = check_names(weights, activations, kv, attention_weights, attention_out_weights)
    weights, activations = names.weights, names.activations
    if attention_weights is None and model_id is not None:
        from inferchip.catalog.checkpoints import attention_weight_format

        attention_weights = attention_weight_format(model_id, weights, config)
        if attention_weights is not None:  # the checkpoint's, a name not yet checked
            names = replace(names, attention_weights=check_format(attention_weights, NAME_FIELDS["attention_weights"]))
            notes.append(f"per-layer formats from the checkpoint's quantization_config: {weights} weights except "
                         f"the attention projections, {attention_weights}")
    kernel_act = expert_activations if activations is None and weights in FOUR_BIT_FLOAT else None
    fmt = _filled(replace(names, activations=activations or kernel_act), chip)
    name = "this chip" if chip is None else chip.id
    if activations is None and dequantises_four_bit(chip, weights):
        notes.append(f"{name} has no 4-bit float units: {weights} weights run weight-only (W4A16, dequantised "
                     f"to bf16 in the GEMM kernel, at the bf16 rate), KV {fmt.kv}")
    want = compute_format(fmt.weights, fmt.activations)
    got = want if chip is None else executed_format(chip, want)
    said = None if chip is None else executed_note(name, want, chip)
    if said is not None:
        notes.append(said)
    if fmt.activations in FOUR_BIT_FLOAT:
        notes.append(f"W4A4 ({fmt.weights}/{fmt.activations}): {four_bit_gemm_rate_text(chip, got)}, attention at 16 "
                     f"bit, KV {fmt.kv}")
    kv_note = kv_format_note(name, fmt.kv, chip is None or executed_format(chip, "fp4") in FOUR_BIT_FLOAT)
    return fmt, got, notes + ([kv_note] if kv_note else [])


def checked_chunk(chunk_tokens: int) -> int:
    """``chunk_tokens`` as a prefill chunk; InvalidSettingError unless a whole number from 1 to 1,048,576."""
    if isinstance(chunk_tokens, bool) or not isinstance(chunk_tokens, Integral) or \
            not 1 <= chunk_tokens <= MAX_CHUNK_TOKENS:
        raise InvalidSettingError(f"--chunk-tokens must be a whole number of tokens from 1 to {MAX_CHUNK_TOKENS:,}, "
                                  f"got {chunk_tokens!r}")
    return int(chunk_tokens)


def resolve_setting(chip: str | ChipParams, model: str | ModelSpec, *, count: int = 1, weights: str | None = None,
                    activations: str | None = None, kv: str | None = None, tp: int | None = None,
                    pp: int | None = None, ep: int | None = None, attn_dp: bool | None = None,
                    estimate: str = "central", calibration: Calibration | str | None = None,
                    assumptions: str | Assumptions | None = None, chip_spec: ChipSpec | None = None,
                    within: bool = False, attention_weights: str | None = None,
                    attention_out_weights: str | None = None, config: UserConfig | None = None,
                    chunk_tokens: int | None = None) -> Setting:
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
    take it without ``--chunk-tokens``), said in ``Setting.chunk_source``."""
    chunk_tokens = None if chunk_tokens is None else checked_chunk(chunk_tokens)  # True or 8192.0: not keys of 1, 8192
    args = (chip, model, count, weights, activations, kv, tp, pp, ep, attn_dp, estimate, calibration, assumptions,
            chip_spec, within, attention_weights, attention_out_weights, config, chunk_tokens)
    try:  # every argument hashable (ids, paths, names, numbers): the arguments are the key
        hash(args)
        key = args
    except TypeError:
        key = tuple(_key(x) for x in args)
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
    raise InvalidSettingError(f"--estimate must be low, central or high, got {estimate}")


def _resolve(chip: str | ChipParams, model: str | ModelSpec, count: int, weights: str | None, activations: str | None,
             kv: str | None, tp: int | None, pp: int | None, ep: int | None, attn_dp: bool | None, estimate: str,
             calibration: Calibration | str | None, assumptions: str | Assumptions | None,
             chip_spec: ChipSpec | None, within: bool, attention_weights: str | None = None,
             attention_out_weights: str | None = None, config: UserConfig | None = None,
             chunk_tokens: int | None = None) -> Setting:
    for name, v in (("--count", count), ("--tp", tp), ("--pp", pp), ("--ep", ep)):
        positive(name, v)
        if (v is None and name == "--count") or (v is not None and (not isinstance(v, Integral) or v > MAX_CHIPS)):
            # 2.5, 1e30, None: a raw TypeError in the layout search (stop 39); 10**12: minutes of it (stop 48)
            raise InvalidSettingError(f"{name} must be a whole number of chips, got {v!r} ({type(v).__name__}); "
                                      f"allowed: a whole number from 1 to {MAX_CHIPS:,}")
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
    cal = calibration if isinstance(calibration, Calibration) else loaded_calibration(calibration, cp.family)
    model_id = model if isinstance(model, str) else ms.id
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
        found = candidate_layouts(ms, count, cp.max_scaleup_domain, cp.layer_pipeline)
        if attn_dp and ms.attention != "mla":  # searched unasked for MLA MoE models only; asked for, on any MoE model
            found = [replace(lay, attn_dp=True) for lay in found if lay.tp > 1 and lay.ep == lay.tp]
        layouts = [lay for lay in found if attn_dp is None or lay.attn_dp == attn_dp]
        if not layouts and attn_dp:  # the reason the widest tp of the scale-up domain cannot run it
            widest = max(d for d in range(1, count + 1) if count % d == 0 and d <= max(1, cp.max_scaleup_domain))
            try:
                check_layout(ms, Layout(tp=widest, ep=widest, attn_dp=True), count)
            except InvalidSettingError as exc:
                raise InvalidSettingError(f"--attn-dp on {count} chip(s) of {cp.id} (scale-up domain "
                                          f"{cp.max_scaleup_domain}), the widest tp searched {widest}: {exc}") from None
        if not layouts:
            why = "" if attn_dp is None else f" with attention data parallelism {'on' if attn_dp else 'off'}"
            raise InvalidSettingError(f"no parallel layout of {count} chips{why} suits {ms.id} (heads {ms.num_heads})")
    from inferchip.catalog.assumptions import load_assumptions
    from inferchip.sim.batching.scheduler import run_caps

    a = assumptions if isinstance(assumptions, Assumptions) else load_assumptions(assumptions)
    caps = run_caps(None, cp)  # the default engine's step budget on the chip, where no chunk is given
    return Setting(cp, chip_spec, ms, fmt, got, (*notes, *([device_note] if device_note else [])), count,
                   tuple(layouts), given and not within, level, cal, a, assumptions if isinstance(assumptions, str)
                   else None, source, act_source, kv_source, int(caps.chunk_tokens),
                   chunk_source=caps.reason).with_chunk(chunk_tokens)
