"""A closed-loop serving benchmark, simulated as vLLM's ``benchmark_serving.py`` runs it
(InferenceMAX: ``--request-rate inf --max-concurrency C --num-prompts 10C --ignore-eos
--random-range-ratio 0.8``).

* ``C`` clients; each sends its next request the moment its last one finished, plus the
  engine's per-request host time (HTTP, tokenisation, admission: ``request_overhead_s``,
  which every request also waits before its first token). All clients start at once, as the
  benchmark's ``inf`` rate does (its warm-up requests finish before the timed run starts);
  their lengths are drawn independently, so after the first request they are no longer in step.
* An engine whose scheduler polls its request queue only every ``recv_interval_steps``
  decode iterations (:mod:`inferchip.sim.engines.polling`) runs as such replicas: a request
  waits for the next poll before it can be prefilled.
* An engine that plans its next step while one runs (vLLM async scheduling) or that holds
  context requests to balance attention-DP ranks (TensorRT-LLM) runs as such replicas
  (:mod:`inferchip.sim.engines.scheduling`).
* Disaggregated (:func:`closed_loop_disagg_run`): the client sees the first token when the decode
  worker first runs the request (after the KV transfer and any wait for a decode slot), as SGLang
  PD and Dynamo stream every token from the decode worker.
* Request lengths uniform in ``[0.8 L, L]`` (whole tokens), input and output independent.
* The engine admits at most its running-batch cap (``max_num_seqs``, and KV blocks); the rest
  wait in its queue, and that wait is part of TTFT. More clients than the KV cache holds wait
  too: never refused.
* Figures as the benchmark computes them, from the same run: mean TTFT, mean per-request
  TPOT ``(E2E - TTFT) / (output - 1)``, and output tokens over the benchmark's duration
  (first send to last finish).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np

from inferchip.sim.batching.replica import Replica
from inferchip.sim.batching.scheduler import SchedulerConfig
from inferchip.sim.engines.polling import DeliveringDecodeReplica, PollingReplica
from inferchip.sim.engines.prefill_first import PrefillFirstReplica
from inferchip.sim.engines.rank_pinned import RankPinnedReplica
from inferchip.sim.engines.scheduling import AdpBalancedReplica
from inferchip.sim.load.arrivals import ClosedLoopArrivals
from inferchip.sim.load.lengths import RANGE_RATIO, FixedLength, UniformLength, uniform_length
from inferchip.sim.results.metrics import SimResult, weighted_quantile
from inferchip.sim.results.request import RequestTable
from inferchip.sim.runs.simulate import run_pools
from inferchip.sim.runs.system import KVLink, Pool, ReplicaFactory
from inferchip.sim.step.protocol import FloatArray, StepModel
from inferchip.sim.step.steptime import StepTimer


def prompt_mean_tokens(nominal_tokens: float) -> int:
    """Mean prompt (tokens) of a benchmark whose lengths are :func:`uniform_length` (``[0.8 L, L]``)."""
    inp = uniform_length(nominal_tokens)
    return int(getattr(inp, "mean_tokens", getattr(inp, "tokens", nominal_tokens)))


def mtp_output_steps(nominal_tokens: float, tokens_per_step: float,
                     ratio: float = RANGE_RATIO) -> UniformLength | FixedLength:
    """Engine steps of a request whose output is uniform in ``[ratio L, L]`` when every decode
    step emits ``tokens_per_step`` tokens on average: the first token (prefill) and
    ``(out - 1) / tokens_per_step`` decode steps."""
    lo = 1 + max(0, math.ceil((max(1, math.ceil(ratio * nominal_tokens)) - 1) / tokens_per_step))
    hi = 1 + max(0, math.ceil((max(1, int(nominal_tokens)) - 1) / tokens_per_step))
    if hi <= lo:
        return FixedLength(tokens=hi)
    mean = (lo + hi) // 2
    return UniformLength(mean_tokens=mean, spread_tokens=min(mean - lo, hi - mean))


@dataclass(frozen=True)
class BenchFigures:
    """What the benchmark reports, from one simulated run (seconds, tokens/s of the simulated system)."""

    ttft_s: float
    tpot_s: float
    e2e_s: float
    output_tokens_per_s: float
    requests: int
    running_mean: float  # sequences in the engine's batch, time-weighted
    queue_s: float  # mean wait before a request was first scheduled
    steps: int
    # relative change of the mean TTFT from the first to the second half of the middle requests
    # (send order; 0 where the run has no middle): how far the run still was from settling
    middle_drift: float = 0.0
    # spread of the per-request TTFT, weighted as the mean is (steady_weights): the benchmark's result file
    # also reports median_ttft, std_ttft (population) and p99_ttft, which tell the start's wave from a queue
    ttft_median_s: float = math.nan
    ttft_p99_s: float = math.nan
    ttft_std_s: float = math.nan
    # the percentiles an SLO is judged at (MLPerf LoadGen: p99 TTFT and p99 TPOT; ``curve --slo-percentile``),
    # weighted as the means are
    ttft_p90_s: float = math.nan
    tpot_median_s: float = math.nan
    tpot_p90_s: float = math.nan
    tpot_p99_s: float = math.nan

    def as_dict(self) -> dict[str, float]:
        return {"ttft_ms": self.ttft_s * 1e3, "tpot_ms": self.tpot_s * 1e3, "e2e_ms": self.e2e_s * 1e3,
                "output_tokens_per_s": self.output_tokens_per_s, "requests": self.requests,
                "running_mean": self.running_mean, "queue_ms": self.queue_s * 1e3, "steps": self.steps,
                "ttft_median_ms": self.ttft_median_s * 1e3, "ttft_p99_ms": self.ttft_p99_s * 1e3,
                "ttft_std_ms": self.ttft_std_s * 1e3, "ttft_p90_ms": self.ttft_p90_s * 1e3,
                "tpot_median_ms": self.tpot_median_s * 1e3, "tpot_p90_ms": self.tpot_p90_s * 1e3,
                "tpot_p99_ms": self.tpot_p99_s * 1e3}


def closed_loop_run(step_model: StepModel, concurrency: int, input_tokens: Any, output_tokens: Any,
                    config: SchedulerConfig, *, num_requests: int, seed: int = 0, replicas: int = 1,
                    request_overhead_s: float = 0.0, tokens_per_step: float = 1.0,
                    step_timer: StepTimer | None = None, bench_requests: int | None = None,
                    recv_interval_steps: int = 1, async_scheduling: bool = False,
                    adp_balance: tuple[int, int, int] | None = None, prefill_first: bool = False,
                    reserve_output: bool = False, wake_takes_queue: bool = True,
                    first_wave_wait_s: float = 0.0) -> BenchFigures:
    """Simulate the benchmark (module doc) on ``replicas`` engine instances. ``output_tokens``
    are engine steps of output (the first token included); with MTP each decode step emits
    ``tokens_per_step`` tokens, so a request of ``s`` steps emits ``1 + (s - 1) tokens_per_step``.
    ``adp_balance``: (attention-DP ranks, timeout iterations, batching-wait iterations) of
    TensorRT-LLM's balance; ``async_scheduling``: vLLM's (:mod:`~inferchip.sim.engines.scheduling`);
    ``prefill_first`` and ``reserve_output``: SGLang's and ATOM's prefill-only iterations and SGLang's
    KV admission (:mod:`~inferchip.sim.engines.prefill_first`); ``wake_takes_queue`` False: an idle engine
    takes only the request that woke it into its first step (TensorRT-LLM; ``PollingReplica``);
    ``first_wave_wait_s``: a fresh server's one-time wait at the first wave (:func:`bench_figures`)."""
    spec = ClosedLoopArrivals(concurrency=concurrency, input_tokens=input_tokens, output_tokens=output_tokens,
                              think_time_s=request_overhead_s)
    pool = Pool(step_model, config, replicas, "", step_timer,
                _factory(recv_interval_steps, async_scheduling, adp_balance, prefill_first, reserve_output,
                         wake_takes_queue))
    res = run_pools([pool], None, spec, duration_s=None, num_requests=num_requests, seed=seed, slo_ttft_s=None,
                    slo_tpot_s=None, progress=None, router="least_loaded", exact_step_times=False, max_time_s=None,
                    max_drain_s=None)
    return bench_figures(res, request_overhead_s, tokens_per_step, bench_requests, concurrency, first_wave_wait_s)


