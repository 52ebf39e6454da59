"""Engines whose step is either a prefill batch or a decode batch, prefill first, and SGLang's
admission that reserves KV for every request's output.

* **Prefill-only iterations** (engine field ``mixed_chunk: false``): SGLang's scheduler
  (``Scheduler.get_next_batch_to_run``) first tries to form a prefill batch from its waiting queue
  (``get_new_batch_prefill``: the chunked request in progress, then new requests while the
  running-request cap, the prefill token budget and KV admission allow); when it forms one, that
  batch runs alone and the running decodes wait a whole iteration; only when no prefill can be
  formed does it run a decode batch. Prefill chunks and decodes share a step only with
  ``--enable-mixed-chunk`` (off by default; no InferenceMAX recipe sets it). AMD's ATOM schedules
  the same way (``Scheduler.schedule``: "prefill-first", "no decode mixing"; ROCm/ATOM
  ``docs/scheduling_kv_cache_guide.md``). A new request's TTFT then carries no decode rows in its
  prefill step, and every running request's TPOT carries the prefill steps it waited through.
* **Output reserved at admission** (engine field ``reserve_output``): the benchmark sends its
  requests with ``ignore_eos``, and the InferenceMAX SGLang recipes launch with
  ``--disable-radix-cache``, under which SGLang admits such a request through
  ``PrefillAdder.add_one_req_ignore_eos``: every request (running ones and the new one) is taken
  to generate its whole ``max_new_tokens`` (reservation ratio 1 for ignore_eos requests, no
  ``CLIP_MAX_NEW_TOKENS`` clip), and with them sorted by tokens left ``r_1 <= r_2 <= ...``,
  the request is refused if at the moment the ``i``-th finishes the cache would be short:
  ``free + sum_{j<i} occupied_j - r_i (n - i + 1) <= (n - i + 1)`` tokens
  (``IGNORE_EOS_RESERVE_TOKENS`` = 1 per request). Here ``free`` is the cache left after the new
  request's first chunk is allocated and ``r`` counts the prompt still to prefill too. The
  ``new_token_ratio`` path (0.7 decaying to 0.098 of a clipped ``max_new_tokens``) serves requests
  without ``ignore_eos`` or with the radix cache on; the benchmark rows take neither.

Decoding sequences advance in aggregate (:class:`~inferchip.sim.batching.scheduler.Seq`: ``base + k``
tokens cached at global step ``k``); a prefill-only step shifts each paused sequence one step
later (``base - 1``, ``k_first + 1``, ``k_last + 1``), which costs ``O(decoding)`` per prefill
step, not per decode step. Inter-token gaps in the step log do not show the pauses (the decode
steps are logged, the prefill step has no decode rows); per-request TPOT from the request times
does.
"""

from __future__ import annotations

from inferchip.sim.batching.kv_cache import blocks_for
from inferchip.sim.batching.scheduler import DECODE, SchedulerConfig, Seq
from inferchip.sim.engines.polling import PollingReplica
from inferchip.sim.results.request import RequestTable
from inferchip.sim.step.steptime import StepTimer

IGNORE_EOS_RESERVE_TOKENS = 1  # SGLang schedule_policy: headroom per request kept by the ignore_eos admission


def reservation_fits(free_tokens: float, states: list[tuple[int, int]]) -> bool:
    """SGLang's ignore_eos admission rule (module doc): ``states`` are (tokens still to generate or
    prefill, tokens held now) of every request counting the new one, ``free_tokens`` the cache
    left now. True when, as they finish in order of tokens left, the cache never runs short."""
    freed = 0
    n = len(states)
    for i, (left, held) in enumerate(sorted(states)):
        bs = n - i
        if free_tokens + freed - left * bs <= IGNORE_EOS_RESERVE_TOKENS * bs:
            return False
        freed += held
    return True


