"""``predict``: TTFT, TPOT, throughput and memory of one model on one system.

Two modes. ``batch=N``: a static batch of N sequences per replica (prefill together, then
decode). ``max_throughput``: continuous batching in steady state; the concurrency (and,
where not given, the parallel layout) with the most output tokens/s that fits memory and
the optional TTFT/TPOT limits is found by a vectorised sweep.
"""

from __future__ import annotations

import inspect
import math
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt

from inferchip.catalog.models import api_inputs, input_key
from inferchip.cost.step import StepCost
from inferchip.errors import DoesNotFitError, InferchipError, InternalError, InvalidSettingError, named, positive
from inferchip.mapping.layout import Layout
from inferchip.performance.fast_path import DOES_NOT_FIT, fast_layout, throttle_note
from inferchip.performance.layout_choice import choose_layout
from inferchip.performance.mapped import MappedModel, fit_error
from inferchip.performance.operating import OperatingPoint, Question
from inferchip.performance.phases import PhaseMetrics, continuous_batch
from inferchip.performance.prediction import Prediction, _breakdown, whole_or_mean
from inferchip.performance.setting import SETTINGS_CACHED, Setting, resolve_setting
from inferchip.spec.calibration import Calibration
from inferchip.spec.chip import ChipParams, ChipSpec
from inferchip.spec.engine.padding import PaddingLadder
from inferchip.spec.model import ModelSpec
from inferchip.workload.limits import MAX_BATCH, MAX_TOKENS

if TYPE_CHECKING:  # cost.economics is imported where a prediction is priced
    from inferchip.catalog.chips import ChipInput
    from inferchip.catalog.models import ModelInput, UserConfig
    from inferchip.cost.economics import ChipEconomy

__all__ = ["Prediction", "ask", "best_layout", "predict", "predict_on", "predict_setting"]


# The latency limits as the API takes them, in seconds (the CLI's --max-ttft-ms/--max-tpot-ms are checked in ms
# before they reach here): a bad one is named in its own unit, not as the CLI's millisecond option.
TTFT_LIMIT, TPOT_LIMIT = "max_ttft_s (seconds)", "max_tpot_s (seconds)"
BOUNDED = ("input_tokens", "output_tokens", "batch")  # bounded after positive() (lengths_given, whole_batch)


def ask(input_tokens: float, output_tokens: float, batch: int | None = None, max_ttft_s: float | None = None,
        max_tpot_s: float | None = None) -> Question:
    """``predict``'s question, checked: fixed lengths (tokens), a static batch per replica or, with
    ``batch=None``, the most throughput (continuous batching) within the TTFT/TPOT limits (s)."""
    for name, v in (("input_tokens", input_tokens), ("output_tokens", output_tokens), ("batch", batch),
                    (TTFT_LIMIT, max_ttft_s), (TPOT_LIMIT, max_tpot_s)):
        positive(name, v, bounded=name in BOUNDED)
    lengths_given(input_tokens, output_tokens)
    whole_batch(batch)
    return Question.fixed(input_tokens, output_tokens, batch, max_ttft_s, max_tpot_s)


def lengths_given(input_tokens: float | None, output_tokens: float | None) -> None:
    """Refuse a length of None (:func:`positive` reads None as an option not given, but a length has no default
    here): ``output_tokens=None`` was a raw TypeError from the context-window sum."""
    for name, v in (("input_tokens", input_tokens), ("output_tokens", output_tokens)):
        if v is None or v > MAX_TOKENS:  # 10**400: a raw OverflowError from deep inside (the CLI's bound, stop 50)
            raise InvalidSettingError(f"{named(name)} must be a number of tokens, got {v!r}; allowed: a finite "
                                      f"number above 0, at most {MAX_TOKENS:,}")


def whole_batch(batch: float | None) -> None:
    """Refuse a static batch that is not a whole number of sequences (after :func:`positive`): ``batch=2.5`` was
    priced as 2.5 prompts while the answer said ``batch`` 2 (the CLI's ``--batch`` takes whole numbers only)."""
    if batch is not None and (batch % 1 != 0 or batch > MAX_BATCH):
        raise InvalidSettingError(f"{named('batch')} must be a whole number of sequences, got {batch!r}; allowed: a "
                                  f"whole number from 1 to {MAX_BATCH:,}")


