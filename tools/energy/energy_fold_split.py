"""The tokens/J error of the board-power runs split into throughput and power, at a fold's power values.

``tools/energy/fit_power.py`` refits the power parameters without each accelerator (10-30 minutes) and reports
the held-out errors; its split table uses the values fitted on all rows. This tool predicts every
board-power run that states its throughput once (seconds) with the values a chosen fit gives its
accelerator (``--rows-json FILE``: the ``folds`` that ``tools/energy/fit_power.py --rows-json FILE`` wrote,
each run with the fold that holds out its accelerator, i.e. the held-out prediction; or ``--values``),
and prints, per data set and concurrency band and per model, the median |error| and median signed error
of throughput, board power and tokens/J, exactly split: ``(1 + e_tokens_per_j) = (1 + e_tput) / (1 + e_power)``.

``--window`` (a measurement, not the shipped model) replaces each ML.ENERGY gpqa run's closed-loop
context by the one its steady-state window sees (:func:`window_mean_age_tokens`): the benchmark sends all
``num_requests`` at once and measures from the moment ``max_num_seqs`` requests have their first token
to the moment ``num_requests - max_num_seqs - 1`` have finished (github.com/ml-energy/benchmark
``mlenergy/llm/benchmark.py``, ``RequestTracker``), so where ``num_requests`` is not many times
``max_num_seqs`` the window holds the first cohort young, not the length-biased stationary mix.

``--prefill-mixture`` (a measurement, not the shipped model) prices each closed-loop step as the mixture
of steps vLLM runs (:func:`mixture_step_s`): the V1 scheduler schedules the running requests' decode tokens
first, then admits waiting requests while its token budget lasts, each with its whole prompt up to the
budget (``max_num_batched_tokens``, 8192 in the ML.ENERGY launch configs; vllm ``v1/core/sched/
scheduler.py``, ``schedule()``: "Next, schedule the WAITING requests"). With ``b / E[o] < 1`` prompts
admitted per step, a share ``1 - b / E[o]`` of the steps carry decode tokens only and the rest one whole
prompt each, while the shipped steady state puts ``b / E[o]`` of a prompt into every step: with the
step time piecewise in its rows (tiles, the roofline's max) the mean of the steps is not the step of the
mean. Energy stays consistent: the step's event counts are linear in its tokens, so the mean step's
energy over the mixture's time is the mixture's power.

``--moe-token-scale FORMAT=FACTOR`` (a measurement, not the shipped model) multiplies the vLLM Triton MoE
per-token work (``Calibration.moe_token_vector_flop``, set by ``validation.moe_kernels.run_calibration`` for the
rows whose notes state those kernels) by FACTOR on the rows whose weights are FORMAT (:func:`scaled_moe_work`):
e.g. ``mxfp4=2`` prices the MXFP4 ``matmul_ogs`` path at twice the bf16 ``fused_moe`` slope the shipped constant
carries (vLLM PR #39902), an unsourced size, to see how much of the tail one per-token term would take.

``--layer-kernels REGEX=K`` (a measurement, not the shipped model; repeatable) adds K small kernels to every layer
of the runs whose model matches REGEX (:func:`extra_layer_kernels`, through ``mapping.sharding.layer_small_kernels``):
a per-layer fixed time at the per-kernel cost and busy-floor power of ``cost.rules``, to size a per-layer term
(e.g. ``'235B.*FP8=4'``: the block-FP8 activation quantisations vLLM launches per layer) before building it.

``--list PCT`` prints every run whose tokens/J error exceeds PCT per cent (its model, weights, data set,
concurrency, GPUs, TP / EP, measured and predicted step, and the three errors), then counts them by model,
weights, data set, band and layout. ``--exact REGEX`` (repeatable) prints the tokens/J figures the runs would
have if the throughput of those whose model matches REGEX were predicted exactly (their power error kept):
how much of the tail one population carries (:func:`tokens_per_j_if_exact`).

    PYTHONPATH=src python tools/energy/energy_fold_split.py [--rows-json FILE | --values BUSY GEMM HOST]
        [--lm-arena-mean TOKENS] [--window] [--prefill-mixture] [--moe-token-scale mxfp4=2] [--band 33-256]
        [--layer-kernels '235B.*FP8=4'] [--list 35] [--exact 'gpt-oss' --exact 'FP8']
"""

