"""Attention DP: a prompt's attention runs whole on the one rank that holds it (dpa41).

SGLang's ``DataParallelController`` sends each tokenized request to one DP rank's scheduler and TensorRT-LLM's
attention DP schedules each new request on one rank (``ExecutorRequestQueue._schedule_attention_dp_requests``), so
the request's prompt attention (its causal query-key pairs) is that rank's work alone. ``cost.step.step_points``
takes the pairs in the worker's form, ``dp`` x the busiest chip's, and divides by ``dp``; the simulator gives it
the busiest rank's own pairs x ranks (``scheduler.busiest_rank_prefill``). ``predict``'s static batch gave the whole
batch's pairs (one 8k prompt on 8 chips: an eighth of its attention), and the steady state's TTFT step split a new
request's chunk over the DP chips. Hand counts: an 8,192-token prompt has 8,192 x 8,193 / 2 = 33,558,528 causal
pairs; a 1,024-token one 524,800.
"""

from __future__ import annotations

import numpy as np
import pytest

from inferchip.cost.step import step_points
from inferchip.performance.operating import Question, steady_state
from inferchip.performance.phases import continuous_batch, first_chunk_step, static_batch
from inferchip.performance.predict import predict_setting
from inferchip.performance.setting import resolve_setting
from inferchip.sim.batching.scheduler import busiest_rank_prefill

R1 = "deepseek-ai/DeepSeek-R1"
B200 = "nvidia-b200-180gb"
PAIRS_8K = 33_558_528  # 8,192 x 8,193 / 2
PAIRS_1K = 524_800  # 1,024 x 1,025 / 2


def test_hand_counts():
    assert PAIRS_8K == 8192 * 8193 // 2 and PAIRS_1K == 1024 * 1025 // 2
    # the simulator's busiest rank of a lone 8k chunk on 8 ranks: all its tokens and pairs, in the x ranks form
    assert busiest_rank_prefill([(8192, 0)], 8) == (8 * 8192, 8 * PAIRS_8K)
    # the step's busiest chip then holds the prompt's whole pairs, as the one chip of a dp = 1 worker does
    pts = step_points(8, 8192, 0, 0, 8 * PAIRS_8K, prefill_chip=8192)
    one = step_points(1, 8192, 0, 0, PAIRS_8K)
    assert float(pts.prefill_pairs.reshape(-1)[0]) == float(one.prefill_pairs.reshape(-1)[0]) == PAIRS_8K
    assert float(pts.prefill_tokens.reshape(-1)[0]) == 8192.0


def test_first_chunk_step_hand_counts():
    assert first_chunk_step(1, 8192.0, 100.0, 8192.0) == (None, PAIRS_8K + 100.0)
    chip, pairs = first_chunk_step(8, 8192.0, 100.0, np.array([8200.0, 8300.0]))
    assert chip is not None and chip.tolist() == [8192.0, 8192.0]
    assert float(pairs) == 8 * PAIRS_8K + 100.0  # the chunk whole on one chip, the background spread


@pytest.fixture(scope="module")
def dpa():
    s = resolve_setting(B200, R1, count=8, tp=8, ep=8, attn_dp=True)
    return s, s.mapped(s.layout)


def test_lone_8k_prompt_attention_is_the_dp1_chips(dpa):
    """A static batch of one 8k prompt at dp 8: the prefill step's attention time is that of the same chip
    pricing the prompt as a dp = 1 worker's (whole pairs), not the eighth main gave."""
    _, mm = dpa
    met = static_batch(mm, 1.0, 8192.0, 256.0)
    plan = mm._plan
    whole = plan.evaluate(step_points(1, 8192.0, 0.0, 0.0, PAIRS_8K, 1.0))
    eighth = plan.evaluate(step_points(1, 8192.0, 0.0, 0.0, PAIRS_8K / 8, 1.0))
    got = float(np.asarray(met.prefill.classes["attention"].time_s).reshape(-1)[0])
    want = float(np.asarray(whole.classes["attention"].time_s).reshape(-1)[0])
    was = float(np.asarray(eighth.classes["attention"].time_s).reshape(-1)[0])
    assert got == pytest.approx(want, rel=1e-9)
    assert was < 0.5 * want  # the quadratic part dominates an 8k prompt's attention: main's eighth is far below
    # the whole step too: a lone prompt's tokens are the step's, so the experts see the same tokens
    assert float(np.asarray(met.prefill.time_s).reshape(-1)[0]) == pytest.approx(
        float(np.asarray(whole.time_s).reshape(-1)[0]), rel=1e-9)


