"""MLPerf rows' decode step under one step model: what each measurement implies against what the simulated run
steps at, by operator class, for the Offline and Server rows of a model (default: DeepSeek-R1, v5.1).

For each row of a cases CSV whose id matches ``--rows``, the row is validated as ``inferchip validate`` does it
(its layout, plan and simulated run; the run's step log is caught) and three views of one step are printed:

* **measured**: output tokens/s a GPU and the step a token of a running sequence takes at the running batch the
  run implies: Offline, the stated batch (``gpu_batch_size`` a attention-DP rank x ranks: the run holds at most that
  many) over the replica's tokens/s; Server, Little's law, ``rate x (TTFT + (E[o] - 1) TPOT)`` in flight (TTFT and
  TPOT the run's measured means where rows of the same run state them; a run without such rows takes ``--ttft-ms`` /
  ``--tpot-ms``, said so) over ``TPOT``. The prompt tokens/s at the data set's counted mean input (``--input-tokens``).
* **simulated**: the simulated run's steady stretch (Offline: from the wave's ``cap``-th finish to the last
  admission, as ``sim.runs.offline``; Server: the middle half of the run's arrivals): mean running decode batch,
  KV tokens a sequence, prompt tokens a step, mean step and the step a token takes, the tokens/s a GPU it gives.
* **priced**: the pure decode step (no prompt in it) of the replica at the measured batch and at the simulated one,
  at the simulated stretch's KV context, by operator class (``StepCost.classes``); ``fp8 MLA``: the same step with
  the MLA decode attention at the chip's FP8 peak (``mla43``'s sourced kernel rule: TensorRT-LLM PR #3190, SGLang
  PR #8638: the attention class times the 16-bit over the FP8 peak, exact for the compute-bound absorbed-MLA
  decode), and what the measured step leaves unexplained under each.

Then, per accelerator with an Offline and a Server row, **one step model for both**: the measured two-point line
``a + k b`` (step against running batch) beside the model's pure decode line through the same two batches at one
KV context a running sequence (``--context``; default DeepSeek-R1's counted in-flight context, 4,979 tokens:
``prefill44``), as shipped and with FP8 MLA decode; the KV price the measured slope asks for (its slope less the
model's non-attention slope, over the model's attention slope) and the intercept left over.

    python tools/mlperf_rows/mlperf_row_steps.py src/inferchip/catalog/validation_cases.csv \
        [--rows REGEX] [--calibration F.yaml] [--mean-input deepseek-r1=803.8] [--ttft-ms T --tpot-ms P] \
        [--context 4979]
"""

from __future__ import annotations

import argparse
import math
import re
from typing import Any, NamedTuple

import numpy as np

DEFAULT_ROWS = r"^mlp51-deepseek-r1-(offline|server)-[a-z0-9]+-nvidia(-tpot)?$"
# DeepSeek-R1's MLPerf data set, counted per sample (openshift-psap/performance-dashboard datasets/summaries/
# deepseek-r1.csv @c402a31285; docs/serving_journal.md, mlperf43 and prefill44): mean input 803.8 tokens; a running
# sequence's KV context with answers cut at 20,000, E[i o] / E[o] + E[o^2] / (2 E[o]) = 625 + 4,354 tokens
COUNTED_INPUT_TOKENS = 803.8
COUNTED_INFLIGHT_TOKENS = 4979.0
_RATE = re.compile(r"completed\s+([0-9.]+)\s+samples/s|([0-9.]+)\s+completed\s+samples/s", re.IGNORECASE)
_SAMPLES = re.compile(r"([0-9.]+)\s+samples/s", re.IGNORECASE)


# ------------------------------------------------------------------ arithmetic (pure)
def littles_batch(rate_per_s: float, mean_output_tokens: float, ttft_s: float, tpot_s: float) -> float:
    """Requests in flight of an open-loop run: ``rate x (TTFT + (E[o] - 1) TPOT)``."""
    if not (rate_per_s > 0 and mean_output_tokens >= 1 and ttft_s >= 0 and tpot_s > 0):
        raise ValueError(f"rate {rate_per_s}, output {mean_output_tokens}, TTFT {ttft_s}, TPOT {tpot_s}: rate and "
                         "TPOT must be > 0, output >= 1, TTFT >= 0")
    return rate_per_s * (ttft_s + (mean_output_tokens - 1.0) * tpot_s)


