"""The data of the review report's charts: rooflines, throughput-interactivity curves and
memory fit. :mod:`inferchip.interfaces.report` only draws it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from inferchip.performance.predict import Prediction
from inferchip.review.claim_file import ScaleOut
from inferchip.review.inputs import (
    Case,
    ChipEntry,
    ModelEntry,
    OnProgress,
    ReviewConfig,
    no_progress,
)
from inferchip.review.pareto import throughput_curve
from inferchip.spec.chip import ChipParams

if TYPE_CHECKING:
    from inferchip.cost.step import StepCost
    from inferchip.mapping.sharding import ShardedModel
    from inferchip.performance.mapped import MappedModel

StepArgs = tuple[float, float, float, float]  # tokens, decode sequences, decode KV tokens, prefill attention pairs


def mapped_model(model: ModelEntry, chip: ChipParams, tp: int, pp: int, ep: int, cfg: ReviewConfig,
                 attn_dp: bool = False, chunk_tokens: int | None = None) -> MappedModel:
    """The model mapped onto one replica of ``tp x pp`` chips (the review's formats, the shipped calibration), with
    prefill steps of ``chunk_tokens`` (None: the engines' default; a sized deployment's: ``scale_out.chunk_tokens``,
    whose activations the memory fit keeps room for)."""
    from inferchip.performance.setting import resolve_setting

    s = resolve_setting(chip, model.spec, count=tp * pp, tp=tp, pp=pp, ep=ep, attn_dp=attn_dp, weights=cfg.weights,
                        chunk_tokens=chunk_tokens)
    return s.mapped(s.layout)


def roofline_points(model: ModelEntry, chip: ChipParams, p: Prediction, cfg: ReviewConfig) -> list[dict[str, Any]]:
    """Operators of a prefill step and a decode step on a roofline: arithmetic intensity
    (FLOP per DRAM byte) and attained FLOP/s (FLOP / time with overheads), per operator class.

    Each class's FLOP and bytes are isolated by re-costing the step without that class
    (weight GEMMs), without any layer (LM head), or with layers but no GEMMs, collectives nor
    elementwise traffic (attention); its time is the class time of the full step. The elementwise
    kernels are removed by re-costing, not by subtracting ``elements x activation bytes``: the cost
    rules charge them at the hidden-state width (16-bit under FP8 activations), so such a subtraction
    left half of them in the attention's bytes and drew prefill attention above the memory roof.
    """
    from dataclasses import replace

    import numpy as np

    from inferchip.performance.phases import prefill_pairs

    mm = mapped_model(model, chip, p.tp, p.pp, p.ep, cfg, p.attn_dp)
    sm = mm.sm
    b = max(p.batch / p.pp, 1.0)
    ctx = cfg.input_tokens + cfg.output_tokens / 2.0
    n_prompts = max(mm.chunk_tokens // cfg.input_tokens, 1)
    chunk = float(min(mm.chunk_tokens, n_prompts * cfg.input_tokens))
    phases: dict[str, StepArgs] = {
        "decode": (b, b, b * ctx, 0.0),
        "prefill": (chunk, 0.0, 0.0, float(prefill_pairs(min(cfg.input_tokens, chunk)) * n_prompts)),
    }

    def cost(model_shards: ShardedModel, args: StepArgs) -> tuple[StepCost, float, float]:
        c = mm.stage_step(*args) if model_shards is sm else _step(model_shards, args)
        flop = float(sum(np.sum(v) for v in c.flop_by_format.values()))
        return c, flop, float(np.sum(c.dram_bytes))

    def _step(model_shards: ShardedModel, args: StepArgs) -> StepCost:
        from inferchip.cost.step import step_cost

        return step_cost(model_shards, chip, mm.formats, mm.cal, *args)

    out: list[dict[str, Any]] = []
    for phase, args in phases.items():
        full, f_all, b_all = cost(sm, args)
        pieces: dict[str, tuple[float, float]] = {}
        for cls in ("attention_proj", "mlp", "experts"):
            layers = tuple(replace(layer, gemms=tuple(g for g in layer.gemms if g.op_class != cls))
                           for layer in sm.layers)
            _, f, by = cost(replace(sm, layers=layers), args)
            pieces[cls] = (f_all - f, b_all - by)
        # attention alone: no GEMMs, no collectives and elementwise kernels that move nothing (their bytes
        # re-costed away by the cost rules themselves, at the hidden-state width they are charged at)
        bare = tuple(replace(layer, gemms=(), collectives=(),
                             elementwise=replace(layer.elementwise, elements_per_token=0.0)) for layer in sm.layers)
        _, f_bare, b_bare = cost(replace(sm, layers=bare), args)
        _, f_none, b_none = cost(replace(sm, layers=tuple(replace(layer, count=0) for layer in bare)), args)
        pieces["attention"] = (f_bare - f_none, b_bare - b_none)
        pieces["lm_head"] = (f_none, b_none)
        pieces["whole step"] = (f_all, b_all)
        for cls, (flop, nbytes) in pieces.items():
            t = float(np.sum(full.time_s if cls == "whole step" else full.classes[cls].time_s))
            if flop <= 0 or nbytes <= 0 or t <= 0:
                continue
            out.append({"model_id": model.id, "phase": phase, "op_class": cls, "flop": flop, "dram_bytes": nbytes,
                        "time_s": t, "arithmetic_intensity_flop_per_byte": flop / nbytes,
                        "attained_flop_per_s": flop / t})
    return out


def memory_fit(model: ModelEntry, chip: ChipEntry, rows: list[dict[str, Any]], cfg: ReviewConfig) -> dict[str, Any]:
    """Weights as a fraction of one chip's usable memory, and where the model fits."""
    mm = mapped_model(model, chip.params, 1, 1, 1, cfg)
    frac = mm.weights_bytes / mm.budget_bytes if mm.budget_bytes > 0 else float("inf")
    mine = [r for r in rows if r["chip_id"] == chip.id and r["model_id"] == model.id]
    pref = [r for r in mine if r["slo"] == "batch"] or mine
    single = next((r for r in pref if r["setting"] == "single" and r["status"] == "ok"), None)
    dom = next((r for r in pref if r["setting"] == "domain" and r["status"] == "ok"), None)
    if single is not None:
        status, chips = "fits on one chip", 1
    elif dom is not None:
        status, chips = f"fits on {dom['tp'] * dom['pp']} chips (tp{dom['tp']} pp{dom['pp']})", dom["tp"] * dom["pp"]
    elif any(r["status"] == "misses SLO" for r in pref):
        status, chips = "fits, but no batch meets the latency limits", None
    else:  # on the system it is judged on (a sized chip: every count up to the bound was tried)
        tried = next((r["deployment_chips"] for r in pref if r["setting"] == "domain"), None) or chip.domain
        status, chips = f"does not fit in {tried:,} chip(s)", None
    return {"chip_id": chip.id, "model_id": model.id, "weights_fraction_of_one_chip": frac,
            "chips_per_replica": chips, "status": status}


def chart_data(chips: list[ChipEntry], models: list[ModelEntry], rows: list[dict[str, Any]],
               kept: dict[str, dict[Case, Prediction]], cfg: ReviewConfig, so: ScaleOut,
               on_progress: OnProgress = no_progress,
               ) -> tuple[dict[str, dict[str, Any]], dict[str, list[dict[str, Any]]], list[dict[str, Any]]]:
    """Throughput-interactivity curves (per model, per chip), roofline points (per chip) and
    memory fit (per chip and model), from the rows and the kept domain predictions of every chip."""
    return merge_chip_charts(chips, models, [chip_charts(c, models, rows, kept[c.id], cfg, so, on_progress)
                                             for c in chips])


ChipCharts = tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]