def predict(
    chip: ChipInput | ChipParams,
    model: ModelInput | ModelSpec,
    *,
    count: int = 1,
    weights: str | None = None, activations: str | None = None, kv: str | None = None,
    tp: int | None = None, pp: int | None = None, ep: int | None = None,
    attn_dp: bool | None = None,
    input_tokens: int = 1024,
    output_tokens: int = 1024,
    batch: int | None = None,
    max_ttft_s: float | None = None,
    max_tpot_s: float | None = None,
    estimate: str = "central",
    calibration: Calibration | str | None = None,
    assumptions: str | None = None,
    chip_spec: ChipSpec | None = None,
    attention_weights: str | None = None,
    attention_out_weights: str | None = None,
    chunk_tokens: int | None = None,
    config: UserConfig | None = None,
    padding: PaddingLadder | Literal["engine"] | None = "engine",
    engine: str | None = None, moe_kernel: str | None = None,
) -> Prediction:
    """Predict one model on one system: TTFT, TPOT, throughput, memory, power, energy, money.

    ``chip``/``model``: catalogue ids or file paths (str or Path), or objects (a ChipSpec as ``load_chip`` gives it, a
    ChipParams; a ModelSpec, or a config.json's mapping: a dict); ``count``: chips in the system;
    ``weights``/``activations``/``kv``: number formats (``weights`` None: what the model's checkpoint ships, its
    ``quantization_config`` else its ``torch_dtype``, said in ``Prediction.weights_source``; activations and KV then
    default to what the engines do with the checkpoint, ``Prediction.activations_source``/``kv_source``;
    ``attention_weights``/``attention_out_weights``: the attention projections' and output projection's format where an
    engine runs the checkpoint's attention apart, ``mapping.format_defaults.served_attention``); ``tp``/``pp``/``ep``:
    the parallel layout (any one given fixes it; none: searched for the most throughput); ``attn_dp``: True forces
    attention data parallelism over the tp chips (MLA/MoE models), False forbids it, None lets the search decide.
    ``input_tokens``/``output_tokens``: lengths in tokens; ``batch``: a static batch of sequences per replica, or None
    for the most throughput under continuous batching within ``max_ttft_s``/``max_tpot_s`` (seconds). ``estimate``:
    low, central or high for estimated chip figures; ``calibration``/``assumptions``: YAML paths (None: the shipped
    ones). ``chunk_tokens``: the prefill token budget of one step per chip (an engine's ``max_num_batched_tokens``;
    None: the step budget the default engine runs on the chip, as ``inferchip predict`` / ``serve`` / ``curve`` take it
    without ``--chunk-tokens``: :func:`~inferchip.performance.setting.resolve_setting`'s, said in
    ``Setting.chunk_source``); the memory fit keeps the activations of the largest step the run executes, a static
    batch's prompts bounded by it. ``config``: with a ModelSpec ``model``, the user's config file it was read from
    (:func:`~inferchip.performance.setting.resolve_setting`). ``padding``: the compiled step shapes every step is
    padded to (``"engine"``: the default engine's back end's on the chip, vLLM's TPU and Gaudi back ends, at its
    running-batch cap and the step budget; None: unpadded), resolved with the setting
    (:func:`~inferchip.performance.setting.resolve_setting`: a Setting it returns runs the same steps).
    ``engine``/``moe_kernel``: a serving engine and its expert kernel, as ``inferchip predict --engine --moe-kernel``
    (``resolve_setting``'s), its host time per request in TTFT and E2E (``max_ttft_s`` bounding the TTFT with it).

    The keyword form of :func:`predict_setting`: the setting is resolved once
    (:func:`~inferchip.performance.setting.resolve_setting`) and the question checked (:func:`ask`). Raises
    InvalidSettingError (a bad argument, naming the option) or DoesNotFitError (memory or the latency limits, with what
    would make it fit).
    """
    key = (input_key(chip), input_key(model), count, weights, activations, kv, tp, pp, ep, attn_dp, estimate,
           calibration, assumptions, chip_spec, attention_weights, attention_out_weights, chunk_tokens, config, padding,
           engine, moe_kernel)
    hashable = True
    try:  # the setting of the same arguments as a recent call (checked and resolved then)
        setting = _RECENT.get(key)
    except TypeError:  # an unhashable argument: resolve_setting keys it by identity
        setting, hashable = None, False
    if setting is not None and {type(v) for v in (count, tp, pp, ep, chunk_tokens)} - {int, type(None)}:
        setting = None  # 2.0 or True is the key of 2 or 1: a recent int's setting skipped the checks (review52)
    try:  # finite and above 0 (a NaN, an infinity or a string: named below, not a raw error further on)
        lengths_ok = (0 < input_tokens <= MAX_TOKENS and 0 < output_tokens <= MAX_TOKENS
                      and (batch is None or (0 < batch <= MAX_BATCH and batch % 1 == 0)))
    except TypeError:
        lengths_ok = False
    if setting is None or not lengths_ok:  # check every number, naming a bad one
        for name, v in (("count", count), ("input_tokens", input_tokens), ("output_tokens", output_tokens),
                        ("batch", batch), ("tp", tp), ("pp", pp), ("ep", ep)):
            positive(name, v, bounded=True)  # each bounded next (lengths_given, whole_batch, the setting's chips)
        lengths_given(input_tokens, output_tokens)
        whole_batch(batch)
    if max_ttft_s is not None or max_tpot_s is not None:
        positive(TTFT_LIMIT, max_ttft_s)
        positive(TPOT_LIMIT, max_tpot_s)
    if setting is None:
        chip, model, chip_spec, config = api_inputs(chip, model, chip_spec, config, estimate)
        setting = resolve_setting(chip, model, count=count, weights=weights, activations=activations, kv=kv, tp=tp,
                                  pp=pp, ep=ep, attn_dp=attn_dp, estimate=estimate, calibration=calibration,
                                  assumptions=assumptions, chip_spec=chip_spec, attention_weights=attention_weights,
                                  attention_out_weights=attention_out_weights, config=config,
                                  chunk_tokens=chunk_tokens, padding=padding, engine=engine,
                                  moe_kernel=moe_kernel)
        if hashable:
            if len(_RECENT) >= SETTINGS_CACHED:
                _RECENT.clear()
            _RECENT[key] = setting
    return predict_on(setting, input_tokens, output_tokens, batch, max_ttft_s, max_tpot_s)


