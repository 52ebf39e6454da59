"""KV capacity of one replica under an engine's static memory fraction (SGLang --mem-fraction-static),
checked by hand on the InferenceMAX B200 SGLang FP8 TP4 8k/1k recipe (DeepSeek-R1-0528)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from inferchip.catalog.engines import get_engine
from inferchip.performance.setting import resolve_setting

GIB = 2**30
B200 = "nvidia-b200-180gb"
DSR1 = "deepseek-ai/DeepSeek-R1-0528"


@pytest.fixture(scope="module")
def b200_tp4():
    s = resolve_setting(B200, DSR1, count=4, tp=4, ep=1, weights="fp8", kv="fp8")
    return s.mapped(s.layout)


def test_sglang_recipe_fractions_match_by_chip_weights_and_tp():
    e = get_engine("sglang")
    assert e.memory_fraction_on(B200, "fp8", 4) == 0.95  # dsr1_fp8_b200.sh, TP4 branch
    assert e.memory_fraction_on(B200, "fp8", 8) == 0.82  # dsr1_fp8_b200.sh, TP8 branch
    assert e.memory_fraction_on(B200, "fp4", 4) == 0.85  # dsr1_fp4_b200.sh
    assert e.memory_fraction_on("amd-mi355x", "fp8", 8) is None  # no recipe entry: the calibration's rule
    assert get_engine("vllm").memory_fraction_on(B200, "fp8", 4) is None


def test_mla_fp8_kv_bytes_per_token_by_hand(b200_tp4):
    # MLA caches kv_lora_rank 512 + qk_rope_head_dim 64 = 576 elements per layer, 61 layers, 1 byte in
    # FP8, on every chip of the TP group (the latent is not split by heads).
    assert float(b200_tp4.kv_bytes_per_seq(1.0)) == pytest.approx(61 * 576 * 1)


def test_weights_per_chip_near_the_checkpoint(b200_tp4):
    # 671e9 parameters (the MTP module is not loaded) in FP8 over 4 chips = 167.75 GB, plus the embedding
    # and LM head (129,280 x 7,168 each) kept in bf16: one more byte each, a quarter per chip = 0.46 GB.
    hand = 671e9 / 4 + 2 * 129_280 * 7_168 / 4
    assert b200_tp4.weights_bytes == pytest.approx(hand, rel=0.01)


def test_static_fraction_capacity_by_hand(b200_tp4):
    mm = replace(b200_tp4, static_memory_fraction=0.95)
    # SGLang: KV pool = 0.95 x the usable 179 GiB (nvidia-smi) - weights; activations live outside.
    hand = int((0.95 * 179 * GIB - b200_tp4.weights_bytes) // (61 * 576))
    assert mm.kv_capacity_tokens() == hand
    # the recipe's 32 running requests of at most 8192 + 1024 tokens fit (no preemption at 32 clients) ...
    assert mm.kv_capacity_tokens() >= 32 * (8192 + 1024)
    # ... which the calibration's rule (0.92 of usable less a chunk's activations) does not give
    assert b200_tp4.kv_capacity_tokens() < 32 * (8192 + 1024)


def test_static_fraction_leaves_activations_out(b200_tp4):
    small = replace(b200_tp4, static_memory_fraction=0.95, chunk_tokens=8192)
    large = replace(b200_tp4, static_memory_fraction=0.95, chunk_tokens=32768)
    assert small.kv_capacity_tokens() == large.kv_capacity_tokens()
    plain_small = replace(b200_tp4, chunk_tokens=8192)
    plain_large = replace(b200_tp4, chunk_tokens=32768)
    assert plain_large.kv_capacity_tokens() < plain_small.kv_capacity_tokens()
    # free_bytes (the static-batch fit) follows the same rule
    assert float(small.free_bytes()) == pytest.approx(0.95 * 179 * GIB - b200_tp4.weights_bytes)


def test_dynamo_gb200_fp8_workers_of_four_hold_weights_and_a_kv_pool():
    """The Dynamo + SGLang GB200 FP8 recipes (1p_4d.sh) run 4-GPU attention-DP workers at
    --mem-fraction-static 0.95: the FP8 weights fit with room for KV, which the calibration's rule alone
    (a smaller fraction less a chunk's activations) does not leave."""
    gb200 = "nvidia-gb200-186gb"
    e = get_engine("dynamo")
    assert e.memory_fraction_on(gb200, "fp8", 4) == 0.95
    assert e.memory_fraction_on(gb200, "fp4", 4) is None  # no recipe read for FP4: the calibration's rule
    s = resolve_setting(gb200, "deepseek-ai/DeepSeek-R1", count=4, tp=4, ep=4, attn_dp=True, weights="fp8", kv="fp8")
    mm = s.mapped(s.layout)
    assert mm.kv_capacity_tokens() < 1
    recipe = replace(mm, static_memory_fraction=0.95)
    # KV pool = 0.95 x usable - weights, over MLA's 61 x 576 FP8 bytes per token (per chip under attention DP)
    assert recipe.kv_capacity_tokens() > 10 * 2200  # the 1k/1k recipe's context of 2,200 tokens, ten times over
