"""MLPerf scenarios for vision networks, from a service time per batch size.

Each function takes a :data:`~inferchip.sim.vision.queue.ServiceTime` (batch sizes -> seconds per
batch on one device, e.g. ``lambda b: frame_cost(chip, net, b).latency_s``) and returns a
:class:`ScenarioResult`: the scenario's metric, the latency percentiles it saw, and pass/fail
against a latency bound when one is stated. ``devices`` independent replicas (MLPerf systems run one
per accelerator) share the load where the scenario allows it.

How each scenario issues work (MLPerf Inference rules, ``mlcommons/inference`` LoadGen
``test_settings.h`` and ``docs``; MLPerf Automotive for ConstantStream):

* **SingleStream**: one sample per query, the next query issued when the previous completes;
  batch 1; metric = p90 latency (MLPerf Automotive reports p99.9: pass ``percentile``).
* **MultiStream**: queries of 8 samples issued back to back; the system may split a query into
  batches (served one after another on one device, spread over several, the host issuing them
  ``dispatch_s`` apart); the best split is taken; metric = p99 of query latency.
* **Server**: one sample per query, Poisson arrivals; dynamic batching up to ``max_batch``
  (optionally waiting up to ``max_queue_delay_s`` for a fuller batch); metric = the highest arrival
  rate whose ``percentile`` latency stays within the bound (ResNet-50 15 ms, RetinaNet 100 ms at
  p99), found by bisection on the rate with the same seeded arrival gaps at every rate.
* **Offline**: all samples at once; metric = samples/s at the best batch up to ``max_batch``.
* **ConstantStream** (MLPerf Automotive): one sample per query at a fixed rate (a camera's frame
  rate), whatever the system's state; dynamic batching up to ``max_batch`` (default 1: frames are
  processed as they come); metric = the ``percentile`` (default p99.9) latency at that rate.
  Read here from the Automotive scenario names and the v0.5 results' logs; its LoadGen settings were
  not read, so the defaults are this project's reading.

Service times are deterministic per batch size; ``service_cv`` > 0 multiplies each batch's time by
a seeded log-normal factor of mean 1 and that coefficient of variation (run-to-run spread as in the
logs, where p99.9 sits a few per cent above p50). Same seed, same figures.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np

from inferchip.errors import InvalidSettingError
from inferchip.mapping.memory_fit import FloatArray
from inferchip.sim.vision.queue import (
    ServiceTime,
    dynamic_batches,
    latency_summary_s,
    percentile_s,
    service_table,
)
from inferchip.workload.limits import MAX_SEED

SCENARIOS = ("single_stream", "multi_stream", "server", "offline", "constant_stream")
MULTISTREAM_SAMPLES_PER_QUERY = 8
SERVER_LATENCY_BOUND_S = {"resnet50": 0.015, "retinanet": 0.100}
"""MLPerf Inference Server latency constraints at p99 (``mlcommons/inference`` ``loadgen/mlperf.conf``:
``resnet50.Server.target_latency = 15``, ``retinanet.Server.target_latency = 100``, in ms)."""


@dataclass(frozen=True)
class ScenarioResult:
    """A scenario's metric (named as in ``vision_cases.csv``: ``samples_per_s``, ``latency_p90_ms``...)."""

    scenario: str
    metric: str
    value: float
    unit: str
    batch: int
    latency_s: dict[str, float]
    bound_s: float | None
    bound_percentile: float | None
    passed: bool | None
    queries: int
    samples_per_s: float
    notes: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["notes"] = list(self.notes)
        return d


def _count(name: str, v: Any, lo: int = 1, hi: int = 10_000_000) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or not lo <= v <= hi:
        raise InvalidSettingError(f"{name} = {v!r}: must be a whole number from {lo:,} to {hi:,}")
    return int(v)


def _positive(name: str, v: Any, unit: str = "seconds") -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not (math.isfinite(v) and v > 0):
        raise InvalidSettingError(f"{name} = {v!r}: must be a finite number of {unit} > 0")
    return float(v)


def _seconds(name: str, v: Any) -> float | None:
    """``v`` checked by :func:`_positive`, or None where it is not given."""
    return None if v is None else _positive(name, v)


