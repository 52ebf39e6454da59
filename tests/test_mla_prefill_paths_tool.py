"""tools/step_model/mla_prefill_paths.py: the FLOP of each MLA prefill kernel path of one prompt, by hand."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import load_tool


@pytest.fixture(scope="module")
def mp():
    return load_tool("mla_prefill_paths")


def test_flop_by_hand(mp):
    d = mp.MlaDims()  # DeepSeek-R1: 61 layers, 128 heads, 128 + 64 qk, 128 v, latent 512
    # 4 tokens: 4 x 5 / 2 = 10 causal pairs
    assert mp.causal_pairs(4) == 10
    # MHA: 2 x 128 heads x (192 + 128) x 10 pairs x 61 layers = 49,971,200
    assert mp.mha_attention_flop(4, d) == pytest.approx(2 * 128 * 320 * 10 * 61)
    assert mp.mha_attention_flop(4, d) == pytest.approx(49_971_200)
    # absorbed: keys 512 + 64, values 512: 2 x 128 x 1088 x 10 x 61 = 169,902,080, 3.4 x the MHA form
    assert mp.absorbed_attention_flop(4, d) == pytest.approx(169_902_080)
    assert mp.absorbed_attention_flop(4, d) / mp.mha_attention_flop(4, d) == pytest.approx(3.4)
    # kv_b_proj over 4 rows: 2 x 512 x 128 x (128 + 128) x 4 x 61 = 8,187,281,408
    assert mp.kv_up_projection_flop(4, d) == pytest.approx(8_187_281_408)
    # 1e15 FLOP at 500 TFLOP/s: 2 s; against a model's 0.5 s and an excess of 3 s it explains half
    assert mp.gpu_s(1e15, 500.0) == pytest.approx(2.0)
    assert mp.share_of_excess(2.0, 0.5, 3.0) == pytest.approx(0.5)
    # the rate at which 1e15 FLOP takes 0.5 + 3 s: 285.7 TFLOP/s
    assert mp.needed_tflops(1e15, 0.5, 3.0) == pytest.approx(1e15 / 3.5 / 1e12)


def test_an_8k_prompt_needs_about_130_tflops(mp):
    # the stop-37 figures: 7,373-token prompt, model 0.049 GPU-s at 2,768 TFLOP/s, excess 1.0 GPU-s
    flop = mp.mha_attention_flop(7373)
    assert flop == pytest.approx(1.358e14, rel=1e-3)
    model_s = mp.gpu_s(flop, 2768.0)
    assert model_s == pytest.approx(0.0491, rel=1e-2)
    assert mp.needed_tflops(flop, model_s, 1.0) == pytest.approx(129.4, rel=1e-2)


def test_bad_input_is_refused(mp):
    with pytest.raises(ValueError, match="prompt_tokens must be positive"):
        mp.causal_pairs(0)
    with pytest.raises(ValueError, match="tokens must be non-negative"):
        mp.kv_up_projection_flop(-1)
    with pytest.raises(ValueError, match="rate must be positive"):
        mp.gpu_s(1.0, 0.0)
    with pytest.raises(ValueError, match="excess_gpu_s must be positive"):
        mp.share_of_excess(1.0, 0.5, 0.0)


@given(p=st.integers(1, 200_000))
def test_attention_grows_with_the_prompt_squared_and_the_recompute_linearly(p, mp):
    # doubling the prompt: pairs 2p(2p+1)/2 over p(p+1)/2 = 2(2p+1)/(p+1), between 3 and 4; the recompute exactly 2
    r = mp.mha_attention_flop(2 * p) / mp.mha_attention_flop(p)
    assert r == pytest.approx(2 * (2 * p + 1) / (p + 1))
    assert 3.0 <= r < 4.0
    assert mp.kv_up_projection_flop(2 * p) == pytest.approx(2 * mp.kv_up_projection_flop(p))