class PrefillFirstReplica(PollingReplica):
    """A replica whose step is a prefill batch whenever one can be formed, else a decode batch
    (module doc; with ``pause_decodes=False`` its steps mix as vLLM's do); with ``reserve_output``
    it admits a request only if the KV cache holds every request's whole output. Polls and plans
    ahead as :class:`PollingReplica`."""

    def __init__(self, index: int, timer: StepTimer, config: SchedulerConfig, kv_capacity_tokens: int,
                 table: RequestTable, recv_interval_steps: int = 1, async_scheduling: bool = False,
                 reserve_output: bool = False, pause_decodes: bool = True, wake_takes_queue: bool = True):
        super().__init__(index, timer, config, kv_capacity_tokens, table, recv_interval_steps, async_scheduling,
                         wake_takes_queue)
        self.reserve_output = bool(reserve_output)
        self.pause_decodes = bool(pause_decodes)
        self.klast_sum = 0  # sum of k_last over decoding sequences (tokens left = k_last - k + 1 each)
        self.batch_states: list[tuple[int, int]] = []  # (left, held) of the requests admitted in this step
        self.prefill_steps = 0  # prefill-only steps that paused decodes
        self.hidden_n = 0  # decoding sequences paused by the step now running
        self.decode_only = False  # the step now running is a decode batch: nothing is admitted

    # ------------------------------------------------------------------ admission
    def _admits(self, seq: Seq, chunk: int, blocks: int) -> bool:
        free_blocks = self.pool.total_blocks - self.pool.used_blocks
        if self.decode_only or blocks > free_blocks:
            return False
        if not self.reserve_output:
            return True
        B = self.B
        free = (free_blocks - blocks) * B
        new = (seq.target - seq.done - chunk + seq.out - seq.gen, seq.done + chunk)
        k = self.k + (1 if self.hidden_n else 0)  # the next step the decoding sequences run in
        n_dec = self.n_dec + self.hidden_n
        dec_left = self.klast_sum - n_dec * (k - 1)
        others = [(max(0, s.target - s.blocks * B) + s.out - s.gen, s.blocks * B) for s in self.prefilling]
        n = n_dec + len(others) + len(self.batch_states) + 1
        left = dec_left + sum(x[0] for x in others) + sum(x[0] for x in self.batch_states) + new[0]
        ok = free - left > IGNORE_EOS_RESERVE_TOKENS * n  # sufficient: no sorted walk needed
        if not ok:
            states = [(s.k_last - k + 1, s.base + k) for s, a in self.running if s.admission == a and s.state == DECODE]
            ok = reservation_fits(free, states + others + self.batch_states + [new])
        if ok:
            self.batch_states.append(new)
        return ok

    # ------------------------------------------------------------------ decode bookkeeping
    def _start_decode(self, seq: Seq, k_first: int, cached: int) -> None:
        super()._start_decode(seq, k_first, cached)
        self.klast_sum += seq.k_last

    def _stop_decode(self, seq: Seq) -> None:
        super()._stop_decode(seq)
        self.klast_sum -= seq.k_last

    def _chunks_fit(self) -> bool:
        """Whether the KV cache holds the next chunks of the prompts in progress (this step's budget)."""
        budget, need = self.cfg.max_num_batched_tokens, 0
        for seq in self.prefilling:
            c = min(seq.target - seq.done, budget, self.seq_chunk_tokens)
            need += blocks_for(seq.done + c, self.B) - seq.blocks
            budget -= c
            if budget <= 0:
                break
        return need <= self.pool.total_blocks - self.pool.used_blocks

    def _head_admissible(self) -> bool:
        """Whether the head of the waiting queue is admitted into a prefill batch now (running-request
        cap, the whole token budget, KV admission)."""
        if not self.waiting or self.swapped or self.n_running >= self.cfg.max_num_seqs:
            return False
        seq = self.waiting[0]
        remaining = seq.target - seq.done
        c = min(remaining, self.seq_chunk_tokens)
        if c < remaining and not self.cfg.enable_chunked_prefill:
            return False
        admitted = self._admits(seq, c, blocks_for(c, self.B))
        self.batch_states.clear()
        return admitted

    def _requeue_prefilling(self) -> None:
        """Put every prompt in progress back at the head of the queue, its cache freed (recompute)."""
        for seq in reversed(self.prefilling):
            self.pool.used_blocks -= seq.blocks
            self.n_running -= 1
            self.num_preemptions += 1
            self.table.num_preemptions[seq.rid] += 1
            self._requeue(seq)
        self.prefilling = []

    # ------------------------------------------------------------------ one step
    def _step(self, finished: list[tuple[float, int]]) -> None:
        """A prefill batch when one can be formed (a prompt in progress whose next chunk the KV cache
        holds, or an admissible head of the queue), the decodes paused; else a decode batch that no
        request joins. A prompt in progress whose next chunk does not fit waits, holding its cache,
        while the decodes run (SGLang forms no prefill batch then); if the decodes' own next blocks
        do not fit either, it goes back to the queue, its cache freed, as a preemption would, and
        the decodes run."""
        self.batch_states.clear()
        if not self.n_dec or not self.pause_decodes:
            super()._step(finished)
            return
        if self.prefilling and not self._chunks_fit():
            if self.res[-self.k % self.B] > self.pool.total_blocks - self.pool.used_blocks:
                self._requeue_prefilling()
            self._decode_step(finished)
            return
        if not self.prefilling and not self._head_admissible():
            self._decode_step(finished)
            return
        self._pause_decodes()
        self.prefill_steps += 1
        hidden_kv = self.kv_base
        self.hidden_n, self.n_dec, self.kv_base = self.n_dec, 0, 0
        try:
            super()._step(finished)
        finally:
            self.n_dec += self.hidden_n
            self.kv_base += hidden_kv
            self.hidden_n = 0

    def _decode_step(self, finished: list[tuple[float, int]]) -> None:
        """A decode batch: no request is admitted and a prompt in progress sits it out."""
        held = self.prefilling
        self.prefilling = []
        self.decode_only = True
        try:
            super()._step(finished)
        finally:
            self.decode_only = False
            self.prefilling = held

    def _pause_decodes(self) -> None:
        """Move every decoding sequence one step later: it neither reads nor grows its cache in the
        step about to run (``base + k`` cached stays what it is, its last step comes one later)."""
        n = 0
        for s, a in self.running:
            if s.admission == a and s.state == DECODE:
                s.base -= 1
                s.k_first += 1
                s.k_last += 1
                n += 1
        if n != self.n_dec:  # pragma: no cover - every decoding sequence is in the running list
            raise RuntimeError(f"replica {self.index}: {n} decoding sequences listed, {self.n_dec} counted")
        self.res = self.res[1:] + self.res[:1]  # res'[(b - 1) % B] = res[b % B]
        self.kv_base -= n
        self.klast_sum += n
        self.finish_at = {key + 1: due for key, due in self.finish_at.items()}
        self.finish_keys = [key + 1 for key in self.finish_keys]  # a constant shift keeps the heap order


__all__ = ["IGNORE_EOS_RESERVE_TOKENS", "PrefillFirstReplica", "reservation_fits"]