def predict_on(setting: Setting, input_tokens: int, output_tokens: int, batch: int | None,
               max_ttft_s: float | None = None, max_tpot_s: float | None = None) -> Prediction:
    """:func:`predict`'s answer on a resolved ``setting`` (its checked lengths, batch and limits), as ``inferchip
    predict`` asks it of the setting it resolved once: the fast path where it applies, else :func:`predict_setting`."""
    ctx = setting.model.max_position_embeddings  # the CLI's check (cli_options.options.check_context), here too
    if ctx is not None and input_tokens + output_tokens > ctx:
        setting.model.check_context(input_tokens + output_tokens,
                                    f"input_tokens {input_tokens:,} + output_tokens {output_tokens:,}")
    if max_ttft_s is None and max_tpot_s is None:  # fixed lengths, no limits: the fast path where it applies
        fast = fast_layout(setting)
        if fast is not None:
            i, o = float(input_tokens), float(output_tokens)
            got = fast.static(float(batch), i, o) if batch is not None else fast.max_throughput(i, o)
            if type(got) is Prediction:
                return got if setting.engine is None else setting.engine.with_host(got, i)
            if got == DOES_NOT_FIT:  # memory (no limits here): _no_point's answer without the Question
                raise fit_error(setting.mapped(setting.layouts[-1]), float(batch) if batch is not None else 1, i, o,
                                setting.count, None if batch is None else float(batch) * i)
    return predict_setting(setting, ask(input_tokens, output_tokens, batch, max_ttft_s, max_tpot_s), fast=False)


# :data:`_RECENT`'s key after the chip's and the model's input_key: predict's other arguments but the question's, in
# the order predict writes its key, with their defaults (interfaces.api.recent_fast_layout builds the key by it).
KEYED = {name: p.default for name, p in inspect.signature(predict).parameters.items()
         if name not in ("chip", "model", "input_tokens", "output_tokens", "batch", "max_ttft_s", "max_tpot_s")}


# predict's recent settings by their arguments (a subset of resolve_setting's cache, looked up before
# the keyword call and its key of every resolve_setting argument; at most SETTINGS_CACHED).
_RECENT: dict[tuple[Any, ...], Setting] = {}