def chip_charts(chip: ChipEntry, models: list[ModelEntry], rows: list[dict[str, Any]], kept: dict[Case, Prediction],
                cfg: ReviewConfig, so: ScaleOut, on_progress: OnProgress = no_progress) -> ChipCharts:
    """:func:`chart_data` of one chip (its rows among ``rows``, its kept domain predictions): its curve
    per model id, its roofline points and its memory fit per model (one chip's charts need no other's,
    so each is drawn up in the piece that evaluated the chip). ``so``: the claim file's ``scale_out`` (a sized
    chip's prefill chunk)."""
    from dataclasses import replace

    from inferchip.review.deploy.sizing import is_sized

    curves: dict[str, Any] = {}
    roofline: list[dict[str, Any]] = []
    memory: list[dict[str, Any]] = []
    ccfg = replace(cfg, weights=chip.weights_in(cfg))  # the chip's own weights (the claim as deployed)
    sized = is_sized(chip, cfg)  # its kept predictions are its sized deployments, predicted at the sizing's chunk
    chunk = so.chunk_tokens if sized else None
    for m in models:
        preds = {s: p for (mid, s), p in kept.items() if mid == m.id}
        layouts = {(p.tp, p.pp, p.ep, p.attn_dp): chunk for p in preds.values()}
        if any(r["status"] == "ok" for r in rows if r["chip_id"] == chip.id and r["model_id"] == m.id
               and r["setting"] == "single"):
            layouts.setdefault((1, 1, 1, False), None)  # one chip, as its single rows ran (the engines' chunk)
        curve = throughput_curve([mapped_model(m, chip.params, tp, pp, ep, ccfg, dp, ch)
                                  for (tp, pp, ep, dp), ch in sorted(layouts.items())],
                                 cfg.input_tokens, cfg.output_tokens)
        if curve is not None:  # a sized chip's curve names the deployment's chips (the chart labels it so)
            curves[m.id] = {**curve, "deployment_chips": sorted({p.num_chips for p in preds.values()})} if sized \
                else curve
        p = preds.get("batch") or next(iter(preds.values()), None)
        if p is not None:
            roofline.extend(roofline_points(m, chip.params, p, ccfg))
        memory.append(memory_fit(m, chip, rows, ccfg))
        on_progress(f"charts: {chip.id} {m.id}", 1)
    on_progress(f"charts: {chip.id}", 1)
    return curves, roofline, memory


def merge_chip_charts(chips: list[ChipEntry], models: list[ModelEntry], per_chip: list[ChipCharts],
                      ) -> tuple[dict[str, dict[str, Any]], dict[str, list[dict[str, Any]]], list[dict[str, Any]]]:
    """:func:`chart_data`'s curves, roofline and memory fit from each chip's :func:`chip_charts`, in chip order."""
    curves: dict[str, dict[str, Any]] = {m.id: {} for m in models}
    roofline: dict[str, list[dict[str, Any]]] = {c.id: [] for c in chips}
    memory: list[dict[str, Any]] = []
    for chip, (c, r, mem) in zip(chips, per_chip, strict=True):
        for model_id, curve in c.items():
            curves[model_id][chip.id] = curve
        roofline[chip.id].extend(r)
        memory.extend(mem)
    return curves, roofline, memory