from __future__ import annotations

import argparse
import csv
import heapq
import json
import math
import re
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

CATALOG = Path(__file__).resolve().parents[2] / "src" / "inferchip" / "catalog"
INV_GOLDEN = (math.sqrt(5.0) - 1.0) / 2.0

# GPQA-Diamond has 198 questions; a run sends them num_request_repeats times
# (github.com/ml-energy/benchmark configs/vllm/gpqa/benchmark.yaml: num_requests 198, repeats 1 for
# max_num_seqs 8-128, 2 for 192-256, 3 for 384, 4 for 512; per-model sweeps.yaml extend it:
# gpt-oss-120b/H100 5 for 768, 6 for 1024; gpt-oss-20b/H100 2 from 96, 3 for 384-512, 5, 6, 9, 12 for
# 768, 1024, 1536, 2048 (its 96-sequence run exists with 1 and 2 repeats: case id suffix "rep2")). The
# gpt-oss-120b runs at 1536 and 2048 are not in the stored sweeps.yaml: 9 and 12 repeats assumed, as gpt-oss-20b's.
GPQA_QUESTIONS = 198
_GPQA_REPEATS = {192: 2, 256: 2, 384: 3, 512: 4, 768: 5, 1024: 6, 1536: 9, 2048: 12}
_GPT_OSS_20B_REPEATS = {96: 2, 128: 2, 192: 2, 256: 2, 384: 3, 512: 3, 768: 5, 1024: 6, 1536: 9, 2048: 12}


def gpqa_num_requests(model: str, max_num_seqs: int, case_id: str = "") -> int:
    """Requests an ML.ENERGY gpqa run sends on H100: 198 x its num_request_repeats (configs cited above)."""
    if "gpt-oss-20b" in model.lower() and max_num_seqs >= 96:
        reps = 1 if max_num_seqs == 96 and "rep2" not in case_id else _GPT_OSS_20B_REPEATS[max_num_seqs]
    else:
        reps = 1 if max_num_seqs <= 128 else _GPQA_REPEATS[max_num_seqs]
    return GPQA_QUESTIONS * reps


def request_lengths(points: Sequence[float], num_requests: int) -> list[float]:
    """``num_requests`` output lengths drawn from equally weighted quantile ``points`` in a fixed
    low-discrepancy order (golden-ratio sequence): every point about equally often, well mixed in time."""
    n = len(points)
    return [float(points[int(((j + 1) * INV_GOLDEN % 1.0) * n)]) for j in range(num_requests)]


def window_mean_age_tokens(lengths: Sequence[float], concurrency: int) -> tuple[float, float]:
    """(time-averaged age in tokens of the running sequences, window length in decode steps) of the
    ML.ENERGY steady-state window: ``concurrency`` slots (vLLM max_num_seqs), the requests of ``lengths``
    (output tokens, in the order the engine admits them) all queued at step 0, one token per running
    sequence per step; the window runs from step 0 (every slot has its first token) to the step at which
    ``len(lengths) - concurrency - 1`` requests have finished. The age of a sequence is the tokens it has
    generated; the context a step reads is its prompt plus that age. Raises ValueError when the run is too
    short to have a window (``len(lengths) <= concurrency + 1``)."""
    stop = len(lengths) - concurrency - 1
    if stop < 1 or concurrency < 1:
        raise ValueError(f"{len(lengths)} requests at max_num_seqs {concurrency}: no steady-state window")
    free = [0.0] * concurrency  # the step at which each slot frees
    starts, ends = np.empty(len(lengths)), np.empty(len(lengths))
    for j, length in enumerate(lengths):
        s = heapq.heappop(free)
        starts[j], ends[j] = s, s + float(length)
        heapq.heappush(free, ends[j])
    t_end = float(np.sort(ends)[stop - 1])
    a, b = np.clip(starts, 0.0, t_end), np.clip(ends, 0.0, t_end)
    integral = float(np.sum((b - a) * ((a - starts) + (b - starts)) / 2.0))  # of each sequence's age over [a, b]
    return integral / (concurrency * t_end), t_end


