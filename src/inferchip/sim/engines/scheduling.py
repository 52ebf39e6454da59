"""Two engine schedulers that hold a received request before it can be prefilled.

* **Async scheduling** (vLLM ``--async-scheduling``, set in the InferenceMAX vLLM launch recipes):
  the engine plans step ``k + 1`` while step ``k`` runs on the device, so a request that arrives
  while step ``k`` runs misses step ``k + 1`` (already planned) and is first scheduled into step
  ``k + 2``: its TTFT carries the rest of the step it arrived in plus one whole step more. An idle
  engine has nothing in flight and plans at once. (vLLM V1 ``EngineCore.step_with_batch_queue``:
  schedule and submit while the batch queue has room, then wait for the oldest batch.)
* **Attention-DP balance** (TensorRT-LLM ``attention_dp_config.enable_balance``, set in the
  InferenceMAX gpt-oss TensorRT-LLM recipe with the defaults ``timeout_iters`` 50 and
  ``batching_wait_iters`` 10; ``PyExecutor._balance_adp_requests``): each iteration, context
  requests are held unless every attention-DP rank has one; a counter of iterations without
  that condition releases them when it reaches ``timeout_iters`` (it counts every such
  iteration, with or without a waiting request, and restarts at each release), and a rank
  without running decodes releases them at once. When every rank has a context request and
  every rank decodes, they wait ``batching_wait_iters`` more iterations to go together. Here
  "every rank has one" is read as at least ``ranks`` held requests (the engine spreads new
  requests over the ranks by load), "every rank decodes" as at least ``ranks`` decoding
  sequences.

Both are :class:`~inferchip.sim.replica.Replica` with an inbox of received requests that the
scheduler has not yet taken; what it takes joins the waiting queue and is admitted under the
same running-batch cap, token budget and KV blocks.
"""

from __future__ import annotations

from inferchip.sim.replica import Replica
from inferchip.sim.request import RequestTable
from inferchip.sim.scheduler import SchedulerConfig, Seq
from inferchip.sim.steptime import StepTimer
from inferchip.sim.stretch import MIN_STRETCH_STEPS, decode_stretch


class _HoldingReplica(Replica):
    """A replica whose received requests wait in ``inbox`` until :meth:`_boundary` releases them
    (called before every step); an idle replica takes a request at once."""

    def __init__(self, index: int, timer: StepTimer, config: SchedulerConfig, kv_capacity_tokens: int,
                 table: RequestTable):
        super().__init__(index, timer, config, kv_capacity_tokens, table)
        self.inbox: list[tuple[int, int, int]] = []

    @property
    def idle(self) -> bool:
        return not (self.n_running or self.waiting or self.swapped)

    @property
    def held(self) -> int:
        """Received requests the scheduler has not taken yet."""
        return len(self.inbox)

    @property
    def load(self) -> int:
        return super().load + self.held

    def enqueue(self, rid: int, prompt: int, out: int, time_s: float) -> None:
        if self.idle and not self.held:  # nothing in flight: the scheduler takes it at once
            super().enqueue(rid, prompt, out, time_s)
            return
        self.inbox.append((rid, prompt, out))
        self.table.replica[rid] = self.index

    def _take(self, items: list[tuple[int, int, int]]) -> None:
        for rid, prompt, out in items:
            self.waiting.append(Seq(rid, prompt, out))

    def _release_all(self) -> None:
        self._take(self.inbox)
        self.inbox = []

    def _boundary(self) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def _stretched(self, span: int) -> None:
        """``span`` decode-only steps ran in bulk with nothing held (counters move on)."""

    def run_until(self, limit_s: float, stop_on_finish: bool = False,
                  min_steps: int = 0) -> list[tuple[float, int]]:
        """As :meth:`Replica.run_until`, releasing held requests at each step boundary."""
        finished: list[tuple[float, int]] = []
        steps = 0
        while True:
            if self.held and self.idle:
                self._release_all()
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
            self._boundary()
            self._step(finished)
            steps += 1
            if stop_on_finish and finished:
                if self.held and self.idle:
                    self._release_all()
                break
        return finished


class AsyncScheduledReplica(_HoldingReplica):
    """vLLM's async scheduling (module doc): a request received during a step is scheduled two
    step boundaries later."""

    def __init__(self, index: int, timer: StepTimer, config: SchedulerConfig, kv_capacity_tokens: int,
                 table: RequestTable):
        super().__init__(index, timer, config, kv_capacity_tokens, table)
        self.pending: list[tuple[int, int, int]] = []  # seen at the last boundary, after its step was planned

    @property
    def held(self) -> int:
        return len(self.inbox) + len(self.pending)

    def _release_all(self) -> None:
        self._take(self.pending)
        self.pending = []
        super()._release_all()

    def _boundary(self) -> None:
        self._take(self.pending)
        self.pending, self.inbox = self.inbox, []


class AdpBalancedReplica(_HoldingReplica):
    """TensorRT-LLM's attention-DP balance (module doc) over ``ranks`` attention-DP ranks."""

    def __init__(self, index: int, timer: StepTimer, config: SchedulerConfig, kv_capacity_tokens: int,
                 table: RequestTable, ranks: int = 1, timeout_iters: int = 50, batching_wait_iters: int = 10):
        super().__init__(index, timer, config, kv_capacity_tokens, table)
        if ranks < 1 or timeout_iters < 0 or batching_wait_iters < 0:
            raise ValueError(f"ranks >= 1 and non-negative iteration counts, got {ranks}, {timeout_iters}, "
                             f"{batching_wait_iters}")
        self.ranks = int(ranks)
        self.timeout_iters = int(timeout_iters)
        self.batching_wait_iters = int(batching_wait_iters)
        self.waiting_iters = 0
        self.batching_iters = 0

    def _boundary(self) -> None:
        all_decode = self.n_dec >= self.ranks
        if len(self.inbox) >= self.ranks:  # every rank has a context request
            self.waiting_iters = 0
            if all_decode and self.batching_iters < self.batching_wait_iters:
                self.batching_iters += 1
                return
            if all_decode:
                self.batching_iters = 0
            self._release_all()
            return
        self.waiting_iters += 1
        if self.waiting_iters >= self.timeout_iters or not all_decode:
            self.waiting_iters = 0
            self._release_all()

    def _stretched(self, span: int) -> None:
        if self.n_dec < self.ranks:
            self.waiting_iters = 0
        elif self.timeout_iters > 0:
            self.waiting_iters = (self.waiting_iters + span) % self.timeout_iters