def closed_loop_disagg_run(prefill_model: StepModel, decode_model: StepModel, concurrency: int, input_tokens: Any,
                           output_tokens: Any, prefill_config: SchedulerConfig, decode_config: SchedulerConfig, *,
                           num_requests: int, seed: int, prefill_replicas: int, decode_replicas: int,
                           kv_bytes_per_token: float, link_bytes_per_s: float, link_latency_s: float,
                           request_overhead_s: float = 0.0, tokens_per_step: float = 1.0,
                           timers: tuple[StepTimer, StepTimer] | None = None,
                           bench_requests: int | None = None, recv_interval_steps: int = 1,
                           async_scheduling: bool = False, decode_reserve_tokens: int = 0,
                           decode_recv_interval_steps: int = 1, prefill_kv_tokens: int = 0,
                           prefill_router: str = "", wake_takes_queue: bool = True,
                           decode_kv_tokens: int = 0, decode_retract: bool = False,
                           first_wave_wait_s: float = 0.0, prefill_dp_rank: str = "") -> BenchFigures:
    """:func:`closed_loop_run` on a prefill pool and a decode pool joined by a KV link
    (:func:`~inferchip.sim.runs.simulate.run_pools`); the prefill workers poll, plan ahead and take a woken step's
    queue (``wake_takes_queue``) as their engine does (the decode workers take a request when its KV cache has
    arrived, keeping ``decode_reserve_tokens`` free per held request and taking new ones every
    ``decode_recv_interval_steps`` steps: :class:`DeliveringDecodeReplica`). ``prefill_kv_tokens``: a prefill
    worker's KV pool where its launch recipe caps it (0: the step model's memory fit). Its pages are freed when
    the prompt's first token is out, not when its transfer completes as in SGLang: the transfer is not held.
    ``prefill_router``: how a request picks its prefill worker (:mod:`~inferchip.sim.runs.router`; "": least loaded).
    ``decode_kv_tokens``: a decode worker's KV pool where its launch recipe caps it (0: the memory fit's pool).
    ``decode_retract``: a decode worker retracts a sequence its pool cannot grow to host memory and resumes it before
    new arrivals (SGLang), instead of recomputing it (``DeliveringDecodeReplica(retract_to_host=)``).
    ``first_wave_wait_s``: a fresh server's one-time wait at the first wave (:func:`bench_figures`).
    ``prefill_dp_rank``: how a prefill worker's DP controller picks a request's attention-DP rank ("random": drawn
    uniformly and pinned, :class:`~inferchip.sim.engines.rank_pinned.RankPinnedReplica`, SGLang's polling workers;
    "": one queue shared by the ranks)."""
    if prefill_dp_rank not in ("", "random"):
        raise ValueError(f"prefill_dp_rank must be '' or 'random', got {prefill_dp_rank!r}")
    spec = ClosedLoopArrivals(concurrency=concurrency, input_tokens=input_tokens, output_tokens=output_tokens,
                              think_time_s=request_overhead_s)
    t_pre, t_dec = timers if timers is not None else (None, None)
    make = capped_pool(partial(RankPinnedReplica, recv_interval_steps=recv_interval_steps, seed=seed,
                               async_scheduling=async_scheduling, wake_takes_queue=wake_takes_queue)
                       if prefill_dp_rank == "random" else
                       _factory(recv_interval_steps, async_scheduling, wake_takes_queue=wake_takes_queue),
                       prefill_kv_tokens)
    pools = [Pool(prefill_model, prefill_config, prefill_replicas, "prefill_", t_pre, make, prefill_router),
             Pool(decode_model, decode_config, decode_replicas, "decode_", t_dec,
                  capped_pool(partial(DeliveringDecodeReplica, reserve_tokens=decode_reserve_tokens,
                                      recv_interval_steps=decode_recv_interval_steps,
                                      retract_to_host=decode_retract), decode_kv_tokens))]
    res = run_pools(pools, KVLink(kv_bytes_per_token, link_bytes_per_s, link_latency_s), spec, duration_s=None,
                    num_requests=num_requests, seed=seed, slo_ttft_s=None, slo_tpot_s=None, progress=None,
                    router="least_loaded", exact_step_times=False, max_time_s=None, max_drain_s=None)
    return bench_figures(res, request_overhead_s, tokens_per_step, bench_requests, concurrency, first_wave_wait_s)


