"""Server rows of the validation predicted with the serving simulator (:mod:`inferchip.sim`).

The analytic model (:mod:`inferchip.validation.plan`) turns p99 limits into limits on means with fixed
ratios and solves Little's law for a stated load. Here the row is simulated instead: continuous batching
with chunked prefill and a paged KV cache, Poisson arrivals, the latency percentiles ranked as MLPerf
LoadGen ranks them, each step at the analytic model's step cost (:class:`ServingStepModel`).

Rules, each applied to every server row from its fields and notes (never from its id):

* **Layout**: the analytic search picks it (cheap); only that layout is simulated.
* **One replica**: each of the system's ``replicas`` identical replicas gets a Poisson stream of ``rate /
  replicas`` (a Poisson stream split at random is Poisson); least-loaded routing would do slightly better.
* **Lengths**: the plan's length quantile points as an empirical distribution (:class:`~inferchip.sim.load.lengths.
  EmpiricalLength`, whole tokens): the analytic model's mean input (calibration) and spread.
* **Beam search** (GPT-J): a request is one simulated sequence standing for ``beams`` sequences
  (:class:`~inferchip.performance.serving.BeamStepModel`): each decode step costs ``beams`` tokens
  with ``beams`` times the KV reads, the prompt is prefilled once, and the request holds ``beams``
  times the KV cache (as the analytic model).
* **Scheduler** (:func:`~inferchip.validation.stated_engine.scheduler_config`): ``max_num_seqs`` is the batch
  size the notes state (:func:`stated_batch`: ``gpu_batch_size``, ``max_batch_size``, ``max_num_seqs``, ``batch
  size``), taken per attention-DP rank (times the layout's attention-DP degree, 1 without);
  without one, the sequences the replica's KV cache holds at their mean in-flight context
  ``E[i] + E[o^2] / (2 E[o])`` (a length-biased sequence halfway through its answer). Either
  way the paged block manager bounds it further (and preempts). The step token budget is a
  stated ``max_num_tokens`` / ``max_num_batched_tokens``, else the engine's prefill chunk (8192,
  the vLLM and TensorRT-LLM default), either per attention-DP rank as the batch size (each rank
  schedules its own batch: the analytic model's ``replica_chunk_tokens``), never below ``max_num_seqs``.
  A stated budget below the batch size caps the batch (a decoding sequence is one of a step's tokens,
  TensorRT-LLM's ``MicroBatchScheduler``). An engine with ``micro_batch_caps`` (TensorRT-LLM; catalog/engines.yaml)
  applies both caps to each of a ``pp``-stage replica's ``pp`` micro-batches: both are taken ``pp`` times.
* **Attention DP** (a layout with ``attn_dp``): the layout's ranks (``Layout.attn_dp_ways``) are
  resolved once (:attr:`ReplicaSim.dp_ranks`) and passed down: to the scheduler's per-rank batch and
  budget above, to a stated attention-DP balance, and to the step model (``ServingStepModel.ranks``),
  so the replica places each prefill chunk whole on one rank and prices the step at its busiest rank
  (:func:`~inferchip.sim.batching.scheduler.busiest_rank_prefill`, with its engine sources), as the
  closed-loop rows do (:mod:`~inferchip.validation.closed_loop`, ``EngineStepModel.ranks``).
* **When a request can first be scheduled**: as the notes state (:mod:`~inferchip.validation.stated_engine`:
  vLLM ``num_scheduler_steps``, TensorRT-LLM's attention-DP balance, a harness batcher's bursts), in
  every run of the row, the rate search's included; else at once.
* **MLPerf Server/Interactive** (no stated load): the highest Poisson rate whose p99 TTFT and
  p99 TPOT (or p99 end-to-end latency, GPT-J) meet the limits (from the notes, else the
  README), LoadGen's only test (without limits: the queue does not grow without bound,
  :meth:`SimResult.queue_growing`). The search starts at the analytic model's rate (at
  ``max_num_seqs`` sequences where the scheduler caps the batch below the analytic one), brackets by about
  ``RATE_STEP`` and bisects to neighbours ``REL_TOL`` apart on a rate grid anchored at 1 request/s, so the edge
  does not depend on that start (:func:`~inferchip.sim.runs.search.grid_edge`); every trial has the same seed (common
  random numbers). It is the simulator's one rate search (:func:`~inferchip.sim.runs.search.max_rate_under_slo`) with
  these options. Metric: tokens/s = rate x mean output (x beams), samples/s = rate.
* **TTFT of an MLPerf run at its stated load** (:func:`reads_at_edge`): read at the simulated
  highest rate meeting the run's p99 limits (the throughput row's search, shared). A valid run
  sits at its own edge, and its TTFT (waits for a prefill slot and a batch place) grows steeply
  near it; a model whose capacity is off by some per cent puts the stated load elsewhere
  relative to its own edge. TPOT/ITL rows stay at the stated load (the running batch it fixes
  sets the step time; read at the edge they measured worse: docs/serving_journal.md).
* **Open loop at a stated rate** ("measured at N completed samples/s", "request rate N"): Poisson at
  that rate. The README defines ttft_ms, tpot_ms and itl_ms as means: mean TTFT, mean per-request TPOT
  (LoadGen's, first token excluded), mean inter-token gap. Request rate INF: every request arrives at
  once (a burst); output tokens/s over the run.
* **Run length**: a stated number of requests ("500 requests") is simulated as stated (split
  over the replicas); otherwise the arrivals of a run at rate ``r`` last ``RUN_LIFETIMES``
  request lifetimes (:func:`lifetime_s`: the longest mean lifetime the limits allow,
  ``TTFT + E[o] x TPOT`` limits or the end-to-end limit), within ``[MIN_REQUESTS,
  MAX_REQUESTS]`` requests: a Poisson run fills up for about one lifetime, so it must last
  several. A run capped at ``MAX_REQUESTS`` that lasts under ``MIN_RUN_LIFETIMES`` of its own mean
  lifetimes counts as a miss (it proves nothing): a replica is under-rated, never over-rated.
* **Drain**: a search trial stops ``limit TTFT + (max output - 1) x limit TPOT`` (or the end-to-end limit)
  after its last arrival: a request meeting its limits has finished by then, and unfinished ones count as
  late. A stated-rate run may drain for one arrival period.

* **MLPerf Offline** (:func:`~inferchip.validation.plan.offline_by_use`: an engine that pauses and recomputes, vLLM,
  TensorRT-LLM max_util): LoadGen's one query, ``max(min_query_count, 1.1 x 600 s x expected QPS)`` samples sent at
  once (``workload.datasets``), the expected QPS the run's own steady rate; simulated in part and the rest added at
  that rate (:mod:`~inferchip.sim.runs.offline`); output tokens over the time to the last finish.

``calibrate`` keeps the analytic model (its fast path re-evaluates fixed operating points); ``validate`` reports both.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace
from typing import Any

from inferchip.errors import InternalError
from inferchip.mapping.layout import Layout
from inferchip.performance.mapped import MappedModel, fit_error
from inferchip.performance.serving import BeamStepModel, ServingStepModel
from inferchip.sim import BurstArrivals, EmpiricalLength, PoissonArrivals, SchedulerConfig, simulate
from inferchip.sim.results.metrics import SimResult
from inferchip.sim.runs.offline import offline_run
from inferchip.sim.runs.search import ServerSearchResult, latency_percentiles_s, max_rate_under_slo
from inferchip.sim.step.steptime import StepTimer
from inferchip.validation.case_notes import stated_limits, stated_load_per_s
from inferchip.validation.cases import Case, LatencyLimits, case_dataset
from inferchip.validation.plan import (
    LengthDist,
    OperatingPoint,
    Plan,
    metric_value,
    offline_by_use,
    operating_point,
)
from inferchip.validation.stated_engine import (
    StatedScheduling,
    arrivals_factory,
    micro_batches,
    replica_factory,
    scheduler_config,
    stated_scheduling,
)
from inferchip.workload.datasets import OFFLINE_MIN_DURATION_S, OFFLINE_SLACK

PERCENTILE = 99.0  # MLPerf Server/Interactive latency limits are p99
SEED = 0  # one seed for every run: deterministic, common random numbers across rates
RATE_STEP = 1.15  # the bracket moves the rate by about this: 14 grid points, x1.149 (the edge does not depend on it)
REL_TOL = 0.01  # rate grid neighbours at most this far apart (70 an octave, 0.995 %): the edge's resolution
MAX_BRACKET_STEPS = 22  # 1.149**22 = 21: how far from the analytic rate the search looks
RUN_LIFETIMES = 3.0  # a run's arrivals last this many request lifetimes (see module doc)
MIN_REQUESTS = 400
MAX_REQUESTS = 6000  # per replica and run: caps the cost of fast, many-sequence replicas
MIN_RUN_LIFETIMES = 2.0  # a capped run shorter than this many mean lifetimes counts as a miss
SERVER_MODELS = ("sim", "analytic")
# Metrics of an MLPerf run measured at its stated load that are read at the simulated edge (module doc).
EDGE_METRICS = ("ttft_ms",)

_REQUESTS = re.compile(r"\b(\d+)\s+requests\b", re.IGNORECASE)


# ------------------------------------------------------------------ facts from the notes
def stated_requests(notes: str) -> int | None:
    """Requests a benchmark ran ("500 requests"), None when the notes state none."""
    m = _REQUESTS.search(notes)
    return int(m.group(1)) if m and int(m.group(1)) > 0 else None


# ------------------------------------------------------------------ the replica the simulator sees
# a memoised max-rate search's key (_max_rate): scheduler, lengths, p99 limits (s), run length, r0, lifetime, scheduling
SearchKey = tuple[SchedulerConfig, EmpiricalLength, EmpiricalLength, tuple[float | None, float | None, float | None],
                  int | None, float, float, StatedScheduling]


class ReplicaSim:
    """One replica's step model and its step-time cache, shared by every run on that replica;
    ``dp_ranks``, the layout's attention-DP ranks, resolved once and passed down (module doc)."""

    def __init__(self, mm: MappedModel, beams: int = 1):
        self.dp_ranks = mm.layout.attn_dp_ways
        base = ServingStepModel(mm, ranks=self.dp_ranks)
        self.mm = mm
        self.step: Any = base if beams == 1 else BeamStepModel(base, beams)
        if self.step.kv_capacity_tokens < 1:
            raise fit_error(mm, beams, 1, 0, mm.layout.num_chips)
        self.timer = StepTimer(self.step)
        self.searches: dict[SearchKey, ServerSearchResult] = {}  # memoised max-rate searches (see _max_rate)

    def run(self, arrivals: Any, num_requests: int, cfg: SchedulerConfig, drain_s: float | None,
            factory: Any = None) -> SimResult:
        return simulate(self.step, arrivals, num_requests=num_requests, seed=SEED, scheduler_config=cfg,
                        max_drain_s=drain_s, step_timer=self.timer, replica_factory=factory)


