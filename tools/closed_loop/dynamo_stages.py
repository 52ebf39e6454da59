"""What the simulator charges a Dynamo (disaggregated) TTFT row, stage by stage: the request path (front end,
worker engine, Dynamo's own term), the wait before the prefill, the prefill, the KV transfer, and the decode
worker's admission plus the step that streams the first token, as the benchmark weighs them (its first ``C`` sends
weigh 1, the simulated middle stands for the benchmark's; ``bench.steady_weights``), and for the first wave (the
``C`` requests all clients send at once) against the rest (docs/serving_validation.md, "Dynamo at high load: what
drains the prefill queue").

The stages come from the closed-loop run the validation itself makes (``Validator.predict_case``): the run's
request table gives arrival, first prefill iteration and first streamed token; the time a prompt's KV reaches its
decode worker and the prefill's own first-token time are read where the decode worker receives them
(``DeliveringDecodeReplica.enqueue_prefilled``), wrapped for the run and restored after.

``--steps`` adds, per row, the prefill the measurement implies if every other stage is as simulated (the measured
TTFT less the simulated one plus the benchmark-weighted simulated prefill: :func:`implied_prefill_ms`), and the
prefill (context) worker's simulated step by operator class for one prompt of the row's mean length and for the
recipe's batch (the launch recipe's requests per rank on every attention-DP rank; :func:`class_times_ms`)
(docs/serving_validation.md, "The TensorRT-LLM context worker's step: what the low-load pairs say").

    python tools/closed_loop/dynamo_stages.py CASE_ID_PART [CASE_ID_PART ...] [--cases CASES.csv] [--steps]
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Iterator
from typing import Any

import numpy as np

STAGES = ("wait before the prefill", "prefill", "KV transfer", "decode admission + first step")


def stage_times_s(arrival_s: np.ndarray, scheduled_s: np.ndarray, prefilled_s: np.ndarray, kv_at_s: np.ndarray,
                  first_token_s: np.ndarray) -> np.ndarray:
    """Per request, the four simulated stages between its arrival at the prefill pool and its first streamed token
    (rows: :data:`STAGES`; columns: requests): they add up to ``first_token - arrival``."""
    return np.vstack([scheduled_s - arrival_s, prefilled_s - scheduled_s, kv_at_s - prefilled_s,
                      first_token_s - kv_at_s])


def stage_means_s(stages_s: np.ndarray, weights: np.ndarray, clients: int) -> dict[str, np.ndarray]:
    """Means of :func:`stage_times_s` over the requests with every stage known: ``benchmark`` weighted as the
    benchmark counts its requests, ``first wave`` over the first ``clients`` sends, ``rest`` over the others."""
    ok = np.all(np.isfinite(stages_s), axis=0)
    idx = np.arange(stages_s.shape[1])
    first, rest = ok & (idx < clients), ok & (idx >= clients)
    nan = np.full(stages_s.shape[0], np.nan)
    return {"benchmark": np.average(stages_s[:, ok], axis=1, weights=weights[ok]) if ok.any() else nan,
            "first wave": stages_s[:, first].mean(axis=1) if first.any() else nan,
            "rest": stages_s[:, rest].mean(axis=1) if rest.any() else nan}


@contextlib.contextmanager
def recording() -> Iterator[dict[str, Any]]:
    """While open, every disaggregated closed-loop run records, per request id, when its KV reached the decode
    worker and when its prefill produced the first token (``kv``), and its last run's result and weighing
    (``res``, ``request_s``, ``bench``, ``clients``)."""
    import inferchip.sim.engines.bench as bench
    from inferchip.sim.engines import polling

    rec: dict[str, Any] = {"kv": {}}
    enqueue, figures = polling.DeliveringDecodeReplica.enqueue_prefilled, bench.bench_figures

    def enqueue_rec(self: Any, rid: int, prompt: int, out: int, time_s: float, first_token_s: float) -> None:
        rec["kv"][rid] = (time_s, first_token_s)
        enqueue(self, rid, prompt, out, time_s, first_token_s)

    def figures_rec(res: Any, request_overhead_s: float, tokens_per_step: float, bench_requests: int | None = None,
                    concurrency: int = 1) -> Any:
        rec.update(res=res, request_s=request_overhead_s, bench=bench_requests, clients=concurrency)
        return figures(res, request_overhead_s, tokens_per_step, bench_requests, concurrency)

    polling.DeliveringDecodeReplica.enqueue_prefilled = enqueue_rec  # type: ignore[method-assign]
    bench.bench_figures = figures_rec
    try:
        yield rec
    finally:
        polling.DeliveringDecodeReplica.enqueue_prefilled = enqueue  # type: ignore[method-assign]
        bench.bench_figures = figures


def report(case: Any, predicted_ms: float, rec: dict[str, Any]) -> list[str]:
    """Lines for one TTFT row from a :func:`recording` of its run."""
    from inferchip.sim.engines.bench import steady_weights

    r = rec["res"].requests
    n = int(r["arrival_s"].size)
    kv = np.array([rec["kv"].get(i, (np.nan, np.nan)) for i in range(n)], dtype=float).reshape(n, 2)
    stages = stage_times_s(r["arrival_s"], r["first_scheduled_s"], kv[:, 1], kv[:, 0], r["first_token_s"])
    means = stage_means_s(stages, steady_weights(n, rec["clients"], rec["bench"]), rec["clients"])
    lines = [f"{case.case_id}: measured {case.value:.0f} ms, simulated {predicted_ms:.0f} ms; request path "
             f"{rec['request_s'] * 1e3:.1f} ms on every request; {n} requests simulated for {rec['bench'] or n}"]
    for name, m in means.items():
        lines.append(f"  {name:10s} " + ", ".join(f"{s} {v * 1e3:.1f} ms" for s, v in zip(STAGES, m, strict=True)))
    return lines


def implied_prefill_ms(measured_ms: float, simulated_ms: float, simulated_prefill_ms: float) -> float:
    """The prefill stage a measured TTFT implies if the request path, the waits, the KV transfer and the decode
    admission are as simulated: ``measured - simulated + simulated prefill`` (all ms, the benchmark's weighing)."""
    return measured_ms - simulated_ms + simulated_prefill_ms


def class_times_ms(mm: Any, prompts: int, prompt_tokens: int, busiest_chip_tokens: float | None = None
                   ) -> dict[str, float]:
    """One prefill-only step of ``prompts`` prompts of ``prompt_tokens`` tokens on the mapped model ``mm``
    (``MappedModel.replica_step_s``; ``busiest_chip_tokens``: the prefill tokens of its busiest attention-DP chip,
    None for the even spread): ``total`` and each operator class present, ms."""
    tokens = float(prompts * prompt_tokens)
    pairs = prompts * prompt_tokens * (prompt_tokens + 1) / 2.0
    t, cost = mm.replica_step_s(np.array([tokens]), np.array([0.0]), np.array([0.0]), np.array([pairs]),
                                prefill_chip=busiest_chip_tokens)
    out = {"total": float(np.asarray(t, dtype=float).reshape(-1)[0]) * 1e3}
    for name, c in cost.classes.items():
        v = float(np.asarray(c.time_s, dtype=float).reshape(-1)[0]) * 1e3
        if v > 0:
            out[name] = v
    return out


def step_lines(v: Any, case: Any, rec: dict[str, Any], predicted_ms: float) -> list[str]:
    """The ``--steps`` lines of one row (module doc)."""
    from inferchip.sim.engines.bench import steady_weights
    from inferchip.validation.closed_loop import prompt_mean_tokens, row_facts
    from inferchip.validation.closed_loop_rows import _replica
    from inferchip.validation.plan import case_formats

    r = rec["res"].requests
    n = int(r["arrival_s"].size)
    kv = np.array([rec["kv"].get(i, (np.nan, np.nan)) for i in range(n)], dtype=float).reshape(n, 2)
    stages = stage_times_s(r["arrival_s"], r["first_scheduled_s"], kv[:, 1], kv[:, 0], r["first_token_s"])
    sim_prefill_ms = stage_means_s(stages, steady_weights(n, rec["clients"], rec["bench"]), rec["clients"])[
        "benchmark"][1] * 1e3
    lines = [f"  implied prefill {implied_prefill_ms(case.value, predicted_ms, sim_prefill_ms):.1f} ms "
             f"(simulated {sim_prefill_ms:.1f} ms, benchmark-weighted; every other stage as simulated)"]
    facts = row_facts(case)
    if facts.prefill is None:
        return lines
    fmt, _ = case_formats(case)
    pre, layout, _ = _replica(v, case, fmt, facts.prefill, facts)
    length = prompt_mean_tokens(float(case.input_tokens or 0))
    rb = facts.engine.batch_on("prefill", case.software, case.model, int(case.input_tokens or 0), facts.mtp,
                               facts.prefill_workers, 0, 0)
    per_rank = rb.requests if rb is not None else 1
    ranks = pre.ranks
    shapes = [(f"1 prompt of {length}", 1, length if ranks > 1 else None),
              (f"{per_rank} x {length} on each of {ranks} rank(s) (recipe batch)", per_rank * ranks, None)]
    for label, prompts, busiest in shapes:
        ct = class_times_ms(pre.mm, prompts, length, busiest)
        parts = ", ".join(f"{k} {x:.1f}" for k, x in sorted(ct.items(), key=lambda kv: -kv[1]) if k != "total")
        lines.append(f"  context step, {label}: {ct['total']:.1f} ms ({parts})")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("parts", nargs="+", help="parts of TTFT case ids (the first matching row of each)")
    ap.add_argument("--cases", default="src/inferchip/catalog/inferencemax_cases.csv")
    ap.add_argument("--steps", action="store_true", help="add the implied prefill and the simulated context step")
    args = ap.parse_args()
    from inferchip.catalog.calibration_file import load_calibration
    from inferchip.validation.cases import read_cases
    from inferchip.validation.validate import Validator

    rows = [c for c in read_cases(args.cases) if c.metric == "ttft_ms"]
    validator = Validator(load_calibration(None), server_model="sim", compare=False)
    for part in args.parts:
        case = next((c for c in rows if part in c.case_id), None)
        if case is None:
            print(f"{part}: no TTFT row")
            continue
        with recording() as rec:
            result = validator.predict_case(case)
        if result.status != "ok" or "res" not in rec or not rec["kv"]:
            print(f"{case.case_id}: no disaggregated run ({result.status} {result.reason})")
            continue
        print("\n".join(report(case, float(result.predicted), rec)))
        if args.steps:
            print("\n".join(step_lines(validator, case, rec, float(result.predicted))))


if __name__ == "__main__":
    main()