def best_layout(setting: Setting, q: Question) -> tuple[Layout, OperatingPoint] | None:
    """The layout (of the setting's candidates) with the most output tokens/s of the system that
    fits and meets the question's limits, and its operating point; None where none does. The
    choice is :func:`~inferchip.performance.layout_choice.choose_layout`'s (validation's too)."""
    try:
        c = choose_layout(setting, q, sweeps=setting.sweeps)
    except DoesNotFitError:
        return None
    return (c.layout, c.point) if c.point.limits_met else None


def _no_point(setting: Setting, q: Question) -> InferchipError:
    """Why no layout answers the question: the latency limits, or memory."""
    lay = setting.layouts[-1]
    mm = setting.mapped(lay)
    i, o = q.inputs.mean, q.outputs.mean
    b = q.batch or 1
    if float(mm.max_batch(i, o)) >= b and (q.max_ttft_s or q.max_tpot_s):
        met = continuous_batch(mm, np.array([1.0]), i, o)
        return DoesNotFitError(
            f"no batch meets the latency limits on {setting.chip.id} x{setting.count} for {setting.model.id}: at "
            f"concurrency 1 TTFT is {met.ttft_s[0] * 1e3:.1f} ms and TPOT {met.tpot_s[0] * 1e3:.2f} ms "
            f"(limits: TTFT {'-' if q.max_ttft_s is None else f'{q.max_ttft_s * 1e3:g} ms'}, "
            f"TPOT {'-' if q.max_tpot_s is None else f'{q.max_tpot_s * 1e3:g} ms'})")
    return fit_error(mm, b, i, o, setting.count, b * i if q.mode == "static" else None)


def predict_setting(setting: Setting, q: Question, *, fast: bool = True) -> Prediction:
    """:func:`answer` with the host time per request of the setting's engine (:attr:`Setting.engine`) in TTFT and
    E2E, ``q``'s TTFT limit bounding the TTFT with it (:meth:`~inferchip.performance.setting.engine.ServedEngine.
    limited`)."""
    if not isinstance(setting, Setting) or setting.engine is None or not isinstance(q, Question):
        return answer(setting, q, fast=fast)  # a wrong kind of argument: named there
    return setting.engine.with_host(answer(setting, setting.engine.limited(q), fast=fast), q.inputs.mean)


