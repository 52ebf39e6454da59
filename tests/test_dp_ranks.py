"""Prefill chunks on attention-DP ranks (sim/scheduler.busiest_rank_prefill): a prompt runs whole on one rank, the step
lasts as long as the busiest rank, and the replica prices its steps so."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from inferchip.sim import LinearStepModel, SchedulerConfig
from inferchip.sim.replica import Replica
from inferchip.sim.request import RequestTable
from inferchip.sim.scheduler import busiest_rank_prefill
from inferchip.sim.steptime import StepTimer


def _pairs(c: int, d: int = 0) -> int:
    return c * d + c * (c + 1) // 2


def test_one_prompt_runs_on_one_rank():
    # one 8,192-token prompt on a 4-rank worker: the busiest rank holds all of it, so the worker is priced
    # as if every rank held one (4 x 8,192 tokens), not 2,048 each
    assert busiest_rank_prefill([(8192, 0)], 4) == (4 * 8192, 4 * _pairs(8192))


def test_one_prompt_per_rank_is_the_even_spread():
    assert busiest_rank_prefill([(8192, 0)] * 4, 4) == (4 * 8192, 4 * _pairs(8192))
    assert busiest_rank_prefill([(1000, 0), (1000, 0)], 2) == (2000, 2 * _pairs(1000))


def test_chunks_fill_the_least_loaded_rank_longest_first():
    # 1,000 + 500 + 500 tokens on 2 ranks: 1,000 on one, 500 + 500 on the other: busiest 1,000
    tokens, pairs = busiest_rank_prefill([(500, 0), (1000, 0), (500, 0)], 2)
    assert tokens == 2 * 1000
    assert pairs == 2 * _pairs(1000)
    # a continued chunk counts its pairs against its cached tokens
    assert busiest_rank_prefill([(100, 300)], 2) == (200, 2 * _pairs(100, 300))


def test_one_rank_is_the_plain_sum():
    assert busiest_rank_prefill([(100, 50), (30, 0)], 1) == (130, _pairs(100, 50) + _pairs(30))
    assert busiest_rank_prefill([], 4) == (0, 0)


def test_a_rank_takes_no_more_than_its_budget():
    # nine chunks on 8 ranks of 8,192 tokens each: the ninth would double one rank; its own budget
    # caps it (the engine chunks per rank), pairs scaled with the tokens
    chunks = [(7000, 0)] * 8 + [(6000, 0)]
    tokens, pairs = busiest_rank_prefill(chunks, 8, rank_budget=8192)
    assert tokens == 8 * 8192
    assert pairs == 8 * int((_pairs(7000) + _pairs(6000)) * 8192 / 13000)
    # an even spread above the budget stays the even spread
    assert busiest_rank_prefill([(9000, 0)] * 2, 2, rank_budget=4096)[0] == 18000


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 9000), st.integers(0, 9000)), min_size=1, max_size=40),
       st.integers(1, 16), st.integers(0, 20000))
def test_never_below_the_even_spread_nor_above_all_on_one_rank(chunks, ranks, budget):
    tokens, pairs = busiest_rank_prefill(chunks, ranks, budget)
    total = sum(c for c, _ in chunks)
    total_pairs = sum(_pairs(c, d) for c, d in chunks)
    assert tokens >= total  # the busiest rank holds at least its even share
    assert tokens <= ranks * max(total, 1)
    assert pairs <= ranks * total_pairs
    if ranks == 1:
        assert (tokens, pairs) == (total, total_pairs)


@dataclass(frozen=True)
class _RankedStep(LinearStepModel):
    ranks: int = 1


def _one_prompt_step_s(ranks: int) -> float:
    model = _RankedStep(per_token_s=1e-5, per_attn_pair_s=1e-9, ranks=ranks)
    rep = Replica(0, StepTimer(model, exact=True), SchedulerConfig(max_num_batched_tokens=8192 * max(ranks, 1)),
                  1_000_000, RequestTable())
    rid = rep.table.add(0.0, 4096, 2)
    rep.enqueue(rid, 4096, 2, 0.0)
    rep._step([])
    return float(rep.log["duration_s"][0])


def test_replica_prices_a_lone_prompt_on_its_rank():
    one = _one_prompt_step_s(1)
    four = _one_prompt_step_s(4)
    # by hand: 4,096 tokens and 4,096 x 4,097 / 2 pairs on one chip of four, the worker priced as four such
    expect = 4 * (1e-5 * 4096 + 1e-9 * (4096 * 4097 // 2))
    assert np.isclose(four, expect, rtol=1e-9)
    assert np.isclose(one, expect / 4, rtol=1e-9)


def test_step_points_take_the_busiest_chips_prefill_apart_from_the_experts_tokens():
    from inferchip.cost.step import replica_point, step_points

    # 8,192 prefill tokens and 16 decodes on 4 attention-DP chips, the prompt whole on one chip
    even = step_points(4, 8192 + 16, 16, 16_000, 4 * 1000.0)
    lone = step_points(4, 8192 + 16, 16, 16_000, 4 * 1000.0, prefill_chip=8192.0)
    # the routed experts serve every token
    assert float(even.all_tokens.item()) == float(lone.all_tokens.item()) == 8208.0
    assert float(even.tokens.item()) == 4 + 8192 / 4  # 16 decodes over 4 chips, a quarter of the prompt
    assert float(lone.tokens.item()) == 4 + 8192  # the busiest chip holds the whole prompt
    assert float(lone.prefill_pairs.item()) == 1000.0  # pairs are passed for the busiest chip times dp
    # the scalar form agrees
    t, t_all, _, t_pre, _, pairs, _ = replica_point(4, 8208.0, 16.0, 16_000.0, 4000.0, None, 8192.0)
    assert (t, t_all, t_pre, pairs) == (4 + 8192, 8208.0, 8192.0, 1000.0)
    # one chip: no attention DP, nothing to place
    assert float(step_points(1, 100, 0, 0, 50, prefill_chip=30.0).tokens.item()) == 100.0


def test_a_lone_prompt_on_a_real_worker_costs_between_the_even_spread_and_every_rank_as_busy():
    """DeepSeek-R1 FP8 on 8 GB200 with attention DP: one 8,192-token prompt on one rank costs more than the
    even spread (a 1/8 share each) and less than every rank holding such a prompt (the routed experts then
    serve 8x the tokens)."""
    from inferchip.performance.serving import serving_model
    from inferchip.sim.engines import EngineStepModel

    step, _ = serving_model("nvidia-gb200-186gb", "deepseek-ai/DeepSeek-R1", count=8, tp=8, ep=8, weights="fp8",
                            attn_dp=True)
    eng = EngineStepModel(step, ranks=8)
    pairs = 8192 * 8193 // 2
    even = float(eng.step_time_s(np.array([8192]), np.array([0]), np.array([0]), np.array([pairs]))[0])
    every = float(eng.step_time_s(np.array([8 * 8192]), np.array([0]), np.array([0]), np.array([8 * pairs]))[0])
    lone = eng.step_time_busiest_s(8192, 0, 0, 8 * pairs, 8192.0)
    assert lone is not None
    assert 2 * even < lone < every
    # a plain step model cannot take the busiest rank apart: the replica falls back to every rank as busy
    assert EngineStepModel(LinearStepModel(), ranks=8).step_time_busiest_s(8192, 0, 0, pairs, 8192.0) is None
