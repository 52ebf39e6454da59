"""The step cache of uneven attention-DP steps (sim.step.steptime.StepTimer.busiest_time_s): a hit returns exactly
what the model gives at the cached key, the key is the even steps' rounding plus the busiest rank's tokens
rounded by the same rule, and the cache's memory stays bounded."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inferchip.errors import InvalidSettingError
from inferchip.sim.batching.scheduler import busiest_rank_prefill
from inferchip.sim.step.steptime import MANTISSA_BITS, StepTimer, rank_token_bits


@dataclass
class _TiledStep:
    """A step model with a busiest-rank form: affine in every input, plus a tile jump every 128 busiest-rank
    tokens (the kind of step a cached value must reproduce exactly at its key). Counts its busiest calls."""

    ranks: int = 4
    calls: int = 0

    def step_time_s(self, num_tokens, num_decode_seqs, decode_kv_tokens, prefill_attn_pairs):
        t = np.asarray(num_tokens, float)
        return (1e-3 + 2e-7 * t + 1e-7 * np.asarray(num_decode_seqs, float)
                + 1e-10 * np.asarray(decode_kv_tokens, float) + 1e-13 * np.asarray(prefill_attn_pairs, float))

    def step_time_busiest_s(self, num_tokens, num_decode_seqs, decode_kv_tokens, prefill_attn_pairs, prefill_chip):
        self.calls += 1
        tiles = math.ceil(prefill_chip / 128)
        return (1e-3 + 1e-8 * num_tokens + 1e-7 * num_decode_seqs + 1e-10 * decode_kv_tokens
                + 1e-13 * prefill_attn_pairs + 5e-7 * prefill_chip + 1e-5 * tiles)


def _step_inputs(chunks: list[tuple[int, int]], ranks: int, n_dec: int, kv: int) -> tuple[int, ...] | None:
    """The replica's inputs of an uneven step (replica.Replica._step), None where the step is even."""
    prefill = sum(c for c, _ in chunks)
    pairs = sum(c * d + c * (c + 1) // 2 for c, d in chunks)
    bt, bp = busiest_rank_prefill(chunks, ranks)
    if bt <= prefill:
        return None
    return n_dec + prefill, n_dec, kv, max(bp, pairs), bt // ranks


_chunks = st.lists(st.tuples(st.integers(1, 20_000), st.integers(0, 60_000)), min_size=1, max_size=6)


@settings(max_examples=200, deadline=None)
@given(_chunks, st.integers(2, 16), st.integers(0, 600), st.integers(0, 3_000_000), st.booleans())
def test_a_hit_returns_exactly_the_uncached_cost_of_its_key(chunks, ranks, n_dec, kv, coarse):
    inputs = _step_inputs(chunks, ranks, n_dec, kv)
    if inputs is None:
        return
    model = _TiledStep(ranks=ranks)
    timer = StepTimer(model, target_rel_error=2.0**-6 if coarse else 2.0**-10)
    key = timer.busiest_key(*inputs)
    first = timer.busiest_time_s(*inputs)
    calls = model.calls
    again = timer.busiest_time_s(*inputs)
    assert model.calls == calls == 1  # the second is a hit
    uncached = model.step_time_busiest_s(*key[:4], float(key[4]))
    assert first == again == uncached  # exactly the model at the key, whatever was cached before
    assert StepTimer(_TiledStep(ranks=ranks), target_rel_error=timer.target_rel_error).busiest_time_s(*inputs) == first
    # the key: each input within its bucket, at most 2**-bits of the value away (rounding to the midpoint)
    bits = rank_token_bits(timer.target_rel_error)
    assert abs(key[4] - inputs[4]) <= inputs[4] * 2.0**-bits
    assert key[:4] == timer.key(*inputs[:4])
    for x, k in zip(inputs[:4], key[:4], strict=True):
        assert abs(k - x) <= x * 2.0**-1  # even-step rounding keeps at least one bit
    # exact timers take the inputs as they are
    assert StepTimer(_TiledStep(ranks=ranks), exact=True).busiest_key(*inputs) == inputs


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 3000), st.integers(0, 100), st.integers(0, 10**6), st.integers(1, 3000)),
                min_size=1, max_size=60), st.integers(1, 8))