def answer(setting: Setting, q: Question, *, fast: bool = True) -> Prediction:
    """Predict a question on a resolved setting: the best layout's TTFT, TPOT, throughput, memory,
    time by operator class, power, energy and money (see :class:`Prediction`). ``q``: a static
    batch or the most throughput (:func:`ask`, or a :class:`Question` with length spreads; the
    prediction reports the mean lengths; a ``closed_loop`` question with a ``batch`` per replica is
    continuous batching held at that many sequences). ``fast``: answer a question the fast path
    covers there (:mod:`inferchip.performance.fast_path`: the same numbers to float rounding);
    False takes the general path for every question."""
    if not isinstance(setting, Setting) or not isinstance(q, Question):  # a raw AttributeError deep inside, before
        bad, want = (("setting", "a Setting (ic.resolve_setting(chip, model, ...))") if not isinstance(setting, Setting)
                     else ("q", "a Question (ic.ask(input_tokens, output_tokens, ...))"))
        given = setting if bad == "setting" else q
        raise InvalidSettingError(f"predict_setting: {bad} = {given!r} ({type(given).__name__}); allowed: {want}")
    if q.mode not in ("static", "max_throughput", "closed_loop"):
        raise InvalidSettingError(f"predict answers a static batch, a closed loop or the most throughput, not "
                                  f"question mode "
                                  f"{q.mode!r} "
                                  "(operating_point evaluates closed and open loops on one layout)")
    if fast and len(q.inputs.points) == 1 and len(q.outputs.points) == 1 and q.whole_sequences_per_chip and \
            q.beams == 1 and not q.queue_wait and q.max_ttft_s is None and q.max_tpot_s is None and \
            q.max_e2e_s is None and q.max_seqs_per_rank is None:  # the fast path has no running-batch cap
        fl = fast_layout(setting)
        if fl is not None:
            i, o = q.inputs.mean, q.outputs.mean
            got = fl.static(q.batch, i, o) if q.mode == "static" and q.batch is not None else (
                fl.max_throughput(i, o) if q.mode == "max_throughput" else None)
            if type(got) is Prediction:
                return got
            if got == DOES_NOT_FIT:
                raise _no_point(setting, q)
    found = best_layout(setting, q)
    if found is None:
        raise _no_point(setting, q)
    lay, pt = found
    mm = setting.mapped(lay)
    met = pt.metrics
    if met is None or met.prefill is None:
        raise InternalError("operating_point's points keep their metrics, with the prefill's (TTFT)")
    fmt, cp, idx = setting.formats, setting.chip, pt.index
    input_tokens, output_tokens = q.inputs.mean, q.outputs.mean
    static = q.mode == "static"
    b = pt.batch
    tput_sys = pt.tokens_per_s_replica * lay.replicas
    kv_bytes = float(mm.kv_bytes_per_seq(input_tokens + output_tokens)) * b
    # the activations the memory fit keeps (max_concurrency): a static batch's prompts, else a full chunk
    act = mm.step_activation_bytes(b * input_tokens if static else None)
    mem = {"weights": mm.weights_bytes, "kv_cache": kv_bytes, "activations": act, "runtime_reserve": mm.reserve_bytes}
    pred = Prediction(
        chip_id=cp.id, model_id=setting.model.id, num_chips=lay.num_chips, tp=lay.tp, pp=lay.pp, ep=lay.ep,
        replicas=lay.replicas, attn_dp=lay.attn_dp,
        batch=whole_or_mean(b), mode="static" if static else "continuous",
        input_tokens=round(input_tokens), output_tokens=round(output_tokens),
        ttft_s=pt.ttft_s, tpot_s=pt.tpot_s, e2e_latency_s=pt.e2e_s,
        output_tokens_per_s=tput_sys, output_tokens_per_s_per_chip=tput_sys / lay.num_chips,
        output_tokens_per_s_per_user=1.0 / pt.tpot_s if pt.tpot_s > 0 else float("inf"),
        memory_per_chip_bytes=mm.weights_bytes + kv_bytes + act, memory_breakdown_bytes=mem,
        memory_capacity_per_chip_bytes=cp.memory_capacity_bytes,
        weights=fmt.weights, activations=fmt.activations, kv=fmt.kv, compute_format=setting.compute_format,
        weights_source=setting.weights_source, activations_source=setting.activations_source,
        kv_source=setting.kv_source, runtime_devices_per_package=setting.chip.devices_per_package,
        breakdown={"prefill": _breakdown(met.prefill, idx, lay.pp), "decode": _breakdown(met.decode, idx, lay.pp)},
        notes=setting.notes,
    )
    pred.extra["calibration"] = "fitted" if setting.calibration.fitted else "defaults"
    if pt.busy_fraction < 1.0:
        busy = round(pt.busy_fraction * lay.replicas, 6)
        pred.notes.append(f"{busy:g} sequence(s) on {lay.replicas} replicas: {busy:g} replica(s) run batch 1, "
                          "the others idle at idle power")
    add_energy_and_money(pred, mm, met, idx, setting, busy_fraction=pt.busy_fraction, batch=pt.batch)
    return pred


def _at(x: npt.ArrayLike, shape: tuple[int, ...], idx: int) -> float:
    """``x`` (broadcast to ``shape``) at flat index ``idx``, as a float."""
    if type(x) is np.ndarray and x.shape == shape:
        return float(x.item(idx))
    a = np.asarray(x)
    if a.ndim == 0:
        return float(a)
    return float((a if a.shape == shape else np.broadcast_to(a, shape)).flat[idx])


def _step_power_at(economy: ChipEconomy, cost: StepCost, step_s: npt.ArrayLike, pp: int, shape: tuple[int, ...],
                   idx: int) -> tuple[float, float, bool, float]:
    """``economics.step_power`` of the step at point ``idx`` only (the same numbers, as floats)."""
    one = cost.point
    if one is not None and idx == 0:
        return economy.step_power(one.flop_by_format, one.dram_bytes, one.link_bytes, _at(step_s, shape, idx), pp)
    flop = {f: _at(v, shape, idx) for f, v in cost.flop_by_format.items()}
    return economy.step_power(flop, _at(cost.dram_bytes, shape, idx), _at(cost.link_bytes, shape, idx),
                              _at(step_s, shape, idx), pp)