def sim_length(dist: LengthDist) -> EmpiricalLength:
    """The plan's quantile points as whole-token samples (at least 1)."""
    return EmpiricalLength(samples_tokens=tuple(max(1, round(v)) for v in dist.points))


def lifetime_s(lim: LatencyLimits | None, plan: Plan, analytic: OperatingPoint) -> float:
    """Mean time in system of a request that meets the p99 limits at most (a mean TPOT within the
    TPOT limit): ``TTFT + E[o] x TPOT`` limits, or the end-to-end limit; the analytic model's
    end-to-end latency where no limit bounds it."""
    if lim is not None and lim.e2e_s is not None:
        return lim.e2e_s
    if lim is not None and lim.tpot_s is not None:
        return (lim.ttft_s or 0.0) + plan.outputs.mean * lim.tpot_s
    return analytic.e2e_s if math.isfinite(analytic.e2e_s) and analytic.e2e_s > 0 else 1.0


def run_length(rate_per_s: float, lifetime: float) -> int:
    """Requests of a Poisson run at ``rate_per_s`` whose arrivals last ``RUN_LIFETIMES`` lifetimes,
    within ``[MIN_REQUESTS, MAX_REQUESTS]``."""
    return int(min(MAX_REQUESTS, max(MIN_REQUESTS, math.ceil(RUN_LIFETIMES * lifetime * rate_per_s))))