def two_point_line(b1: float, s1: float, b2: float, s2: float) -> tuple[float, float]:
    """(intercept, slope) of the line through (b1, s1) and (b2, s2)."""
    if b1 == b2:
        raise ValueError(f"batches {b1} and {b2}: a line needs two different batches")
    k = (s2 - s1) / (b2 - b1)
    return s1 - k * b1, k


def kv_price_ratio(measured_slope: float, model_slope: float, model_attention_slope: float) -> float:
    """The factor on the model's attention price that gives the measured slope (the rest of the slope kept)."""
    if not model_attention_slope > 0:
        raise ValueError(f"model attention slope {model_attention_slope}: must be > 0")
    return (measured_slope - (model_slope - model_attention_slope)) / model_attention_slope


class Stretch(NamedTuple):
    """Means over a simulated run's steady stretch (module doc)."""

    steps: int
    decode_seqs: float  # mean running decode batch of a step (replica)
    kv_per_seq: float  # KV tokens a decoding sequence reads
    prefill_tokens: float  # prompt tokens a step
    prefill_share: float  # share of steps holding prompt tokens
    step_s: float  # mean step
    token_step_s: float  # the steps' time over the tokens a decoding sequence emits in them
    tokens_per_s: float  # output tokens/s of the replica


def stretch(steps: Any, t_a: float, t_b: float) -> Stretch:
    """Means of the decode steps of a step log (``SimResult.steps``) that end inside (t_a, t_b]."""
    ends = steps["start_s"] + steps["duration_s"]
    m = (ends > t_a) & (ends <= t_b) & (steps["num_decode_seqs"] > 0)
    if not m.any():
        raise ValueError(f"no decode step ends in ({t_a:.4g}, {t_b:.4g}] s")
    seqs = steps["num_decode_seqs"][m].astype(float)
    dur = steps["duration_s"][m]
    emitted = float(steps["emitted_tokens"][m].sum())
    span = float(ends[m].max() - steps["start_s"][m].min())
    per_seq = emitted / float(seqs.mean())
    return Stretch(int(m.sum()), float(seqs.mean()), float(steps["decode_kv_tokens"][m].sum() / seqs.sum()),
                   float(steps["prefill_tokens"][m].mean()), float((steps["prefill_tokens"][m] > 0).mean()),
                   float(dur.mean()), float(dur.sum()) / per_seq if per_seq > 0 else math.nan,
                   emitted / span if span > 0 else math.nan)


def offline_stretch(res: Any, cap: int) -> Stretch:
    """The steady stretch of a burst run (``sim.runs.offline.steady_tokens_per_s``'s window)."""
    r = res.requests
    fin = np.sort(r["finish_s"][np.isfinite(r["finish_s"])])
    return stretch(res.steps, float(fin[min(cap, fin.size) - 1]), float(np.max(r["first_scheduled_s"])))