def _pct(v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not (math.isfinite(v) and 0 < v < 100):
        raise InvalidSettingError(f"percentile = {v!r}: must be a number between 0 and 100 (exclusive)")
    return float(v)


def _noise(seed: int, n: int, cv: float) -> FloatArray | None:
    """Seeded log-normal multipliers of mean 1 and coefficient of variation ``cv`` (None for cv = 0)."""
    if isinstance(cv, bool) or not isinstance(cv, (int, float)) or not (math.isfinite(cv) and 0 <= cv <= 1):
        raise InvalidSettingError(f"service_cv = {cv!r}: must be a number from 0 to 1")
    if cv == 0:
        return None
    _count("seed", seed, 0, MAX_SEED)
    sigma = math.sqrt(math.log1p(cv * cv))
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, 0x5CE])))
    return np.exp(rng.standard_normal(n) * sigma - 0.5 * sigma * sigma)


def _result(scenario: str, metric_q: float | None, lat: FloatArray, *, batch: int, bound: float | None,
            samples_per_s: float, notes: tuple[str, ...] = ()) -> ScenarioResult:
    stats = latency_summary_s(lat)
    if metric_q is None:
        return ScenarioResult(scenario, "samples_per_s", samples_per_s, "samples/s", batch, stats, bound, None,
                              None, int(lat.size), samples_per_s, notes)
    value = percentile_s(lat, metric_q)
    passed = None if bound is None else bool(value <= bound)
    return ScenarioResult(scenario, f"latency_p{metric_q:g}_ms".replace(".", ""), value * 1e3, "ms", batch, stats,
                          bound, metric_q if bound is not None else None, passed, int(lat.size), samples_per_s, notes)


def single_stream(service: ServiceTime, *, queries: int = 1024, percentile: float = 90.0,
                  latency_bound_s: float | None = None, service_cv: float = 0.0, seed: int = 0) -> ScenarioResult:
    """Batch-1 queries back to back: the ``percentile`` latency (p90 in MLPerf Inference)."""
    n, q, bound = _count("queries", queries), _pct(percentile), _seconds("latency_bound_s", latency_bound_s)
    t1 = service_table(service, 1)[1]
    noise = _noise(seed, n, service_cv)
    lat = np.full(n, t1) if noise is None else t1 * noise
    return _result("single_stream", q, lat, batch=1, bound=bound, samples_per_s=n / float(lat.sum()))


def issue_times_s(sizes: list[int], dispatch_s: float, stage_s: float = 0.0) -> list[float]:
    """When the host issues each batch of a query: after every earlier batch's dispatch (``dispatch_s``) and the
    staging of its samples (``stage_s`` per sample, :func:`inferchip.cost.vision.host.query_host_s`); batch j at
    j x dispatch_s + stage_s x (samples of batches 0..j-1). A batch's own staging is in its service time."""
    return [j * dispatch_s + stage_s * float(sum(sizes[:j])) for j in range(len(sizes))]