# ------------------------------------------------------------------ outcome of a row
@dataclass
class SimOutcome:
    """What the simulator found for a row, per replica (times in seconds)."""

    kind: str  # "max_rate" | "open_loop" | "burst"
    rate_per_s: float  # requests/s per replica: found, stated / replicas, or completed (burst)
    feasible: bool  # max_rate: some rate met the limits; open loop: not saturated
    tokens_per_s: float  # output tokens/s per replica (beams counted)
    summary: dict[str, Any]
    p99_s: tuple[float, float, float]  # (TTFT, TPOT, E2E) at the reported rate, LoadGen ranking
    num_requests: int
    trials: int
    notes: list[str] = field(default_factory=list)

    def point(self) -> OperatingPoint:
        s = self.summary
        return OperatingPoint(batch=float(s["running_seqs_mean"]), ttft_s=float(s["ttft_s_mean"]),
                              tpot_s=float(s["tpot_s_mean"]), e2e_s=float(s["e2e_s_mean"]),
                              tokens_per_s_replica=self.tokens_per_s, limits_met=self.feasible,
                              saturated=self.kind == "open_loop" and not self.feasible)

    def to_dict(self, replicas: int) -> dict[str, Any]:
        ms = [None if not math.isfinite(v) else v * 1e3 for v in self.p99_s]
        return {"kind": self.kind, "rate_per_s": self.rate_per_s * replicas, "feasible": self.feasible,
                "p99_ttft_ms": ms[0], "p99_tpot_ms": ms[1], "p99_e2e_ms": ms[2],
                "mean_ttft_ms": self.summary["ttft_s_mean"] * 1e3, "mean_tpot_ms": self.summary["tpot_s_mean"] * 1e3,
                "requests_per_replica": self.num_requests, "trials": self.trials}


