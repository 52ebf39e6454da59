"""A row's stated TensorRT-LLM KV pool fraction (``kvcache_free_gpu_mem_frac``): the simulated replica holds that
fraction of the memory the loaded engine leaves free (validation/stated_engine.py ``kv_pool_share``)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import server_model
from inferchip.errors import InvalidSettingError
from inferchip.validation.stated_engine import kv_free_mapped, kv_pool_share, stated_kv_free_fraction


@pytest.fixture(scope="module")
def mm():
    return server_model()


def test_the_fraction_is_read_by_its_names():
    assert stated_kv_free_fraction("r", "max_num_tokens 1536, kvcache_free_gpu_mem_frac 0.9, tokens_per_block") == 0.9
    assert stated_kv_free_fraction("r", "trtllm-bench, kv_cache_free_gpu_mem_fraction=0.95") == 0.95
    assert stated_kv_free_fraction("r", "gpu_batch_size 1024") is None
    with pytest.raises(InvalidSettingError, match="case r, column notes: kvcache_free_gpu_mem_frac 1: .*allowed"):
        stated_kv_free_fraction("r", "kvcache_free_gpu_mem_frac 1.0")  # TensorRT-LLM refuses 1 or more


@pytest.mark.parametrize("text", ["kvcache_free_gpu_mem_frac 0", "kvcache_free_gpu_mem_frac=-0.1",
                                  "free_gpu_memory_fraction: 95", "kv_cache_free_gpu_mem_fraction 1.2",
                                  "kvcache_free_gpu_mem_frac inf", "kvcache_free_gpu_mem_frac=nan",
                                  "kvcache_free_gpu_mem_frac 2e-0"])
def test_a_fraction_out_of_range_is_refused_naming_the_row_and_setting(text):
    name = text.split("=")[0].split()[0].rstrip(":")
    with pytest.raises(InvalidSettingError, match=rf"case r7, column notes: {name} .*allowed: \(0, 1\)"):
        stated_kv_free_fraction("r7", text)


def test_a_stated_fraction_is_read_as_written_or_refused():
    """Exponents and a sentence's closing full stop are read (1e-1 was read as 1 before); a value that is not a number
    is refused naming the row, the column and the setting, never skipped as if nothing were stated."""
    assert stated_kv_free_fraction("r", "kvcache_free_gpu_mem_frac 9e-1, gpu_batch_size 8") == 0.9
    assert stated_kv_free_fraction("r", "The run sets kv_cache_free_gpu_mem_fraction 0.95.") == 0.95
    for bad in ("kvcache_free_gpu_mem_frac abc", "free_gpu_memory_fraction: 0.9.5"):
        with pytest.raises(InvalidSettingError, match=r"case r3, column notes: \w+ '.*': not a number; allowed"):
            stated_kv_free_fraction("r3", bad)


def test_two_different_fractions_are_refused_and_a_repeat_is_not():
    with pytest.raises(InvalidSettingError, match=r"case r, column notes: KV pool fractions disagree "
                                                  r"\(kvcache_free_gpu_mem_frac 0.9, free_gpu_memory_fraction 0.95\)"):
        stated_kv_free_fraction("r", "kvcache_free_gpu_mem_frac 0.9; trtllm-bench free_gpu_memory_fraction 0.95")
    assert stated_kv_free_fraction("r", "kvcache_free_gpu_mem_frac 0.9 (build), kvcache_free_gpu_mem_frac 0.9") == 0.9


def test_the_pool_by_hand(mm):
    """30 GiB usable; the 8B-like model's weights W and one 1024-token step's activations A from the mapped model:
    KV = 0.9 (U - W - A), as tokens of its KV bytes per token; without a stated fraction the model is unchanged."""
    u, w = 30 * 2**30, mm.weights_bytes
    a = float(mm.activation_bytes(1024))
    per_token = float(mm.kv_bytes_per_seq(1.0))
    got = kv_free_mapped(mm, 0.9, 1024)
    assert got.kv_capacity_tokens() == pytest.approx(0.9 * (u - w - a) / per_token, abs=1.0)
    assert kv_pool_share(mm, 0.9, 1024) == pytest.approx((w + 0.9 * (u - w - a)) / u)
    assert kv_free_mapped(mm, None, 1024) is mm
    # A bigger step leaves less: the chunk (8192 tokens) takes more activations than 1024.
    assert kv_free_mapped(mm, 0.9).kv_capacity_tokens() < got.kv_capacity_tokens()


@settings(max_examples=60, deadline=None)
@given(f=st.floats(0.05, 0.95), g=st.floats(0.05, 0.95))
def test_the_pool_grows_with_the_fraction_and_stays_within_the_free_memory(mm, f, g):
    lo, hi = sorted((f, g))
    small, big = kv_free_mapped(mm, lo, 1024), kv_free_mapped(mm, hi, 1024)
    assert small.kv_capacity_tokens() <= big.kv_capacity_tokens()
    free = mm.chip.usable_memory_bytes - mm.weights_bytes - float(mm.activation_bytes(1024))
    assert big.kv_capacity_tokens() * float(mm.kv_bytes_per_seq(1.0)) <= hi * free + 1e-6 * free
