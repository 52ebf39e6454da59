"""How requests arrive: Poisson at a rate, one burst, a closed loop of users, a trace, or Poisson
requests gathered by a harness-side batcher (:class:`HarnessBatchedArrivals`).

Each spec is a frozen pydantic model; :func:`make_source` turns one into an arrival
source the simulator polls (``peek_time_s``/``pop``; ``on_finish`` for closed loops).
Randomness comes from independent named streams (:class:`Stream`), all derived from one seed
and no global RNG: arrival gaps, input lengths and
output lengths each have their own, so two rates with one seed share their lengths and
their arrival times differ only by the factor of the rates (common random numbers).
"""

from __future__ import annotations

import math
from enum import IntEnum
from pathlib import PurePath
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import Field, field_validator

from inferchip.errors import InvalidSettingError
from inferchip.sim.load import lengths
from inferchip.sim.load.trace import load_trace
from inferchip.sim.runs.engine import EventQueue, Priority
from inferchip.sim.step.protocol import FloatArray, IntArray
from inferchip.workload.limits import MAX_CONCURRENCY, MAX_REQUESTS, MAX_SEED


class Stream(IntEnum):
    """Named random streams; the value is part of the stream's seed, so never renumber."""

    ARRIVALS = 0
    INPUT_TOKENS = 1
    OUTPUT_TOKENS = 2


