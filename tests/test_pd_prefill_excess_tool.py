"""tools/step_model/pd_prefill_excess.py: a saturated prefill pool's GPU-seconds per prompt, measured against the
step model's, and the multiple of the model's attention time the excess would be, by hand."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import load_tool


@pytest.fixture(scope="module")
def pe():
    return load_tool("pd_prefill_excess")


def test_prompt_cost_by_hand(pe):
    # 8 GPUs admit 36,000 prompt tokens/s of 7,200-token prompts: 5 prompts/s, 8 / 5 = 1.6 GPU-s each.
    # The model's step of 8 prompts (one per rank) lasts 0.56 s, 0.05 s of it attention: 0.56 and 0.05 GPU-s.
    c = pe.prompt_cost(8, 7200.0, 36_000.0, 0.56, 0.05, 8)
    assert c.measured_gpu_s == pytest.approx(1.6)
    assert c.model_gpu_s == pytest.approx(0.56)
    assert c.model_attention_gpu_s == pytest.approx(0.05)
    assert c.excess_gpu_s == pytest.approx(1.04)
    assert c.attention_multiple == pytest.approx(1.04 / 0.05 + 1)  # 21.8
    # a tensor-parallel worker runs one prompt per step on all 8 GPUs: 8 x 1.43 s
    t = pe.prompt_cost(8, 7200.0, 21_600.0, 1.43 / 8, 0.0515 / 8, 1)
    assert t.model_gpu_s == pytest.approx(1.43) and t.measured_gpu_s == pytest.approx(8 / 3)


def test_bad_input_is_refused(pe):
    with pytest.raises(ValueError, match="must be positive"):
        pe.prompt_cost(8, 7200.0, 0.0, 0.5, 0.05, 8)
    with pytest.raises(ValueError, match="must be positive"):
        pe.prompt_cost(8, 7200.0, 1000.0, 0.5, -0.01, 8)
    with pytest.raises(ValueError, match="attention time must be positive"):
        _ = pe.prompt_cost(8, 7200.0, 1000.0, 0.5, 0.0, 8).attention_multiple


@given(intake=st.floats(1e3, 1e6), factor=st.floats(1.0, 10.0))
def test_a_pool_as_fast_as_the_model_has_no_excess_and_a_slower_one_scales(pe, intake, factor):
    """An intake the model's own step gives leaves no excess (multiple 1); k times slower, the measured cost is k
    times the model's."""
    prompt, gpus, n, step = 7000.0, 8, 8, 0.5
    model_intake = n * prompt / step
    exact = pe.prompt_cost(gpus, prompt, model_intake, step, 0.1, n)
    assert exact.excess_gpu_s == pytest.approx(0.0, abs=1e-9) and exact.attention_multiple == pytest.approx(1.0)
    slow = pe.prompt_cost(gpus, prompt, model_intake / factor, step, 0.1, n)
    assert slow.measured_gpu_s == pytest.approx(factor * slow.model_gpu_s)
    assert pe.prompt_cost(gpus, prompt, intake, step, 0.1, n).measured_gpu_s == pytest.approx(gpus * prompt / intake)