def test_the_cache_stays_within_its_bound_and_a_cleared_cache_gives_the_same_times(steps, bound):
    model = _TiledStep()
    timer = StepTimer(model, max_cached=bound)
    free = StepTimer(_TiledStep())
    for t, n, kv, rank in steps:
        t = max(t, n)
        got = timer.busiest_time_s(t, n, kv, rank * rank, rank)
        assert len(timer._busiest) <= bound
        assert got == free.busiest_time_s(t, n, kv, rank * rank, rank)
    assert timer.num_busiest_evaluations == model.calls


def test_rank_token_bits_follow_the_even_steps_rule_at_elasticity_one():
    # by hand: fewest b with 2 x 1 x 2**-b <= target, at most MANTISSA_BITS
    assert rank_token_bits(2.0**-10) == MANTISSA_BITS == 9  # 2**-b <= 2**-11: 11 bits, capped at 9
    assert rank_token_bits(2.0**-6) == 7  # 2**-b <= 2**-7
    assert rank_token_bits(2.0**-3) == 4
    assert rank_token_bits(0.49) == 3  # 2 / 0.49 = 4.08: 2**b >= 4.08


def test_a_model_without_a_busiest_form_gives_none_and_a_bad_one_is_refused():
    @dataclass
    class _Plain:
        def step_time_s(self, t, n, kv, p):
            return 1e-3 + 1e-7 * np.asarray(t, float)

    assert StepTimer(_Plain()).busiest_time_s(5000, 10, 1000, 10**6, 4000) is None

    @dataclass
    class _Bad(_Plain):
        value: float | None = -1.0

        def step_time_busiest_s(self, *args):
            return self.value

    with pytest.raises(InvalidSettingError, match="positive, finite"):
        StepTimer(_Bad()).busiest_time_s(5000, 10, 1000, 10**6, 4000)
    assert StepTimer(_Bad(value=None)).busiest_time_s(5000, 10, 1000, 10**6, 4000) is None


@lru_cache(maxsize=1)
def _dsr1_worker():
    from inferchip.performance.serving import serving_model
    from inferchip.sim.engines import EngineStepModel

    step, _ = serving_model("nvidia-gb200-186gb", "deepseek-ai/DeepSeek-R1", count=8, tp=8, ep=8, weights="fp8",
                            attn_dp=True)
    return EngineStepModel(step, ranks=8)


@settings(max_examples=25, deadline=None)
@given(_chunks, st.integers(0, 300), st.integers(0, 2_000_000))
def test_on_a_real_worker_a_hit_is_the_model_at_its_key(chunks, n_dec, kv):
    """DeepSeek-R1 FP8 on 8 GB200 with attention DP (the engine's padding and throttle included): a cached
    uneven step is the model's own value at the key, hit or miss."""
    eng = _dsr1_worker()
    inputs = _step_inputs(chunks, 8, n_dec, kv)
    if inputs is None:
        return
    timer = StepTimer(eng, target_rel_error=2.0**-6)
    key = timer.busiest_key(*inputs)
    got = timer.busiest_time_s(*inputs)
    assert got == timer.busiest_time_s(*inputs) == eng.step_time_busiest_s(*key[:4], float(key[4]))


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 70_000), st.integers(0, 200_000), st.integers(2, 64), st.integers(0, 20_000))
def test_a_lone_chunk_is_placed_as_the_general_placement_places_it(c, d, ranks, budget):
    """busiest_rank_prefill's one-chunk shortcut gives exactly what placing the chunk in turn gives."""
    from inferchip.sim.batching.scheduler import _placed

    got = busiest_rank_prefill([(c, d)], ranks, budget)
    assert got == _placed([(c, d)], ranks, budget)
    assert got[0] >= c  # at least the chunk's own tokens on a worker priced as every rank busy
