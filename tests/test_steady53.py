"""Attention DP in the steady state (steady53): a prompt-carrying decode step lasts its busiest rank's prefill.

Each prompt runs whole on one attention-DP rank and the ranks' steps are synchronised by the expert all-to-all, so
a step that admits a prompt lasts as long as the rank that prefills it (the serving simulator prices it so:
``scheduler.busiest_rank_prefill``, ``ServingStepModel.step_time_busiest_s``). The steady state spread the step's
prompts evenly over the ranks: DeepSeek-R1 on 8 GB200 at tp 8 attention DP, ``predict --max-tpot-ms 50`` held
1,178 sequences where the simulator's TPOT at that load is ~70 ms (fleet52). Hand figures: 1.15 prompts a step
(Poisson) on 8 ranks put E[ceil(K / 8) | K >= 1] ~ 1.0004 prompts on the busiest rank in the 68 % of the steps
that admit one.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inferchip.performance.operating import Question, steady_state
from inferchip.performance.phases import admit_share, busiest_rank_prompts, decode_step, dp_decode_step
from inferchip.performance.serving import ServingStepModel
from inferchip.performance.setting import resolve_setting

R1 = "deepseek-ai/DeepSeek-R1"
GB200 = "nvidia-gb200-186gb"


def poisson_busiest_by_hand(lam: float, dp: int) -> float:
    """E[ceil(K / dp) | K >= 1] of K ~ Poisson(lam), summed term by term in floats."""
    total, pmf, k = 0.0, math.exp(-lam), 0
    while k < lam + 40.0 * math.sqrt(lam) + 60:
        k += 1
        pmf *= lam / k
        total += math.ceil(k / dp) * pmf
    return total / -math.expm1(-lam)


def test_hand_values():
    p, m = busiest_rank_prompts(np.array([1.15]), 8, True)
    assert float(p[0]) == pytest.approx(1.0 - math.exp(-1.15), rel=1e-12)
    assert float(m[0]) == pytest.approx(poisson_busiest_by_hand(1.15, 8), rel=1e-10)
    assert 1.0 < float(m[0]) < 1.001  # at most 8 prompts a step fit one each on 8 ranks, and K > 8 is rare
    # fixed lengths: 0.5 prompts a step on 8 ranks: half the steps carry one, on one rank
    p, m = busiest_rank_prompts(np.array([0.5]), 8, False)
    assert (float(p[0]), float(m[0])) == (0.5, 1.0)
    # 2.5 a step on 2 ranks: every step carries 2 (one a rank) or 3 (two on the busiest), half each
    p, m = busiest_rank_prompts(np.array([2.5]), 2, False)
    assert (float(p[0]), float(m[0])) == (1.0, 1.5)
    # 20 a step (Poisson) on 4 ranks: about 20 / 4 = 5 each, ceil's half a prompt above it
    _, m = busiest_rank_prompts(np.array([20.0]), 4, True)
    assert float(m[0]) == pytest.approx(poisson_busiest_by_hand(20.0, 4), rel=1e-10)


@settings(max_examples=60, deadline=None)
@given(lam=st.floats(1e-4, 3000.0), dp=st.integers(1, 72), random=st.booleans())
def test_busiest_rank_between_the_even_share_and_all_prompts(lam, dp, random):
    """The busiest rank holds at least one prompt and the even share, at most all of a step's prompts; one rank
    holds them all."""
    p, m = busiest_rank_prompts(np.array([lam]), dp, random)
    per_step = lam / float(p[0])  # prompts in a step that carries any
    busy = float(m[0])
    assert 0.0 < float(p[0]) <= 1.0
    assert busy >= 1.0 - 1e-9 and busy >= per_step / dp * (1.0 - 1e-9)
    assert busy <= per_step * (1.0 + 1e-9) + 1e-9
    if dp == 1:
        assert busy == pytest.approx(per_step, rel=1e-9)


@pytest.fixture(scope="module")
def gb200():
    s = resolve_setting(GB200, R1, count=8, tp=8, ep=8, attn_dp=True)
    return s, s.mapped(s.layout)


def test_fill_step_is_the_simulators_busiest_rank_step(gb200):
    """Fixed lengths, under one prompt a step: the fill step is the simulator's step of b decodes and one whole
    prompt on one of 8 ranks (step_time_busiest_s with the prompt's pairs x 8), and TPOT the share-weighted mean."""
    _, mm = gb200
    b, i = 256.0, 1024.0
    new = b / 1024.0
    pairs = i * (i + 1.0) / 2.0
    kv = b * (i + 512.0)
    tpot, _ = dp_decode_step(mm, np.array([b]), np.array([new]), i, pairs, np.array([kv]), False)
    sim = ServingStepModel(mm, ranks=8)
    fill = sim.step_time_busiest_s(b + i, b, kv, 8 * pairs, i)
    pure = sim.step_time_s(b, b, kv, 0.0)
    assert float(tpot[0]) == pytest.approx((1.0 - new) * float(np.ravel(pure)[0]) + new * fill, rel=1e-9)


def test_slower_than_the_even_spread_and_equal_where_no_rank_waits(gb200):
    """The busiest rank's fill step is never faster than the even spread's; one rank (tp 8 without attention DP)
    keeps decode_step unchanged."""
    _, mm = gb200
    b = np.array([64.0, 512.0, 1178.0, 4096.0])
    new = b / 1024.0
    pairs = 1024.0 * 1025.0 / 2.0
    kv = b * 1536.0
    t_dp, _ = dp_decode_step(mm, b, new, 1024.0, pairs, kv, True)
    p = admit_share(new)
    t_even = (1.0 - p) * mm.replica_step_s(b, b, kv, 0.0 * b)[0] + p * mm.replica_step_s(
        b + new * 1024.0 / p, b, kv, new * pairs / p)[0]
    assert np.all(t_dp >= t_even * (1.0 - 1e-12))
    assert t_dp[2] > 1.2 * t_even[2]  # 1,178 sequences: a whole 1,024-token prompt on one rank, not ~216 tokens
    heads = resolve_setting(GB200, R1, count=8, tp=8, ep=8, attn_dp=False)
    mh = heads.mapped(heads.layout)
    t1, _ = decode_step(mh, b, new, 1024.0, pairs, kv)
    ph = admit_share(new)
    want = (1.0 - ph) * mh.replica_step_s(b, b, kv, 0.0 * b)[0] + ph * mh.replica_step_s(
        b + new * 1024.0 / ph, b, kv, new * pairs / ph)[0]
    np.testing.assert_array_equal(t1, want)


@pytest.mark.parametrize("wait", [False, True])
def test_one_point_equals_the_arrays_under_attention_dp(gb200, wait):
    """steady_state of one concurrency (floats) equals the arrays' TPOT, with and without Poisson arrivals."""
    from dataclasses import replace

    _, mm = gb200
    q = replace(Question.fixed(1024, 1024), queue_wait=wait)
    bs = [8.0, 490.0, 1178.0]
    many = steady_state(mm, np.array(bs), q, True)
    for k, b in enumerate(bs):
        one = steady_state(mm, np.array([b]), q, True)
        assert float(np.ravel(one.tpot_s)[0]) == pytest.approx(float(many.tpot_s[k]), rel=1e-12)


def test_max_tpot_holds_fewer_sequences_than_the_even_spread(gb200):
    """predict --max-tpot-ms 50 on GB200 x 8: the 1,178 sequences of the even spread run above 50 ms now."""
    s, mm = gb200
    q = Question.fixed(1024, 1024)
    met = steady_state(mm, np.array([1178.0]), q, False)
    assert float(met.tpot_s[0]) > 0.050


def test_a_balancing_engine_keeps_the_even_spread(gb200):
    """TensorRT-LLM's attention_dp_config enable_balance holds prompts until every rank has one: the question says
    so (dp_prompts_balanced) and the steady state keeps decode_step's even spread; unbalanced is slower."""
    from dataclasses import replace

    _, mm = gb200
    q = replace(Question.fixed(1024, 1024), queue_wait=True)
    b = np.array([490.0, 1178.0])
    even = steady_state(mm, b, replace(q, dp_prompts_balanced=True), False)
    ctx = 1024.0 + 1024.0 / 2.0
    want, _ = decode_step(mm, b, b / 1024.0, 1024.0, 1024.0 * 1025.0 / 2.0, b * ctx)
    np.testing.assert_array_equal(even.tpot_s, want)
    whole = steady_state(mm, b, q, False)
    assert np.all(whole.tpot_s > even.tpot_s)


def test_who_balances():
    """predict --engine trtllm (its record's attention_dp_balance) balances; sglang and vllm do not."""
    q = Question.fixed(1024, 1024)
    assert q.dp_prompts_balanced is False  # no engine named: whole prompts, as serve's simulator places them
    for engine, want in (("trtllm", True), ("sglang", False), ("vllm", False)):
        e = resolve_setting(GB200, R1, count=8, tp=8, ep=8, attn_dp=True, engine=engine).engine
        assert e is not None and e.limited(q).dp_prompts_balanced is want, engine


@pytest.mark.parametrize(("case_id", "want"), [("trtllmdg-dsr1-b200-dep4-1024-1024", True),
                                               ("mlp51-deepseek-r1-server-gb200x72-nvidia", True),
                                               ("mlp51-mixtral-8x7b-offline-mi300xx8-amd", False)])
def test_rows_that_balance(case_id, want):
    from inferchip.validation.cases import read_cases
    from inferchip.validation.plan import balances_dp_prompts, plan_for

    case = next(c for c in read_cases("src/inferchip/catalog/validation_cases.csv") if c.case_id == case_id)
    assert balances_dp_prompts(case) is want
    from inferchip.spec.calibration import DatasetLengths

    assert plan_for(case, DatasetLengths()).dp_prompts_balanced is want