def stream(seed: int, which: Stream) -> np.random.Generator:
    """A numpy Generator for ``which``, fully determined by ``(seed, which)``."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([int(seed), int(which)])))


MAX_TIME_S = 1e9  # s (31.7 years): times beyond lose sub-microsecond resolution in float64
_LEN_CHUNK = 4096
POISSON_CHUNK_MARGIN = 1.05  # draw 5 % more gaps than the expected count ...
POISSON_CHUNK_EXTRA = 64  # ... plus a few, so one draw nearly always covers the duration


class _Spec(lengths.SettingModel):
    """Frozen, no extra fields, finite numbers; a bad field raises InvalidSettingError naming it."""


class _WithLengths(_Spec):
    input_tokens: lengths.LengthSpec = Field(description="Prompt length per request (int, (mean, spread) or samples).")
    output_tokens: lengths.LengthSpec = Field(description="Generated tokens per request, first token included.")

    @field_validator("input_tokens", "output_tokens", mode="before")
    @classmethod
    def _coerce(cls, value: Any, info: Any) -> Any:
        return lengths.as_length(value, info.field_name)


class PoissonArrivals(_WithLengths):
    """Open loop, exponential gaps at ``rate_per_s`` (MLPerf Server / Interactive)."""

    kind: Literal["poisson"] = "poisson"
    rate_per_s: float = Field(gt=0, description="Mean arrival rate, requests per second.")


class BurstArrivals(_WithLengths):
    """All requests at one instant (MLPerf Offline, max-throughput benchmarks)."""

    kind: Literal["burst"] = "burst"
    at_s: float = Field(0.0, ge=0, le=MAX_TIME_S, description="Arrival time of every request, s.")


class ClosedLoopArrivals(_WithLengths):
    """``concurrency`` users; each sends its next request ``think_time_s`` after the last one finished."""

    kind: Literal["closed_loop"] = "closed_loop"
    concurrency: int = Field(ge=1, le=MAX_CONCURRENCY, description="Users, each with at most one request outstanding.")
    think_time_s: float = Field(0.0, ge=0, le=MAX_TIME_S,
                                description="Pause between a finish and the user's next request, s.")


def benchmark_clients(concurrency: int, input_tokens: int, output_tokens: int,
                      range_ratio: float = lengths.RANGE_RATIO, think_time_s: float = 0.0) -> ClosedLoopArrivals:
    """The closed loop of a serving benchmark (``benchmark_serving --max-concurrency C --random-range-ratio r``):
    ``concurrency`` clients, each sending its next request ``think_time_s`` after its last one finished, every
    request's input and output drawn independently from ``[r L, L]``
    (:func:`~inferchip.sim.load.lengths.uniform_length`).
    All clients send at once, as the benchmark's ``--request-rate inf`` does; the independent lengths put them
    out of step after their first request (:mod:`inferchip.sim.engines.bench`, which ``validate`` runs)."""
    return ClosedLoopArrivals(concurrency=concurrency, think_time_s=think_time_s,
                              input_tokens=lengths.uniform_length(input_tokens, range_ratio),
                              output_tokens=lengths.uniform_length(output_tokens, range_ratio))


class TraceArrivals(_Spec):
    """Replay a CSV/JSONL file with columns ``arrival_s, input_tokens, output_tokens``."""

    kind: Literal["trace"] = "trace"
    path: str = Field(description="Trace file (.csv or .jsonl).")

    @field_validator("path", mode="before")
    @classmethod
    def _path_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, PurePath) else value


class HarnessBatchedArrivals(_WithLengths):
    """Poisson queries gathered by a benchmark harness's batcher before an engine sees them.

    The system receives Poisson queries at ``rate_per_s x instances``; the harness collects
    them and sends the collected ones as one batch when ``max_batch`` are waiting, or once
    ``window_s`` has passed since its last send (at the next query if none is waiting then),
    each batch to the next of ``instances`` engine instances in turn (round robin). This
    spec is the share of the instance simulated (every ``instances``-th batch); a request's
    arrival (its TTFT's start) is when the harness received it, and the engine sees it when
    its batch is sent (:func:`harness_send_times_s`). Source: AMD's MLPerf v4.1 Llama-2-70B
    Server harness (``SyncServerSUT.batch_samples_loop``, ``next_device_id`` round robin).
    """

    kind: Literal["harness_batched"] = "harness_batched"
    rate_per_s: float = Field(gt=0, description="Mean query rate per engine instance, requests per second.")
    instances: int = Field(ge=1, le=MAX_CONCURRENCY, description="Engine instances the batches go to in turn.")
    window_s: float = Field(gt=0, le=MAX_TIME_S, description="Longest wait of the batcher between sends, s.")
    max_batch: int = Field(ge=1, le=MAX_REQUESTS, description="Queries that make a batch at once.")


ArrivalSpec = Annotated[
    PoissonArrivals | BurstArrivals | ClosedLoopArrivals | TraceArrivals | HarnessBatchedArrivals,
    Field(discriminator="kind")
]


def harness_send_times_s(issue_s: FloatArray, window_s: float, max_batch: int) -> tuple[FloatArray, IntArray]:
    """(send time of each query's batch, batch index of each query) for sorted issue times.

    The batcher (:class:`HarnessBatchedArrivals`) sends its waiting queries when ``max_batch``
    are waiting (at the arrival of the last one) or at ``max(last send + window_s, first waiting
    arrival)``; its clock starts at the first query."""
    t = np.asarray(issue_s, float)
    send = np.empty(t.size)
    batch = np.empty(t.size, dtype=np.int64)
    stamp = float(t[0]) if t.size else 0.0
    start, k = 0, 0
    while start < t.size:
        due = max(stamp + window_s, float(t[start]))
        # queries that arrive before the batch is due, at most max_batch of them
        end = min(int(np.searchsorted(t, due, side="left")), start + max_batch)
        end = max(end, start + 1)
        at = float(t[end - 1]) if end - start == max_batch and float(t[end - 1]) < due else due
        send[start:end] = at
        batch[start:end] = k
        stamp, start, k = at, end, k + 1
    return send, batch


class OpenLoopSource:
    """Arrivals known in advance (sorted times with their lengths)."""

    closed_loop = False

    def __init__(self, arrival_s: FloatArray, input_tokens: IntArray, output_tokens: IntArray,
                 issued_s: FloatArray | None = None):
        self._t = arrival_s.tolist()
        self._in = input_tokens.tolist()
        self._out = output_tokens.tolist()
        self._issued = None if issued_s is None else issued_s.tolist()  # when the client sent it (<= arrival)
        self._i = 0
        self.expected_total: int | None = len(self._t)
        self.max_input_tokens = int(input_tokens.max()) if len(self._t) else 0
        self.max_total_tokens = int((input_tokens + output_tokens).max()) if len(self._t) else 0

    @property
    def issue_end_s(self) -> float:
        """Time of the last arrival."""
        return self._t[-1] if self._t else 0.0

    def peek_time_s(self) -> float:
        return self._t[self._i] if self._i < len(self._t) else math.inf

    def pop(self) -> tuple[float, int, int]:
        i = self._i
        self._i = i + 1
        return self._t[i], self._in[i], self._out[i]

    def issued_s(self, arrival_s: float) -> float:
        """When the request last popped was sent by its client: its latencies start there (a harness
        batcher holds it until ``arrival_s``, when the engine sees it); ``arrival_s`` otherwise."""
        return arrival_s if self._issued is None else self._issued[self._i - 1]

    def on_finish(self, time_s: float) -> None:
        """Open loop: a finish changes nothing."""


class ClosedLoopSource:
    """Users that wait for their request to finish (plus a think time) before sending the next."""

    closed_loop = True

    def __init__(self, spec: ClosedLoopArrivals, num_requests: int | None, duration_s: float | None, seed: int):
        self._spec = spec
        self._limit = num_requests if num_requests is not None else math.inf
        self._duration_s = duration_s if duration_s is not None else math.inf
        self._rng_in = stream(seed, Stream.INPUT_TOKENS)
        self._rng_out = stream(seed, Stream.OUTPUT_TOKENS)
        self._in: list[int] = []
        self._out: list[int] = []
        self._issued = 0
        self._queue: EventQueue[None] = EventQueue()
        self._scheduled = 0
        for _ in range(spec.concurrency):
            self._schedule(0.0)
        self.expected_total = num_requests
        self.max_input_tokens = lengths.max_tokens(spec.input_tokens)
        self.max_total_tokens = self.max_input_tokens + lengths.max_tokens(spec.output_tokens)
        self.issue_end_s = 0.0

    def _schedule(self, time_s: float) -> None:
        if self._scheduled < self._limit and time_s < self._duration_s:
            self._queue.push(time_s, Priority.ARRIVAL, None)
            self._scheduled += 1

    def peek_time_s(self) -> float:
        return self._queue.peek_time_s()

    def pop(self) -> tuple[float, int, int]:
        time_s, _ = self._queue.pop()
        if self._issued >= len(self._in):
            self._in.extend(lengths.sample(self._spec.input_tokens, self._rng_in, _LEN_CHUNK).tolist())
            self._out.extend(lengths.sample(self._spec.output_tokens, self._rng_out, _LEN_CHUNK).tolist())
        i = self._issued
        self._issued += 1
        self.issue_end_s = time_s
        return time_s, self._in[i], self._out[i]

    def on_finish(self, time_s: float) -> None:
        self._schedule(time_s + self._spec.think_time_s)

    def issued_s(self, arrival_s: float) -> float:
        """A user's request reaches the engine when sent."""
        return arrival_s


ArrivalSource = OpenLoopSource | ClosedLoopSource  # what make_source gives a run
ArrivalsLike = ArrivalSpec | dict[str, object]  # a spec, or its fields to validate (simulate)


def poisson_times_s(rate_per_s: float, rng: np.random.Generator, num: int | None,
                    duration_s: float | None) -> FloatArray:
    """Cumulative sums of standard exponential gaps divided by the rate, cut at ``num`` or ``duration_s``."""
    if num is not None:
        times = np.cumsum(rng.standard_exponential(num)) / rate_per_s
    elif duration_s is None:
        raise InvalidSettingError("Poisson arrivals need num_requests or duration_s to end the run")
    else:
        chunks: list[FloatArray] = []
        total = 0.0
        chunk = int(rate_per_s * duration_s * POISSON_CHUNK_MARGIN) + POISSON_CHUNK_EXTRA
        while total < duration_s:
            gaps = np.cumsum(rng.standard_exponential(chunk)) / rate_per_s + total
            chunks.append(gaps)
            total = float(gaps[-1])
        times = np.concatenate(chunks)
    if duration_s is not None:
        times = times[times < duration_s]
    return times


def make_source(
    spec: ArrivalSpec, duration_s: float | None, num_requests: int | None, seed: int
) -> ArrivalSource:
    """The arrival source for ``spec``; limits are checked here with messages naming them.

    Bounds (``seed``, requests: :mod:`inferchip.workload.limits`, the CLI's too): ``seed`` in
    0..2**63-1; ``duration_s`` finite, > 0 and at most ``MAX_TIME_S``;
    ``num_requests`` and the requests a Poisson run expects (rate x duration) at most
    ``MAX_REQUESTS`` (memory and time grow with them: a larger run is refused, not attempted).
    """
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or not 0 <= seed <= MAX_SEED:
        raise InvalidSettingError(
            f"seed: value {seed!r} must be a whole number in 0..2**{MAX_SEED.bit_length()}-1 ({MAX_SEED})")
    if duration_s is not None and (isinstance(duration_s, bool) or not isinstance(duration_s, int | float)
                                   or not 0 < duration_s <= MAX_TIME_S):  # NaN and 10**400 too
        raise InvalidSettingError(
            f"duration_s: value {duration_s!r} must be a positive number of seconds, at most {MAX_TIME_S:g}")
    if num_requests is not None:
        whole = isinstance(num_requests, int | np.integer) or (
            isinstance(num_requests, float) and math.isfinite(num_requests) and num_requests.is_integer())
        if isinstance(num_requests, bool) or not whole or not 1 <= num_requests <= MAX_REQUESTS:
            raise InvalidSettingError(
                f"num_requests: value {num_requests!r} must be a whole number in 1..{MAX_REQUESTS:,} (the simulator's "
                "cap on requests per run)")
        num_requests = int(num_requests)
    if isinstance(spec, PoissonArrivals | HarnessBatchedArrivals) and duration_s is not None and num_requests is None:
        expected = spec.rate_per_s * duration_s
        if expected > MAX_REQUESTS:
            raise InvalidSettingError(
                f"duration_s: {spec.rate_per_s:g} requests/s x {duration_s:g} s = {expected:.4g} expected requests, "
                f"above the simulator's cap of {MAX_REQUESTS:,} per run; allowed: rate x duration <= {MAX_REQUESTS:,} "
                "(or give num_requests)")
    if isinstance(spec, ClosedLoopArrivals):
        if num_requests is None and duration_s is None:
            raise InvalidSettingError("closed-loop arrivals need num_requests or duration_s to end the run")
        return ClosedLoopSource(spec, num_requests, duration_s, seed)
    if isinstance(spec, TraceArrivals):
        times, inp, out = load_trace(spec.path)
        keep = np.ones(times.size, dtype=bool) if duration_s is None else times < duration_s
        times, inp, out = times[keep], inp[keep], out[keep]
        if num_requests is not None:
            times, inp, out = times[:num_requests], inp[:num_requests], out[:num_requests]
        if times.size > MAX_REQUESTS:
            raise InvalidSettingError(
                f"{spec.path}: {times.size:,} requests, above the simulator's cap of {MAX_REQUESTS:,} per run; "
                "give num_requests or duration_s to replay part of it")
        return OpenLoopSource(times, inp, out)
    if isinstance(spec, HarnessBatchedArrivals):
        return _harness_source(spec, duration_s, num_requests, seed)
    if isinstance(spec, PoissonArrivals):
        if num_requests is None and duration_s is None:
            raise InvalidSettingError("Poisson arrivals need num_requests or duration_s to end the run")
        times = poisson_times_s(spec.rate_per_s, stream(seed, Stream.ARRIVALS), num_requests, duration_s)
    elif isinstance(spec, BurstArrivals):
        if num_requests is None:
            raise InvalidSettingError("burst arrivals need num_requests (how many requests arrive at once)")
        times = np.full(int(num_requests), spec.at_s)
    else:
        raise InvalidSettingError(
            f"arrivals: {type(spec).__name__} is not an arrival spec; allowed: PoissonArrivals, BurstArrivals, "
            "ClosedLoopArrivals, TraceArrivals, HarnessBatchedArrivals"
        )
    if isinstance(spec, PoissonArrivals) and times.size and times[-1] > MAX_TIME_S:
        raise InvalidSettingError(
            f"rate_per_s: value {spec.rate_per_s:g} spreads {times.size} requests over {times[-1]:.4g} s, beyond "
            f"{MAX_TIME_S:g} s (float64 times would lose the step times); allowed: num_requests / rate <= "
            f"{MAX_TIME_S:g} s")
    n = times.size
    inp = lengths.sample(spec.input_tokens, stream(seed, Stream.INPUT_TOKENS), n)
    out = lengths.sample(spec.output_tokens, stream(seed, Stream.OUTPUT_TOKENS), n)
    return OpenLoopSource(times, inp, out)


def _harness_source(spec: HarnessBatchedArrivals, duration_s: float | None, num_requests: int | None,
                    seed: int) -> OpenLoopSource:
    """Instance 0's share of the system's Poisson queries after the harness batcher: every
    ``instances``-th batch, each query arriving when its batch is sent and issued when sent by LoadGen."""
    if num_requests is None and duration_s is None:
        raise InvalidSettingError("harness-batched arrivals need num_requests or duration_s to end the run")
    rng = stream(seed, Stream.ARRIVALS)
    system_rate = spec.rate_per_s * spec.instances
    want = num_requests if num_requests is not None else int(spec.rate_per_s * (duration_s or 0.0)) + 1
    n_sys = int(want * spec.instances * POISSON_CHUNK_MARGIN) + POISSON_CHUNK_EXTRA * spec.instances
    while True:
        issued = poisson_times_s(system_rate, rng, n_sys, None) if n_sys else np.empty(0)
        send, batch = harness_send_times_s(issued, spec.window_s, spec.max_batch)
        mine = batch % spec.instances == 0
        if duration_s is not None:
            mine &= issued < duration_s
        # enough of instance 0's queries, or the system's arrivals already cover the duration
        if int(mine.sum()) >= want or (duration_s is not None and issued.size and issued[-1] >= duration_s):
            break
        n_sys *= 2
        rng = stream(seed, Stream.ARRIVALS)  # same stream again: the longer draw extends the shorter one
    times, sent = issued[mine], send[mine]
    if num_requests is not None:
        times, sent = times[:num_requests], sent[:num_requests]
    if times.size > MAX_REQUESTS:
        raise InvalidSettingError(f"harness-batched arrivals: {times.size:,} requests, above the simulator's cap of "
                                  f"{MAX_REQUESTS:,} per run; give num_requests or a shorter duration_s")
    n = times.size
    inp = lengths.sample(spec.input_tokens, stream(seed, Stream.INPUT_TOKENS), n)
    out = lengths.sample(spec.output_tokens, stream(seed, Stream.OUTPUT_TOKENS), n)
    return OpenLoopSource(sent, inp, out, issued_s=times)
