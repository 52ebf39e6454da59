"""A replica whose scheduler polls its request queue only every few decode iterations.

SGLang's scheduler, launched with ``--scheduler-recv-interval N`` (the InferenceMAX launch
scripts use 10 below 16 clients and 30 from 16 on), takes new requests from the tokenizer only
when a counter reaches ``N``: each decode-only iteration adds 1, an iteration with prefill work
adds the whole interval (so the next iteration polls), and an idle scheduler polls at once. A
request that arrives while the engine decodes therefore waits for the next poll, on average
about half an interval of decode steps, before it can be prefilled: that wait is part of its
TTFT and grows with the decode step time, i.e. with concurrency.

Everything else is :class:`~inferchip.sim.batching.replica.Replica`: a request that has been received
joins the waiting queue and is admitted under the same running-batch cap, token budget and KV
blocks.
"""

from __future__ import annotations

from inferchip.errors import InvalidSettingError
from inferchip.sim.batching.replica import Replica
from inferchip.sim.batching.replica_state import Chunk
from inferchip.sim.batching.scheduler import DECODE, SWAPPED, SchedulerConfig, Seq
from inferchip.sim.batching.stretch import MIN_STRETCH_STEPS, decode_stretch
from inferchip.sim.results.request import RequestTable
from inferchip.sim.step.steptime import StepTimer


class PollingReplica(Replica):
    """:class:`~inferchip.sim.batching.replica.Replica` with a request inbox polled every ``recv_interval_steps``
    decode-only steps (module doc). ``recv_interval_steps = 1`` behaves as the plain replica.

    ``async_scheduling``: the scheduler plans each step while the one before it runs (vLLM
    ``--async-scheduling``; SGLang's and TensorRT-LLM's overlap schedulers, on by default), so the
    poll that decides step ``k`` happens when step ``k - 1`` starts and sees only what arrived by
    then: a request arriving during a step is scheduled two steps later at the earliest
    (:mod:`inferchip.sim.engines.scheduling`). An idle engine has nothing in flight and plans at once, with every
    request that reached it by then: vLLM V1 ``EngineCoreProc._process_input_queue`` (vllm-project/vllm
    vllm/v1/engine/core.py, read at @00080ee13c) blocks for one request while idle, then drains the input queue
    before the step, so prompts sent at the same instant (a closed loop's first wave) share the first step.
    ``wake_takes_queue=False`` (TensorRT-LLM): the woken engine takes only the request that woke it, the rest at
    its next fetch, at the top of the next iteration, so they join the second step (with or without
    ``async_scheduling``): ``ExecutorRequestQueue._get_from_request_queue`` blocks on an empty queue while the
    executor is idle and returns the one item it got (NVIDIA/TensorRT-LLM
    tensorrt_llm/_torch/pyexecutor/executor_request_queue.py, read at @007a7508).
    An engine whose last step still runs when requests arrive (it has nothing to plan after it) plans its next step
    when that step ends, with everything that arrived by then, whatever ``wake_takes_queue`` says: vLLM and SGLang
    drain their queue at the top of every loop, and TensorRT-LLM's idle fetch, finding its queue not empty, takes
    every item in it (the same ``_get_from_request_queue``)."""

    def __init__(self, index: int, timer: StepTimer, config: SchedulerConfig, kv_capacity_tokens: int,
                 table: RequestTable, recv_interval_steps: int = 1, async_scheduling: bool = False,
                 wake_takes_queue: bool = True):
        super().__init__(index, timer, config, kv_capacity_tokens, table)
        self.wake_takes_queue = bool(wake_takes_queue)
        self.wake_k = -1  # the step index at which an arrival last woke the idle engine
        self.wake_in_flight = False  # that arrival came while the engine's last step still ran
        if recv_interval_steps < 1:
            raise ValueError(f"recv_interval_steps must be >= 1, got {recv_interval_steps}")
        self.interval = int(recv_interval_steps)
        self.lookahead = bool(async_scheduling)
        self.inbox: list[tuple[int, int, int]] = []  # arrived during the step now running
        self.seen: list[tuple[int, int, int]] = []  # arrived before it started (async scheduling only)
        self.counter = self.interval  # the first iteration polls
        self.polls = 0

    @property
    def idle(self) -> bool:
        return not (self.n_running or self.waiting or self.swapped)

    @property
    def held(self) -> int:
        """Received requests the scheduler has not taken yet."""
        return len(self.inbox) + len(self.seen)

    @property
    def load(self) -> int:
        return super().load + self.held

    def enqueue(self, rid: int, prompt: int, out: int, time_s: float) -> None:
        # an idle scheduler polls continuously; so does one just woken whose first step has not run yet, no step
        # reaching past this arrival (what waits arrived at this same instant): the request joins that step's plan.
        # An engine woken while its last step ran plans at that step's end with all that came by then (class doc).
        woken = self.k == self.wake_k and (self.wake_in_flight and time_s <= self.clock_s
                                           or self.wake_takes_queue and self.clock_s <= time_s)
        if (self.idle or woken) and not self.held:
            if self.idle:
                self.wake_k = self.k
                self.wake_in_flight = time_s < self.clock_s
            super().enqueue(rid, prompt, out, time_s)
            return
        self.inbox.append((rid, prompt, out))
        self.table.replica[rid] = self.index

    def _poll(self, everything: bool = False) -> None:
        """Take what the poll can see into the waiting queue (all held requests when idle or
        ``everything``); the counter restarts."""
        taken = self.seen + self.inbox if everything or not self.lookahead else self.seen
        for rid, prompt, out in taken:
            self.waiting.append(Seq(rid, prompt, out))
        if everything or not self.lookahead:
            self.inbox = []
        self.seen = []
        self.counter = 0
        self.polls += 1

    def _poll_due(self) -> bool:
        """Whether the scheduler takes requests before the next step."""
        return self.counter >= self.interval

    def _woken_alone(self) -> bool:
        """Whether the next step is the first of an engine woken from idle by one request that it takes alone
        (``wake_takes_queue`` False): what arrived with it waits for the fetch after that step. Planning ahead,
        that poll sees nothing yet (what arrived is moved to ``seen`` after it), so only the engine without
        ``async_scheduling`` skips it."""
        return not (self.lookahead or self.wake_takes_queue or self.wake_in_flight) and self.k == self.wake_k

    def _stepped(self, prefilled: bool) -> None:
        """A step ran (a decode iteration adds 1 to the poll counter, any other the whole interval)."""
        self.counter += self.interval if prefilled else 1

    def _stretched(self, span: int) -> None:
        """``span`` decode-only steps ran in bulk with nothing held: the counter runs on modulo the interval."""
        n = self.interval
        self.counter = ((0 if self.counter >= n else self.counter) + span) % n

    def run_until(self, limit_s: float, stop_on_finish: bool = False,
                  min_steps: int = 0) -> list[tuple[float, int]]:
        """As :meth:`Replica.run_until`, polling the inbox when due (and at once when idle)."""
        finished: list[tuple[float, int]] = []
        steps = 0
        while True:
            if self.held and self.idle:
                self._poll(everything=True)
            if self.idle:
                break
            if self.clock_s >= limit_s and steps >= min_steps:
                break
            if (not self.held and self.n_dec and not self.prefilling and not self.swapped
                    and limit_s - self.clock_s > MIN_STRETCH_STEPS * self.last_dt_s):
                span = decode_stretch(self, limit_s)
                if span:
                    self._stretched(span)
                    steps += span
                    if self.clock_s >= limit_s and steps >= min_steps:
                        break
            if self._poll_due() and not self._woken_alone():
                self._poll()
            if self.lookahead:  # what arrived during the last step is seen by the next step's plan
                self.seen.extend(self.inbox)
                self.inbox = []
            logged = len(self.log["prefill_tokens"])
            self._step(finished)
            steps += 1
            self._stepped(self.log["prefill_tokens"][logged] > 0)
            if stop_on_finish and finished:
                if self.held and self.idle:
                    self._poll(everything=True)
                break
        return finished