def percentiles_s(res: SimResult, q: float = PERCENTILE) -> tuple[float, float, float]:
    """(TTFT, TPOT, E2E) at percentile ``q`` as LoadGen ranks them (unfinished requests count as late)."""
    return latency_percentiles_s(res, q)


def meets(res: SimResult, p99: tuple[float, float, float], lim: LatencyLimits) -> bool:
    """LoadGen's test: every p99 within its limit. Without limits: the queue does not grow without bound."""
    limits = (lim.ttft_s, lim.tpot_s, lim.e2e_s)
    if all(v is None for v in limits):
        return not res.queue_growing()
    return all(v is None or x <= v for x, v in zip(p99, limits, strict=True))


def row_limits(case: Case) -> LatencyLimits | None:
    """p99 limits a server row ran under: those its notes state, or, for an MLPerf replay, the README's."""
    lim = stated_limits(case)
    if lim is None or not (case.is_mlperf or lim.source == "row notes"):
        return None
    return lim


def reads_at_edge(case: Case) -> bool:
    """Whether a row is read at the simulated highest rate under its p99 limits although it states a
    load: an ``EDGE_METRICS`` row of an MLPerf run with limits, measured at a finite stated load."""
    load = stated_load_per_s(case)
    return (case.metric in EDGE_METRICS and load is not None and math.isfinite(load)
            and row_limits(case) is not None)