def add_energy_and_money(pred: Prediction, mm: MappedModel, met: PhaseMetrics, idx: int, setting: Setting, *,
                         busy_fraction: float = 1.0, batch: float | None = None) -> None:
    """Power per chip (with TDP throttling, which stretches the steps), tokens per joule and $ per token.

    ``busy_fraction``: the share of the replicas that run the point (``OperatingPoint.busy_fraction``;
    fewer sequences than replicas); the others' chips draw the idle power
    (:func:`~inferchip.cost.economics.idle_power_w`), so the power per chip is the mean of busy
    and idle chips and the system's tokens/s that of the busy replicas. ``batch``: sequences per
    busy replica (the point's, a mean such as 1.5 where the sequences do not divide evenly; None:
    ``pred.batch``, the same figure).

    The energy of a static batch is that of the very steps its TTFT and TPOT came from:
    ``met.prefill_chunks`` prefill steps of ``met.prefill_step_s`` each, then output - 1 decode
    steps. In continuous batching every step is the steady-state decode step (prefill mixed in).
    Everything that depends only on the setting comes from :attr:`Setting.economy`; here only
    the point's own step is priced (``economics.ChipEconomy``: the numbers of ``step_power``
    and ``money_per_token``).
    """
    spec, cp = setting.chip_spec, mm.chip
    if spec is None:
        pred.notes.append("no chip spec given: energy assumes a 7 nm node and HBM3 memory")
    if not math.isfinite(float(cp.tdp_w)):
        pred.notes.append(f"{cp.id}: no TDP published: power, energy and TCO are unavailable")
        return
    eco = setting.economy
    pp = mm.layout.pp
    shape = np.shape(met.tpot_s)
    tpot, dec_p, throttled, dec_e = _step_power_at(eco, met.decode, met.tpot_s, pp, shape, idx)
    dec_thr = pre_thr = throttled
    ttft = pred.ttft_s
    b = pred.batch if batch is None else batch
    if pred.mode == "static":
        if met.prefill is None or met.prefill_chunks is None or met.prefill_step_s is None:
            raise InternalError("a static prediction's metrics hold its prefill, chunks and chunk step times")
        n_chunks = _at(met.prefill_chunks, shape, idx)
        pre_t, _, pre_thr, pre_e = _step_power_at(eco, met.prefill, met.prefill_step_s, pp, shape, idx)
        ttft = pre_t * n_chunks
        throttled = throttled or pre_thr
        e2e = ttft + max(pred.output_tokens - 1, 0) * tpot
        energy = pre_e * n_chunks + max(pred.output_tokens - 1, 0) * dec_e
        power = energy / e2e
        tput = b * pred.output_tokens / e2e * pred.replicas
    else:
        power = dec_p
        e2e = ttft + max(pred.output_tokens - 1, 0) * tpot
        tput = b / tpot * pred.replicas
    if busy_fraction != 1.0:  # idle replicas: no tokens, idle power
        from inferchip.cost.economics import idle_power_w

        tput = tput * busy_fraction
        power = busy_fraction * power + (1.0 - busy_fraction) * idle_power_w(cp.tdp_w, cp.idle_w, setting.assumptions)
    if throttled:
        static = pred.mode == "static"
        stretch = float(tpot / _at(met.tpot_s, shape, idx)) if dec_thr else 1.0
        if static and pre_thr and met.prefill_step_s is not None:
            stretch = max(stretch, float(pre_t / _at(met.prefill_step_s, shape, idx)))
        pred.notes.append(throttle_note(float(cp.tdp_w), bool(pre_thr) and static, bool(dec_thr), static, stretch))
    figures = {"ttft_s": ttft, "tpot_s": tpot, "e2e_latency_s": e2e, "output_tokens_per_s": tput,
               "output_tokens_per_s_per_chip": tput / pred.num_chips, "output_tokens_per_s_per_user": 1.0 / tpot}
    for name, v in figures.items():
        object.__setattr__(pred, name, v)  # still being made: frozen to its readers
    money = setting.money
    pred.notes.extend(money.notes)
    per_chip = pred.output_tokens_per_s_per_chip
    pred.extra.update({"power_w_per_chip": power, "throttled": throttled, "output_tokens_per_j": per_chip / power,
                       "j_per_output_token": power / per_chip, "chip_price_usd": money.price_usd,
                       "chip_price_source": money.price_source, "manufacturing_cost_usd": money.manufacturing_cost_usd})
    pred.extra.update(eco.money_per_token(per_chip, power, pred.num_chips))
