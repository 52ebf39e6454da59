"""Prefill workers whose requests are pinned to a random attention-DP rank (sim/engines/rank_pinned.py): SGLang
DP controller before PR #16110 sends a request to rank bootstrap_room % dp, the front end drawing the room at random."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inferchip.sim import LinearStepModel, SchedulerConfig
from inferchip.sim.batching.scheduler import busiest_rank_prefill
from inferchip.sim.engines.bench import closed_loop_disagg_run
from inferchip.sim.engines.rank_pinned import RankPinnedReplica, pinned_busiest_rank
from inferchip.sim.results.request import RequestTable
from inferchip.sim.step.steptime import StepTimer


def _pairs(c: int, d: int = 0) -> int:
    return c * d + c * (c + 1) // 2


def test_busiest_rank_by_hand():
    # rank 0 holds 900 + 800 = 1,700 tokens, rank 2 holds 1,000: rank 0 is the busiest, priced as 4 such ranks
    assert pinned_busiest_rank([(0, 900, 0), (0, 800, 0), (2, 1000, 0)], 4) == (4 * 1700, 4 * (405_450 + 320_400))
    # a continued chunk counts its pairs against its cached tokens
    assert pinned_busiest_rank([(1, 100, 300)], 2) == (200, 2 * _pairs(100, 300))


def test_bad_rank_is_refused():
    with pytest.raises(ValueError, match="rank"):
        pinned_busiest_rank([(4, 10, 0)], 4)
    with pytest.raises(ValueError, match="ranks"):
        pinned_busiest_rank([], 0)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 7), st.integers(1, 9000), st.integers(0, 9000)), min_size=1, max_size=30),
       st.integers(1, 8))
def test_pinned_is_the_busiest_ranks_own_sum_and_can_be_worse_than_the_shared_placement(chunks, ranks):
    chunks = [(r % ranks, c, d) for r, c, d in chunks]
    tokens, pairs = pinned_busiest_rank(chunks, ranks)
    per_rank = [sum(c for r, c, _ in chunks if r == k) for k in range(ranks)]
    busiest = per_rank.index(max(per_rank))  # ties: the lower rank
    assert tokens == ranks * per_rank[busiest]  # recomputed here, rank by rank
    assert pairs == ranks * sum(_pairs(c, d) for r, c, d in chunks if r == busiest)
    total = sum(c for _, c, _ in chunks)
    assert total <= tokens <= ranks * total  # at least the even share, at most everything
    # longest first on the least loaded rank is within one chunk of the best placement; a pinned one can be worse
    shared, _ = busiest_rank_prefill([(c, d) for _, c, d in chunks], ranks)
    assert shared <= ranks * (-(-total // ranks) + max(c for _, c, _ in chunks))


def test_all_chunks_pinned_to_one_rank_are_worse_than_the_shared_placement():
    chunks = [(0, 1000, 0)] * 4
    assert pinned_busiest_rank(chunks, 4)[0] == 4 * 4000
    assert busiest_rank_prefill([(c, d) for _, c, d in chunks], 4)[0] == 4 * 1000


@dataclass(frozen=True)
class _RankedStep(LinearStepModel):
    ranks: int = 1


def _worker(ranks: int, budget_per_rank: int, seed: int = 0) -> RankPinnedReplica:
    model = _RankedStep(per_token_s=1e-5, per_attn_pair_s=0.0, ranks=ranks)
    return RankPinnedReplica(0, StepTimer(model, exact=True),
                             SchedulerConfig(max_num_batched_tokens=budget_per_rank * ranks), 10_000_000,
                             RequestTable(), seed=seed)


def test_a_full_rank_holds_its_requests_while_another_has_room():
    rep = _worker(2, 1000)
    rids = [rep.table.add(0.0, 600, 1) for _ in range(3)]
    for rid in rids:
        rep.enqueue(rid, 600, 1, 0.0)
    rep.rank_of.update({rids[0]: 0, rids[1]: 0, rids[2]: 1})  # two prompts on rank 0, one on rank 1
    rep._step([])
    # rank 0 takes its first prompt and 400 tokens of the second (its budget is 1,000), rank 1 its prompt:
    # the busiest rank holds 1,000 tokens, priced as 2 such ranks: 2,000 x 10 us = 20 ms
    assert np.isclose(float(rep.log["duration_s"][0]), 2000 * 1e-5)
    assert float(rep.log["prefill_tokens"][0]) == 1600
    # the plain replica would have placed 600 + 600 + 400 longest first: 600 + 400 on one rank, 600 on the other
    assert busiest_rank_prefill([(600, 0), (600, 0), (400, 0)], 2, 1000)[0] == 2000


def test_ranks_are_drawn_uniformly_and_reproducibly():
    a, b = _worker(4, 1000, seed=7), _worker(4, 1000, seed=7)
    for rep in (a, b):
        for _ in range(4000):
            rid = rep.table.add(0.0, 10, 1)
            rep.enqueue(rid, 10, 1, 0.0)
    assert a.rank_of == b.rank_of
    counts = np.bincount(list(a.rank_of.values()), minlength=4)
    assert counts.sum() == 4000 and np.all(np.abs(counts - 1000) < 120)  # 4 sigma of a binomial(4000, 1/4)


def test_pinned_ranks_slow_a_loaded_worker_and_leave_one_rank_alone():
    def run(ranks: int, pin: str):
        model = _RankedStep(per_token_s=1e-5, per_attn_pair_s=0.0, ranks=ranks)
        cfg = SchedulerConfig(max_num_batched_tokens=2048 * ranks)
        return closed_loop_disagg_run(model, LinearStepModel(fixed_s=0.01), 64, 1000, 20, cfg, SchedulerConfig(),
                                      num_requests=640, seed=3, prefill_replicas=1, decode_replicas=1,
                                      kv_bytes_per_token=0.0, link_bytes_per_s=1e12, link_latency_s=0.0,
                                      prefill_dp_rank=pin)
    shared, pinned = run(4, ""), run(4, "random")
    assert pinned.ttft_s > shared.ttft_s  # a rank's queue waits while another idles
    one_shared, one_pinned = run(1, ""), run(1, "random")
    assert np.isclose(one_shared.ttft_s, one_pinned.ttft_s)  # one rank: nothing to pin
    with pytest.raises(ValueError, match="prefill_dp_rank"):
        run(4, "least")


def test_a_request_leaving_the_worker_drops_its_rank():
    # review35b: rank_of grew by one entry per request and was never pruned; a request's rank is read until the
    # step that finishes (or hands off) it, and only then dropped
    rep = _worker(2, 1000)
    rids = [rep.table.add(0.0, 600, 1) for _ in range(3)]
    for rid in rids:
        rep.enqueue(rid, 600, 1, 0.0)
    rep.rank_of.update({rids[0]: 0, rids[1]: 0, rids[2]: 1})
    rep._step([])  # prompts 0 and 2 complete (one output token: they leave); prompt 1 has 200 tokens left
    assert rep.rank_of == {rids[1]: 0}
    rep._step([])
    assert rep.rank_of == {} and rep.table.finish_s[rids[1]] > 0
