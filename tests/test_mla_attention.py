"""MLA (DeepSeek-V2/V3/R1) attention in its absorbed decode form, against hand calculations:
decode reads the compressed latent cache (kv_lora_rank + rope dim per token and layer) and
computes scores and outputs in the latent space; the bytes it reads per KV token equal the
latent cache's size per token."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inferchip.cost.rules import cost_operator
from inferchip.cost.step import step_points
from inferchip.mapping.operators import Attention
from inferchip.performance.setting import resolve_setting

KV_LORA, ROPE, HEADS = 512, 64, 128  # DeepSeek-R1 config.json: kv_lora_rank, qk_rope_head_dim, num_attention_heads
NOPE, V = 128, 128  # qk_nope_head_dim, v_head_dim


@pytest.fixture(scope="module")
def r1():
    s = resolve_setting("nvidia-h200-sxm-141gb", "deepseek-ai/DeepSeek-R1", count=8, tp=8)
    mm = s.mapped(s.layout)
    att = [op for op, _ in mm.sm.operators() if isinstance(op, Attention)]
    return mm, att[0]


def test_mla_operator_is_absorbed(r1):
    _, att = r1
    assert att.mla and att.latent_dim == KV_LORA
    assert att.kv_elements_per_token == KV_LORA + ROPE  # one latent + rope key per token, no per-head K/V


@settings(max_examples=40, deadline=None)
@given(seqs=st.integers(1, 256), ctx=st.integers(1, 32768))
def test_mla_decode_flop_and_bytes_by_hand(r1, seqs, ctx):
    mm, att = r1
    kv_b = mm.formats.kv_bytes
    kv = float(seqs * ctx)
    c = cost_operator(att, _ctx(mm), step_points(1, seqs, seqs, kv, 0.0))
    heads = HEADS // 8  # tp=8 splits the heads; the latent cache is replicated
    # scores over latent + rope (576) and outputs over the latent (512), per head and KV token:
    assert float(np.ravel(c.flop)[0]) == pytest.approx(2 * heads * (KV_LORA + ROPE + KV_LORA) * kv)
    # the cache read plus each sequence's new latent written, 576 elements each:
    assert float(np.ravel(c.dram_bytes)[0]) == pytest.approx((kv + seqs) * (KV_LORA + ROPE) * kv_b)


@settings(max_examples=20, deadline=None)
@given(ctx=st.integers(1, 32768))
def test_mla_decode_bytes_per_token_equal_the_latent_cache(r1, ctx):
    """Bytes decode attention reads per KV token and layer = the KV cache's bytes per token and layer."""
    mm, att = r1
    layers = sum(op_reps for op, op_reps in mm.sm.operators() if isinstance(op, Attention))
    cache_per_token_layer = float(mm.kv_bytes_per_seq(ctx)) / ctx / layers
    c = cost_operator(att, _ctx(mm), step_points(1, 1.0, 1.0, float(ctx), 0.0))
    read_per_token = (float(np.ravel(c.dram_bytes)[0]) - (KV_LORA + ROPE) * mm.formats.kv_bytes) / ctx
    assert read_per_token == pytest.approx(cache_per_token_layer, rel=1e-9)
    assert read_per_token == pytest.approx((KV_LORA + ROPE) * mm.formats.kv_bytes)


def _ctx(mm):
    from inferchip.cost.rules import cost_context
    return cost_context(mm.chip, mm.formats, mm.cal)
