"""Searches built on :func:`~inferchip.sim.runs.simulate`.

* :func:`max_rate_under_slo`: MLPerf Server/Interactive style, the highest Poisson arrival rate whose TTFT, TPOT and
  end-to-end percentiles (any mix) stay within their limits, bracketed and bisected on a fixed rate grid
  (:func:`grid_edge`), every trial with the same seed (common random numbers: the arrival times of two rates differ
  only by their ratio). The project's one rate search (``inferchip validate``: :mod:`inferchip.validation.server`).
* :func:`simulate_client`: a run as an engine's clients see it (its host time per request); the closed loops of
  the throughput-interactivity curve (:mod:`inferchip.sim.runs.curve`) are its runs.

Neither ever returns an empty result: an SLO no rate meets gives a result saying so, with the gentlest load's figures.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from operator import attrgetter
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

if TYPE_CHECKING:  # pandas is imported where a data frame is made (a faster cold start)
    import pandas as pd

from inferchip.errors import InvalidSettingError
from inferchip.sim.batching.scheduler import SchedulerConfig
from inferchip.sim.load import lengths
from inferchip.sim.load.arrivals import ArrivalsLike, ArrivalSpec, ClosedLoopArrivals, PoissonArrivals
from inferchip.sim.results.metrics import SimResult
from inferchip.sim.runs.simulate import simulate
from inferchip.sim.runs.system import ReplicaFactory, as_scheduler_config
from inferchip.sim.step.protocol import StepModel, check_step_model
from inferchip.sim.step.steptime import StepTimer

RATE_FACTOR = 2.0  # bracketing multiplies or divides the rate by this
DRAIN_SLO_FACTOR = 2.0  # a trial ends this many SLO-bound request lifetimes after its last arrival
MAX_BRACKET_STEPS = 12  # at most 2**12 above or below the first guess
START_LOAD_FRACTION = 0.5  # first guess: this share of the estimated capacity
ENERGY_FIELDS = ("energy_j", "energy_window_j", "power_w_per_chip", "output_tokens_per_j", "j_per_output_token")
_T = TypeVar("_T")
MID_GENERATION_FRACTION = 0.5  # a full batch holds sequences halfway through their outputs on average


@dataclass(frozen=True)
class Trial:
    rate_per_s: float
    ttft_s: float  # at the searched percentile
    tpot_s: float
    saturated: bool
    meets_slo: bool
    summary: dict[str, Any]
    e2e_s: float = math.nan  # at the searched percentile
    num_requests: int = 0


@dataclass(frozen=True)
class ServerSearchResult:
    """Outcome of :func:`max_rate_under_slo`; ``feasible`` is False when no rate met the limits."""

    feasible: bool
    rate_per_s: float  # highest rate found that meets the limits (0 when infeasible)
    percentile: float
    slo_ttft_s: float | None
    slo_tpot_s: float | None
    ttft_s: float  # at ``percentile``, at ``rate_per_s`` (or at the gentlest load tried when infeasible)
    tpot_s: float
    output_tokens_per_s: float
    output_tokens_per_s_per_chip: float
    summary: dict[str, Any]  # SimResult.summary() of that run
    reason: str
    trials: list[Trial] = field(default_factory=list)
    slo_e2e_s: float | None = None
    e2e_s: float = math.nan
    reported: Trial | None = None  # the trial whose figures are reported (its rate is the gentlest when infeasible)
    bracketed: bool = False  # a failing rate above ``rate_per_s`` was tried (False: the highest rate tried passed)

    def to_dataframe(self) -> pd.DataFrame:
        """One row per simulated rate, in the order tried."""
        import pandas as pd

        q = f"p{self.percentile:g}"
        return pd.DataFrame([
            {"rate_per_s": t.rate_per_s, f"ttft_s_{q}": t.ttft_s, f"tpot_s_{q}": t.tpot_s, f"e2e_s_{q}": t.e2e_s,
             "saturated": t.saturated, "meets_slo": t.meets_slo, "num_requests": t.num_requests,
             "output_tokens_per_s": t.summary["output_tokens_per_s"]}
            for t in self.trials
        ])


def latency_percentiles_s(res: SimResult, q: float) -> tuple[float, float, float]:
    """(TTFT, TPOT, E2E) at percentile ``q`` as LoadGen ranks them: the sorted value at rank ceil(q/100 * n).

    Every request that was not rejected counts; one without a first token (or, for TPOT and
    E2E, unfinished) counts as infinitely late. A one-token output has no TPOT to miss (0).
    """
    valid = ~res.requests["rejected"]
    if not valid.any():
        return math.inf, math.inf, math.inf
    ttft = np.where(np.isfinite(res.requests["first_token_s"]), res.ttft_s, math.inf)[valid]
    tpot = np.where(res.finished, np.nan_to_num(res.tpot_s, nan=0.0), math.inf)[valid]
    e2e = np.where(res.finished, res.e2e_s, math.inf)[valid]
    return (float(np.percentile(ttft, q, method="inverted_cdf")),
            float(np.percentile(tpot, q, method="inverted_cdf")),
            float(np.percentile(e2e, q, method="inverted_cdf")))


def capacity_estimate_per_s(step_model: StepModel, mean_input: float, mean_output: float, cfg: SchedulerConfig,
                            replicas: int) -> float:
    """Rough requests/s a set of replicas sustains with full decode batches.

    ``batch = min(max_num_seqs, kv_capacity / (input + output))``; a request costs
    ``output`` decode steps shared by ``batch`` sequences plus what its prompt adds to
    one such step (prefill rides along with decodes). Only a starting point for searches.
    """
    timer = StepTimer(step_model, exact=True)
    batch = max(1, min(cfg.max_num_seqs, int(step_model.kv_capacity_tokens // (mean_input + mean_output))))
    n_in = max(1, round(mean_input))
    kv = int(batch * (mean_input + mean_output * MID_GENERATION_FRACTION))
    decode_s = timer.time_s(batch, batch, kv, 0)
    mixed_s = timer.time_s(batch + n_in, batch, kv, n_in * (n_in + 1) // 2)
    return replicas / (mean_output * decode_s / batch + (mixed_s - decode_s))


def max_rate_under_slo(
    step_model: StepModel,
    input_tokens: Any,
    output_tokens: Any,
    slo_ttft_s: float | None = None,
    slo_tpot_s: float | None = None,
    percentile: float = 99,
    *,
    slo_e2e_s: float | None = None,
    num_requests: int | Callable[[float], int] = 2000,
    seed: int = 0,
    scheduler_config: SchedulerConfig | dict[str, object] | None = None,
    replicas: int = 1,
    router: str = "least_loaded",
    start_rate_per_s: float | None = None,
    rate_factor: float = RATE_FACTOR,
    rel_tol: float = 0.02,
    max_bracket_steps: int = MAX_BRACKET_STEPS,
    max_simulations: int | None = 40,
    drain_s: float | Callable[[float, int], float | None] | None = None,
    stable_queue: bool = True,
    accept: Callable[[SimResult, float, int], bool] | None = None,
    step_timer: StepTimer | None = None,
    progress: Callable[[float], None] | None = None,
    replica_factory: ReplicaFactory | None = None,
    arrivals: Callable[[float, lengths.LengthSpec, lengths.LengthSpec], ArrivalSpec] | None = None,
) -> ServerSearchResult:
    """Highest Poisson rate (requests/s) whose ``percentile`` TTFT, TPOT and E2E meet the limits given.

    Any mix of ``slo_ttft_s``, ``slo_tpot_s`` and ``slo_e2e_s`` (None: no limit). A rate
    passes when every limited percentile (:func:`latency_percentiles_s`) is within its
    limit, the queue is not growing without bound (``stable_queue``; with no limit at all
    that is the only test), and ``accept(result, rate, num_requests)`` (if given) agrees.
    Every trial uses ``seed`` (common random numbers).

    * Start: ``start_rate_per_s``; by default ``START_LOAD_FRACTION`` of a capacity estimate
      (:func:`capacity_estimate_per_s`), after one request alone in an empty system (a limit
      no rate meets is then found in one run).
    * Bracket and bisection (:func:`grid_edge`) on a rate grid anchored at 1 request/s, neighbours at most ``rel_tol``
      apart: steps of about ``rate_factor`` (at most ``max_bracket_steps``), then halving to neighbours or until
      ``max_simulations`` runs (None: no cap). The answer does not depend on the start where pass/fail is monotone.
    * Run length: ``num_requests``, or a function of the rate giving it.
    * Drain: a trial stops ``drain_s`` after its last arrival (a number, or a function of
      (rate, num_requests)); by default ``DRAIN_SLO_FACTOR`` request lifetimes within the limits
      (the E2E limit, else TTFT + max output x TPOT), or :func:`simulate`'s default without
      limits. Requests unfinished by then count as late.
    * ``step_timer``: a cache of step times shared with other runs (default: one for this search).
    * ``replica_factory``: the engine's replica class every trial runs (None: the plain replica).
    * ``arrivals``: ``(rate, input lengths, output lengths) ->`` the arrival spec of a trial (None:
      Poisson at the rate; e.g. :class:`~inferchip.sim.load.arrivals.HarnessBatchedArrivals`).
    """
    check_step_model(step_model)
    cfg = as_scheduler_config(scheduler_config, int(getattr(step_model, "ranks", 1) or 1))
    in_spec = lengths.as_length(input_tokens, "input_tokens")
    out_spec = lengths.as_length(output_tokens, "output_tokens")
    limits = (slo_ttft_s, slo_tpot_s, slo_e2e_s)
    for name, value in (("slo_ttft_s", slo_ttft_s), ("slo_tpot_s", slo_tpot_s), ("slo_e2e_s", slo_e2e_s),
                        ("rel_tol", rel_tol), ("start_rate_per_s", start_rate_per_s)):
        if value is not None and not (_is_number(value) and 0 < value < math.inf):
            raise InvalidSettingError(f"{name}: value {value!r} must be a positive finite number")
    if not (_is_number(rate_factor) and 1 < rate_factor < math.inf):
        raise InvalidSettingError(f"rate_factor: value {rate_factor!r} must be a finite number > 1")
    if not (_is_number(percentile) and 0 < percentile <= 100):
        raise InvalidSettingError(f"percentile: value {percentile!r} must be in (0, 100]")
    for name, count in (("max_bracket_steps", max_bracket_steps), ("max_simulations", max_simulations),
                        ("num_requests", None if callable(num_requests) else num_requests)):
        if count is not None and (isinstance(count, bool) or not isinstance(count, int) or count < 1):
            raise InvalidSettingError(f"{name}: value {count!r} must be a whole number >= 1")
    trials: list[Trial] = []
    timer = StepTimer(step_model) if step_timer is None else step_timer  # one cache of step times for every trial
    if drain_s is None and any(v is not None for v in limits):
        lifetime = slo_e2e_s if slo_e2e_s is not None else (
            (slo_ttft_s or 0.0) + lengths.max_tokens(out_spec) * (slo_tpot_s or 0.0))
        drain_s = DRAIN_SLO_FACTOR * lifetime
    budget = max_simulations or 2 * max_bracket_steps + 2  # for progress only

    def trial(rate: float, n: int | None = None) -> Trial:
        if n is None:
            n = num_requests(rate) if callable(num_requests) else num_requests
        drain = drain_s(rate, n) if callable(drain_s) else drain_s
        res: SimResult = simulate(
            step_model, (PoissonArrivals(rate_per_s=rate, input_tokens=in_spec, output_tokens=out_spec)
                         if arrivals is None else arrivals(rate, in_spec, out_spec)),
            num_requests=n, seed=seed, scheduler_config=cfg, replicas=replicas, router=router,
            slo_ttft_s=slo_ttft_s, slo_tpot_s=slo_tpot_s, max_drain_s=drain, step_timer=timer,
            replica_factory=replica_factory,
        )
        s = res.summary()
        p = latency_percentiles_s(res, percentile)
        ok = ((not stable_queue or not res.queue_growing())
              and all(lim is None or x <= lim for x, lim in zip(p, limits, strict=True))
              and (accept is None or bool(accept(res, rate, n))))
        t = Trial(rate, p[0], p[1], bool(s["saturated"]), bool(ok), s, p[2], n)
        trials.append(t)
        if progress is not None:
            progress(min(1.0, len(trials) / budget))
        return t

    def result(best: Trial, feasible: bool, bracketed: bool, reason: str) -> ServerSearchResult:
        if progress is not None:
            progress(1.0)
        return ServerSearchResult(
            feasible=feasible, rate_per_s=best.rate_per_s if feasible else 0.0, percentile=percentile,
            slo_ttft_s=slo_ttft_s, slo_tpot_s=slo_tpot_s, ttft_s=best.ttft_s, tpot_s=best.tpot_s,
            output_tokens_per_s=best.summary["output_tokens_per_s"],
            output_tokens_per_s_per_chip=best.summary["output_tokens_per_s_per_chip"],
            summary=best.summary, reason=reason, trials=trials, slo_e2e_s=slo_e2e_s, e2e_s=best.e2e_s,
            reported=best, bracketed=bracketed,
        )

    lim_text = ", ".join(f"{k} {v:g} s" for k, v in zip(("TTFT", "TPOT", "E2E"), limits, strict=True)
                         if v is not None) or "none"
    rate = start_rate_per_s
    if rate is None:
        capacity = capacity_estimate_per_s(step_model, lengths.mean_tokens(in_spec), lengths.mean_tokens(out_spec),
                                           cfg, replicas)
        alone = trial(capacity * RATE_FACTOR**-MAX_BRACKET_STEPS, 1)  # one request in an empty system
        if not alone.meets_slo:
            return result(alone, False, False, (
                f"no rate meets the limits: a single request alone has TTFT {alone.ttft_s:.4g} s, "
                f"TPOT {alone.tpot_s:.4g} s, E2E {alone.e2e_s:.4g} s (limits: {lim_text})"
            ))
        rate = capacity * START_LOAD_FRACTION
    searched, per_octave = len(trials), grid_points_per_octave(rel_tol)  # the bracket's trials start here
    stride = max(1, round(per_octave * math.log2(rate_factor)))
    lo, hi = grid_edge(trial, attrgetter("meets_slo"), rate, per_octave, stride, max_bracket_steps,
                       None if max_simulations is None else max_simulations - searched)
    if lo is None:
        gentlest = min(trials[searched:], key=lambda t: t.rate_per_s)
        return result(gentlest, False, True, (
            f"no rate down to {gentlest.rate_per_s:.4g} requests/s meets the limits ({lim_text}): there "
            f"p{percentile:g} TTFT is {gentlest.ttft_s:.4g} s, TPOT {gentlest.tpot_s:.4g} s, "
            f"E2E {gentlest.e2e_s:.4g} s"
        ))
    if hi is None:
        return result(lo, True, False, f"limits still met at {lo.rate_per_s:.4g} requests/s, the highest rate tried")
    return result(lo, True, True, f"p{percentile:g} limits met at {lo.rate_per_s:.4g} requests/s and missed at "
                                  f"{hi.rate_per_s:.4g} requests/s")


def grid_points_per_octave(rel_tol: float) -> int:
    """Points per doubling of the rate grid whose neighbours are at most ``rel_tol`` apart (relative)."""
    return max(1, math.ceil(math.log(2.0) / math.log1p(rel_tol) - 1e-9))


def grid_edge(probe: Callable[[float], _T], passed: Callable[[_T], bool], start_rate_per_s: float, per_octave: int,
              stride: int, max_bracket_steps: int, max_probes: int | None = None) -> tuple[_T | None, _T | None]:
    """(highest passing, lowest failing) probe (None: none found) on the rates ``2**(k / per_octave)``, k whole.

    The grid is anchored at 1 request/s, not at the start: the bracket starts at the multiple of ``stride`` nearest
    ``start_rate_per_s`` and moves by ``stride`` points (up after a pass, down after a miss; at most
    ``max_bracket_steps`` moves), then the index interval is halved to neighbours (or to ``max_probes`` probes). A
    pass/fail monotone in the rate gives the highest passing grid rate from any start."""
    ends: dict[bool, tuple[int, _T]] = {}  # True: the highest passing (index, probe); False: the lowest missing

    def at(i: int) -> bool:
        p = probe(2.0 ** (i / per_octave))
        ends[ok := passed(p)] = (i, p)
        return ok

    k, probes = stride * round(math.log2(start_rate_per_s) * per_octave / stride), 0
    while len(ends) < 2 and probes <= max_bracket_steps:
        k, probes = k + (stride if at(k) else -stride), probes + 1
    while len(ends) == 2 and ends[False][0] - ends[True][0] > 1 and (max_probes is None or probes < max_probes):
        at((ends[True][0] + ends[False][0]) // 2)
        probes += 1
    return (ends[True][1] if True in ends else None), (ends[False][1] if False in ends else None)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool)


def simulate_client(step_model: StepModel, arrivals_spec: ArrivalsLike, request_host_s: float = 0.0,
                    **kw: Any) -> SimResult:
    """:func:`simulate` seen from the clients of an engine that spends ``request_host_s`` of host time on each
    request before its scheduler sees it (HTTP, tokenisation, admission; the engine record's time per request).

    As vLLM's ``benchmark_serving`` measures (vllm-project/vllm benchmarks/benchmark_serving.py: a request's
    TTFT and latency run from the client sending it), every request's TTFT and E2E include it
    (:attr:`SimResult.request_host_s`). In a closed loop a client's next request reaches the scheduler
    ``request_host_s`` after its last one finished (a think time, as :mod:`inferchip.sim.engines.bench` runs the
    benchmark); open arrivals (Poisson, trace) reach it ``request_host_s`` after being sent, the same
    process shifted in time, so the scheduler's run is that of the arrivals as given. 0: :func:`simulate`."""
    if not 0.0 <= request_host_s < math.inf:
        raise InvalidSettingError(f"request_host_s: value {request_host_s!r} must be a finite time >= 0")
    if request_host_s and isinstance(arrivals_spec, ClosedLoopArrivals):
        arrivals_spec = arrivals_spec.model_copy(update={"think_time_s": arrivals_spec.think_time_s + request_host_s})
    res = simulate(step_model, arrivals_spec, **kw)
    return replace(res, request_host_s=request_host_s) if request_host_s else res