class DeliveringDecodeReplica(Replica):
    """A disaggregated decode worker that delivers a request's first token to the client: the token
    the prefill worker produced travels with the KV cache and is streamed by the decode worker when
    it first runs the request (SGLang PD and Dynamo stream every token from the decode worker), so
    the client's TTFT ends with the decode step that takes the request in, after the KV transfer
    and any wait for a decode slot or KV blocks.

    ``reserve_tokens`` (``R``; 0: none): the worker takes an arrived request only while its free KV,
    less ``R`` tokens for every request it runs, holds the request's prompt plus ``R``, oldest first,
    stopping at the first that does not fit (SGLang ``DecodePreallocQueue.pop_preallocated`` and
    ``_allocatable_tokens``, sgl-project/sglang ``python/sglang/srt/disaggregation/decode.py``:
    ``allocatable = free - R x (running + transfer + waiting)``, a request needs ``prompt + R`` and
    takes them; ``R`` = ``SGLANG_NUM_RESERVED_DECODE_TOKENS``, 512 by default). SGLang applies the
    rule before the prompt is prefilled (the prefill worker waits for the decode worker's page
    reservation); here the request waits after its prefill, the same wait in its TTFT.

    ``recv_interval_steps`` (``N``; 1: every step): a busy worker takes new requests only at every
    ``N``-th step (SGLang ``--scheduler-recv-interval``: ``SchedulerRecvSkipper`` adds 1 per decode
    iteration and polls when the count reaches ``N``), an idle one at once; a request arriving
    between two polls waits for the next (on average about ``N / 2`` decode steps). SGLang's decode
    server takes the request before the prefill starts; here it is taken when its KV has arrived
    (the same wait, the poll's phase being unrelated to the arrival).

    ``retract_to_host`` (SGLang): a running request the pool can no longer grow is retracted with its KV copied to
    host memory, not recomputed, and comes back ahead of new arrivals under the same rule (its cached tokens plus
    ``R``), which holds the arrivals behind it (sgl-project/sglang ``disaggregation/decode.py``:
    ``retracted_queue``, ``resume_retracted_reqs``, ``_allocatable_tokens(count_retracted=True)``; the offload is
    issue #18701's). The copy's time is not modelled. False: the replica's own preemption (recompute, behind the
    arrivals)."""

    def __init__(self, index: int, timer: StepTimer, config: SchedulerConfig, kv_capacity_tokens: int,
                 table: RequestTable, reserve_tokens: int = 0, recv_interval_steps: int = 1,
                 retract_to_host: bool = False):
        super().__init__(index, timer, config, kv_capacity_tokens, table)
        self.retract = bool(retract_to_host)
        if reserve_tokens < 0 or recv_interval_steps < 1:
            raise ValueError(f"reserve_tokens must be >= 0 and recv_interval_steps >= 1, got {reserve_tokens}, "
                             f"{recv_interval_steps}")
        self.reserve_tokens = int(reserve_tokens)
        self.interval = int(recv_interval_steps)
        self.received: set[int] = set()  # arrived requests a poll has taken, not yet admitted
        self._arrived: list[int] = []

    def polled(self) -> int:
        """How many queued requests, oldest first, the worker has taken: a poll (due at every
        ``interval``-th step, or at once when the worker runs nothing) takes all that have arrived."""
        if self.interval == 1:
            return len(self.swapped)
        if self.k % self.interval == 0 or self.n_running == 0:
            self.received.update(s.rid for s in self.swapped if not s.on_host)
        n = 0
        for seq in self.swapped:
            if not (seq.on_host or seq.rid in self.received):
                break
            n += 1
        return n

    def reserve_admissible(self) -> int:
        """How many of the queued arrived requests the reservation rule lets in now (class doc)."""
        r = self.reserve_tokens
        allocatable = (self.pool.total_blocks - self.pool.used_blocks) * self.B - r * self.n_running
        n = 0
        for seq in self.swapped:
            if seq.on_host and not self.retract:  # a swapped-out sequence coming back, not an arrival: not gated
                n += 1
                continue
            need = seq.cached + r
            if need > allocatable:
                if n == 0 and self.pool.used_blocks == 0:  # an empty pool: it never will be admitted
                    pool_tokens = self.pool.total_blocks * self.B
                    raise InvalidSettingError(
                        f"replica {self.index}: a request of {seq.cached} cached tokens plus the {r} tokens reserved "
                        f"at admission exceeds the decode pool's {pool_tokens} tokens: never admitted")
                break
            allocatable -= need
            n += 1
        return n

    def _swap_in(self, k: int, budget: int, swap_tokens: int, resumed: list[Seq],
                 chunks: list[Chunk]) -> tuple[int, int]:
        held: list[Seq] = []
        if self.swapped and (self.reserve_tokens or self.interval > 1):
            n = self.polled()
            while len(self.swapped) > n:
                held.append(self.swapped.pop())
            n = self.reserve_admissible() if self.reserve_tokens else n
            while len(self.swapped) > n:
                held.append(self.swapped.pop())
        before = len(resumed)
        try:
            out = super()._swap_in(k, budget, swap_tokens, resumed, chunks)
        finally:  # the held arrivals go back to the queue even if the step fails
            self.swapped.extend(reversed(held))
        for s in resumed[before:]:
            self.received.discard(s.rid)
        self._arrived.extend(s.rid for s in resumed[before:] if s.gen == 1)
        return out

    def _requeue(self, seq: Seq) -> None:
        """A preempted decoding sequence: retracted to host memory at the head of the queue (``retract_to_host``),
        else recomputed (:meth:`Replica._requeue`)."""
        if not (self.retract and seq.state == DECODE):
            return super()._requeue(seq)
        seq.state, seq.on_host, seq.cached, seq.blocks = SWAPPED, True, seq.base + self.k, 0
        self.swapped.appendleft(seq)

    def _step(self, finished: list[tuple[float, int]]) -> None:
        super()._step(finished)
        if self._arrived:
            first = self.table.first_token_s
            for rid in self._arrived:
                first[rid] = max(first[rid], self.clock_s)
            self._arrived.clear()
