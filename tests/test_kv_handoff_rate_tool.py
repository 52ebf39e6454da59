"""tools/step_model/kv_handoff_rate.py: KV bytes per token, senders, descriptors and rates, by hand."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import load_tool


@pytest.fixture(scope="module")
def tool():
    return load_tool("kv_handoff_rate")


def test_kv_geometry_from_the_catalogue_by_hand(tool):
    # DeepSeek-R1 (MLA): 61 layers x (512 + 64) x 1 B (FP8) = 35,136 B; gpt-oss-120b: 36 x 2 x 8 x 64 x 1 B = 36,864 B
    assert tool.kv_geometry("deepseek-ai/DeepSeek-R1", "fp8") == (61 * (512 + 64) * 1.0, 61)
    assert tool.kv_geometry("deepseek-ai/DeepSeek-R1", "bf16") == (70272.0, 61)
    assert tool.kv_geometry("openai/gpt-oss-120b", "fp8") == (36 * 2 * 8 * 64 * 1.0, 36)


def test_senders_and_descriptors(tool):
    assert tool.senders_per_worker(4, True) == 4  # every attention-DP rank sends its own requests
    assert tool.senders_per_worker(4, False) == 1  # MLA: one TP rank sends, the others get dummies
    assert tool.max_descriptors(921.6, 32, 61) == 61 * 29  # 29 pages of 32 tokens
    assert tool.max_descriptors(7372.8, 64, 61) == 61 * 116


def test_rates_by_hand(tool):
    # SGLang FP4 1k/1k: 182.8 k prompt tokens/s over 4 workers of 4 GPUs, 921.6-token prompts, 35,136 B a token
    r = tool.handoff_rates(182.8e3, 921.6, 4, 4, 4, 35136.0)
    assert r.requests_per_s_per_worker == pytest.approx(182.8e3 / 4 / 921.6)  # 49.6
    assert r.tokens_per_s_per_gpu == pytest.approx(11425.0)
    assert r.kv_bytes_per_s_per_worker == pytest.approx(45700.0 * 35136.0)  # 1.61 GB/s
    assert r.kv_bytes_per_s_per_gpu == pytest.approx(0.4015e9, rel=1e-3)
    assert r.worker_s_per_request == pytest.approx(921.6 / 45700.0)  # 20.2 ms
    one = tool.handoff_rates(182.8e3, 921.6, 4, 4, 1, 35136.0)
    assert one.kv_bytes_per_s_per_sender == pytest.approx(4 * r.kv_bytes_per_s_per_sender)


@given(tokens=st.floats(1e2, 1e7), prompt=st.floats(1.0, 1e5), workers=st.integers(1, 72),
       chips=st.integers(1, 16), dpa=st.booleans(), per_token=st.floats(1e3, 1e6))
def test_rates_invariants(tool, tokens, prompt, workers, chips, dpa, per_token):
    senders = tool.senders_per_worker(chips, dpa)
    r = tool.handoff_rates(tokens, prompt, workers, chips, senders, per_token)
    # the pool's bytes are the sum over workers, GPUs and senders alike; bytes are tokens times a constant
    assert r.kv_bytes_per_s_per_worker * workers == pytest.approx(tokens * per_token, rel=1e-9)
    assert r.kv_bytes_per_s_per_gpu * chips * workers == pytest.approx(tokens * per_token, rel=1e-9)
    assert r.kv_bytes_per_s_per_sender * senders * workers == pytest.approx(tokens * per_token, rel=1e-9)
    assert r.kv_bytes_per_s_per_gpu == pytest.approx(r.tokens_per_s_per_gpu * per_token, rel=1e-9)
    assert r.worker_s_per_request * r.requests_per_s_per_worker == pytest.approx(1.0)
    assert 1 <= senders <= chips