def server_stretch(res: Any) -> Stretch:
    """The middle half of an open-loop run's arrivals."""
    a = np.sort(res.requests["arrival_s"])
    return stretch(res.steps, float(a[a.size // 4]), float(a[(3 * a.size) // 4]))


# ------------------------------------------------------------------ the model
def decode_step(mm: Any, batch: float, kv_per_seq: float) -> tuple[float, dict[str, float]]:
    """The replica's pure decode step (s) at ``batch`` sequences of ``kv_per_seq`` KV tokens, and its classes."""
    b = np.array([float(batch)])
    t, cost = mm.replica_step_s(b, b, b * kv_per_seq, 0.0 * b)
    return float(np.ravel(t)[0]), {k: float(np.ravel(c.time_s)[0]) for k, c in cost.classes.items()}


def fp8_attention_scale(mm: Any) -> float:
    """16-bit over FP8 dense peak of the chip: the MLA decode attention's price ratio under mla43's rule."""
    from inferchip.cost.peaks import peak_flop_per_s

    return float(np.ravel(peak_flop_per_s(mm.chip, "bf16"))[0] / np.ravel(peak_flop_per_s(mm.chip, "fp8"))[0])


def measured_rate_per_s(notes: str) -> float | None:
    """The run's samples/s as its notes state it (Server: the completed rate)."""
    m = _RATE.search(notes) or _SAMPLES.search(notes)
    return float(next(g for g in m.groups() if g)) if m else None


def capture_runs(v: Any, case: Any) -> tuple[Any, list[tuple[Any, int]]]:
    """Validate ``case`` with ``v`` and catch every simulated run's (result, requests)."""
    from inferchip.validation import server

    runs: list[tuple[Any, int]] = []
    orig = server.ReplicaSim.run

    def run(self: Any, arrivals: Any, num_requests: int, *args: Any, **kw: Any) -> Any:
        res = orig(self, arrivals, num_requests, *args, **kw)
        runs.append((res, num_requests))
        return res

    server.ReplicaSim.run = run  # type: ignore[method-assign]
    try:
        out = v.predict_case(case)
    finally:
        server.ReplicaSim.run = orig  # type: ignore[method-assign]
    return out, runs


class RowStep(NamedTuple):
    """One row's measured step and the model that priced it (for the per-accelerator line)."""

    case_id: str
    accelerator: str
    offline: bool
    batch: float  # the running batch the measurement implies, a replica
    step_s: float  # the measured step a token takes there
    mm: Any


def row_report(v: Any, case: Any, run_facts: dict[str, float], from_rows: set[str],
               input_tokens: float) -> tuple[list[str], RowStep | None]:
    """The three views of one row (module doc) as printable lines, and its measured step for the line;
    ``run_facts``: the run's mean ``ttft_ms`` / ``tpot_ms``, ``from_rows`` those of them its own rows state."""
    from inferchip.validation.stated_engine import stated_batch
    from inferchip.validation.validate import case_formats, plan_for

    out, runs = capture_runs(v, case)
    layout = out.layout
    plan = plan_for(case, v.lengths)
    mm = next(iter(v._sims.values())).mm if v._sims else v.mapped(case, layout, case_formats(case)[0])
    gpus, ranks, mean_out = layout.chips_per_replica, layout.attn_dp_ways, plan.outputs.mean
    lines = [f"\n{case.case_id}: {case.accelerator} x{case.num_accelerators}, tp {layout.tp} ep {layout.ep} "
             f"attention DP x{ranks}, {layout.replicas} replicas of {gpus} GPUs; {case.metric} measured "
             f"{case.value:g}, predicted {out.predicted:.4g} ({100 * (out.predicted / case.value - 1):+.1f} %)"]
    rate = measured_rate_per_s(case.notes)
    offline = case.scenario == "offline"
    if offline:
        tps = case.value / layout.replicas
        seqs, _tokens = stated_batch(case.notes, case.case_id)
        batch = float((seqs or 0) * ranks) or math.nan
        how = f"the stated batch {seqs} x {ranks} ranks, at most"
        tok_step = batch / tps
    else:
        tps = (rate or math.nan) * mean_out / layout.replicas
        tpot = run_facts.get("tpot_ms", math.nan) / 1e3
        ttft = run_facts.get("ttft_ms", 0.0) / 1e3
        batch = littles_batch((rate or math.nan) / layout.replicas, mean_out, ttft, tpot) \
            if math.isfinite(tpot) else math.nan
        given = [f"--{k.replace('_', '-')}" for k in ("ttft_ms", "tpot_ms") if k in run_facts and k not in from_rows]
        how = f"Little's law at TTFT {ttft * 1e3:.4g} ms, TPOT {tpot * 1e3:.4g} ms" + (
            f" ({', '.join(given)}: no such row of this run)" if given else "")
        tok_step = tpot
    lines.append(f"  measured: {tps / gpus:,.0f} output tokens/s a GPU; running batch {batch:,.0f} a replica "
                 f"({batch / ranks:,.0f} a rank; {how}); a token's step {tok_step * 1e3:.1f} ms; prompt tokens "
                 f"{tps / mean_out * input_tokens:,.0f}/s a replica at {input_tokens:g} a sample")
    row = RowStep(case.case_id, case.accelerator, offline, batch, tok_step, mm)
    if not runs:
        lines.append("  (no simulated run: the row is priced by the analytic model)")
        return lines, row
    res, n = max(runs, key=lambda rn: rn[1]) if offline else runs[-1]
    if offline:
        cap = int(max(res.steps["running"]))
        s, where = offline_stretch(res, cap), f"steady stretch of a {n}-request burst, wave cap {cap}"
    else:
        s, where = server_stretch(res), f"middle half of a {n}-request Poisson run"
    held = next(iter(v._sims.values())).step.kv_capacity_tokens / s.kv_per_seq if v._sims else math.nan
    lines.append(f"  simulated ({where}): {s.tokens_per_s / gpus:,.0f} tokens/s a GPU; decode batch "
                 f"{s.decode_seqs:,.0f} ({s.decode_seqs / ranks:,.0f} a rank), {s.kv_per_seq:,.0f} KV tokens a "
                 f"sequence; step {s.step_s * 1e3:.1f} ms mean, {s.prefill_share:.0%} of steps with prompt tokens "
                 f"({s.prefill_tokens:,.0f} a step); a token's step {s.token_step_s * 1e3:.1f} ms; the KV cache "
                 f"holds {held:,.0f} sequences of that context")
    scale = fp8_attention_scale(mm)
    priced = []
    for label, b in (("measured batch", batch), ("simulated batch", s.decode_seqs)):
        if math.isfinite(b) and b > 0:
            t, cls = decode_step(mm, b, s.kv_per_seq)
            priced.append((label, b, t, t - cls.get("attention", 0.0) * (1.0 - scale), cls))
    names = [k for k, x in priced[0][4].items() if x > 0] if priced else []
    lines.append("  | pure decode step at | batch | ms | fp8 MLA ms | " + " | ".join(names) + " |")
    lines.append("  " + "|---" * (4 + len(names)) + "|")
    for label, b, t, t8, cls in priced:
        lines.append(f"  | {label} | {b:,.0f} | {t * 1e3:.1f} | {t8 * 1e3:.1f} | "
                     + " | ".join(f"{cls.get(k, 0.0) * 1e3:.2f}" for k in names) + " |")
    if priced and priced[0][0] == "measured batch":
        _l, b, t, t8, _c = priced[0]
        prompt_s = s.step_s - decode_step(mm, s.decode_seqs, s.kv_per_seq)[0]
        lines.append(f"  measured step {tok_step * 1e3:.1f} ms at {b:,.0f}: beyond the pure decode step "
                     f"{1e3 * (tok_step - t):+.1f} ms as shipped, {1e3 * (tok_step - t8):+.1f} ms with fp8 MLA "
                     f"decode; the simulated run's prompt work adds {1e3 * prompt_s:.1f} ms a step")
    return lines, row


def line_report(rows: list[RowStep], context: float) -> list[str]:
    """One step model for an accelerator's Offline and Server rows (module doc)."""
    off = next((r for r in rows if r.offline and math.isfinite(r.batch)), None)
    srv = next((r for r in rows if not r.offline and math.isfinite(r.batch)), None)
    if off is None or srv is None:
        return []
    a, k = two_point_line(srv.batch, srv.step_s, off.batch, off.step_s)
    t_s, c_s = decode_step(off.mm, srv.batch, context)
    t_o, c_o = decode_step(off.mm, off.batch, context)
    a_m, k_m = two_point_line(srv.batch, t_s, off.batch, t_o)
    _a_att, k_att = two_point_line(srv.batch, c_s.get("attention", 0.0), off.batch, c_o.get("attention", 0.0))
    scale = fp8_attention_scale(off.mm)
    a8, k8 = a_m - _a_att * (1 - scale), k_m - k_att * (1 - scale)
    ratio = kv_price_ratio(k, k_m, k_att)
    return [f"\none step model, {off.accelerator}: {srv.case_id} ({srv.batch:,.0f}) and {off.case_id} "
            f"({off.batch:,.0f}), {context:,.0f} KV tokens a running sequence",
            f"  measured: {a * 1e3:.1f} ms + {k * 1e6:.1f} us a sequence",
            f"  model, pure decode, as shipped: {a_m * 1e3:.1f} ms + {k_m * 1e6:.1f} us a sequence "
            f"(attention {k_att * 1e6:.1f} us of it)",
            f"  model, pure decode, fp8 MLA decode: {a8 * 1e3:.1f} ms + {k8 * 1e6:.1f} us a sequence",
            f"  the measured slope asks {ratio:.2f} x the shipped MLA decode price (fp8 MLA: {scale:.2f}); "
            f"left at no batch: {(a - a_m) * 1e3:+.1f} ms as shipped, {(a - a8) * 1e3:+.1f} ms with fp8 MLA "
            "(prompt work included: the measured steps hold it)"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("cases", help="a cases CSV (validation_cases.csv format)")
    ap.add_argument("--rows", default=DEFAULT_ROWS, help="regular expression on case_id")
    ap.add_argument("--calibration", default=None, help="calibration YAML (default: the shipped one)")
    ap.add_argument("--input-tokens", type=float, default=COUNTED_INPUT_TOKENS,
                    help="mean prompt tokens a sample, for the measured prompt rate (default: DeepSeek-R1's count)")
    ap.add_argument("--mean-input", default=None, metavar="DATASET=TOKENS",
                    help="hold one data set's mean input at TOKENS (e.g. deepseek-r1=803.8, its count) instead of "
                         "the calibration file's")
    ap.add_argument("--tpot-ms", type=float, default=None,
                    help="a Server run's mean TPOT where no TPOT row of the run states one")
    ap.add_argument("--ttft-ms", type=float, default=None,
                    help="a Server run's mean TTFT where no TTFT row of the run states one (default 0)")
    ap.add_argument("--context", type=float, default=COUNTED_INFLIGHT_TOKENS,
                    help="KV tokens a running sequence for the one-step-model line (default: DeepSeek-R1's count)")
    a = ap.parse_args()
    try:
        pat = re.compile(a.rows)
    except re.error as exc:
        ap.error(f"--rows {a.rows!r}: not a regular expression ({exc})")
    if not a.context > 0 or not a.input_tokens > 0 or (a.tpot_ms is not None and not a.tpot_ms > 0) or (
            a.ttft_ms is not None and not a.ttft_ms >= 0):
        ap.error("--context, --input-tokens and --tpot-ms must be > 0, --ttft-ms >= 0")
    from inferchip.catalog.calibration_file import load_calibration, load_dataset_lengths
    from inferchip.spec.calibration import DatasetLengths
    from inferchip.validation.cases import read_cases
    from inferchip.validation.validate import Validator

    lengths = load_dataset_lengths(a.calibration)
    if a.mean_input:
        name, _, tokens = a.mean_input.partition("=")
        try:
            held = float(tokens)
        except ValueError:
            ap.error(f"--mean-input {a.mean_input!r}: DATASET=TOKENS, TOKENS a number")
        if name not in lengths.mean_input_tokens or not held > 0:
            ap.error(f"--mean-input {a.mean_input!r}: data sets {', '.join(lengths.mean_input_tokens)}, TOKENS > 0")
        lengths = DatasetLengths(mean_input_tokens={**lengths.mean_input_tokens, name: held})
    cases = read_cases(a.cases)
    facts: dict[str, dict[str, float]] = {}
    for c in cases:
        if c.metric in ("tpot_ms", "ttft_ms"):
            facts.setdefault(c.source, {})[c.metric] = c.value
    matched = [c for c in cases if pat.search(c.case_id)]
    if not matched:
        print(f"no row of {a.cases} matches --rows {a.rows!r}")
    steps: dict[str, list[RowStep]] = {}
    for case in matched:
        v = Validator(load_calibration(a.calibration), lengths=lengths, server_model="auto")
        stated = {k: x for k, x in (("tpot_ms", a.tpot_ms), ("ttft_ms", a.ttft_ms)) if x is not None}
        own = facts.get(case.source, {})
        lines, row = row_report(v, case, {**stated, **own}, set(own), a.input_tokens)
        print("\n".join(lines))
        if row is not None and case.metric != "ttft_ms":
            steps.setdefault(case.accelerator, []).append(row)
    for rows in steps.values():
        print("\n".join(line_report(rows, a.context)))


if __name__ == "__main__":
    main()