def simulate_row(case: Case, plan: Plan, layout: Layout, analytic: OperatingPoint, sim: ReplicaSim) -> SimOutcome:
    """Simulate a server row (no concurrency) on its chosen layout. ``analytic`` is the analytic
    operating point there: the search's first rate, and the lifetime where no limit bounds it."""
    inp, out = sim_length(plan.inputs), sim_length(plan.outputs)
    cfg, cfg_note = scheduler_config(case, sim.mm, plan, sim.step.kv_capacity_tokens, sim.dp_ranks,
                                     micro_batches(case, layout))
    sched = stated_scheduling(case.case_id, case.notes)
    factory, sched_note = replica_factory(sched, sim.dp_ranks)
    reps = layout.replicas
    load = stated_load_per_s(case)
    stated_n = stated_requests(case.notes)
    fixed_n = None if stated_n is None else max(1, math.ceil(stated_n / reps))
    arrive, arr_note = arrivals_factory(sched, reps)
    head = f"server model: simulator, one of {reps} replicas, seed {SEED}; {cfg_note}" + "".join(
        f"; {t}" for t in (sched_note, arr_note) if t)
    eng = (sched, factory)
    if offline_by_use(case, plan):
        return _offline(case, plan, sim, cfg, (inp, out), reps, head, factory)
    if load is None:
        return _max_rate(case, plan, analytic, sim, cfg, inp, out, fixed_n, reps, [head], eng)
    if math.isinf(load):
        n = fixed_n or run_length(math.inf, 1.0)
        res = sim.run(BurstArrivals(input_tokens=inp, output_tokens=out), n, cfg, None, factory)
        s = res.summary()
        return SimOutcome("burst", s["requests_per_s"], True, s["output_tokens_per_s"] * plan.beams, s,
                          percentiles_s(res), n, 1,
                          [head, f"request rate INF: all {n} requests at once, output tokens/s over the run"])
    rate = load / reps
    lim = row_limits(case)
    if lim is not None and reads_at_edge(case):
        return _max_rate(case, *_run_plan(sim, plan, reps), sim, cfg, inp, out, fixed_n, reps, [
            head, (f"{case.metric} of an MLPerf run measured at {load:g} requests/s: read at the simulated highest "
                   f"rate that meets its p99 limits ({_limits_text(lim)}): a valid run sits at its own edge")],
            eng)
    n = fixed_n or run_length(rate, lifetime_s(lim, plan, analytic))
    spec = PoissonArrivals(rate_per_s=rate, input_tokens=inp, output_tokens=out) if arrive is None else arrive(
        rate, inp, out)
    res = sim.run(spec, n, cfg, n / rate, factory)
    s, p = res.summary(), percentiles_s(res)
    text = (f"simulated at the stated {load:g} requests/s ({n} requests): mean TTFT {s['ttft_s_mean'] * 1e3:.4g} ms, "
            f"mean TPOT {s['tpot_s_mean'] * 1e3:.4g} ms, p99 TTFT {p[0] * 1e3:.4g} ms, p99 TPOT {p[1] * 1e3:.4g} ms")
    if lim is not None and not meets(res, p, lim):
        # An MLPerf run is valid only within its limits: the model's counterpart of the run is its
        # own highest rate that meets them (the search of the run's throughput row, shared).
        return _max_rate(case, *_run_plan(sim, plan, reps), sim, cfg, inp, out, fixed_n, reps, [
            head, text, (f"the stated load misses the p99 limits ({_limits_text(lim)}) in the simulation: "
                         "read at the simulated highest rate that meets them")], eng)
    ok = not res.saturated()
    notes = [head, text]
    if not ok:
        notes.append("the stated load saturates the simulated replica: the queue grows, latencies depend on the "
                     "run length")
    tokens = rate * plan.outputs.mean * plan.beams if ok else s["output_tokens_per_s"] * plan.beams
    return SimOutcome("open_loop", rate, ok, tokens, s, p, n, 1, notes)


