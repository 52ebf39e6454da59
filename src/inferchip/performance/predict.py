"""``predict``: TTFT, TPOT, throughput and memory of one model on one system.

Two modes. ``batch=N``: a static batch of N sequences per replica (prefill together, then
decode). ``max_throughput``: continuous batching in steady state; the concurrency (and,
where not given, the parallel layout) with the most output tokens/s that fits memory and
the optional TTFT/TPOT limits is found by a vectorised sweep.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from inferchip.performance.phases import (
    MappedModel,
    PhaseMetrics,
    continuous_batch,
    fit_error,
    map_model,
    static_batch,
)
from inferchip.catalog.calibration_file import load_calibration
from inferchip.cost.calibration import Calibration
from inferchip.cost.peaks import executed_format
from inferchip.cost.step import OP_CLASSES, StepCost
from inferchip.errors import DoesNotFitError, InvalidSettingError
from inferchip.mapping.layout import Layout, candidate_layouts, check_layout
from inferchip.mapping.memory_fit import Formats
from inferchip.spec.chip import ChipParams, ChipSpec
from inferchip.spec.formats import check_format, compute_format
from inferchip.spec.model import ModelSpec

BATCH_GRID = np.unique(np.concatenate([np.arange(1, 17), np.round(np.geomspace(16, 16384, 80))])).astype(float)


@dataclass
class Prediction:
    chip_id: str
    model_id: str
    num_chips: int
    tp: int
    pp: int
    ep: int
    replicas: int
    batch: int
    mode: str
    input_tokens: int
    output_tokens: int
    ttft_s: float
    tpot_s: float
    e2e_latency_s: float
    output_tokens_per_s: float
    output_tokens_per_s_per_chip: float
    output_tokens_per_s_per_user: float
    memory_per_chip_bytes: float
    memory_breakdown_bytes: dict[str, float]
    memory_capacity_per_chip_bytes: float
    weights: str
    activations: str
    kv: str
    compute_format: str
    breakdown: dict[str, dict[str, dict[str, Any]]]
    notes: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    attn_dp: bool = False  # attention data-parallel over the tp chips (mapping.layout)

    def to_dict(self) -> dict[str, Any]:
        d = {k: getattr(self, k) for k in self.__dataclass_fields__ if k != "extra"}
        d.update(self.extra)
        return d

    def to_dataframe(self):
        import pandas as pd

        rows = []
        for phase, classes in self.breakdown.items():
            for cls, v in classes.items():
                rows.append({"phase": phase, "op_class": cls, **v})
        return pd.DataFrame(rows)


def _breakdown(cost: StepCost, index: int | tuple, pp: int) -> dict[str, dict[str, Any]]:
    out = {}
    total = float(np.ravel(cost.time_s)[index] if np.ndim(cost.time_s) else cost.time_s)
    for cls in OP_CLASSES:
        cc = cost.classes[cls]
        t = float(np.ravel(np.broadcast_to(cc.time_s, np.shape(cost.time_s)))[index]) if np.ndim(cost.time_s) else float(cc.time_s)
        if t <= 0:
            continue
        b = cc.bound()
        bound = str(np.ravel(np.broadcast_to(b, np.shape(cost.time_s)))[index]) if np.ndim(b) else str(b)
        out[cls] = {"time_s": t * pp, "share": t / total if total else 0.0, "bound": bound}
    return out


FOUR_BIT_FLOAT = ("fp4", "mxfp4")


def resolve_formats(weights: str, activations: str | None, kv: str | None) -> Formats:
    """Number formats of a setting from the CLI choices, with the defaults filled in.

    Defaults: activations bf16 for 16-bit and weight-only int4 weights, fp8 for fp4/mxfp4
    weights (W4A8), else the weight format; KV as the activations (fp8 for 4-bit activations),
    bf16 otherwise. ``--activations fp4`` / ``mxfp4`` (W4A4, NVFP4 or MXFP4) needs 4-bit float
    weights; its GEMMs run at the 4-bit peak (``spec.formats.compute_format``) and attention
    at 16 bit (``cost.step``: fp8 attention needs fp8 activations and KV). On a chip with no
    4-bit units the GEMMs run at the next wider format it has (``spec.formats.WIDER``), said in
    ``predict``'s notes. ``int4`` is weight-only (W4A16, ``spec.formats``): int4 activations are refused.
    """
    check_format(weights, "--weights")
    if activations is None:
        activations = "bf16" if weights in ("int4", "fp4", "mxfp4", "bf16", "fp16", "fp32") else weights
        if weights in FOUR_BIT_FLOAT:
            activations = "fp8"
    check_format(activations, "--activations")
    if activations == "int4":
        raise InvalidSettingError("--activations int4: int4 is weight-only here (W4A16, activations stay wider); "
                                  "for 4-bit activations use --activations fp4 or mxfp4 (W4A4), else fp8 or bf16")
    if activations in FOUR_BIT_FLOAT and weights not in FOUR_BIT_FLOAT:
        raise InvalidSettingError(f"--activations {activations}: 4-bit activations need 4-bit float weights "
                                  f"(W4A4: --weights fp4 or mxfp4), got --weights {weights}")
    if kv is None:
        kv = activations if activations in ("fp8", "bf16", "fp16") else ("fp8" if activations in FOUR_BIT_FLOAT
                                                                        else "bf16")
    check_format(kv, "--kv")
    return Formats(weights=weights, activations=activations, kv=kv)


def resolve_chip_and_model(chip: str | ChipParams, model: str | ModelSpec, estimate: str = "central",
                           chip_spec: ChipSpec | None = None) -> tuple[ChipParams, ChipSpec | None, ModelSpec]:
    """(chip parameters, chip spec, model spec) from catalogue ids / file paths or ready objects.

    A chip given by id or path also yields its spec (memory type, node, price) unless one is
    passed; a ChipParams keeps the ``chip_spec`` given (None: energy assumes defaults).
    """
    if isinstance(chip, ChipParams):
        cp = chip
    else:
        from inferchip.catalog.chips import get_chip_params, load_chip

        cp = get_chip_params(chip, estimate)
        chip_spec = chip_spec or load_chip(chip)
    if isinstance(model, ModelSpec):
        return cp, chip_spec, model
    from inferchip.catalog.models import load_model

    return cp, chip_spec, load_model(model)


def _positive(name: str, v: int | float | None) -> None:
    if v is not None and v <= 0:
        raise InvalidSettingError(f"{name} must be positive, got {v}")


def evaluate_layout(model: ModelSpec, chip: ChipParams, layout: Layout, fmt: Formats, cal: Calibration,
                    input_tokens: float, output_tokens: float, batch: int | None,
                    max_ttft_s: float | None, max_tpot_s: float | None) -> tuple[MappedModel, PhaseMetrics, float, int] | None:
    """Best point of one layout: (mapped, metrics, throughput per replica, index into the batch grid)."""
    mm = map_model(model, chip, layout, fmt, cal)
    bmax = float(mm.max_batch(input_tokens, output_tokens))
    if batch is not None:
        if batch > bmax:
            return None
        met = static_batch(mm, np.array([float(batch)]), input_tokens, output_tokens)
        return mm, met, float(met.tokens_per_s_replica[0]), 0
    if bmax < 1:
        return None
    grid = np.unique(np.append(BATCH_GRID[BATCH_GRID <= bmax], bmax))
    met = continuous_batch(mm, grid, input_tokens, output_tokens)
    ok = np.ones_like(grid, dtype=bool)
    if max_ttft_s is not None:
        ok &= met.ttft_s <= max_ttft_s
    if max_tpot_s is not None:
        ok &= met.tpot_s <= max_tpot_s
    if not ok.any():
        return None
    tput = np.where(ok, met.tokens_per_s_replica, -1.0)
    k = int(np.argmax(tput))
    return mm, _take(met, grid, k), float(tput[k]), k


def _take(met: PhaseMetrics, grid: np.ndarray, k: int) -> PhaseMetrics:
    met.extra_batch = float(grid[k])  # type: ignore[attr-defined]
    met.index = k  # type: ignore[attr-defined]
    return met


def predict(
    chip: str | ChipParams,
    model: str | ModelSpec,
    *,
    count: int = 1,
    weights: str = "bf16",
    activations: str | None = None,
    kv: str | None = None,
    tp: int | None = None,
    pp: int | None = None,
    ep: int | None = None,
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
) -> Prediction:
    """Predict one setting. ``batch=None`` means max-throughput (continuous batching).

    ``attn_dp``: True forces attention data parallelism over the tp chips (MLA/MoE models,
    ``mapping.layout``), False forbids it, None lets the layout search decide.
    """
    for name, v in (("--count", count), ("--input-tokens", input_tokens), ("--output-tokens", output_tokens),
                    ("--batch", batch), ("--tp", tp), ("--pp", pp), ("--ep", ep),
                    ("--max-ttft-ms", max_ttft_s), ("--max-tpot-ms", max_tpot_s)):
        _positive(name, v)
    if estimate not in ("low", "central", "high"):
        raise InvalidSettingError(f"--estimate must be low, central or high, got {estimate}")
    cp, chip_spec, ms = resolve_chip_and_model(chip, model, estimate, chip_spec)
    cal = calibration if isinstance(calibration, Calibration) else load_calibration(calibration)
    fmt = resolve_formats(weights, activations, kv)
    notes: list[str] = []
    want = compute_format(fmt.weights, fmt.activations)
    got = executed_format(cp, want)
    if got != want:
        notes.append(f"{cp.id} has no {want} units: GEMMs run at {got}")
    if fmt.activations in FOUR_BIT_FLOAT:
        notes.append(f"W4A4 ({fmt.weights}/{fmt.activations}): GEMMs at the {got} peak, attention at 16 bit, KV {fmt.kv}")

    if tp is not None or pp is not None or ep is not None:
        lay = Layout(tp=tp or 1, pp=pp or 1, ep=(tp or 1) if attn_dp and ep is None else (ep or 1),
                     attn_dp=bool(attn_dp))
        check_layout(ms, lay, count)
        layouts = [replace(lay, replicas=max(1, count // lay.chips_per_replica))]
    else:
        layouts = [lay for lay in candidate_layouts(ms, count, cp.max_scaleup_domain)
                   if attn_dp is None or lay.attn_dp == attn_dp]
        if not layouts:
            why = "" if attn_dp is None else f" with attention data parallelism {'on' if attn_dp else 'off'}"
            raise InvalidSettingError(f"no parallel layout of {count} chips{why} suits {ms.id} (heads {ms.num_heads})")

    best = None
    for lay in layouts:
        r = evaluate_layout(ms, cp, lay, fmt, cal, input_tokens, output_tokens, batch, max_ttft_s, max_tpot_s)
        if r is None:
            continue
        tput_sys = r[2] * lay.replicas
        if best is None or tput_sys > best[0] * (1 + 1e-9):
            best = (tput_sys, lay, r)
    if best is None:
        lay = layouts[-1] if tp is None else layouts[0]
        mm = map_model(ms, cp, lay, fmt, cal)
        b = batch or 1
        if float(mm.max_batch(input_tokens, output_tokens)) >= b and (max_ttft_s or max_tpot_s):
            met = continuous_batch(mm, np.array([1.0]), input_tokens, output_tokens)
            raise DoesNotFitError(
                f"no batch meets the latency limits on {cp.id} x{count} for {ms.id}: at concurrency 1 "
                f"TTFT is {met.ttft_s[0] * 1e3:.1f} ms and TPOT {met.tpot_s[0] * 1e3:.2f} ms "
                f"(limits: TTFT {'-' if max_ttft_s is None else f'{max_ttft_s * 1e3:g} ms'}, "
                f"TPOT {'-' if max_tpot_s is None else f'{max_tpot_s * 1e3:g} ms'})")
        raise fit_error(mm, b, input_tokens, output_tokens, count)

    tput_sys, lay, (mm, met, tput_rep, k) = best
    b = float(batch) if batch is not None else float(met.extra_batch)  # type: ignore[attr-defined]
    idx = 0 if batch is not None else k
    ttft, tpot, e2e = (float(np.ravel(x)[idx]) for x in (met.ttft_s, met.tpot_s, met.e2e_s))
    kv_bytes = float(mm.kv_bytes_per_seq(input_tokens + output_tokens)) * b
    step_tokens = b * input_tokens if batch is not None else b + min(input_tokens, mm.chunk_tokens)
    act = float(mm.activation_bytes(min(step_tokens, mm.chunk_tokens)))
    mem = {"weights": mm.weights_bytes, "kv_cache": kv_bytes, "activations": act, "runtime_reserve": mm.reserve_bytes}
    used = mm.weights_bytes + kv_bytes + act
    pred = Prediction(
        chip_id=cp.id, model_id=ms.id, num_chips=lay.num_chips, tp=lay.tp, pp=lay.pp, ep=lay.ep, replicas=lay.replicas,
        attn_dp=lay.attn_dp,
        batch=int(b), mode="static" if batch is not None else "continuous",
        input_tokens=int(input_tokens), output_tokens=int(output_tokens),
        ttft_s=ttft, tpot_s=tpot, e2e_latency_s=e2e,
        output_tokens_per_s=tput_sys, output_tokens_per_s_per_chip=tput_sys / lay.num_chips,
        output_tokens_per_s_per_user=1.0 / tpot if tpot > 0 else float("inf"),
        memory_per_chip_bytes=used, memory_breakdown_bytes=mem,
        memory_capacity_per_chip_bytes=cp.memory_capacity_bytes,
        weights=fmt.weights, activations=fmt.activations, kv=fmt.kv, compute_format=got,
        breakdown={"prefill": _breakdown(met.prefill, idx, lay.pp), "decode": _breakdown(met.decode, idx, lay.pp)},
        notes=notes + list(cp.notes),
    )
    pred.extra["calibration"] = "fitted" if cal.fitted else "defaults"
    _add_energy_and_money(pred, mm, met, idx, chip_spec, estimate, assumptions)
    return pred


def _add_energy_and_money(pred: Prediction, mm, met: PhaseMetrics, idx: int, spec: ChipSpec | None,
                          level: str, assumptions_path: str | None) -> None:
    """Power per chip (with TDP throttling, which stretches the steps), tokens per joule and $ per token."""
    from inferchip.cost.economics import chip_money, money_per_token, step_power
    from inferchip.catalog.assumptions import load_assumptions

    a = load_assumptions(assumptions_path)
    cp = mm.chip
    mem_type = spec.memory.type if spec is not None else "HBM3"
    if spec is None:
        pred.notes.append("no chip spec given: energy assumes a 7 nm node and HBM3 memory")
    if not np.isfinite(cp.tdp_w):
        pred.notes.append(f"{cp.id}: no TDP published: power, energy and TCO are unavailable")
        return
    pp = mm.layout.pp
    dec = step_power(met.decode, met.tpot_s, pp, spec, mem_type, cp.tdp_w, cp.idle_w, a)

    def at(x) -> float:
        return float(np.ravel(np.broadcast_to(x, np.shape(met.tpot_s)))[idx])

    tpot = at(dec.time_s)
    ttft = pred.ttft_s
    throttled = bool(at(dec.throttled))
    if pred.mode == "static":
        # The batch's prefill (maybe several chunks) then output-1 decode steps.
        n_chunks = max(1.0, float(np.ceil(pred.batch * pred.input_tokens / mm.chunk_tokens)))
        chunk_t = ttft / n_chunks
        pre = step_power(met.prefill, chunk_t, pp, spec, mem_type, cp.tdp_w, cp.idle_w, a)
        ttft = at(pre.time_s) * n_chunks
        throttled = throttled or bool(at(pre.throttled))
        e2e = ttft + max(pred.output_tokens - 1, 0) * tpot
        energy = at(pre.energy_j) * n_chunks + max(pred.output_tokens - 1, 0) * at(dec.energy_j)
        power = energy / e2e
        tput = pred.batch * pred.output_tokens / e2e * pred.replicas
    else:
        power = at(dec.power_w)
        e2e = ttft + max(pred.output_tokens - 1, 0) * tpot
        tput = pred.batch / tpot * pred.replicas
    if throttled:
        pred.notes.append(f"power would exceed the {cp.tdp_w:.0f} W TDP: clocks throttle and the steps stretch")
    pred.ttft_s, pred.tpot_s, pred.e2e_latency_s = ttft, tpot, e2e
    pred.output_tokens_per_s = tput
    pred.output_tokens_per_s_per_chip = tput / pred.num_chips
    pred.output_tokens_per_s_per_user = 1.0 / tpot
    money = chip_money(spec, a, level)  # type: ignore[arg-type]
    pred.notes.extend(money.notes)
    per_chip = pred.output_tokens_per_s_per_chip
    pred.extra.update({
        "power_w_per_chip": power,
        "throttled": throttled,
        "output_tokens_per_j": per_chip / power,
        "j_per_output_token": power / per_chip,
        "chip_price_usd": money.price_usd,
        "chip_price_source": money.price_source,
        "manufacturing_cost_usd": money.manufacturing_cost_usd,
    })
    pred.extra.update(money_per_token(per_chip, power, money, pred.num_chips, a))
