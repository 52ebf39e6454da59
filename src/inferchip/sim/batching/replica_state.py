"""One replica's state: its queues, KV block pool, aggregated decode set, clock and step log, and the transitions of
its sequences (admitted, prefilled, decoding, preempted back to the queue, finished), which the engine loop
(:class:`~inferchip.sim.batching.replica.Replica`, its subclasses in :mod:`inferchip.sim.engines`) drives.

Decoding sequences are advanced in aggregate (see :class:`~inferchip.sim.batching.scheduler.Seq`). KV bookkeeping per
decoding sequence at global step ``k``: ``base + k`` tokens are cached; the step writes one more, so it needs a new
block exactly when ``(base + k) % block_size == 0``. ``res[r]`` counts decoding sequences with
``base % block_size == r``, so the blocks a step needs are ``res[-k % block_size]``.
"""

from __future__ import annotations

import heapq
import math
from collections import deque

from inferchip.sim.batching.kv_cache import BlockPool, blocks_for
from inferchip.sim.batching.scheduler import DECODE, DONE, PREFILL, SWAPPED, WAITING, SchedulerConfig, Seq
from inferchip.sim.results.request import RequestTable
from inferchip.sim.results.step_log import new_replica_log
from inferchip.sim.step.steptime import StepTimer
from inferchip.spec.engine.padding import PaddingLadder

Chunk = tuple[Seq, int, int]  # a prefill chunk of a step: (sequence, its tokens, the KV blocks it adds)


