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
  every rank decodes, they wait ``batching_wait_iters`` more iterations to go together. "Every
  rank decodes" is read as at least ``ranks`` decoding sequences. "Every rank has one" is per
  rank: a new request is given to a rank when the engine fetches it
  (``ExecutorRequestQueue._schedule_attention_dp_requests``), only to a rank whose active
  requests are below ``ceil((active + new) / ranks)`` (and the busiest rank's count), the least
  loaded first (``_balance_requests_across_ranks``; its heap orders by active tokens, here by
  active requests, equal in a steady closed loop). In a closed loop a request that finishes
  leaves its rank one below the others, so the client's next request goes back to that rank: the
  held requests cover every rank only when requests finishing on every rank have been replaced.

Both run as :class:`~inferchip.sim.engines.polling.PollingReplica`: received requests wait in
its inbox until the scheduler takes them into the waiting queue, where they are admitted under
the same running-batch cap, token budget and KV blocks.
"""

from __future__ import annotations

from inferchip.sim.batching.scheduler import SchedulerConfig, Seq
from inferchip.sim.engines.polling import PollingReplica
from inferchip.sim.results.request import RequestTable
from inferchip.sim.step.steptime import StepTimer


class AdpBalancedReplica(PollingReplica):
    """TensorRT-LLM's attention-DP balance (module doc) over ``ranks`` attention-DP ranks; with
    ``async_scheduling`` (TensorRT-LLM's overlap scheduler) the balance sees what arrived before
    the step in flight started."""

    def __init__(self, index: int, timer: StepTimer, config: SchedulerConfig, kv_capacity_tokens: int,
                 table: RequestTable, ranks: int = 1, timeout_iters: int = 50, batching_wait_iters: int = 10,
                 async_scheduling: bool = False, wake_takes_queue: bool = True):
        super().__init__(index, timer, config, kv_capacity_tokens, table, 1, async_scheduling, wake_takes_queue)
        if ranks < 1 or timeout_iters < 0 or batching_wait_iters < 0:
            raise ValueError(f"ranks >= 1 and non-negative iteration counts, got {ranks}, {timeout_iters}, "
                             f"{batching_wait_iters}")
        self.ranks = int(ranks)
        self.timeout_iters = int(timeout_iters)
        self.batching_wait_iters = int(batching_wait_iters)
        self.waiting_iters = 0
        self.batching_iters = 0
        self.rank_load = [0] * self.ranks  # active requests per rank (held, waiting, running)
        self.rank_of: dict[int, int] = {}

    def enqueue(self, rid: int, prompt: int, out: int, time_s: float) -> None:
        self.rank_of[rid] = rank = adp_rank(self.rank_load)
        self.rank_load[rank] += 1
        super().enqueue(rid, prompt, out, time_s)

    def _release(self, seq: Seq, blocks: int, t_end: float, finished: list[tuple[float, int]]) -> None:
        super()._release(seq, blocks, t_end, finished)
        rank = self.rank_of.pop(seq.rid, None)
        if rank is not None:
            self.rank_load[rank] -= 1

    def _poll_due(self) -> bool:
        held = self.seen if self.lookahead else self.inbox
        all_decode = self.n_dec >= self.ranks
        if len({self.rank_of[rid] for rid, _, _ in held}) >= self.ranks:  # every rank has a context request
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


def adp_rank(load: list[int]) -> int:
    """The attention-DP rank TensorRT-LLM gives one new request, from the ranks' active requests
    ``load``: only ranks below ``max(ceil((sum + 1) / ranks), max(load))`` are eligible
    (``expected_num_active_requests``), the least loaded of them first, the lowest index on ties."""
    ranks = len(load)
    expected = max(-(-(sum(load) + 1) // ranks), max(load))
    eligible = [r for r in range(ranks) if load[r] < expected]
    return min(eligible, key=lambda r: (load[r], r))