def _split_latency(table: FloatArray, samples: int, b: int, devices: int,
                   dispatch_s: float = 0.0, stage_s: float = 0.0) -> tuple[list[int], list[int]]:
    """Batches of at most ``b`` for one query, each given to the device that would finish it soonest (sizes,
    owners); batch j can start no earlier than its issue time (:func:`issue_times_s`)."""
    sizes = [b] * (samples // b) + ([samples % b] if samples % b else [])
    issue = issue_times_s(sizes, dispatch_s, stage_s)
    load = [0.0] * devices
    owners = []
    for j, s in enumerate(sizes):
        d = min(range(devices), key=lambda i: max(load[i], issue[j]))
        load[d] = max(load[d], issue[j]) + table[s]
        owners.append(d)
    return sizes, owners


def query_finish_s(times: FloatArray, owners: list[int], devices: int, dispatch_s: float,
                   sizes: list[int] | None = None, stage_s: float = 0.0) -> FloatArray:
    """Latency of each query (rows of ``times``: its batches' service times in issue order): the host issues
    batch j at j x ``dispatch_s`` (plus the staging of the earlier batches' ``sizes`` at ``stage_s`` per sample,
    :func:`issue_times_s`); a device runs its batches one after another; the query ends with its last batch.
    Shape (queries,)."""
    issue = issue_times_s(sizes if sizes is not None else [0] * len(owners), dispatch_s, stage_s)
    free = np.zeros((times.shape[0], devices))
    for j, d in enumerate(owners):
        free[:, d] = np.maximum(free[:, d], issue[j]) + times[:, j]
    return np.asarray(free.max(axis=1), dtype=float)


def multi_stream(service: ServiceTime, *, samples_per_query: int = MULTISTREAM_SAMPLES_PER_QUERY,
                 max_batch: int | None = None, devices: int = 1, queries: int = 1024, percentile: float = 99.0,
                 latency_bound_s: float | None = None, service_cv: float = 0.0, seed: int = 0,
                 dispatch_s: float = 0.0, stage_s: float = 0.0) -> ScenarioResult:
    """Queries of ``samples_per_query`` samples back to back, split into the batches that finish a query
    soonest: the ``percentile`` (p99) query latency. One host thread issues a query's batches one after another,
    ``dispatch_s`` apart (the runtime's per-call host cost) after staging each earlier batch's samples
    (``stage_s`` per sample; ``service`` holds a batch's own staging), so spreading a query over more devices pays
    for its later starts."""
    spq, n = _count("samples_per_query", samples_per_query, 1, 4096), _count("queries", queries)
    dev, q = _count("devices", devices, 1, 100_000), _pct(percentile)
    bound = _seconds("latency_bound_s", latency_bound_s)
    if isinstance(dispatch_s, bool) or not isinstance(dispatch_s, (int, float)) or not (
            math.isfinite(dispatch_s) and dispatch_s >= 0):
        raise InvalidSettingError(f"dispatch_s = {dispatch_s!r}: must be a finite number of seconds >= 0")
    if isinstance(stage_s, bool) or not isinstance(stage_s, (int, float)) or not (
            math.isfinite(stage_s) and stage_s >= 0):
        raise InvalidSettingError(f"stage_s = {stage_s!r}: must be a finite number of seconds >= 0")
    cap = spq if max_batch is None else min(_count("max_batch", max_batch, 1, 1_000_000), spq)
    table = service_table(service, cap)

    def one_query_s(b: int) -> float:
        sizes, owners = _split_latency(table, spq, b, dev, dispatch_s, stage_s)
        return float(query_finish_s(table[sizes][None, :], owners, dev, dispatch_s, sizes, stage_s)[0])

    best = (one_query_s(1), 1)  # cap >= 1 (_count)
    for b in range(2, cap + 1):
        lat1 = one_query_s(b)
        if lat1 < best[0] - 1e-15:
            best = (lat1, b)
    b = best[1]
    sizes, owners = _split_latency(table, spq, b, dev, dispatch_s, stage_s)
    noise = _noise(seed, n * len(sizes), service_cv)
    times = np.broadcast_to(table[sizes], (n, len(sizes))) * (1.0 if noise is None else noise.reshape(n, -1))
    lat = query_finish_s(np.asarray(times), owners, dev, dispatch_s, sizes, stage_s)
    return _result("multi_stream", q, lat, batch=b, bound=bound, samples_per_s=n * spq / float(lat.sum()),
                   notes=(f"each {spq}-sample query split into batches of {b} over {len(set(owners))} of {dev} "
                          f"device(s), issued {dispatch_s * 1e6:.3g} us apart",))


def offline(service: ServiceTime, *, max_batch: int = 256, devices: int = 1) -> ScenarioResult:
    """Every sample at once: samples/s at the batch (1..max_batch) with the most samples per second."""
    cap, dev = _count("max_batch", max_batch, 1, 1_000_000), _count("devices", devices, 1, 100_000)
    table = service_table(service, cap)
    b = np.arange(1, cap + 1)
    rate = b / table[1:]
    best = int(np.argmax(rate))
    return _result("offline", None, np.array([table[best + 1]]), batch=best + 1, bound=None,
                   samples_per_s=float(rate[best]) * dev,
                   notes=(f"best batch {best + 1} of 1..{cap} on each of {dev} device(s)",))


def _queue_latency(table: FloatArray, arrivals: FloatArray, devices: int, delay_s: float,
                   noise: FloatArray | None) -> tuple[FloatArray, int]:
    finish, sizes, _ = dynamic_batches(arrivals, table, devices=devices, max_queue_delay_s=delay_s, noise=noise)
    return finish - arrivals, int(sizes.max()) if sizes.size else 1


def server(service: ServiceTime, *, latency_bound_s: float, percentile: float = 99.0, max_batch: int = 64,
           devices: int = 1, queries: int = 20_000, max_queue_delay_s: float = 0.0, seed: int = 0,
           service_cv: float = 0.0, tolerance: float = 1e-3, rate_hint_per_s: float | None = None) -> ScenarioResult:
    """Poisson arrivals with dynamic batching: the highest rate (samples/s) whose ``percentile`` latency
    meets ``latency_bound_s``, by bisection (to ``tolerance`` relative) on the rate.

    ``rate_hint_per_s`` (e.g. the answer of a shorter run) only moves where the search starts: the bracket is
    found around it (:data:`HINT_STEP` steps down until a rate passes) instead of from a vanishing rate, so a long
    run spends its evaluations at high load, where batches are large and a run costs few batch steps. At a
    vanishing rate no request waits or shares a batch, so that rate's latencies are the batch-1 service times."""
    bound = _positive("latency_bound_s", latency_bound_s)
    q, n = _pct(percentile), _count("queries", queries, 100)
    cap, dev = _count("max_batch", max_batch, 1, 1_000_000), _count("devices", devices, 1, 100_000)
    _count("seed", seed, 0, MAX_SEED)
    table = service_table(service, cap)
    gaps = np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, 0xA77]))).exponential(size=n)
    unit_arrivals = np.cumsum(gaps)  # arrivals at rate 1/s; at rate r they are unit_arrivals / r
    noise = _noise(seed, n, service_cv)
    delay = float(max_queue_delay_s)

    def p_latency(rate: float) -> tuple[float, FloatArray, int]:
        lat, bmax = _queue_latency(table, unit_arrivals / rate, dev, delay, noise)
        return percentile_s(lat, q), lat, bmax

    capacity = server_capacity_per_s(table, dev)
    hi = capacity
    low_rate = capacity * 1e-6
    lat = table[1] * (np.ones(n) if noise is None else noise[:n])  # alone, unqueued: the vanishing-rate limit
    p_low, bmax = percentile_s(lat, q), 1
    if p_low > bound:
        res = _result("server", None, lat, batch=1, bound=bound, samples_per_s=0.0,
                       notes=(f"even at a vanishing rate the p{q:g} latency {p_low * 1e3:.4g} ms exceeds the "
                              f"{bound * 1e3:g} ms bound: no rate passes",))
        return replace(res, bound_percentile=q, passed=False)
    lo, best_lat, best_b = low_rate, lat, bmax
    if rate_hint_per_s is not None and math.isfinite(rate_hint_per_s) and low_rate < rate_hint_per_s < capacity:
        r = float(rate_hint_per_s)
        while r > low_rate:
            p, lat, bmax = p_latency(r)
            if p <= bound:
                lo, best_lat, best_b = r, lat, bmax
                break
            hi, r = r, r * HINT_STEP
    while hi - lo > tolerance * hi:
        mid = 0.5 * (lo + hi)
        p, lat, bmax = p_latency(mid)
        if p <= bound:
            lo, best_lat, best_b = mid, lat, bmax
        else:
            hi = mid
    res = _result("server", None, best_lat, batch=best_b, bound=bound, samples_per_s=lo,
                  notes=(f"highest Poisson rate meeting p{q:g} <= {bound * 1e3:g} ms, dynamic batching up to "
                         f"{cap} on {dev} device(s); capacity at the best batch {capacity:.4g}/s",))
    return replace(res, bound_percentile=q, passed=True)