def capped_pool(make: ReplicaFactory | None, kv_tokens: int) -> ReplicaFactory | None:
    """A replica factory (None: the plain replica) whose replicas hold at most ``kv_tokens`` tokens of KV
    (the smaller of that and the memory fit's pool; 0: uncapped, ``make`` itself)."""
    if kv_tokens <= 0:
        return make
    base = make or Replica

    def build(index: int, timer: StepTimer, config: SchedulerConfig, kv_capacity_tokens: int,
              table: RequestTable) -> Replica:
        return base(index, timer, config, min(int(kv_capacity_tokens), int(kv_tokens)), table)
    return build


def _factory(recv_interval_steps: int, async_scheduling: bool = False,
             adp_balance: tuple[int, int, int] | None = None, prefill_first: bool = False,
             reserve_output: bool = False, wake_takes_queue: bool = True) -> ReplicaFactory | None:
    """Replicas of an engine polling its queue every ``recv_interval_steps`` decode steps or
    balancing attention-DP ranks, planning its steps one ahead with ``async_scheduling``, running
    prefill-only iterations with ``prefill_first``, reserving KV for every output at admission with
    ``reserve_output``, an idle one taking only the request that woke it without ``wake_takes_queue``
    (None: the plain replica)."""
    if adp_balance is not None:
        if recv_interval_steps > 1 or prefill_first or reserve_output:
            raise ValueError("an engine replica balances attention-DP ranks or polls at an interval, runs "
                             "prefill-only iterations or reserves outputs at admission, not both")
        ranks, timeout, wait = adp_balance
        return partial(AdpBalancedReplica, ranks=ranks, timeout_iters=timeout, batching_wait_iters=wait,
                       async_scheduling=async_scheduling, wake_takes_queue=wake_takes_queue)
    if prefill_first or reserve_output:
        return partial(PrefillFirstReplica, recv_interval_steps=recv_interval_steps,
                       async_scheduling=async_scheduling, reserve_output=reserve_output,
                       pause_decodes=prefill_first, wake_takes_queue=wake_takes_queue)
    if recv_interval_steps > 1 or async_scheduling or not wake_takes_queue:
        return partial(PollingReplica, recv_interval_steps=recv_interval_steps, async_scheduling=async_scheduling,
                       wake_takes_queue=wake_takes_queue)
    return None


