"""The prefill attention rate of small heads (cost.kernels.attention.prefill_head_rate), by hand."""

from __future__ import annotations

import numpy as np
import pytest

from inferchip.cost.kernels.attention import PREFILL_SMALL_HEAD_RATE, attention_columns, prefill_head_rate
from inferchip.mapping.operators import Attention


def test_prefill_head_rate_by_hand():
    assert prefill_head_rate(64) == pytest.approx(475.0 / 616.0)
    assert prefill_head_rate(32) == PREFILL_SMALL_HEAD_RATE
    assert prefill_head_rate(128) == 1.0 and prefill_head_rate(192) == 1.0
    with pytest.raises(ValueError, match="qk_dim 0"):
        prefill_head_rate(0)


def test_attention_columns_small_head():
    # gpt-oss heads (64 dims) and a 128-dim head on a 1,000 TFLOP/s peak at fraction 0.5: prefill 385.6 and 500 TFLOP/s;
    # decode keeps its own fraction (0.4) for both
    ops = [Attention(q_heads=8, qk_dim=64, v_dim=64, kv_elements_per_token=128),
           Attention(q_heads=8, qk_dim=128, v_dim=128, kv_elements_per_token=256)]
    t = attention_columns(ops, 1e15, 0.4, 0.5, 2.0, 2.0)
    assert np.allclose(t["prefill_attainable_flop_per_s"], [0.5e15 * 475.0 / 616.0, 0.5e15])
    assert np.allclose(t["decode_attainable_flop_per_s"], [0.4e15, 0.4e15])
