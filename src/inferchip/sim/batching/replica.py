"""One model replica: a vLLM-like engine that runs steps back to back while it has work.

The policy is described in :mod:`inferchip.sim.batching.scheduler`: each step admits, preempts and swaps in within
its token budget, KV blocks and running-sequence cap, over the replica's state and its sequences' transitions
(:class:`~inferchip.sim.batching.replica_state.ReplicaState`). Decoding sequences are advanced in aggregate: per step
the replica touches only prefilling, admitted, preempted and finishing sequences, so a step costs the same few
microseconds whether 8 or 800 sequences decode.
"""

from __future__ import annotations

from inferchip.sim.batching import scheduler
from inferchip.sim.batching.kv_cache import blocks_for
from inferchip.sim.batching.replica_state import Chunk, ReplicaState
from inferchip.sim.batching.scheduler import DECODE, PREFILL, SWAPPED, Seq
from inferchip.sim.batching.stretch import MIN_STRETCH_STEPS, decode_stretch


class Replica(ReplicaState):
    """One replica's engine loop: steps back to back while it has work, each admitting, preempting and swapping in
    (its state and transitions: :class:`~inferchip.sim.batching.replica_state.ReplicaState`)."""

    def run_until(self, limit_s: float, stop_on_finish: bool = False,
                  min_steps: int = 0) -> list[tuple[float, int]]:
        """Run the steps that start before ``limit_s`` (at least ``min_steps``); return (finish time, request id).

        With ``stop_on_finish`` it returns right after the first step in which a request finished.
        """
        finished: list[tuple[float, int]] = []
        steps = 0
        while self.n_running or self.waiting or self.swapped:
            if self.clock_s >= limit_s and steps >= min_steps:
                break
            if (self.n_dec and not self.prefilling and not self.swapped
                    and limit_s - self.clock_s > MIN_STRETCH_STEPS * self.last_dt_s):
                steps += decode_stretch(self, limit_s)
                if self.clock_s >= limit_s and steps >= min_steps:
                    break
            self._step(finished)
            steps += 1
            if stop_on_finish and finished:
                break
        return finished

    # ------------------------------------------------------------------ one step
    def _step(self, finished: list[tuple[float, int]]) -> None:
        k = self.k
        t = self.clock_s
        B = self.B
        pool = self.pool
        budget = self.cfg.max_num_batched_tokens - self.n_dec
        need = self.res[-k % B] if self.n_dec else 0
        chunks: list[Chunk] = []
        for seq in self.prefilling:
            if budget <= 0:
                break
            c = min(seq.target - seq.done, budget, self.seq_chunk_tokens)
            nb = max(0, blocks_for(seq.done + c, B) - seq.blocks)  # 0: its prompt's blocks came at admission
            chunks.append((seq, c, nb))
            need += nb
            budget -= c
        swap_tokens = 0
        preempted = 0
        if need > pool.total_blocks - pool.used_blocks:
            need, budget, swap_tokens, preempted = self._preempt(k, t, need, chunks, budget)
        pool.used_blocks += need
        for ch in chunks:
            ch[0].blocks += ch[2]
        resumed: list[Seq] = []
        if self.swapped:
            budget, swap_tokens = self._swap_in(k, budget, swap_tokens, resumed, chunks)
        if self.waiting and not self.swapped and budget > 0 and self.n_running < self.cfg.max_num_seqs:
            self._admit(t, budget, chunks)
        n_dec = self.n_dec
        running, waiting = self.n_running, len(self.waiting) + len(self.swapped)  # during the step
        prefill_tokens = 0
        pairs = 0
        for seq, c, _ in chunks:
            prefill_tokens += c
            pairs += c * seq.done + c * (c + 1) // 2
        if n_dec + prefill_tokens == 0:  # pragma: no cover - guarded by the rejection of oversize requests
            raise RuntimeError(f"replica {self.index}: empty step at t={t} s with work queued (scheduler bug)")
        kv = self.kv_base + n_dec * k
        step_tokens, step_pairs, dt = prefill_tokens, pairs, None
        # the back end's prompt buckets: each prompt batch of the step padded, the padded rows priced as prompt rows
        # that attend to nothing (no attention pairs, no KV cache); 0 without prompt buckets
        pad = 0 if self.prompt_pad is None or not chunks else (
            self.prompt_pad.packed_prompt_rows([c for _, c, _ in chunks]) - prefill_tokens)
        if self.dp_ranks > 1 and chunks:  # each chunk whole on one attention-DP rank: the busiest rank's load
            bt, bp = self.busiest_rank(chunks)
            step_tokens, step_pairs = max(bt, prefill_tokens), max(bp, pairs)
            if step_tokens > prefill_tokens:  # uneven: the experts serve all tokens (cached, sim.step.steptime)
                dt = self.timer.busiest_time_s(n_dec + prefill_tokens + pad, n_dec, kv, step_pairs,
                                               step_tokens // self.dp_ranks)
        if pairs:
            self.pairs_at[k] = step_pairs
        if pad:  # priced in the step's energy as in its time (run_result.step_energies_j)
            self.pad_at[k] = pad
        if dt is None:
            dt = self.timer.time_s(n_dec + step_tokens + pad, n_dec, kv, step_pairs)
        if swap_tokens:
            dt += swap_tokens * self.cfg.swap_s_per_token
        dt, self.intakes = dt + self.intakes * self.cfg.request_intake_s, 0  # the engine loop's intake, in series
        t_end = t + dt
        emitted = n_dec
        completed_prefill = False
        for seq, c, _ in chunks:
            seq.done += c
            if seq.done == seq.target:
                emitted += 1
                completed_prefill = True
                self._prefill_complete(seq, k, t_end, finished)
        if completed_prefill and self.prefilling:
            self.prefilling = [s for s in self.prefilling if s.state == PREFILL]
        for seq in resumed:
            self.itl_extra_s.append(t_end - seq.last_token_s)
        if resumed:
            self.itl_skip[k] = len(resumed)
        due = self.finish_at.pop(k, None)
        if due is not None:
            for seq, adm in due:
                if seq.admission == adm and seq.state == DECODE:
                    self._finish_decode(seq, k, t_end, finished)
        log = self.log
        log["start_s"].append(t)
        log["duration_s"].append(dt)
        log["num_tokens"].append(n_dec + prefill_tokens)
        log["num_decode_seqs"].append(n_dec)
        log["decode_kv_tokens"].append(kv)
        log["prefill_tokens"].append(prefill_tokens)
        log["emitted_tokens"].append(emitted)
        log["kv_used_blocks"].append(pool.used_blocks)
        log["running"].append(running)
        log["waiting"].append(waiting)
        log["preemptions"].append(preempted)
        self.clock_s = t_end
        self.last_dt_s = dt
        self.k = k + 1

    # ------------------------------------------------------------------ transitions
    def _admit(self, t: float, budget: int, chunks: list[Chunk]) -> None:
        waiting = self.waiting
        chunked = self.cfg.enable_chunked_prefill
        max_seqs = self.cfg.max_num_seqs
        while waiting and budget > 0 and self.n_running < max_seqs:
            seq = waiting[0]
            remaining = seq.target - seq.done
            c = min(remaining, budget, self.seq_chunk_tokens)
            if c < remaining and not chunked:
                break
            nb = blocks_for(remaining if self.cfg.prompt_blocks_at_admission else c, self.B)
            if not self._admits(seq, c, nb):
                break
            waiting.popleft()
            self._start_prefill(t, seq, c, nb, chunks)
            budget -= c
            if c < remaining:
                self.prefilling.append(seq)

    def busiest_rank(self, chunks: list[Chunk]) -> tuple[int, int]:
        """(tokens, pairs) x ranks of the step's busiest attention-DP rank: :func:`scheduler.busiest_rank_prefill`."""
        return scheduler.busiest_rank_prefill([(c, s.done) for s, c, _ in chunks], self.dp_ranks,
                                    self.cfg.max_num_batched_tokens // self.dp_ranks)

    def _preempt(self, k: int, t: float, need: int, chunks: list[Chunk], budget: int) -> tuple[int, int, int, int]:
        """Preempt the most recently admitted sequences until this step's blocks fit."""
        pool = self.pool
        swap = self.cfg.preemption_mode == "swap"
        swap_tokens = 0
        count = 0
        while need > pool.total_blocks - pool.used_blocks:
            seq = self._pop_last_running()
            if seq is None:  # pragma: no cover - need comes only from running sequences
                break
            count += 1
            self.num_preemptions += 1
            self.table.num_preemptions[seq.rid] += 1
            if seq.state == DECODE:
                cached = seq.base + k
                held = blocks_for(cached, self.B)
                seq.gen += k - seq.k_first
                self._stop_decode(seq)
                budget += 1
            else:
                cached = seq.done
                held = seq.blocks
                self.prefilling.remove(seq)
                for i, ch in enumerate(chunks):
                    if ch[0] is seq:
                        budget += ch[1]
                        del chunks[i]
                        break
            pool.used_blocks -= held
            self.n_running -= 1
            if seq.state == DECODE:  # its last token came out at the end of the previous step
                seq.last_token_s = t
            if swap:
                seq.state = SWAPPED
                seq.on_host = True
                seq.cached = cached
                seq.blocks = held
                swap_tokens += cached
                self.swapped.appendleft(seq)
            else:
                self._requeue(seq)
            need = (self.res[-k % self.B] if self.n_dec else 0) + sum(ch[2] for ch in chunks)
        return need, budget, swap_tokens, count

    def _swap_in(self, k: int, budget: int, swap_tokens: int, resumed: list[Seq],
                 chunks: list[Chunk]) -> tuple[int, int]:
        """Bring swapped-out sequences back, oldest preemption first, while budget, blocks and slots allow.

        A decoding sequence decodes in this very step; a prefilling one runs its next chunk.
        """
        pool = self.pool
        while self.swapped and self.n_running < self.cfg.max_num_seqs and budget > 0:
            seq = self.swapped[0]
            decoding = seq.done == seq.target
            chunk = 1 if decoding else min(seq.target - seq.done, budget, self.seq_chunk_tokens)
            nb = blocks_for(seq.cached + chunk, self.B)
            if nb > pool.total_blocks - pool.used_blocks:
                break
            self.swapped.popleft()
            pool.used_blocks += nb
            if seq.on_host:
                swap_tokens += seq.cached
            self._add_running(seq)
            budget -= chunk
            if decoding:
                self._start_decode(seq, k, seq.cached)
                resumed.append(seq)
            else:
                seq.state = PREFILL
                seq.blocks = nb  # its blocks for this step's chunk are taken already
                self.prefilling.append(seq)
                chunks.append((seq, chunk, 0))
        return budget, swap_tokens