def _windowed(row: dict[str, str], kw: Any) -> Any:
    """The row's setting with its closed-loop context set to its window's (gpqa rows; others unchanged)."""
    from inferchip.performance.operating import LengthDist

    q = kw.question  # energy.row_setting.RowSetting
    if q.mode != "closed_loop" or (row.get("dataset") or "") != "gpqa":
        return kw
    c = int(float(row["concurrency"]))
    n = gpqa_num_requests(row["model"], c, row["case_id"])
    age, _ = window_mean_age_tokens(request_lengths(q.outputs.points, n), c)
    # the steady state reads E[o^2] / (2 E[o]) as the running sequences' mean age: set it to the window's
    out = LengthDist(q.outputs.points)
    out.__dict__["second_moment"] = 2.0 * out.mean * age
    return replace(kw, question=replace(q, outputs=out))


def mixture_step_s(decode_only_s: np.ndarray, with_prompt_s: np.ndarray, prompts_per_step: np.ndarray
                   ) -> np.ndarray:
    """Mean step time, s, of a closed loop that admits ``prompts_per_step`` (< 1) whole prompts per step:
    ``(1 - p) x decode-only step + p x step carrying one prompt``; at ``p >= 1`` the steps all carry
    prompts and the mixture is not used (NaN, the caller keeps its own)."""
    p = np.asarray(prompts_per_step, dtype=float)
    mixed = (1.0 - p) * np.asarray(decode_only_s, dtype=float) + p * np.asarray(with_prompt_s, dtype=float)
    out: np.ndarray = np.where(p < 1.0, mixed, np.nan)
    return out


def _patch_prefill_mixture() -> None:
    """``performance.operating.steady_state`` with its TPOT (and tokens/s) replaced by :func:`mixture_step_s`."""
    import dataclasses

    import inferchip.performance.operating as op

    plain = op.steady_state

    def mixed(mm, b, q, with_ttft, decode=None):  # type: ignore[no-untyped-def]
        met = plain(mm, b, q, with_ttft, decode)
        i, o = q.inputs, q.outputs
        e_o = max(o.mean, 1.0)
        b = np.asarray(b, dtype=float)
        ctx = i.mean + o.second_moment / (2.0 * e_o)
        t0, _ = mm.replica_step_s(b, b, b * ctx, 0.0 * b)
        t1, _ = mm.replica_step_s(b + i.mean, b, b * ctx, i.mean_prefill_pairs + 0.0 * b)
        t = mixture_step_s(t0, t1, b / e_o / q.beams)
        tpot = np.where(np.isnan(t), met.tpot_s, t)
        return dataclasses.replace(met, tpot_s=tpot, tokens_per_s_replica=b / tpot)

    op.steady_state = mixed  # type: ignore[assignment]


def parse_scales(items: Sequence[str]) -> dict[str, float]:
    """``["mxfp4=2", "fp8=1.5"]`` -> ``{"mxfp4": 2.0, "fp8": 1.5}``; ValueError naming a malformed item."""
    out: dict[str, float] = {}
    for item in items:
        fmt, sep, factor = item.partition("=")
        if not sep or not fmt.strip():
            raise ValueError(f"--moe-token-scale {item!r}: expected FORMAT=FACTOR, e.g. mxfp4=2")
        value = float(factor)
        if not math.isfinite(value) or value < 0.0:
            raise ValueError(f"--moe-token-scale {item!r}: the factor must be a finite number >= 0")
        out[fmt.strip().lower()] = value
    return out


def scaled_moe_work(cal, row: dict[str, str], scales: dict[str, float]):  # type: ignore[no-untyped-def]
    """``cal`` with its per-token MoE work times ``scales[weight format]`` for a row whose notes state vLLM's
    Triton MoE kernels (``validation.moe_kernels.states_triton_moe``); every other row's ``cal`` unchanged."""
    from inferchip.validation.moe_kernels import states_triton_moe

    factor = scales.get((row.get("weight_dtype") or "").strip().lower())
    if factor is None or not states_triton_moe(row):
        return cal
    return cal.model_copy(update={"moe_token_vector_flop": cal.moe_token_vector_flop * factor})