def server_at_rate(service: ServiceTime, *, rate_per_s: float, latency_bound_s: float, percentile: float = 99.0,
                   max_batch: int = 64, devices: int = 1, queries: int = 20_000, max_queue_delay_s: float = 0.0,
                   seed: int = 0, service_cv: float = 0.0) -> ScenarioResult:
    """Poisson arrivals at a stated rate (samples/s, e.g. a published Server run's QPS) with dynamic batching:
    the ``percentile`` latency at that load and whether it meets ``latency_bound_s`` (metric
    ``latency_p99_ms``). The same seeded arrival gaps as :func:`server`, so a rate that :func:`server` finds
    within the bound passes here."""
    rate = _positive("rate_per_s", rate_per_s, "requests per second")
    bound = _positive("latency_bound_s", latency_bound_s)
    q, n = _pct(percentile), _count("queries", queries, 100)
    cap, dev = _count("max_batch", max_batch, 1, 1_000_000), _count("devices", devices, 1, 100_000)
    _count("seed", seed, 0, MAX_SEED)
    table = service_table(service, cap)
    gaps = np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, 0xA77]))).exponential(size=n)
    lat, bmax = _queue_latency(table, np.cumsum(gaps) / rate, dev, float(max_queue_delay_s),
                               _noise(seed, n, service_cv))
    res = _result("server", q, lat, batch=bmax, bound=bound, samples_per_s=rate,
                  notes=(f"Poisson arrivals at {rate:.4g}/s, dynamic batching up to {cap} on {dev} device(s)",))
    capacity = server_capacity_per_s(table, dev)
    if rate >= capacity:  # unstable queue: a finite simulation would understate the backlog of a full run
        return replace(res, value=math.inf, passed=False,
                       notes=(f"Poisson arrivals at {rate:.4g}/s exceed the capacity {capacity:.4g}/s of {dev} "
                              f"device(s) at the best batch up to {cap}: the queue grows without bound over an "
                              f"MLPerf Server run (at least {SERVER_MIN_QUERIES:,} queries and 600 s)",))
    return res