@pytest.mark.parametrize("fast", [True, False])
def test_static_batch_fast_and_general_paths_agree(dpa, fast):
    s, _ = dpa
    ref = predict_setting(s, Question.fixed(8192, 256, 1), fast=False)
    got = predict_setting(s, Question.fixed(8192, 256, 1), fast=fast)
    assert got.ttft_s == pytest.approx(ref.ttft_s, rel=1e-9)
    nine = predict_setting(s, Question.fixed(1024, 256, 9), fast=fast)
    nine_ref = predict_setting(s, Question.fixed(1024, 256, 9), fast=False)
    assert nine.ttft_s == pytest.approx(nine_ref.ttft_s, rel=1e-9)


def test_static_batch_of_dp_prompts_is_the_even_spread(dpa):
    """Batch 16 at dp 8: two prompts per chip, the busiest chip's pairs 2 x 524,800, which is the even share of
    the batch's 16 x 524,800: the same step as main's."""
    _, mm = dpa
    met = static_batch(mm, 16.0, 1024.0, 256.0)
    plan = mm._plan
    even = plan.evaluate(step_points(8, 16 * 1024.0, 0.0, 0.0, 16 * PAIRS_1K, 16.0))
    assert float(np.asarray(met.prefill.time_s).reshape(-1)[0]) == pytest.approx(
        float(np.asarray(even.time_s).reshape(-1)[0]), rel=1e-9)


def test_steady_state_ttft_step_holds_the_new_chunk_whole(dpa):
    """--max-throughput's TTFT step: the new request's chunk whole on one chip (tokens and pairs), the arrays
    (several concurrencies) equal to the scalar path point by point, and continuous_batch equal to both."""
    _, mm = dpa
    q = Question.fixed(8192, 1024, None)
    bs = [64.0, 256.0, 1024.0]
    many = steady_state(mm, np.array(bs), q, True)
    for k, b in enumerate(bs):
        one = steady_state(mm, np.array([b]), q, True)
        assert float(np.asarray(many.ttft_s)[k]) == pytest.approx(float(np.asarray(one.ttft_s).reshape(-1)[0]),
                                                                   rel=1e-9)
    cb = continuous_batch(mm, np.array(bs), 8192.0, 1024.0)
    assert np.allclose(np.asarray(cb.ttft_s).reshape(-1), np.asarray(many.ttft_s).reshape(-1), rtol=1e-9)
    # the first step at b = 64 by hand: 64 decodes over 8 chips (8 on the busiest) and the whole 8,192-token chunk
    b, new = 64.0, 64.0 / 1024.0
    ctx = 8192.0 + 1024.0 / 2.0
    pts = step_points(8, b + 8192.0, b, b * ctx, 8 * PAIRS_8K + new * PAIRS_8K, b + 1.0, prefill_chip=8192.0)
    assert float(pts.tokens.reshape(-1)[0]) == b / 8 + 8192.0
    assert float(pts.prefill_pairs.reshape(-1)[0]) == pytest.approx(PAIRS_8K + new * PAIRS_8K / 8, rel=1e-12)
    want = float(np.asarray(mm._plan.evaluate(pts).time_s).reshape(-1)[0])
    assert float(np.asarray(one_first(mm, b, q))) == pytest.approx(want, rel=1e-9)


def one_first(mm, b, q):
    """The prefill step time of :func:`steady_state` at one concurrency (pp = 1: the stage's step)."""
    met = steady_state(mm, np.array([b]), q, True)
    return np.asarray(met.prefill_step_s).reshape(-1)[0]


def test_steady_state_ttft_is_above_the_even_split(dpa):
    """Main split the new 8k chunk over the 8 chips (1,024 tokens each); one chip now prefills all of it."""
    s, _ = dpa
    p = predict_setting(s, Question.fixed(8192, 1024, None))
    heads = resolve_setting(B200, R1, count=8, tp=8, ep=8, attn_dp=False)
    ph = predict_setting(heads, Question.fixed(8192, 1024, None))
    assert p.ttft_s > ph.ttft_s  # one chip prefills the chunk with all heads; attention TP splits them 8 ways


def test_the_simulators_lone_prompt_step_is_predicts(dpa):
    """The serving simulator's step of a lone 8k prompt on 8 ranks (the busiest rank's tokens and its pairs x ranks,
    as the replica passes them: scheduler.busiest_rank_prefill) is predict's static prefill step of batch 1: the
    closed-loop rows already priced whole prompts' attention, so dpa41 changes none of them."""
    from inferchip.performance.serving import ServingStepModel

    _, mm = dpa
    step_tokens, step_pairs = busiest_rank_prefill([(8192, 0)], 8)
    sim_s = ServingStepModel(mm, ranks=8).step_time_busiest_s(8192, 0, 0, step_pairs, step_tokens // 8)
    met = static_batch(mm, 1.0, 8192.0, 256.0)
    assert sim_s == pytest.approx(float(np.asarray(met.prefill_step_s).reshape(-1)[0]), rel=1e-9)