def _patch_moe_scales(scales: dict[str, float]) -> None:
    """``validation.moe_kernels.run_calibration`` followed by :func:`scaled_moe_work` (the energy path
    imports it at call time, so the module attribute is the one to replace)."""
    import inferchip.validation.moe_kernels as mk

    plain = mk.run_calibration

    def scaled(cal, row, closed_loop, family):  # type: ignore[no-untyped-def]
        return scaled_moe_work(plain(cal, row, closed_loop, family), row, scales)

    mk.run_calibration = scaled  # type: ignore[assignment]


def parse_layer_kernels(items: Sequence[str]) -> list[tuple[str, int]]:
    """``["235B.*FP8=4"]`` -> ``[("235B.*FP8", 4)]`` (split at the last ``=``); ValueError naming a malformed item."""
    out: list[tuple[str, int]] = []
    for item in items:
        pattern, sep, count = item.rpartition("=")
        if not sep or not pattern or not count.strip().isdigit():
            raise ValueError(f"--layer-kernels {item!r}: expected REGEX=K with K a whole number, e.g. '235B.*FP8=4'")
        out.append((re.compile(pattern).pattern, int(count)))
    return out


def extra_layer_kernels(model: str, specs: Sequence[tuple[str, int]]) -> int:
    """Kernels added to every layer of a run of ``model``: the sum of K over the specs whose REGEX it matches."""
    return sum(k for pattern, k in specs if re.search(pattern, model))


def _patch_layer_kernels(specs: Sequence[tuple[str, int]]) -> None:
    """``mapping.sharding.layer_small_kernels`` plus :func:`extra_layer_kernels` of the run that
    ``energy.rows.predict_energy_run`` is pricing (0 outside it)."""
    import inferchip.mapping.sharding as sh
    from inferchip.validation.energy import rows as er

    current, plain_kernels, plain_run = {"k": 0}, sh.layer_small_kernels, er.predict_energy_run

    def kernels(m, group):  # type: ignore[no-untyped-def]
        return plain_kernels(m, group) + current["k"]

    def run(row, *a, **kw):  # type: ignore[no-untyped-def]
        current["k"] = extra_layer_kernels(row.get("model", ""), specs)
        try:
            return plain_run(row, *a, **kw)
        finally:
            current["k"] = 0

    sh.layer_small_kernels, er.predict_energy_run = kernels, run  # type: ignore[assignment]


def band(concurrency: str) -> str:
    """"<=32", "33-256", ">256" (the bands of tools/energy/fit_power.py)."""
    n = float(concurrency)
    return "<=32" if n <= 32 else ("33-256" if n <= 256 else ">256")


def split(pred_tput: float, pred_power: float, tput: float, power: float) -> tuple[float, float, float]:
    """Signed errors (fractions) of throughput, power and tokens/J; the last is (1 + e_t) / (1 + e_p) - 1."""
    e_t, e_p = pred_tput / tput - 1.0, pred_power / power - 1.0
    return e_t, e_p, (1.0 + e_t) / (1.0 + e_p) - 1.0


def tokens_per_j_if_exact(e_tput: Sequence[float], e_power: Sequence[float], exact: Sequence[bool]) -> np.ndarray:
    """Signed tokens/J errors (fractions) with the throughput error of the ``exact`` runs set to 0 and every
    power error kept: ``1 / (1 + e_power) - 1`` for those, ``(1 + e_tput) / (1 + e_power) - 1`` for the rest."""
    t = np.where(np.asarray(exact, dtype=bool), 0.0, np.asarray(e_tput, dtype=float))
    out: np.ndarray = (1.0 + t) / (1.0 + np.asarray(e_power, dtype=float)) - 1.0
    return out


def tail_summary(errs_pct: np.ndarray, above_pct: float = 35.0) -> str:
    """"median |e| / p90 |e|, N beyond ABOVE %" of signed errors in per cent."""
    a = np.abs(np.asarray(errs_pct, dtype=float))
    return (f"{np.median(a):.1f} / {np.percentile(a, 90):.1f} %, {int(np.sum(a > above_pct))} of {a.size} "
            f"beyond {above_pct:g} %")


_ITL = re.compile(r"median ITL ([\d.]+) ms")
_RUNNING = re.compile(r"mean running batch \(vLLM num_requests_running, steady state\) ([\d.]+)")