HINT_STEP = 0.95  # a hinted search steps its lower end down by this factor until the rate passes

SERVER_MIN_QUERIES = 270_336
"""MLPerf Inference Server runs last at least 600 s and 270,336 queries (``mlcommons/inference``
``loadgen/mlperf.conf``: ``*.Server.min_query_count``, ``*.*.min_duration = 600000`` ms): a load above the
system's capacity builds a backlog far beyond any latency bound over such a run."""


def server_capacity_per_s(table: FloatArray, devices: int) -> float:
    """Highest sustainable rate (samples/s) of ``devices`` devices with the service table ``table`` (index = batch
    size): devices x max over b of b / t(b). Poisson arrivals at or above it make the queue unstable."""
    b = np.arange(1, len(table))
    return float(devices * np.max(b / table[1:]))


def constant_stream(service: ServiceTime, *, rate_per_s: float, latency_bound_s: float | None = None,
                    percentile: float = 99.9, max_batch: int = 1, devices: int = 1, queries: int = 6_000,
                    max_queue_delay_s: float = 0.0, service_cv: float = 0.0, seed: int = 0) -> ScenarioResult:
    """Samples at a fixed rate (frames), served as they come (dynamic batching up to ``max_batch``):
    the ``percentile`` (p99.9) latency at that rate, against the bound when one is given."""
    rate = _positive("rate_per_s", rate_per_s, "requests per second")
    q, n = _pct(percentile), _count("queries", queries)
    bound = _seconds("latency_bound_s", latency_bound_s)
    cap, dev = _count("max_batch", max_batch, 1, 1_000_000), _count("devices", devices, 1, 100_000)
    table = service_table(service, cap)
    arrivals = np.arange(n, dtype=float) / rate
    lat, bmax = _queue_latency(table, arrivals, dev, float(max_queue_delay_s), _noise(seed, n, service_cv))
    return _result("constant_stream", q, lat, batch=bmax, bound=bound, samples_per_s=rate,
                   notes=(f"{rate:g} samples/s for {n} samples, batches up to {cap} on {dev} device(s)",))


def run_scenario(scenario: str, service: ServiceTime, **settings: Any) -> ScenarioResult:
    """Dispatch by MLPerf scenario name (``vision_cases.csv`` spelling) with that scenario's settings."""
    funcs: dict[str, Callable[..., ScenarioResult]] = {
        "single_stream": single_stream, "multi_stream": multi_stream, "server": server, "offline": offline,
        "constant_stream": constant_stream}
    if scenario not in funcs:
        raise InvalidSettingError(f"unknown scenario '{scenario}'; allowed: {', '.join(SCENARIOS)}")
    try:
        return funcs[scenario](service, **settings)
    except TypeError as exc:
        raise InvalidSettingError(f"scenario {scenario}: {exc}") from None