def bench_figures(res: SimResult, request_overhead_s: float, tokens_per_step: float,
                  bench_requests: int | None = None, concurrency: int = 1,
                  first_wave_wait_s: float = 0.0) -> BenchFigures:
    """The benchmark's figures from a simulated closed-loop run (module doc): mean TTFT and mean
    per-request TPOT over its requests, output tokens over the span from the first send to the
    last finish, as ``benchmark_serving`` computes them.

    A run shorter than the benchmark (``bench_requests`` > simulated requests) stands for it
    (:func:`steady_weights`): the benchmark is the same start (``concurrency`` requests sent at
    once), a longer steady middle and the same drain, so the first and last ``concurrency``
    requests keep weight 1, the middle ones stand for all of the benchmark's middle requests, and
    the span grows by the missing requests at the middle's rate (:func:`missing_span_s`).

    ``first_wave_wait_s``: a one-time stall of the server while the first wave (the first ``concurrency``
    sends) waits for its first token (a kernel built on first use): those requests' TTFT and end-to-end time
    grow by it and so does the span; no later request waits, since in a closed loop none is sent before a
    first-wave request finishes (:func:`first_wave_shift`)."""
    r = res.requests
    fin = res.finished
    n_sim = int(r["arrival_s"].size)
    weights = steady_weights(n_sim, concurrency, bench_requests)
    w = weights[fin]
    shift = first_wave_shift(n_sim, concurrency, first_wave_wait_s)[fin]
    ttft = res.ttft_s[fin] + request_overhead_s + shift
    e2e = res.e2e_s[fin] + request_overhead_s + shift
    steps = r["output_tokens"][fin].astype(float)
    emitted = 1.0 + (steps - 1.0) * tokens_per_step
    many = emitted > 1.5
    tpot = (e2e[many] - ttft[many]) / (emitted[many] - 1.0)

    def mean(x: FloatArray, wt: FloatArray) -> float:
        return float(np.average(x, weights=wt)) if x.size and wt.sum() > 0 else math.nan

    start = float(r["arrival_s"].min()) - request_overhead_s if n_sim else 0.0
    end = float(r["finish_s"][fin].max()) if fin.any() else math.nan
    middle = w > 1.0
    span = end - start + first_wave_wait_s + missing_span_s((bench_requests or n_sim) - n_sim, e2e[middle], concurrency)
    s = res.steps
    busy = float(s["duration_s"].sum())
    mid = ttft[(np.arange(n_sim) >= concurrency)[fin] & (np.arange(n_sim) < n_sim - concurrency)[fin]]
    half = mid.size // 2
    drift = float(mid[half:].mean() / mid[:half].mean() - 1.0) if half and mid[:half].mean() > 0 else 0.0
    running = float(np.sum(s["running"] * s["duration_s"]) / busy) if busy > 0 else 0.0
    queue = r["first_scheduled_s"][fin] - r["arrival_s"][fin]
    ttft_mean = mean(ttft, w)
    return BenchFigures(
        ttft_s=ttft_mean, tpot_s=mean(tpot, w[many]), e2e_s=mean(e2e, w),
        output_tokens_per_s=float((emitted * w).sum() / span) if span > 0 else math.nan,
        requests=int(fin.sum()), running_mean=running, queue_s=mean(queue, w), steps=int(s["start_s"].size),
        middle_drift=drift, ttft_median_s=weighted_quantile(ttft, w, 0.5),
        ttft_p99_s=weighted_quantile(ttft, w, 0.99),
        ttft_std_s=math.sqrt(mean((ttft - ttft_mean) ** 2, w)) if ttft.size else math.nan,
        ttft_p90_s=weighted_quantile(ttft, w, 0.90), tpot_median_s=weighted_quantile(tpot, w[many], 0.5),
        tpot_p90_s=weighted_quantile(tpot, w[many], 0.90), tpot_p99_s=weighted_quantile(tpot, w[many], 0.99))