def stated_step_ms(notes: str) -> tuple[float, float]:
    """(median ITL, mean running batch) the row's notes state; NaN where a figure is absent."""
    itl, run = _ITL.search(notes or ""), _RUNNING.search(notes or "")
    return (float(itl.group(1)) if itl else math.nan, float(run.group(1)) if run else math.nan)


def _list_tail(runs: list[dict], above_pct: float) -> None:
    """Each run beyond ``above_pct`` (tokens/J), then the count by model, weights, data set, band, layout."""
    tail = sorted((r for r in runs if abs(100.0 * r["e"][2]) > above_pct), key=lambda r: -abs(r["e"][2]))
    print(f"\nruns beyond {above_pct:g} % tokens/J: {len(tail)} of {len(runs)} (the p90 allows {len(runs) // 10})")
    print("  data set | model | weights | concurrency | GPUs tp/ep | measured step (batch / tput) / median ITL / "
          "predicted step, ms | throughput / power / tokens/J signed %")
    counts: dict[tuple[str, ...], int] = {}
    for r in tail:
        row, (e_t, e_p, e_j) = r["row"], r["e"]
        itl, running = stated_step_ms(row.get("notes", ""))
        meas = 1e3 * running / r["tput"] if math.isfinite(running) else math.nan
        pred = 1e3 * running / r["pred_tput"] if math.isfinite(running) else math.nan
        key = (r["ds"], row["model"].split("/")[-1], row["weight_dtype"], r["band"],
               f"{row['num_accelerators']} GPUs tp{row['tp']}/ep{row.get('ep') or 1}")
        counts[key] = counts.get(key, 0) + 1
        print(f"  {key[0]} | {key[1]} | {key[2]} | {row.get('concurrency') or '-'} | {key[4]} | "
              f"{meas:.1f} / {itl:.1f} / {pred:.1f} | {100 * e_t:+.1f} / {100 * e_p:+.1f} / {100 * e_j:+.1f}")
    print("  count by data set | model | weights | band | layout:")
    for key, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        print(f"    {' | '.join(key)}: {n}")


def _fold_values(args: argparse.Namespace) -> dict[str, tuple[dict[str, float], dict[str, float]]]:
    from inferchip.validation.energy.power_fit import BUSY, GEMM, HOST

    if args.rows_json:
        folds = json.loads(Path(args.rows_json).read_text(encoding="utf-8"))["folds"]
        return {acc: (f["values"], f["means"]) for acc, f in folds.items()}
    vals = {BUSY: args.values[0], GEMM: args.values[1], HOST: args.values[2]} if args.values else {}
    return {"*": (vals, {})}


