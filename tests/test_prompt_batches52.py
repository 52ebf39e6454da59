"""vLLM's Gaudi back end runs a step's prompts in prompt batches of at most ``max_prefill_batch_size`` (1 in
vllm-gaudi's runner), each padded to a batch-size bucket times the query bucket of its longest prompt; ``serve`` and
``curve`` price a step so from its prefill chunks (the replica knows them; stop 52, branch serve52), where they priced
its prefill tokens as one query, and under ``--mtp`` too, where the prompt buckets were off. No GPU or TPU run moves."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

import inferchip as ic
from inferchip.catalog.engines import get_engine
from inferchip.performance.serving import ServingStepModel, serving_step
from inferchip.sim import ClosedLoopArrivals, simulate
from inferchip.spec.engine.padding import PaddingLadder, PromptBuckets
from inferchip.validation.closed_loop import EngineReplica

L8B = "meta-llama/Llama-3.1-8B"
GAUDI3 = "intel-gaudi3"
LADDER = (128, 256, 384, 512, 768, 896, 1280, 1664, 2048)  # vllm-gaudi's query buckets at 2,048 tokens
ONE = PaddingLadder("decode_batch", (1, 2, 4), "t", LADDER)  # one prompt a prompt batch (the runner's default)


def _bucket(c: int) -> int:
    return next(b for b in LADDER if b >= c)


def test_the_prompt_batch_ladder_by_hand():
    # get_prompt_cfgs' bs config (1, 2, max, ceil(log2 max) + 1): 1 -> one size, the max (1,); 8 -> 1 x 8^(i / 3)
    # = 1, 2, 4, 8, each rounded up to a multiple of 2: 2, 4, 8 (a batch of one prompt runs the size 2)
    assert PromptBuckets(rule="exponential", min=128, step=128, source="s").batch_ladder() == (1,)
    assert PromptBuckets(rule="exponential", min=128, step=128, batch_prompts=8, source="s").batch_ladder() == (2, 4, 8)
    assert PromptBuckets(rule="exponential", min=128, step=128, batch_prompts=4, source="s").batch_ladder() == (2, 4)


def test_a_packed_step_by_hand():
    # ten prompts of 200 tokens in one 2,048-token step: each its own prompt batch at the 256 bucket, 2,560 rows (as
    # one query the step's 2,000 tokens ran the 2,048 bucket); with prompt batches of up to 4 (batch sizes 2, 4):
    # [200, 300, 100, 50] runs 4 x 384 and [700] 2 x 768 (one prompt runs the batch size of 2)
    assert ONE.packed_prompt_rows([200] * 10) == 2560
    assert int(ONE.extra_rows(2000, 0)) == 48  # the one-query reading this replaces in serve
    four = PaddingLadder("decode_batch", (1, 2, 4), "t", LADDER, (2, 4))
    assert four.packed_prompt_rows([200, 300, 100, 50, 700]) == 4 * 384 + 2 * 768
    assert four.packed_prompt_rows([200, 300, 100]) == 4 * 384  # three prompts run the batch size of 4
    assert PaddingLadder("decode_batch", (1,), "t").packed_prompt_rows([200, 300]) == 500  # no prompt buckets


@given(st.lists(st.integers(1, 2048), min_size=1, max_size=16), st.sampled_from([(1,), (2, 4), (2, 4, 8)]))
def test_packed_rows_never_drop_a_token_and_one_a_batch_is_each_prompts_bucket(chunks, batches):
    ladder = PaddingLadder("decode_batch", (1, 2), "t", LADDER, batches)
    rows = ladder.packed_prompt_rows(chunks)
    assert rows >= sum(chunks)
    if batches == (1,):
        assert rows == sum(_bucket(c) for c in chunks)
    else:  # a batch pads each of its prompts at least to its own bucket
        assert rows >= sum(_bucket(c) for c in chunks)


def test_a_serve_step_packing_ten_prompts_pays_ten_buckets():
    """The first step of ten clients of 200-token prompts (one output token: prefill only) runs their 2,000 tokens as
    ten prompt batches of the 256 bucket: its logged time is the step model's at 2,560 prompt rows and the prompts'
    own attention pairs (a step model without prompt buckets, as the replica hands it the padded rows)."""
    setting = ic.resolve_setting(GAUDI3, L8B, tp=1, pp=1, ep=1)
    step, _ = serving_step(setting)
    assert step.prompt_padding is not None and step.prompt_padding.prompt_sizes == LADDER
    assert not step.mm.padding.prompt_sizes  # the step's own padding keeps its decode buckets only
    arr = ClosedLoopArrivals(concurrency=10, input_tokens=200, output_tokens=1)
    res = simulate(step, arr, num_requests=10, exact_step_times=True)
    s = res.steps
    assert int(s["prefill_tokens"][0]) == 2000 and int(s["num_decode_seqs"][0]) == 0
    pairs = 10 * 200 * 201 // 2
    assert float(s["duration_s"][0]) == pytest.approx(float(step.step_time_s(2560, 0, 0, pairs)), rel=1e-12)
    assert float(s["duration_s"][0]) > float(step.step_time_s(2048, 0, 0, pairs))  # above the one-query pricing


def test_serve_states_the_prompt_batches():
    d = ic.serve(GAUDI3, L8B, tp=1, concurrency=4, num_requests=8, input_tokens=200, output_tokens=8)
    assert "each of a step's prompts, a prompt batch of its own, to the next compiled query length" in d["step_padding"]


def test_the_mtp_row_prices_the_prompt_buckets_too():
    """Under --mtp the inner step sees a decode's drafts among its tokens; the replica pads the prompts from its
    chunks, so the prompt buckets are priced there too (they were off)."""
    s = ic.resolve_setting(GAUDI3, L8B, tp=1, pp=1, ep=1, padding=None)
    rep = EngineReplica(s.mapped(s.layout), get_engine("vllm"), mtp=True)
    assert rep.step.verify_tokens > 0
    assert rep.step.prompt_padding is not None and rep.step.prompt_padding.prompt_sizes == LADDER


@pytest.mark.parametrize("chip", ["nvidia-h100-sxm-80gb", "google-tpu-v6e-trillium", "amd-mi300x"])
def test_no_prompt_buckets_off_gaudi(chip):
    s = ic.resolve_setting(chip, L8B, tp=1, pp=1, ep=1)
    step = ServingStepModel(s.mapped(s.layout))
    assert step.prompt_padding is None and step.padding is s.mapped(s.layout).padding
