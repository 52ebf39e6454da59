"""Run a serving simulation: arrivals -> router -> replicas -> :class:`SimResult`.

Event order is global and deterministic: an arrival is handled before any replica step
that starts at the same instant or later; replica steps run in order of their start
times whenever their results can influence another replica (closed loops, where a
finish sends the user's next request). Open-loop replicas only interact at arrivals, so
each runs up to the next arrival in one go.

The system it runs (pools, the KV link, scheduler configs) is :mod:`inferchip.sim.runs.system`'s, and the
finished run is collected into a :class:`SimResult` by :mod:`inferchip.sim.runs.run_result`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np
from pydantic import TypeAdapter

from inferchip.errors import InvalidSettingError, labelled
from inferchip.sim.batching.kv_cache import blocks_for
from inferchip.sim.batching.replica import Replica
from inferchip.sim.batching.scheduler import SchedulerConfig
from inferchip.sim.load import lengths
from inferchip.sim.load.arrivals import ArrivalsLike, ArrivalSource, ArrivalSpec, ClosedLoopArrivals, make_source
from inferchip.sim.results.metrics import SimResult
from inferchip.sim.results.request import RequestTable
from inferchip.sim.runs.engine import EventQueue, Priority
from inferchip.sim.runs.router import Router
from inferchip.sim.runs.run_result import build_result
from inferchip.sim.runs.system import KVLink, Pool, ReplicaFactory, as_scheduler_config, validated
from inferchip.sim.step.protocol import StepModel, check_step_model
from inferchip.sim.step.steptime import StepTimer
from inferchip.workload.limits import MAX_REQUESTS

DEFAULT_DRAIN_S = 600.0  # open-loop runs may drain at most max(this, arrival period) after the last arrival
PROGRESS_STEP_FRACTION = 0.005
MAX_REPLICAS = 100_000
_ARRIVALS: TypeAdapter[ArrivalSpec] = TypeAdapter(ArrivalSpec)


def simulate(
    step_model: StepModel,
    arrivals_spec: ArrivalsLike,
    *,
    duration_s: float | None = None,
    num_requests: int | None = None,
    seed: int = 0,
    scheduler_config: SchedulerConfig | dict[str, object] | None = None,
    replicas: int = 1,
    slo_ttft_s: float | None = None,
    slo_tpot_s: float | None = None,
    progress: Callable[[float], None] | None = None,
    router: str = "least_loaded",
    exact_step_times: bool = False,
    max_time_s: float | None = None,
    max_drain_s: float | None = None,
    step_timer: StepTimer | None = None,
    replica_factory: ReplicaFactory | None = None,
    warmup_requests: int = 0,
) -> SimResult:
    """Simulate serving ``arrivals_spec`` on ``replicas`` copies of the replica ``step_model`` describes.

    ``duration_s`` ends the arrivals (open loop) or the sending of new requests (closed
    loop); ``num_requests`` caps their count; requests already in the system then run to
    completion. A run stops at ``max_time_s``, and an open-loop run (Poisson, trace, burst)
    also ``max_drain_s`` after its last arrival (default for Poisson and trace:
    ``max(arrival period, 600 s)``, none for a burst); a run stopped with requests
    unfinished is reported saturated, the unfinished requests counted. ``exact_step_times``
    evaluates the step model at the exact inputs instead of inputs rounded to 0.2 % (see
    :mod:`inferchip.sim.step.steptime`).
    ``progress`` is called with the completed fraction (0..1) as the run advances.
    ``step_timer`` lets several runs of the same step model share one cache of step times
    (searches do); results are the same as with a fresh one.
    ``replica_factory``: an engine's replica class (called as :class:`Replica` is, e.g. one that polls its
    queue at an interval, :mod:`inferchip.sim.engines`); None: the plain replica.
    ``warmup_requests``: the first requests sent that run (they load the engine, queue and hold KV cache as any
    other) but are not read by the summary's percentiles (:attr:`SimResult.warmup_requests`): the steady tail,
    where a closed loop's first wave (``concurrency`` requests sent at once) would otherwise set a high percentile.
    0 (the default) reads every request, as ``benchmark_serving`` reads a run. Not vLLM's ``--num-warmups``, which
    sends its warm-up requests before the timed run and waits for them, so the timed run's first wave still queues.
    """
    warmups = checked_warmups(warmup_requests, num_requests)
    res = run_pools([Pool(step_model, scheduler_config, replicas, "", step_timer, replica_factory)], None,
                     arrivals_spec,
                     duration_s=duration_s, num_requests=num_requests, seed=seed, slo_ttft_s=slo_ttft_s,
                     slo_tpot_s=slo_tpot_s, progress=progress, router=router, exact_step_times=exact_step_times,
                     max_time_s=max_time_s, max_drain_s=max_drain_s)
    return unread_warmups(res, warmups)


def checked_warmups(warmup_requests: object, num_requests: int | None, key: str = "warmup_requests") -> int:
    """``warmup_requests`` as a whole number from 0 to below ``num_requests`` (where given; at most
    ``MAX_REQUESTS``), else InvalidSettingError naming it as ``key`` (the caller's own name for it: ``ic.serve``'s
    ``warmups``, which the command line spells ``--warmups``)."""
    top = MAX_REQUESTS if num_requests is None else num_requests
    if (isinstance(warmup_requests, bool) or not isinstance(warmup_requests, int | np.integer)
            or not 0 <= int(warmup_requests) < top):
        raise InvalidSettingError(f"{labelled(key)}: value {warmup_requests!r}; allowed: a whole number from 0 to "
                                  f"{top - 1:,} (fewer than the run's {top:,} requests: at least one is read)")
    return int(warmup_requests)


def unread_warmups(res: SimResult, warmups: int, key: str = "warmup_requests") -> SimResult:
    """``res`` with its first ``warmups`` requests sent (a count :func:`checked_warmups` passed) run but not read by
    its percentiles; InvalidSettingError naming ``key`` where the run sent no more than that (a run stopped by its
    duration)."""
    sent = len(res.requests["arrival_s"])
    if warmups and warmups >= sent:
        raise InvalidSettingError(f"{labelled(key)}: {warmups:,} of a run that sent {sent:,} requests leaves none to "
                                  "read; allowed: fewer than the run sends")
    return replace(res, warmup_requests=warmups) if warmups else res


def run_pools(pools: list[Pool], link: KVLink | None, arrivals_spec: ArrivalsLike, *,
              duration_s: float | None, num_requests: int | None, seed: int, slo_ttft_s: float | None,
              slo_tpot_s: float | None, progress: Callable[[float], None] | None, router: str, exact_step_times: bool,
              max_time_s: float | None, max_drain_s: float | None) -> SimResult:
    """The one simulation behind :func:`simulate` (one pool) and
    :func:`~inferchip.sim.runs.disagg.simulate_disaggregated` (a prefill pool, then a decode pool
    reached over ``link``): argument checks, replicas, the event loop (:func:`run_replicas`)
    and the result. Replica indices run over the pools in order."""
    if len(pools) != (1 if link is None else 2):
        raise InvalidSettingError("pools: one pool, or a prefill and a decode pool with a KV link")
    cfgs = []
    for pool in pools:
        check_step_model(pool.model)
        n = pool.replicas
        if isinstance(n, bool) or not isinstance(n, int | np.integer) or not 1 <= n <= MAX_REPLICAS:
            raise InvalidSettingError(f"{pool.name}replicas: value {n!r} must be a whole number in 1..{MAX_REPLICAS:,} "
                                      "(the event loop looks at every replica at each event)")
        cfgs.append(as_scheduler_config(pool.config, int(getattr(pool.model, "ranks", 1) or 1)))
    spec = arrivals_spec if not isinstance(arrivals_spec, dict) else validated(arrivals_spec,
                                                                               _ARRIVALS.validate_python, "arrivals")
    for name, value in (("slo_ttft_s", slo_ttft_s), ("slo_tpot_s", slo_tpot_s), ("max_time_s", max_time_s),
                        ("max_drain_s", max_drain_s)):
        if value is not None and not (isinstance(value, int | float) and value > 0):
            raise InvalidSettingError(f"{name}: value {value!r} must be a positive number of seconds")
    source = make_source(spec, duration_s, num_requests, seed)
    timers = []
    for pool in pools:
        if pool.step_timer is None:
            timers.append(StepTimer(pool.model, exact=exact_step_times))
        elif pool.step_timer.model is not pool.model or pool.step_timer.exact != exact_step_times:
            raise InvalidSettingError("step_timer: it must wrap this step model with the same exact_step_times setting")
        else:
            timers.append(pool.step_timer)
    baseline = (sum(t.num_evaluations for t in timers), sum(t.num_model_calls for t in timers))  # earlier runs
    table = RequestTable()
    groups: list[list[Replica]] = []
    for pool, cfg, timer in zip(pools, cfgs, timers, strict=True):
        start = sum(len(g) for g in groups)
        kv_capacity = int(pool.model.kv_capacity_tokens)
        make = pool.replica_factory or Replica
        groups.append([make(start + i, timer, cfg, kv_capacity, table) for i in range(int(pool.replicas))])
    first_cfg, first_blocks = cfgs[0], groups[0][0].pool.total_blocks
    last_cfg, last_blocks = cfgs[-1], groups[-1][0].pool.total_blocks

    def too_big(inp: int, out: int) -> bool:
        """Never fits: in the first pool, the KV of the tokens it processes (prompt + output - 1; the
        prompt alone in a prefill pool) or, without chunked prefill, a prefill (after a recompute up to
        that many tokens) over the step budget (vLLM's rule); in a decode pool, prompt + output - 1."""
        first = inp + (out if link is None else 1) - 1
        if blocks_for(first, first_cfg.block_size_tokens) > first_blocks:
            return True
        if not first_cfg.enable_chunked_prefill and first > first_cfg.max_num_batched_tokens:
            return True
        return link is not None and out > 1 and blocks_for(inp + out - 1, last_cfg.block_size_tokens) > last_blocks

    if source.closed_loop and too_big(source.max_input_tokens, source.max_total_tokens - source.max_input_tokens):
        raise InvalidSettingError(
            f"a request of up to {source.max_input_tokens} input + "
            f"{source.max_total_tokens - source.max_input_tokens} output tokens never fits a replica "
            f"(KV capacity {first_blocks * first_cfg.block_size_tokens} tokens, step budget "
            f"{first_cfg.max_num_batched_tokens} tokens" + (
                "" if link is None else f"; decode pool KV capacity {last_blocks * last_cfg.block_size_tokens} tokens")
            + ")"
        )
    if isinstance(spec, ClosedLoopArrivals):  # the spec of a closed-loop source (make_source)
        check_closed_loop(spec, groups, num_requests, duration_s)
    routers = [Router(pool.router or router, g, seed, i) for i, (g, pool) in enumerate(zip(groups, pools, strict=True))]
    hit_cap = run_replicas(source, routers, link, table, too_big, time_cap_s(source, spec, max_time_s, max_drain_s),
                           progress, duration_s)
    if progress is not None:
        progress(1.0)
    reps = [r for g in groups for r in g]
    chips = sum(len(g) * int(pool.model.num_chips) for g, pool in zip(groups, pools, strict=True))
    extra: dict[str, Any] = {"scheduler_config": cfgs[0].model_dump()} if link is None else {
        "prefill_replicas": len(groups[0]), "decode_replicas": len(groups[1]),
        "prefill_config": cfgs[0].model_dump(), "decode_config": cfgs[1].model_dump()}
    return build_result(spec, table, reps, timers, chips, hit_cap, slo_ttft_s, slo_tpot_s, extra, baseline)


def check_closed_loop(spec: ClosedLoopArrivals, groups: list[list[Replica]], num_requests: int | None,
                      duration_s: float | None) -> None:
    """Refuse a closed loop that would send more than ``MAX_REQUESTS`` requests: without ``num_requests``, at
    most ``MAX_REQUESTS`` requests in ``duration_s`` when every request takes as few steps as it can (its output
    tokens), each as short as a one-token step, and as many are in flight as the users and the KV caches allow
    (a request in flight holds at least one token). More users than the KV caches hold are not refused: the
    engine admits what its running-batch cap and free KV blocks allow and queues the rest, as a real engine
    does, and that wait is part of their TTFT."""
    kv_tokens = sum(g[0].pool.total_blocks * g[0].B * len(g) for g in groups)
    if num_requests is not None or duration_s is None:
        return
    model = groups[-1][0].timer.model  # called directly: the run's step-time cache and counts stay untouched
    ones = np.ones(2)
    step_s = float(np.min(model.step_time_s(ones, np.array([0.0, 1.0]), np.array([0.0, 1.0]), np.array([1.0, 0.0]))))
    out, inp = lengths.min_tokens(spec.output_tokens), lengths.min_tokens(spec.input_tokens)
    in_flight = max(1, min(spec.concurrency, kv_tokens // (inp + out)))
    life_s = out * step_s  # the shortest time a request can take
    most = math.inf if not life_s > 0 else duration_s * min(spec.concurrency / (spec.think_time_s + life_s),
                                                             in_flight / life_s)
    if most > MAX_REQUESTS:
        raise InvalidSettingError(
            f"duration_s: {spec.concurrency} users for {duration_s:g} s could send up to {most:.4g} requests "
            f"(a request takes at least {out} steps of {step_s:.3g} s), above the simulator's cap of "
            f"{MAX_REQUESTS:,} per run; give num_requests (at most {MAX_REQUESTS:,}) or a shorter duration")


def time_cap_s(source: ArrivalSource, spec: ArrivalSpec, max_time_s: float | None, max_drain_s: float | None) -> float:
    """Simulated time at which a run stops even with requests unfinished (see :func:`simulate`)."""
    cap_s = math.inf if max_time_s is None else float(max_time_s)
    if source.closed_loop:
        return cap_s
    if max_drain_s is not None:
        return min(cap_s, source.issue_end_s + float(max_drain_s))
    if spec.kind == "burst":
        return cap_s
    return min(cap_s, source.issue_end_s + max(source.issue_end_s, DEFAULT_DRAIN_S))


def run_replicas(source: ArrivalSource, routers: list[Router], link: KVLink | None, table: RequestTable,
                 too_big: Callable[[int, int], bool], cap_s: float, progress: Callable[[float], None] | None,
                 duration_s: float | None) -> bool:
    """The event loop: arrivals, KV hand-offs and replica steps, until everything is done or ``cap_s``.

    ``routers`` hold the pools: requests arrive at the first; with a ``link``, a request the
    first (prefill) pool has given its first token crosses it and joins the second (decode)
    pool. Where a finish can start new work (a closed loop's next request, a hand-off), the
    replica whose clock is earliest runs up to the next event, or the second-earliest clock, or
    its first finish. Otherwise (open loop, one pool) replicas meet only at arrivals: each
    runs alone up to the next one, in index order. Returns whether ``cap_s`` stopped the run
    with requests unfinished.
    """
    reps = [r for route in routers for r in route.replicas]
    arrive, decode = routers[0], routers[-1]
    first_pool = len(arrive.replicas)  # replica indices below this are the first pool
    out_first = link is None  # the first pool produces the whole output, else only the first token
    interacting = source.closed_loop or link is not None
    transfers: EventQueue[tuple[int, float]] = EventQueue()  # KV caches on their way to the decode pool: (time,
    # (request, first token time))
    total = source.expected_total
    reported = 0.0
    while True:
        t_arr = source.peek_time_s()
        t_kv = transfers.peek_time_s() if transfers else math.inf
        t_event = t_arr if t_arr < t_kv else t_kv
        if t_event >= cap_s:
            t_event = math.inf
        if not interacting:
            limit = t_event if t_event < cap_s else cap_s
            for rep in reps:
                if rep.clock_s < t_event and (rep.n_running or rep.waiting or rep.swapped):
                    rep.run_until(limit)
            if t_event == math.inf:
                return any(rep.n_running or rep.waiting or rep.swapped for rep in reps)
        else:
            best = None
            s1 = s2 = math.inf
            for rep in reps:
                if rep.n_running or rep.waiting or rep.swapped:
                    s = rep.clock_s
                    if s < s1:
                        best, s1, s2 = rep, s, s1
                    elif s < s2:
                        s2 = s
            if best is not None and s1 < t_event:
                if s1 >= cap_s:
                    return True
                hand_off = link.transfer_s if link is not None and best.index < first_pool else None
                for t_fin, rid in best.run_until(min(t_event, cap_s, s2), stop_on_finish=True, min_steps=1):
                    if hand_off is not None and table.output_tokens[rid] > 1:
                        transfers.push(t_fin + hand_off(table.input_tokens[rid]), Priority.ARRIVAL, (rid, t_fin))
                    else:
                        source.on_finish(t_fin)
                if progress is not None and not total and duration_s:
                    frac = best.clock_s / duration_s
                    if frac - reported >= PROGRESS_STEP_FRACTION:
                        reported = frac
                        progress(min(frac, 1.0))
                continue
            if t_event == math.inf:
                return best is not None
        if t_kv <= t_arr:  # a KV cache lands in the decode pool
            _, (rid, first_token_s) = transfers.pop()
            decode.choose().enqueue_prefilled(rid, table.input_tokens[rid], table.output_tokens[rid], t_kv,
                                              first_token_s)
            continue
        t, inp, out = source.pop()
        rid = table.add(source.issued_s(t), inp, out)  # latencies start when the client sent it
        if too_big(inp, out):
            table.rejected[rid] = True
            source.on_finish(t)
        else:
            arrive.choose().enqueue(rid, inp, out if out_first else 1, t)
        if progress is not None and total:
            frac = len(table) / total
            if frac - reported >= PROGRESS_STEP_FRACTION:
                reported = frac
                progress(min(frac, 1.0))
