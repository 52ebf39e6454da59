"""A shortened closed-loop run stands for the benchmark only once its middle has settled: the
middle's drift (mean TTFT of its second half over its first, in send order), and the rerun of
all the benchmark's requests where it has not (validation.closed_loop.settled)."""

from __future__ import annotations

import math

import numpy as np

from inferchip.sim import LinearStepModel, SchedulerConfig
from inferchip.sim.engines import BenchFigures, closed_loop_run, uniform_length
from inferchip.sim.engines.bench import bench_figures, closed_loop_disagg_run
from inferchip.sim.results.metrics import SimResult
from inferchip.validation.closed_loop import SETTLED_DRIFT, settled


def _trace(ttft_s: list[float], concurrency: int) -> SimResult:
    """Requests sent in order at t = index, first token ``ttft`` later, two output tokens 1 s apart."""
    n = len(ttft_s)
    arrival = np.arange(n, dtype=float)
    first = arrival + np.array(ttft_s)
    req = {"arrival_s": arrival, "first_token_s": first, "finish_s": first + 1.0,
           "first_scheduled_s": first - 0.1, "output_tokens": np.full(n, 2)}
    steps = {"start_s": np.array([0.0]), "duration_s": np.array([1.0]), "running": np.array([1.0])}
    return SimResult(requests=req, steps=steps, itl_extra_s=np.zeros(0), itl_skip_per_step=np.zeros(1),
                     num_replicas=1, num_chips=1, arrival_kind="closed_loop", concurrency=concurrency,
                     hit_time_cap=False)


def test_middle_drift_hand_trace():
    # 2 clients, 8 requests: start [9, 9], middle [4, 2 | 1, 1], drain [1, 1]
    res = _trace([9, 9, 4, 2, 1, 1, 1, 1], 2)
    fig = bench_figures(res, 0.0, 1.0, bench_requests=20, concurrency=2)
    assert math.isclose(fig.middle_drift, 1.0 / 3.0 - 1.0)  # halves' means 3 s then 1 s
    # the host time before the first token is in both halves: (1 + 0.5) / (3 + 0.5)
    fig = bench_figures(res, 0.5, 1.0, bench_requests=20, concurrency=2)
    assert math.isclose(fig.middle_drift, 1.5 / 3.5 - 1.0)
    # a middle as long as it is flat does not drift; the start does not count
    assert bench_figures(_trace([9, 9, 2, 2, 2, 2, 1, 1], 2), 0.0, 1.0, 20, 2).middle_drift == 0.0


def _fig(drift: float, ttft_s: float) -> BenchFigures:
    return BenchFigures(ttft_s=ttft_s, tpot_s=0.01, e2e_s=1.0, output_tokens_per_s=1.0, requests=1,
                        running_mean=1.0, queue_s=0.0, steps=1, middle_drift=drift)


def test_settled_reruns_only_an_unsettled_middle():
    calls: list[int] = []

    def run_with(drift: float):
        def run(k: int) -> BenchFigures:
            calls.append(k)
            return _fig(drift if k < 50 else 0.0, float(k))
        return run

    notes = ["30 requests simulated for the benchmark's 50: ...", "other"]
    fig, out = settled(run_with(SETTLED_DRIFT / 2), 30, 50, notes)
    assert calls == [30] and fig.ttft_s == 30 and out == notes
    calls.clear()
    fig, out = settled(run_with(-2 * SETTLED_DRIFT), 30, 50, notes)
    assert calls == [30, 50] and fig.ttft_s == 50
    assert out[0] == "other" and "had not settled" in out[-1] and "all 50" in out[-1]
    calls.clear()
    settled(run_with(-2 * SETTLED_DRIFT), 50, 50, [])  # already the whole benchmark: nothing to rerun
    assert calls == [50]


def test_a_start_wave_longer_than_a_round_is_simulated_whole():
    """Disaggregated loop of 80 clients: one prefill worker takes one 1,000-token prompt per 0.1 s
    step, so the start's wave lasts 8 s; the decode worker's step (5 ms + 2 ms per sequence) is
    fast for the first prompts and slow for the last, so the first round's finishes bunch and the
    second round queues again: the middle of three rounds is still the wave. The weighted
    shortcut reads TTFT well above the whole run; the settled run is the whole run."""
    pre = LinearStepModel(fixed_s=0.0, per_token_s=1e-4, per_kv_token_s=0.0, kv_capacity_tokens=10**7)
    dec = LinearStepModel(fixed_s=0.005, per_token_s=2e-3, per_kv_token_s=0.0, kv_capacity_tokens=10**7)
    pc = SchedulerConfig(max_num_seqs=256, max_num_batched_tokens=1000)
    dc = SchedulerConfig(max_num_seqs=256, max_num_batched_tokens=8192)
    c, bench = 80, 800

    def run(k: int) -> BenchFigures:
        return closed_loop_disagg_run(pre, dec, c, uniform_length(1000), uniform_length(100), pc, dc,
                                      num_requests=k, seed=1, prefill_replicas=1, decode_replicas=1,
                                      kv_bytes_per_token=1.0, link_bytes_per_s=1e12, link_latency_s=0.0,
                                      bench_requests=bench)

    short, full = run(3 * c), run(bench)
    assert short.middle_drift < -SETTLED_DRIFT  # the queue is still draining through the middle
    assert short.ttft_s > 1.2 * full.ttft_s
    fig, notes = settled(run, 3 * c, bench, [])
    assert fig == full and "had not settled" in notes[-1]


def test_a_settled_loop_keeps_the_shortcut():
    """A decode-bound loop (the test_closed_loop shortcut case) settles within its first round."""
    step = LinearStepModel(fixed_s=0.02, per_token_s=2e-5, per_kv_token_s=1e-8, kv_capacity_tokens=1_000_000)
    cfg = SchedulerConfig(max_num_seqs=24)
    short = closed_loop_run(step, 40, uniform_length(200), uniform_length(100), cfg, num_requests=160,
                            bench_requests=400, request_overhead_s=0.03, seed=3)
    assert abs(short.middle_drift) < SETTLED_DRIFT
