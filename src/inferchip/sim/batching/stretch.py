"""Bulk execution of decode-only stretches of a replica.

When no sequence is prefilling or swapped out and no waiting request can be admitted,
the batch stays the same until the next finish, the next KV-block shortage or the next
arrival. Its steps then differ only in their KV length (``+num_decode_seqs`` per step),
so their times come from one vectorised lookup and the replica jumps over them. The
steps, times and logs are identical to running them one at a time (tested).
"""

from __future__ import annotations

import heapq
from collections import deque
from typing import Protocol

import numpy as np

from inferchip.sim.batching.kv_cache import BlockPool, blocks_for
from inferchip.sim.batching.scheduler import SchedulerConfig, Seq
from inferchip.sim.results.step_log import ReplicaLog
from inferchip.sim.step.steptime import StepTimer


class Replica(Protocol):
    """The replica state a decode stretch reads and advances (:class:`inferchip.sim.batching.replica.Replica`)."""

    cfg: SchedulerConfig
    seq_chunk_tokens: int
    n_dec: int
    n_running: int
    waiting: deque[Seq]
    B: int
    pool: BlockPool
    k: int
    finish_keys: list[int]
    finish_at: dict[int, list[tuple[Seq, int]]]
    timer: StepTimer
    kv_base: int
    clock_s: float
    res: list[int]
    log: ReplicaLog

    def _admits(self, seq: Seq, chunk: int, blocks: int) -> bool: ...

MIN_STRETCH_STEPS = 8
MAX_STRETCH_STEPS = 4096
STEP_ESTIMATE_MARGIN = 1.25  # the first step's time bounds the count (KV only grows); a margin for rounding


def _admissible(rep: Replica) -> bool:
    """Whether the head of the waiting queue could be admitted now (mirrors ``Replica._admit``)."""
    cfg = rep.cfg
    budget = cfg.max_num_batched_tokens - rep.n_dec
    if rep.n_running >= cfg.max_num_seqs or budget <= 0:
        return False
    seq = rep.waiting[0]
    remaining = seq.target - seq.done
    c = min(remaining, budget, rep.seq_chunk_tokens)
    if c < remaining and not cfg.enable_chunked_prefill:
        return False
    return rep._admits(seq, c, blocks_for(c, rep.B))


def decode_stretch(rep: Replica, limit_s: float) -> int:
    """Run the decode-only steps that start before ``limit_s`` and change nothing but KV length.

    Returns how many steps were run (0 when the stretch would be shorter than
    :data:`MIN_STRETCH_STEPS`, which the per-step path handles as cheaply).
    """
    if rep.waiting and _admissible(rep):
        return 0
    k = rep.k
    keys = rep.finish_keys
    while keys and keys[0] not in rep.finish_at:
        heapq.heappop(keys)
    span = MAX_STRETCH_STEPS if not keys else min(keys[0] - k, MAX_STRETCH_STEPS)  # stop before a finish
    if span < MIN_STRETCH_STEPS:
        return 0
    if limit_s != np.inf:  # do not price steps far beyond the limit: estimate how many fit before it
        first_s = rep.timer.time_s(rep.n_dec, rep.n_dec, rep.kv_base + rep.n_dec * k, 0)
        span = min(span, int((limit_s - rep.clock_s) / first_s * STEP_ESTIMATE_MARGIN) + MIN_STRETCH_STEPS)
    steps = k + np.arange(span, dtype=np.int64)
    need = np.asarray(rep.res, dtype=np.int64)[(-steps) % rep.B]
    cum_need = np.cumsum(need)
    span = min(span, int(np.searchsorted(cum_need, rep.pool.total_blocks - rep.pool.used_blocks, side="right")))
    if span < MIN_STRETCH_STEPS:
        return 0
    n = rep.n_dec
    kv = rep.kv_base + n * steps[:span]
    dts = np.asarray(rep.timer.times_s(rep.timer.decode_keys(n, kv)))
    ends = np.cumsum(np.concatenate(([rep.clock_s], dts)))  # sequential sums, as the per-step path adds
    span = min(span, int(np.searchsorted(ends[:-1], limit_s, side="left")))  # steps that start before the limit
    if span < 1:
        return 0
    log = rep.log
    log["start_s"].extend(ends[:span].tolist())
    log["duration_s"].extend(dts[:span].tolist())
    log["num_tokens"].extend([n] * span)
    log["num_decode_seqs"].extend([n] * span)
    log["decode_kv_tokens"].extend(kv[:span].tolist())
    log["prefill_tokens"].extend([0] * span)
    log["emitted_tokens"].extend([n] * span)
    log["kv_used_blocks"].extend((rep.pool.used_blocks + cum_need[:span]).tolist())
    log["running"].extend([rep.n_running] * span)
    log["waiting"].extend([len(rep.waiting)] * span)
    log["preemptions"].extend([0] * span)
    rep.pool.used_blocks += int(cum_need[span - 1])
    rep.clock_s = float(ends[span])
    rep.k = k + span
    return span
