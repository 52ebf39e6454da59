"""Prefill workers whose DP controller pins each request to an attention-DP rank drawn at random.

An SGLang server with attention data parallelism runs one scheduler per attention-DP rank, each with its own
waiting queue and its own prefill budget (``--chunked-prefill-size`` / dp), the ranks stepping together (the MoE
layers need every rank in each forward), so a step lasts as long as its busiest rank's work. Its
``DataParallelController`` picks the rank of a new request. In PD-disaggregated mode the method named
``round_robin`` is not round robin: it sends the request to rank ``bootstrap_room % dp_size``
(sgl-project/sglang ``python/sglang/srt/managers/data_parallel_controller.py`` ``round_robin_scheduler``, the
``disaggregation_mode != "null"`` branch, until PR #16110 of 2025-12-30 renamed it ``follow_bootstrap_room`` and
made ``round_robin`` a counter; issue #16080: "In PD mode, the round_robin balance method is not round robin ...
It leads to load imbalance in many cases"; PR #19168 reports that a true round robin "significantly reduces TTFT
under load"). The decode server needs the prefill rank and derives it from the same room (issue #13052: "the
prefill server is limited to use round-robin load balance method only"). Dynamo's SGLang handlers draw the room
uniformly at random (ai-dynamo/dynamo ``components/src/dynamo/sglang/request_handlers/handler_base.py``
``_generate_bootstrap_room``: ``random.randint(0, 2**63 - 1)``), so each request's prefill rank is uniform and
independent of the others': one rank can hold a queue while another idles.

:class:`RankPinnedReplica` draws that rank when a request reaches the worker, admits FCFS per rank up to the
rank's budget, and prices the step on the busiest rank's pinned chunks (:func:`pinned_busiest_rank`), where the
plain replica shares one queue over the ranks and places each step's chunks longest first on the least loaded
rank (:func:`~inferchip.sim.batching.scheduler.busiest_rank_prefill`).
"""

from __future__ import annotations

import numpy as np

from inferchip.sim.batching.kv_cache import blocks_for
from inferchip.sim.batching.replica_state import Chunk
from inferchip.sim.batching.scheduler import SchedulerConfig, Seq
from inferchip.sim.engines.polling import PollingReplica
from inferchip.sim.results.request import RequestTable
from inferchip.sim.step.steptime import StepTimer


def pinned_busiest_rank(chunks: list[tuple[int, int, int]], ranks: int) -> tuple[int, int]:
    """(prefill tokens, causal attention pairs) of the busiest of ``ranks`` attention-DP ranks when each chunk
    ``(rank, c new tokens, d tokens already cached)`` runs on its own rank; both times ``ranks`` (the form
    :mod:`inferchip.cost.step` divides by the ranks again, as
    :func:`~inferchip.sim.batching.scheduler.busiest_rank_prefill`).
    A chunk's pairs are ``c d + c (c + 1) / 2``. The busiest rank is the one with the most tokens (ties: the lower
    rank).

    E.g. chunks (0, 900, 0), (0, 800, 0), (2, 1000, 0) on 4 ranks: rank 0 holds 1,700 tokens and
    405,450 + 320,400 = 725,850 pairs, so (6,800, 2,903,400).
    """
    if ranks < 1:
        raise ValueError(f"ranks must be >= 1, got {ranks}")
    tokens = [0] * ranks
    pairs = [0] * ranks
    for r, c, d in chunks:
        if not 0 <= r < ranks:
            raise ValueError(f"a chunk's rank must be in [0, {ranks}), got {r}")
        tokens[r] += c
        pairs[r] += c * d + c * (c + 1) // 2
    i = tokens.index(max(tokens))
    return tokens[i] * ranks, pairs[i] * ranks


class RankPinnedReplica(PollingReplica):
    """A polling prefill worker (:class:`~inferchip.sim.engines.polling.PollingReplica`) whose requests are each
    pinned to an attention-DP rank drawn uniformly at random (``seed``) when they reach it (module doc). A rank
    admits its waiting requests in arrival order while its budget lasts (``max_num_batched_tokens / ranks``, the
    rank's ``--chunked-prefill-size / dp``); a request whose rank is full waits although another rank has room."""

    def __init__(self, index: int, timer: StepTimer, config: SchedulerConfig, kv_capacity_tokens: int,
                 table: RequestTable, recv_interval_steps: int = 1, async_scheduling: bool = False,
                 wake_takes_queue: bool = True, seed: int = 0):
        super().__init__(index, timer, config, kv_capacity_tokens, table, recv_interval_steps=recv_interval_steps,
                         async_scheduling=async_scheduling, wake_takes_queue=wake_takes_queue)
        self.rng = np.random.default_rng([int(seed), int(index)])
        self.rank_of: dict[int, int] = {}

    def enqueue(self, rid: int, prompt: int, out: int, time_s: float) -> None:
        self.rank_of[rid] = int(self.rng.integers(self.dp_ranks))
        super().enqueue(rid, prompt, out, time_s)

    def _release(self, seq: Seq, blocks: int, t_end: float, finished: list[tuple[float, int]]) -> None:
        """A request leaves the worker (finished, or its prompt handed to a decode worker): its rank is dropped, so
        ``rank_of`` holds only the requests still here (read last by this step's ``busiest_rank``)."""
        super()._release(seq, blocks, t_end, finished)
        del self.rank_of[seq.rid]

    def busiest_rank(self, chunks: list[Chunk]) -> tuple[int, int]:
        return pinned_busiest_rank([(self.rank_of[s.rid], c, s.done) for s, c, _ in chunks], self.dp_ranks)

    def _admit(self, t: float, budget: int, chunks: list[Chunk]) -> None:
        if self.dp_ranks <= 1:
            super()._admit(t, budget, chunks)
            return
        left = [self.cfg.max_num_batched_tokens // self.dp_ranks] * self.dp_ranks
        for seq, c, _ in chunks:  # the chunks of prompts already in flight take their ranks' budget first
            left[self.rank_of[seq.rid]] -= c
        open_ranks = sum(x > 0 for x in left)
        waiting, kept = self.waiting, []
        while waiting and open_ranks and budget > 0 and self.n_running < self.cfg.max_num_seqs:
            seq = waiting.popleft()
            r = self.rank_of[seq.rid]
            remaining = seq.target - seq.done
            c = min(remaining, left[r], budget)
            if c <= 0 or (c < remaining and not self.cfg.enable_chunked_prefill):
                kept.append(seq)  # its rank is full (FCFS within the rank: the rank's later requests wait too)
                if left[r] > 0:
                    left[r] = 0
                    open_ranks -= 1
                continue
            nb = blocks_for(c, self.B)
            if not self._admits(seq, c, nb):
                kept.append(seq)
                break
            self._start_prefill(t, seq, c, nb, chunks)
            budget -= c
            left[r] -= c
            if left[r] <= 0:
                open_ranks -= 1
            if c < remaining:
                self.prefilling.append(seq)
        waiting.extendleft(reversed(kept))