def _offline(case: Case, plan: Plan, sim: ReplicaSim, cfg: SchedulerConfig, lengths: tuple[EmpiricalLength, ...],
             reps: int, head: str, factory: Any) -> SimOutcome:
    """An MLPerf Offline row on one of ``reps`` replicas (module doc); the run's waves are of the sequences that run
    at once: the scheduler's cap, or fewer where the KV cache holds fewer whole answers (``held``)."""
    ds = case_dataset(case)
    least = (ds.offline_min_query_count if ds is not None else None) or 1

    def samples(rate_per_s: float) -> int:  # a replica's share of LoadGen's query at the expected QPS rate x reps
        return math.ceil(max(least, OFFLINE_SLACK * OFFLINE_MIN_DURATION_S * rate_per_s * reps) / reps)

    held = min(cfg.max_num_seqs, max(1, int(sim.step.kv_capacity_tokens // (plan.inputs.mean + plan.outputs.mean))))
    run = offline_run(lambda n: sim.run(BurstArrivals(input_tokens=lengths[0], output_tokens=lengths[1]), n, cfg,
                                        None, factory), math.ceil(least / reps), held, samples)
    s = run.result.summary()
    tokens = run.tokens_per_s * plan.beams
    rest = "all simulated" if run.simulated == run.requests else f"{run.simulated} simulated, the rest at that rate"
    return SimOutcome("offline", run.requests / run.span_s, True, tokens, s, percentiles_s(run.result), run.requests,
                      1, [head, (f"MLPerf Offline: {run.requests} samples a replica sent at once (at least {least} in "
                                 f"all, or 1.1 x 600 s at the steady {run.steady_tokens_per_s * plan.beams:.4g} "
                                 f"tokens/s); {rest} ({s['preemptions']} preemptions, recomputed)")])


def _run_plan(sim: ReplicaSim, plan: Plan, reps: int) -> tuple[Plan, OperatingPoint]:
    """The run's max-throughput plan and its analytic operating point (the rate search's start)."""
    mt_plan = replace(plan, mode="max_throughput", rate_per_s=None)
    return mt_plan, operating_point(sim.mm, mt_plan, reps)


def _limits_text(lim: LatencyLimits) -> str:
    return ", ".join(f"{k} {v * 1e3:g} ms" for k, v in (("TTFT", lim.ttft_s), ("TPOT", lim.tpot_s),
                                                        ("E2E", lim.e2e_s)) if v is not None) or "none"


def _max_rate(case: Case, plan: Plan, analytic: OperatingPoint, sim: ReplicaSim, cfg: SchedulerConfig,
              inp: EmpiricalLength, out: EmpiricalLength, fixed_n: int | None, reps: int,
              notes: list[str], eng: tuple[StatedScheduling, Any] = (StatedScheduling(), None)) -> SimOutcome:
    """MLPerf Server/Interactive: the highest rate meeting the p99 limits (module doc). Searches are
    memoised on the replica: a throughput row and the latency rows of the same run share one."""
    lim = stated_limits(case) or LatencyLimits()
    tokens_per_request = plan.outputs.mean * plan.beams
    if cfg.max_num_seqs * plan.beams < analytic.batch:  # the scheduler caps the batch below the analytic one
        capped = replace(plan, mode="closed_loop", concurrency=float(cfg.max_num_seqs * plan.beams * reps))
        analytic = operating_point(sim.mm, capped, reps, need_ttft=False)
    r0 = analytic.tokens_per_s_replica / tokens_per_request
    r0 = r0 if math.isfinite(r0) and r0 > 0 else 1.0
    life = lifetime_s(lim, plan, analytic)
    key = (cfg, inp, out, (lim.ttft_s, lim.tpot_s, lim.e2e_s), fixed_n, r0, life, eng[0])
    if key not in sim.searches:
        sim.searches[key] = _search(sim, cfg, inp, out, lim, fixed_n, r0, life, eng[1],
                                    arrivals_factory(eng[0], reps)[0])
    f = sim.searches[key]
    if f.reported is None:
        raise InternalError("max_rate_under_slo always names the trial it reports")
    at, n = f.reported.rate_per_s, f.reported.num_requests  # the highest passing rate, or the gentlest tried if none
    if not f.feasible:
        notes = [*notes, (f"no simulated rate down to {at * reps:.4g} requests/s meets the p99 limits "
                          f"({_limits_text(lim)}): value at that rate")]
    elif not f.bracketed:
        notes = [*notes, f"p99 limits ({_limits_text(lim)}) still met at {at * reps:.4g} requests/s, the highest tried"]
    p99 = (f.ttft_s, f.tpot_s, f.e2e_s)
    p_txt = ", ".join(f"p99 {k} {v * 1e3:.4g} ms" for k, v in zip(("TTFT", "TPOT", "E2E"), p99, strict=True)
                      if math.isfinite(v))
    notes = [*notes, (f"simulated max rate {at * reps:.4g} requests/s under p99 limits ({_limits_text(lim)}), "
                      f"{n} requests, {len(f.trials)} runs: {p_txt}")]
    return SimOutcome("max_rate", at, f.feasible, at * tokens_per_request, f.summary, p99, n, len(f.trials), notes)


def _search(sim: ReplicaSim, cfg: SchedulerConfig, inp: EmpiricalLength, out: EmpiricalLength, lim: LatencyLimits,
            fixed_n: int | None, r0: float, life: float, factory: Any = None, arrivals: Any = None
            ) -> ServerSearchResult:
    """The simulator's rate search (:func:`~inferchip.sim.runs.search.max_rate_under_slo`) with this module's rules:
    from ``r0`` by ``RATE_STEP`` to ``REL_TOL``, run lengths and drain as in the module doc."""
    if lim.e2e_s is not None:
        drain: float | None = lim.e2e_s
    elif lim.ttft_s is not None or lim.tpot_s is not None:
        drain = (lim.ttft_s or 0.0) + (max(out.samples_tokens) - 1) * (lim.tpot_s or 0.0)
    else:
        drain = None

    def long_enough(res: SimResult, r: float, n: int) -> bool:
        # A run capped at MAX_REQUESTS that lasts under MIN_RUN_LIFETIMES of its own request lifetimes
        # is still filling up: it proves nothing, and counts as a miss.
        return not (n == MAX_REQUESTS and n / r < MIN_RUN_LIFETIMES * res.summary()["e2e_s_mean"])

    limited = any(v is not None for v in (lim.ttft_s, lim.tpot_s, lim.e2e_s))
    return max_rate_under_slo(
        sim.step, inp, out, lim.ttft_s, lim.tpot_s, PERCENTILE, slo_e2e_s=lim.e2e_s,
        num_requests=lambda r: fixed_n or run_length(r, life), seed=SEED, scheduler_config=cfg,
        start_rate_per_s=r0, rate_factor=RATE_STEP, rel_tol=REL_TOL, max_bracket_steps=MAX_BRACKET_STEPS,
        max_simulations=None, drain_s=(lambda r, n: drain if drain is not None else n / r),
        stable_queue=not limited, accept=long_enough, step_timer=sim.timer, replica_factory=factory,
        arrivals=arrivals)


def sim_metric_value(case: Case, plan: Plan, outcome: SimOutcome, layout: Layout) -> float:
    """The row's metric from a simulated outcome (ITL rows: the mean inter-token gap)."""
    if case.metric == "itl_ms":
        return float(outcome.summary["itl_s_mean"]) * 1e3
    return metric_value(case, plan, outcome.point(), layout)