class ReplicaState:
    """State of one replica: queues, KV block pool, aggregated decode set, clock and step log.

    ``clock_s`` is when its next step can start (the end of the last step, or the arrival
    that woke it); it writes request times into the shared :class:`RequestTable`.
    """

    def __init__(self, index: int, timer: StepTimer, config: SchedulerConfig, kv_capacity_tokens: int,
                 table: RequestTable):
        self.index = index
        self.timer = timer
        self.cfg = config
        self.table = table
        self.pool = BlockPool(kv_capacity_tokens, config.block_size_tokens)
        self.B = config.block_size_tokens
        self.clock_s = 0.0  # when the next step can start
        self.last_dt_s = 0.0  # duration of the last single step (to skip hopeless bulk attempts)
        self.k = 0  # steps run so far (the global step index of the next step)
        self.waiting: deque[Seq] = deque()
        self.swapped: deque[Seq] = deque()
        self.running: list[tuple[Seq, int]] = []  # admission order, stale entries skipped lazily
        self.prefilling: list[Seq] = []
        self.n_running = 0
        self.n_dec = 0
        self.kv_base = 0
        self.res = [0] * self.B
        self.finish_at: dict[int, list[tuple[Seq, int]]] = {}
        self.finish_keys: list[int] = []  # heap of finish_at keys
        self.admissions = 0
        self.intakes = 0  # requests first scheduled since the last step's time was set (cfg.request_intake_s each)
        self.num_preemptions = 0
        self.itl_extra_s: list[float] = []  # token gaps that are not one step long (after preemption)
        self.itl_skip: dict[int, int] = {}  # step -> decode tokens of that step whose gap is in itl_extra_s
        self.pairs_at: dict[int, int] = {}  # step -> causal prefill attention pairs (steps with prefill only)
        self.pad_at: dict[int, int] = {}  # step -> prompt rows its prompt buckets padded (steps with padding only)
        self.log = new_replica_log()
        # attention-DP ranks of the step model (EngineStepModel.ranks, else 1): chunks run whole on one rank each
        # (scheduler.busiest_rank_prefill), so a chunked prompt's chunk is at most its rank's budget
        self.dp_ranks = max(1, int(getattr(timer.model, "ranks", 1) or 1))
        # a back end's prompt buckets (vLLM's Gaudi back end: ServingStepModel.prompt_padding), priced per step from
        # its prefill chunks (Replica._step; PaddingLadder.packed_prompt_rows); None: prompts run unpadded
        self.prompt_pad: PaddingLadder | None = getattr(timer.model, "prompt_padding", None)
        self.seq_chunk_tokens = max(1, config.max_num_batched_tokens // (self.dp_ranks if config.enable_chunked_prefill
                                                                           else 1))

    # ------------------------------------------------------------------ queue interface
    @property
    def busy(self) -> bool:
        return bool(self.n_running or self.waiting or self.swapped)

    @property
    def load(self) -> int:
        """Requests in this replica: running, waiting and swapped out."""
        return self.n_running + len(self.waiting) + len(self.swapped)

    def enqueue(self, rid: int, prompt: int, out: int, time_s: float) -> None:
        if not self.busy and self.clock_s < time_s:
            self.clock_s = time_s
        self.waiting.append(Seq(rid, prompt, out))
        self.table.replica[rid] = self.index

    def enqueue_prefilled(self, rid: int, prompt: int, out: int, time_s: float, first_token_s: float) -> None:
        """A request whose prompt was prefilled elsewhere and whose KV cache has just arrived.

        It joins the swapped-in queue (no host copy to pay for) and decodes its remaining
        ``out - 1`` tokens once blocks are free.
        """
        if not self.busy and self.clock_s < time_s:
            self.clock_s = time_s
        seq = Seq(rid, prompt, out)
        seq.done = seq.cached = prompt
        seq.gen = 1
        seq.state = SWAPPED
        seq.on_host = False
        seq.last_token_s = first_token_s
        self.swapped.append(seq)
        self.table.replica[rid] = self.index

    # ------------------------------------------------------------------ transitions
    def _start_prefill(self, t: float, seq: Seq, chunk: int, blocks: int, chunks: list[Chunk]) -> None:
        """Admit ``seq`` at ``t`` with a first chunk of ``chunk`` tokens on ``blocks`` new KV blocks: it runs from
        this step (its first scheduling time, kept once) and the chunk joins the step's ``chunks``."""
        self.pool.used_blocks += blocks
        seq.blocks = blocks
        seq.state = PREFILL
        self._add_running(seq)
        if math.isnan(self.table.first_scheduled_s[seq.rid]):
            self.table.first_scheduled_s[seq.rid] = t
            self.intakes += 1
        chunks.append((seq, chunk, blocks))

    def _admits(self, seq: Seq, chunk: int, blocks: int) -> bool:
        """Whether ``seq`` is admitted with a first chunk of ``chunk`` tokens needing ``blocks`` new KV blocks."""
        return blocks <= self.pool.total_blocks - self.pool.used_blocks

    def _add_running(self, seq: Seq) -> None:
        self.admissions += 1
        seq.admission = self.admissions
        self.running.append((seq, self.admissions))
        self.n_running += 1
        if len(self.running) > 2 * self.n_running + 64:
            self.running = [(s, a) for s, a in self.running if s.admission == a and s.state in (PREFILL, DECODE)]

    def _prefill_complete(self, seq: Seq, k: int, t_end: float, finished: list[tuple[float, int]]) -> None:
        seq.gen += 1
        if seq.gen == 1:
            self.table.first_token_s[seq.rid] = t_end
        else:  # the first token after a recompute: its gap spans the preemption
            self.itl_extra_s.append(t_end - seq.last_token_s)
        if seq.gen >= seq.out:
            self._release(seq, seq.blocks, t_end, finished)
        else:
            self._start_decode(seq, k + 1, seq.target)

    def _start_decode(self, seq: Seq, k_first: int, cached: int) -> None:
        """``seq`` decodes from step ``k_first`` with ``cached`` tokens in the cache."""
        seq.state = DECODE
        seq.base = base = cached - k_first
        seq.k_first = k_first
        seq.k_last = k_last = k_first + seq.out - seq.gen - 1
        self.res[base % self.B] += 1
        self.kv_base += base
        self.n_dec += 1
        due = self.finish_at.get(k_last)
        if due is None:
            self.finish_at[k_last] = [(seq, seq.admission)]
            heapq.heappush(self.finish_keys, k_last)
        else:
            due.append((seq, seq.admission))

    def _stop_decode(self, seq: Seq) -> None:
        self.res[seq.base % self.B] -= 1
        self.kv_base -= seq.base
        self.n_dec -= 1

    def _finish_decode(self, seq: Seq, k: int, t_end: float, finished: list[tuple[float, int]]) -> None:
        self._stop_decode(seq)
        self._release(seq, blocks_for(seq.base + k + 1, self.B), t_end, finished)

    def _release(self, seq: Seq, blocks: int, t_end: float, finished: list[tuple[float, int]]) -> None:
        self.pool.used_blocks -= blocks
        seq.state = DONE
        self.n_running -= 1
        self.table.finish_s[seq.rid] = t_end
        finished.append((t_end, seq.rid))

    def _pop_last_running(self) -> Seq | None:
        running = self.running
        while running:
            seq, adm = running.pop()
            if seq.admission == adm and seq.state in (PREFILL, DECODE):
                return seq
        return None

    def _requeue(self, seq: Seq) -> None:
        """Preemption by recompute: ``seq`` goes back to the head of the queue with no cache, to
        prefill its prompt and the tokens it has generated again."""
        seq.state = WAITING
        seq.target = seq.prompt + seq.gen
        seq.done = 0
        seq.blocks = 0
        self.waiting.appendleft(seq)
