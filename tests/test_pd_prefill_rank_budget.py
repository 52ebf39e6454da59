"""The MI355X SGLang PD launcher's attention-DP prefill step budget (engine ``recipe_batch`` with the
``attention_dp`` filter): which rows take it, and what a per-rank step budget does to a closed loop's first
wave (it drains in steps instead of finishing in one; docs/serving_journal.md, amd42)."""

from __future__ import annotations

import pytest

from inferchip.catalog.engines import get_engine
from inferchip.sim import LinearStepModel, SchedulerConfig
from inferchip.sim.engines.bench import closed_loop_disagg_run
from inferchip.sim.load.lengths import FixedLength
from inferchip.spec.engine import EngineSpec, RecipeBatch

AMD_PD = "SGLang PD-disaggregated (AMD)"
DS = "deepseek-ai/DeepSeek-R1"


def test_attention_dp_filter_matches_only_its_layout():
    eng = EngineSpec(id="x", name="x", match=("x",), step_overhead_s=0, request_overhead_s=0, max_num_seqs=64,
                     chunk_tokens=4096,
                     recipe_batch=(RecipeBatch(role="prefill", software="pd", attention_dp=True, requests=2, tokens=9),
                                   RecipeBatch(role="prefill", software="pd", requests=7)))
    assert eng.batch_on("prefill", "pd", attention_dp=True).requests == 2
    assert eng.batch_on("prefill", "pd", attention_dp=False).requests == 7  # falls through to the unfiltered entry
    assert eng.batch_on("prefill", "pd").requests == 7  # a caller that does not say: the filtered entry stays out
    a, b = eng.recipe_batch
    assert b.covers(a) and not a.covers(b)  # an unfiltered entry placed first would shadow the filtered one


def test_shipped_amd_pd_prefill_budget_reaches_the_dp_prefill_worker_only():
    """sglang_disagg_server.sh: DP prefill --chunked-prefill-size MORI_MAX_DISPATCH_TOKENS_PREFILL x TP (12,288 x 8),
    divided by --dp-size 8 under DP attention: 12,288 a rank; --max-running-requests 4,096 // 8 = 512."""
    sgl = get_engine("sglang")
    for isl in (1024, 8192):
        for mtp in (False, True):
            rb = sgl.batch_on("prefill", AMD_PD, DS, isl, mtp, 1, 8, 2, weights="fp8", attention_dp=True)
            assert (rb.requests, rb.tokens) == (4096 // 8, 12288 * 8 // 8)
    assert sgl.batch_on("prefill", AMD_PD, DS, 1024, False, 1, 16, 1, weights="fp8", attention_dp=True).tokens == 12288
    assert sgl.batch_on("prefill", AMD_PD, DS, 1024, False, 1, 8, 2, weights="fp8", attention_dp=False) is None  # TEP8
    assert sgl.batch_on("decode", AMD_PD, DS, 1024, False, 1, 8, 2, weights="fp8", attention_dp=True) is None
    assert sgl.batch_on("prefill", "SGLang", DS, 1024, False, 1, 8, 2, weights="fp8", attention_dp=True) is None


def _first_wave(budget_tokens: int, clients: int = 8) -> float:
    """One round of ``clients`` 100-token prompts into one prefill replica whose step takes 0.1 s whatever it holds;
    decode steps of 1 ms, 2 output tokens. Returns the mean TTFT (s)."""
    pre = LinearStepModel(fixed_s=0.1, per_token_s=0.0, per_kv_token_s=0.0, kv_capacity_tokens=10_000_000)
    dec = LinearStepModel(fixed_s=0.001, per_token_s=0.0, per_kv_token_s=0.0, kv_capacity_tokens=10_000_000)
    fig = closed_loop_disagg_run(pre, dec, clients, FixedLength(tokens=100), FixedLength(tokens=2),
                                 SchedulerConfig(max_num_seqs=64, max_num_batched_tokens=budget_tokens),
                                 SchedulerConfig(max_num_seqs=64, max_num_batched_tokens=8192),
                                 num_requests=clients, seed=0, prefill_replicas=1, decode_replicas=1,
                                 kv_bytes_per_token=1.0, link_bytes_per_s=1e12, link_latency_s=0.0)
    return fig.ttft_s


def test_a_step_budget_drains_the_first_wave_in_steps():
    """By hand: 8 prompts of 100 tokens. A budget of 800 takes them in one 0.1 s step: every first token at about
    0.1 s. A budget of 200 takes two a step: first tokens at 0.1, 0.2, 0.3 and 0.4 s, mean 0.25 s, so 0.15 s more
    (this step does not grow with its tokens; a real one does, and the budget then moves the mean less)."""
    one, steps = _first_wave(800), _first_wave(200)
    assert one == pytest.approx(0.1, abs=0.01)
    assert steps - one == pytest.approx(0.15, abs=0.01)