def first_wave_shift(n_sim: int, concurrency: int, wait_s: float) -> FloatArray:
    """Extra wait (s) of each simulated request (in send order) when the server stalls ``wait_s`` once while its
    first wave, the first ``concurrency`` sends, is in prefill: ``wait_s`` for those, 0 for the rest."""
    out = np.zeros(n_sim)
    out[:min(max(concurrency, 0), n_sim)] = max(wait_s, 0.0)
    return out


def steady_weights(n_sim: int, concurrency: int, bench_requests: int | None) -> FloatArray:
    """Weight of each simulated request (in send order) where ``n_sim`` simulated requests of
    ``concurrency`` clients stand for the benchmark's ``bench_requests``.

    The start (the first ``concurrency`` sends, all at once) and the drain (the last
    ``concurrency`` sends, after which clients stop) are the benchmark's own; the ``m = n_sim -
    2 concurrency`` middle requests each stand for ``(bench_requests - 2 concurrency) / m`` of
    its middle requests. Needs ``m >= 1`` (three rounds); a run as long as the benchmark weighs
    every request 1."""
    ones = np.ones(n_sim)
    if bench_requests is None or bench_requests <= n_sim:
        return ones
    c = concurrency
    m = n_sim - 2 * c
    if m < 1:
        raise ValueError(f"{n_sim} simulated requests of {c} clients have no steady middle to stand for the "
                         f"benchmark's {bench_requests}: simulate at least {2 * c + 1}")
    ones[c:n_sim - c] = (bench_requests - 2 * c) / m
    return ones


def missing_span_s(missing_requests: float, middle_loop_s: FloatArray, concurrency: int) -> float:
    """Seconds ``missing_requests`` more steady-state requests add to a closed loop of
    ``concurrency`` clients: each client sends one per loop (its request's E2E plus the host time
    before it), so the loop sends ``concurrency / mean loop`` requests per second (Little's law)."""
    if missing_requests <= 0 or middle_loop_s.size == 0:
        return 0.0
    return missing_requests * float(middle_loop_s.mean()) / concurrency
