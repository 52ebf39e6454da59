"""What the simulator charges a Dynamo (disaggregated) TTFT row, stage by stage: the request path (front end,
worker engine, Dynamo's own term), the wait before the prefill, the prefill, the KV transfer, and the decode
worker's admission plus the step that streams the first token, as the benchmark weighs them (its first ``C`` sends
weigh 1, the simulated middle stands for the benchmark's; ``bench.steady_weights``), and for the first wave (the
``C`` requests all clients send at once) against the rest (docs/serving_journal.md, "Dynamo at high load: what
drains the prefill queue").

The stages come from the closed-loop run the validation itself makes (``Validator.predict_case``): the run's
request table gives arrival, first prefill iteration and first streamed token; the time a prompt's KV reaches its
decode worker and the prefill's own first-token time are read where the decode worker receives them
(``DeliveringDecodeReplica.enqueue_prefilled``), wrapped for the run and restored after.

``--steps`` adds, per row, the prefill the measurement implies if every other stage is as simulated (the measured
TTFT less the simulated one plus the benchmark-weighted simulated prefill: :func:`implied_prefill_ms`), and the
prefill (context) worker's simulated step by operator class for one prompt of the row's mean length and for the
recipe's batch (the launch recipe's requests per rank on every attention-DP rank; :func:`class_times_ms`)
(docs/serving_journal.md, "The TensorRT-LLM context worker's step: what the low-load pairs say").

``--mtp-pairs`` adds, per MTP row (``-mtp-``) whose plain twin (the same id without ``mtp-``) is stored, the
measured, simulated and implied-prefill differences MTP minus plain, beside the GPU time the MTP module adds to a
context iteration as TensorRT-LLM runs it (:func:`mtp_context_ms`; ``--mtp-depth``: the launch recipe's
``num_nextn_predict_layers``) (docs/serving_journal.md, "MTP on the TensorRT-LLM context worker").

    python tools/closed_loop/dynamo_stages.py CASE_ID_PART [CASE_ID_PART ...] [--cases CASES.csv] [--steps]
        [--mtp-pairs [--mtp-depth K]]
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
                    concurrency: int = 1, first_wave_wait_s: float = 0.0) -> Any:
        rec.update(res=res, request_s=request_overhead_s, bench=bench_requests, clients=concurrency)
        return figures(res, request_overhead_s, tokens_per_step, bench_requests, concurrency, first_wave_wait_s)

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


def mtp_context_ms(prompt_step_ms: float, token_step_ms: float, num_layers: int, depth: int) -> float:
    """GPU time (ms) the MTP module adds to one context iteration of a TensorRT-LLM worker that runs
    ``speculative_config`` MTP with ``depth`` = ``num_nextn_predict_layers`` (the Dynamo harness writes it on the
    prefill worker as on the decode worker: ai-dynamo/dynamo
    ``components/backends/trtllm/performance_sweeps/scripts/gen_yaml.py``). TensorRT-LLM's ``MTPEagleWorker.forward``
    (``tensorrt_llm/_torch/speculative/mtp.py``) runs the checkpoint's one MTP layer ``depth`` times: the first pass
    over every token of the batch, the others over one token per request. Each pass is one decoder layer of the
    ``num_layers`` the step holds: ``prompt_step_ms / L`` for the first (the step over the prompts), ``token_step_ms /
    L`` for each later one (a step of one token per request over the prompts' KV). The MTP layer's own projection
    and its shared head on one token per request are left out: a lower bound on the GPU part, no host time."""
    if num_layers < 1 or depth < 1:
        raise ValueError(f"num_layers and depth must be >= 1, got {num_layers}, {depth}")
    return (prompt_step_ms + (depth - 1) * token_step_ms) / num_layers


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


def simulated_prefill_ms(rec: dict[str, Any]) -> float:
    """The benchmark-weighted simulated prefill stage (ms) of a :func:`recording`."""
    from inferchip.sim.engines.bench import steady_weights

    r = rec["res"].requests
    n = int(r["arrival_s"].size)
    kv = np.array([rec["kv"].get(i, (np.nan, np.nan)) for i in range(n)], dtype=float).reshape(n, 2)
    stages = stage_times_s(r["arrival_s"], r["first_scheduled_s"], kv[:, 1], kv[:, 0], r["first_token_s"])
    return float(stage_means_s(stages, steady_weights(n, rec["clients"], rec["bench"]), rec["clients"])[
        "benchmark"][1] * 1e3)


def mtp_twin_id(case_id: str) -> str | None:
    """The plain (no MTP) row of an MTP case id: the same id without ``mtp-``; None for a row without MTP."""
    return case_id.replace("-mtp-", "-", 1) if "-mtp-" in case_id else None


def context_worker(v: Any, case: Any) -> tuple[Any, int, int] | None:
    """(the row's context-worker replica, its mean prompt in tokens, the recipe's prompts per rank per step) as the
    closed loop resolves them, or None for a row without a context worker."""
    from inferchip.validation.closed_loop import prompt_mean_tokens, row_facts
    from inferchip.validation.closed_loop_rows import _replica, with_prefill_scheduling
    from inferchip.validation.plan import case_formats

    facts = row_facts(case)
    if facts.prefill is None:
        return None
    fmt, _ = case_formats(case)
    facts = with_prefill_scheduling(case, fmt.weights, facts)
    pre, _, _ = _replica(v, case, fmt, facts.prefill, facts)
    length = prompt_mean_tokens(float(case.input_tokens or 0))
    rb = facts.engine.batch_on("prefill", case.software, case.model, int(case.input_tokens or 0), facts.mtp,
                               facts.prefill_workers, 0, 0, weights=pre.mm.formats.weights)
    return pre, length, (rb.requests if rb is not None else 1)


def mtp_lines(v: Any, case: Any, predicted_ms: float, rec: dict[str, Any], twin: Any, twin_predicted_ms: float,
              twin_rec: dict[str, Any], depth: int) -> list[str]:
    """The ``--mtp-pairs`` lines of an MTP row and its plain twin (module doc)."""
    imp = implied_prefill_ms(case.value, predicted_ms, simulated_prefill_ms(rec))
    imp_twin = implied_prefill_ms(twin.value, twin_predicted_ms, simulated_prefill_ms(twin_rec))
    lines = [f"  MTP minus plain ({twin.case_id}): measured {case.value - twin.value:+.1f} ms, simulated "
             f"{predicted_ms - twin_predicted_ms:+.1f} ms, implied prefill {imp - imp_twin:+.1f} ms"]
    worker = context_worker(v, case)
    if worker is None:
        return lines
    pre, length, per_rank = worker
    layers = int(pre.mm.model.num_layers)
    for prompts in sorted({1, per_rank * pre.ranks}):
        step = class_times_ms(pre.mm, prompts, length)["total"]
        t, _ = pre.mm.replica_step_s(np.array([float(prompts)]), np.array([float(prompts)]),
                                     np.array([float(prompts * length)]), np.array([0.0]))
        token_ms = float(np.asarray(t, dtype=float).reshape(-1)[0]) * 1e3
        lines.append(f"  MTP module on the context worker, {prompts} prompt(s) of {length}, depth {depth}: "
                     f"{mtp_context_ms(step, token_ms, layers, depth):.2f} ms GPU per iteration (step {step:.1f} ms "
                     f"over {layers} layers; one token per request {token_ms:.1f} ms)")
    return lines


def step_lines(v: Any, case: Any, rec: dict[str, Any], predicted_ms: float) -> list[str]:
    """The ``--steps`` lines of one row (module doc)."""
    sim_prefill_ms = simulated_prefill_ms(rec)
    lines = [f"  implied prefill {implied_prefill_ms(case.value, predicted_ms, sim_prefill_ms):.1f} ms "
             f"(simulated {sim_prefill_ms:.1f} ms, benchmark-weighted; every other stage as simulated)"]
    worker = context_worker(v, case)
    if worker is None:
        return lines
    pre, length, per_rank = worker
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
    ap.add_argument("--mtp-pairs", action="store_true", help="add MTP minus plain for an MTP row's plain twin")
    ap.add_argument("--mtp-depth", type=int, default=3, help="the recipe's num_nextn_predict_layers (InferenceMAX "
                    "nvidia-master.yaml DECODE_MTP_SIZE: 3 for the TP4-context 1k and 8k MTP rows)")
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
        twin = next((c for c in rows if c.case_id == mtp_twin_id(case.case_id)), None)
        if args.mtp_pairs and twin is not None:
            with recording() as twin_rec:
                twin_result = validator.predict_case(twin)
            if twin_result.status == "ok" and twin_rec.get("kv"):
                print("\n".join(mtp_lines(validator, case, float(result.predicted), rec, twin,
                                          float(twin_result.predicted), twin_rec, args.mtp_depth)))


if __name__ == "__main__":
    main()
