"""Engine schedulers that hold a received request before it can be prefilled.

* **Async scheduling**: the engine plans step ``k + 1`` while step ``k`` runs on the device, so a
  request that arrives while step ``k`` runs misses step ``k + 1`` (already planned) and is first
  scheduled into step ``k + 2``: its TTFT carries the rest of the step it arrived in plus one whole
  step more. An idle engine has nothing in flight and plans at once. vLLM ``--async-scheduling``
  (set in the InferenceMAX vLLM launch recipes; V1 ``EngineCore.step_with_batch_queue`` schedules
  and submits while its batch queue has room, then waits for the oldest batch); SGLang's overlap
  scheduler (on unless ``--disable-overlap-schedule``: ``event_loop_overlap`` forms and launches
  the next batch, then processes the last one's result); TensorRT-LLM's overlap scheduler (on
  unless ``disable_overlap_scheduler``: ``_executor_loop_overlap`` fetches and schedules the next
  batch before it updates the requests from the previous one).
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

Both run as :class:`~inferchip.sim.engines.polling.PollingReplica`: received requests wait in
its inbox until the scheduler takes them into the waiting queue, where they are admitted under
the same running-batch cap, token budget and KV blocks.
"""

from __future__ import annotations

from inferchip.sim.engines.polling import PollingReplica
from inferchip.sim.request import RequestTable
from inferchip.sim.scheduler import SchedulerConfig
from inferchip.sim.steptime import StepTimer


class AdpBalancedReplica(PollingReplica):
    """TensorRT-LLM's attention-DP balance (module doc) over ``ranks`` attention-DP ranks; with
    ``async_scheduling`` (TensorRT-LLM's overlap scheduler) the balance sees what arrived before
    the step in flight started."""

    def __init__(self, index: int, timer: StepTimer, config: SchedulerConfig, kv_capacity_tokens: int,
                 table: RequestTable, ranks: int = 1, timeout_iters: int = 50, batching_wait_iters: int = 10,
                 async_scheduling: bool = False):
        super().__init__(index, timer, config, kv_capacity_tokens, table, 1, async_scheduling)
        if ranks < 1 or timeout_iters < 0 or batching_wait_iters < 0:
            raise ValueError(f"ranks >= 1 and non-negative iteration counts, got {ranks}, {timeout_iters}, "
                             f"{batching_wait_iters}")
        self.ranks = int(ranks)
        self.timeout_iters = int(timeout_iters)
        self.batching_wait_iters = int(batching_wait_iters)
        self.waiting_iters = 0
        self.batching_iters = 0

    def _poll_due(self) -> bool:
        visible = len(self.seen) if self.lookahead else len(self.inbox)
        all_decode = self.n_dec >= self.ranks
        if visible >= self.ranks:  # every rank has a context request
            self.waiting_iters = 0
            if all_decode and self.batching_iters < self.batching_wait_iters:
                self.batching_iters += 1
                return False
            if all_decode:
                self.batching_iters = 0
            return True
        self.waiting_iters += 1
        if self.waiting_iters >= self.timeout_iters or not all_decode:
            self.waiting_iters = 0
            return True
        return False

    def _stepped(self, prefilled: bool) -> None:
        return None

    def _stretched(self, span: int) -> None:
        if self.n_dec < self.ranks:
            self.waiting_iters = 0
        elif self.timeout_iters > 0:
            self.waiting_iters = (self.waiting_iters + span) % self.timeout_iters
