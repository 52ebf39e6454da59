"""Two queue engines for vision work whose service time depends only on the batch size.

* :func:`fifo_finish_s`: one server, jobs in a fixed order, each with its own service time. The
  Lindley recursion ``f_j = max(r_j, f_{j-1}) + s_j`` unrolls to
  ``f_j = C_j + max_{i<=j} (r_i - C_{i-1})`` with ``C`` the running sum of service times, so a whole
  hour of frames is two ``cumsum`` and one ``maximum.accumulate`` (no loop per job).
* :func:`dynamic_batches`: requests arriving at given times, served by ``devices`` identical
  servers that each take up to ``max_batch`` waiting requests when they fall free (optionally
  waiting up to ``max_queue_delay_s`` for a fuller batch). The batch a server takes depends on the
  previous batches, so this is a loop, but one step per *batch* (not per request or event) with
  Python floats and :mod:`bisect` on the sorted arrivals.

Service times come from a :data:`ServiceTime` callable: batch sizes (integer array) -> seconds per
batch, as the vision cost model returns them (``frame_cost(...).latency_s``).
"""

from __future__ import annotations

import bisect
import heapq
import math
from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from inferchip.errors import InvalidSettingError
from inferchip.sim.step.protocol import FloatArray, IntArray

ServiceTime = Callable[[IntArray], npt.ArrayLike]  # seconds per batch, for batch sizes
"""Batch sizes (int array, each >= 1) -> seconds to serve one batch of that size (same shape)."""

PERCENTILES = (50.0, 90.0, 99.0, 99.9)


def service_table(service: ServiceTime, max_batch: int) -> FloatArray:
    """Seconds per batch for batch sizes ``0..max_batch`` (index = batch size; entry 0 is 0).

    Raises InvalidSettingError when ``max_batch < 1`` or a service time is not a finite positive
    number (naming the batch size and the value).
    """
    if isinstance(max_batch, bool) or not isinstance(max_batch, (int, np.integer)) or max_batch < 1:
        raise InvalidSettingError(f"max_batch = {max_batch!r}: must be a whole number >= 1")
    batches = np.arange(1, int(max_batch) + 1)
    times = np.asarray(service(batches), dtype=float).reshape(-1)
    if times.shape != batches.shape:
        raise InvalidSettingError(
            f"the service-time function returned {times.shape[0]} values for {batches.shape[0]} batch sizes")
    bad = ~np.isfinite(times) | (times <= 0)
    if bad.any():
        i = int(np.argmax(bad))
        raise InvalidSettingError(
            f"service time at batch {i + 1} = {times[i]!r} s: must be a finite number of seconds > 0")
    return np.concatenate(([0.0], times))


def fifo_finish_s(ready_s: npt.ArrayLike, service_s: npt.ArrayLike) -> FloatArray:
    """Finish times of jobs served one at a time in the given order by one server.

    Job ``j`` starts at ``max(ready_s[j], finish[j-1])`` and takes ``service_s[j]`` seconds
    (Lindley's recursion), computed without a loop: ``finish_j = C_j + max_{i<=j}(ready_i - C_{i-1})``
    where ``C`` is the cumulative service time.
    """
    ready = np.asarray(ready_s, dtype=float)
    service = np.asarray(service_s, dtype=float)
    if ready.shape != service.shape:
        raise InvalidSettingError(f"{ready.shape[0]} ready times but {service.shape[0]} service times")
    if ready.size == 0:
        return ready.copy()
    total = np.cumsum(service)
    return total + np.maximum.accumulate(ready - (total - service))


def dynamic_batches(
    arrivals_s: npt.ArrayLike,
    table_s: FloatArray,
    *,
    devices: int = 1,
    max_queue_delay_s: float = 0.0,
    noise: npt.ArrayLike | None = None,
) -> tuple[FloatArray, IntArray, IntArray]:
    """Serve requests arriving at sorted ``arrivals_s`` with dynamic batching on ``devices`` servers.

    When a server falls free it takes every waiting request up to ``max_batch = len(table_s) - 1``
    (at least one: an idle server starts at the next arrival). With ``max_queue_delay_s > 0`` it
    waits, from the oldest waiting request's arrival, up to that delay for a full batch (as a
    serving framework's batching window does). A batch of ``b`` takes ``table_s[b]`` seconds, times
    ``noise[j]`` for the ``j``-th batch when a multiplier per batch is given (at least one per request).

    Returns ``(finish_s per request, batch size per batch, device per batch)``.
    """
    arr = np.asarray(arrivals_s, dtype=float)
    if arr.size and (not np.all(np.isfinite(arr)) or np.any(np.diff(arr) < 0)):
        raise InvalidSettingError("arrival times must be finite and sorted")
    if isinstance(devices, bool) or not isinstance(devices, (int, np.integer)) or devices < 1:
        raise InvalidSettingError(f"devices = {devices!r}: must be a whole number >= 1")
    if not math.isfinite(max_queue_delay_s) or max_queue_delay_s < 0:
        raise InvalidSettingError(f"max_queue_delay_s = {max_queue_delay_s!r}: must be a finite number >= 0")
    max_batch = len(table_s) - 1
    table = [float(x) for x in table_s]
    times = arr.tolist()
    n = len(times)
    mult = None if noise is None else np.asarray(noise, dtype=float).tolist()
    if mult is not None and len(mult) < n:
        raise InvalidSettingError(f"{len(mult)} noise multipliers for {n} requests: need one per request")
    # the server that falls free first takes the next batch (the lowest index among ties): a heap of (free, index)
    free = [(0.0, d) for d in range(int(devices))]
    ends: list[float] = []
    sizes: list[int] = []
    owners: list[int] = []
    delay = float(max_queue_delay_s)
    bisect_right, heapreplace = bisect.bisect_right, heapq.heapreplace
    i = 0
    while i < n:
        at, dev = free[0]
        t_i = times[i]
        start = at if at > t_i else t_i
        if delay > 0:
            last = i + max_batch - 1
            ready = min(t_i + delay, times[last]) if last < n else t_i + delay
            start = start if start > ready else ready
        j = bisect_right(times, start, i, min(n, i + max_batch))
        b = j - i if j > i else 1
        end = start + (table[b] if mult is None else table[b] * mult[len(sizes)])
        heapreplace(free, (end, dev))
        ends.append(end)
        sizes.append(b)
        owners.append(dev)
        i += b
    size_arr = np.asarray(sizes, dtype=int)
    finish = np.repeat(np.asarray(ends, dtype=float), size_arr) if sizes else np.empty(0)
    return finish, size_arr, np.asarray(owners, dtype=int)


def percentile_s(values_s: npt.ArrayLike, q: float) -> float:
    """The ``q``-th percentile by nearest rank (the sample at rank ceil(q/100 * n), as MLPerf LoadGen
    reports per-query latency percentiles); NaN for no samples."""
    v = np.asarray(values_s, dtype=float)
    if v.size == 0:
        return float("nan")
    return float(np.percentile(v, q, method="inverted_cdf"))


def latency_summary_s(values_s: npt.ArrayLike) -> dict[str, float]:
    """p50/p90/p99/p99.9 (nearest rank), mean and max of latencies in seconds, keyed ``p50`` ..."""
    v = np.asarray(values_s, dtype=float)
    qs = np.percentile(v, PERCENTILES, method="inverted_cdf") if v.size else [float("nan")] * len(PERCENTILES)
    out = {f"p{q:g}": float(x) for q, x in zip(PERCENTILES, qs, strict=True)}
    out["mean"] = float(v.mean()) if v.size else float("nan")
    out["max"] = float(v.max()) if v.size else float("nan")
    return out