def main() -> None:
    from inferchip.catalog.assumptions import load_assumptions
    from inferchip.catalog.calibration_file import load_calibration, load_dataset_lengths
    from inferchip.spec.calibration import DatasetLengths
    from inferchip.validation.energy import rows as er
    from inferchip.validation.energy.power_fit import measured_throughput, with_power

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows-json", help="tools/energy/fit_power.py --rows-json output: each run at its held-out fold")
    ap.add_argument("--values", nargs=3, type=float, metavar=("BUSY", "GEMM", "HOST"),
                    help="busy power fraction, GEMM rate at the limit, host J/request (else the shipped)")
    ap.add_argument("--lm-arena-mean", type=float,
                    help="lm-arena-chat mean input tokens (a fold without its rows: the default, 400)")
    ap.add_argument("--window", action="store_true", help="gpqa runs at their steady-state window's context")
    ap.add_argument("--prefill-mixture", action="store_true",
                    help="closed-loop steps as vLLM's mixture of decode-only steps and steps with one whole prompt")
    ap.add_argument("--moe-token-scale", action="append", default=[], metavar="FORMAT=FACTOR",
                    help="multiply the Triton MoE per-token work of the rows with these weights (repeatable)")
    ap.add_argument("--layer-kernels", action="append", default=[], metavar="REGEX=K",
                    help="add K small kernels to every layer of the runs whose model matches REGEX (repeatable)")
    ap.add_argument("--band", default="33-256", help="the band whose runs are listed per model")
    ap.add_argument("--list", type=float, metavar="PCT", help="list the runs whose tokens/J error exceeds PCT %%")
    ap.add_argument("--exact", action="append", default=[], metavar="REGEX",
                    help="tokens/J if the throughput of the runs whose model matches REGEX were exact (repeatable)")
    args = ap.parse_args()
    runs: list[dict] = []

    cal, lengths, a0 = load_calibration(None), load_dataset_lengths(None), load_assumptions()
    folds = _fold_values(args)
    if args.prefill_mixture:
        _patch_prefill_mixture()
    if args.moe_token_scale:
        _patch_moe_scales(parse_scales(args.moe_token_scale))
    if args.layer_kernels:
        _patch_layer_kernels(parse_layer_kernels(args.layer_kernels))
    if args.window:
        plain = er.row_setting
        er.row_setting = lambda row, ln: _windowed(row, plain(row, ln))  # type: ignore[assignment]
    groups: dict[tuple[str, ...], list[tuple[float, float, float]]] = {}
    for name in ("energy_cases.csv", "mlenergy_cases.csv"):
        with (CATALOG / name).open(encoding="utf-8-sig", newline="") as fh:
            rows = [r for r in csv.DictReader(fh) if r["metric"] == "power_w_board_total"]
        for r in rows:
            tput = measured_throughput(r)
            fold = folds.get(r["accelerator"], folds.get("*"))
            if tput is None or fold is None:
                continue
            means = {**lengths.mean_input_tokens, **fold[1]}
            if args.rows_json and "lm-arena-chat" not in fold[1]:
                means["lm-arena-chat"] = DatasetLengths().mean_input_tokens["lm-arena-chat"]
            if args.lm_arena_mean:
                means["lm-arena-chat"] = args.lm_arena_mean
            ln = lengths.model_copy(update={"mean_input_tokens": means})
            run, _ = er.predict_energy_run(r, cal, with_power(a0, fold[0]), ln)
            if run is None:
                continue
            e = split(run.output_tokens_per_s, run.board_w, tput, float(r["value"]))
            ds, bd = r.get("dataset") or r["source_kind"], band(r["concurrency"]) if r.get("concurrency") else "-"
            runs.append({"row": r, "e": e, "ds": ds, "band": bd, "tput": tput, "pred_tput": run.output_tokens_per_s})
            for key in (("all",), (ds,), (ds, bd), ("model", bd, ds, r["model"].split("/")[-1], r["weight_dtype"])):
                groups.setdefault(key, []).append(e)
    print("group | runs | throughput median |e| / p90 / signed | board power median |e| / p90 / signed | "
          "tokens/J median |e| / p90 / signed")
    for key in sorted(k for k in groups if k[0] != "model" or k[1] == args.band):
        v = 100.0 * np.array(groups[key])
        cols = " | ".join(_stats(v[:, k], with_p90=True) for k in range(3))
        print(f"  {' | '.join(key)} | {len(v)} | {cols}")
    if args.list is not None:
        _list_tail(runs, args.list)
    if args.exact:
        e = np.array([r["e"] for r in runs])
        print(f"\ntokens/J as predicted: {tail_summary(100.0 * e[:, 2])}")
        for pattern in args.exact:
            hit = [bool(re.search(pattern, r["row"]["model"])) for r in runs]
            print(f"  throughput exact for the {sum(hit)} runs whose model matches {pattern!r}: "
                  f"{tail_summary(100.0 * tokens_per_j_if_exact(e[:, 0], e[:, 1], hit))}")
        hit = [any(re.search(p, r["row"]["model"]) for p in args.exact) for r in runs]
        both = tail_summary(100.0 * tokens_per_j_if_exact(e[:, 0], e[:, 1], hit))
        print(f"  all of them at once ({sum(hit)} runs): {both}")


def _stats(errs_pct: np.ndarray, with_p90: bool) -> str:
    """"median |e| / p90 |e| / median signed" of signed errors in per cent."""
    p90 = f" / {np.percentile(np.abs(errs_pct), 90):.1f}" if with_p90 else ""
    return f"{np.median(np.abs(errs_pct)):.1f}{p90} / {np.median(errs_pct):+.1f}"

if __name__ == "__main__":
    main()
