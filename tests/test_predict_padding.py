"""predict's static batch, its layout search and the serve --mtp / --disagg rows pay the compiled step sizes of
vLLM's TPU and Gaudi back ends (catalog/engine_hardware.yaml hardware ``padding``), priced in one place, the mapped
model's step (performance.mapped.MappedModel.padded_rows), at the resolution serve makes (sim.batching.scheduler
run_padding at the run's cap and step budget): each against a hand calculation from the bucket rule, predict and
serve on the same padded step, padded work never below the unpadded, and no GPU run padded."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inferchip.catalog.engines import get_engine
from inferchip.interfaces.cli_options.options import read_model
from inferchip.interfaces.serve_system import system
from inferchip.performance.phases import static_batch
from inferchip.performance.predict import predict
from inferchip.performance.setting import engine_padding, resolve_setting
from inferchip.performance.setting.engine import engine_choice
from inferchip.validation.closed_loop import EngineReplica

L8B = "meta-llama/Llama-3.1-8B"
GAUDI, TPU, H100 = "intel-gaudi3", "google-tpu-v6e-trillium", "nvidia-h100-sxm-80gb"


def _setting(chip: str, padded: bool = False):
    # at the engine's chunk on the chip, padded as predict pads (resolve_setting's default) or not at all
    return resolve_setting(chip, L8B, tp=1, pp=1, ep=1, attn_dp=False, padding="engine" if padded else None)


def test_predict_on_gaudi_pays_the_padded_decode_batch():
    # vllm-gaudi's exponential decode buckets at its 256-sequence cap: 2, 4, 8, ..., 256; a static batch of 40 decodes
    # runs the 64 bucket: 24 padded rows, priced as decode rows that read no KV cache
    p = predict(GAUDI, L8B, tp=1, batch=40, input_tokens=100, output_tokens=64)
    bare = predict(GAUDI, L8B, tp=1, batch=40, input_tokens=100, output_tokens=64, padding=None)
    mm = _setting(GAUDI).mapped(_setting(GAUDI).layout)
    ctx = 100 + 64 / 2  # the static batch's mean decode context (phases.static_batch)
    hand = float(mm.replica_step_s(64, 64, 40 * ctx, 0.0)[0])
    assert p.tpot_s == pytest.approx(hand, rel=1e-12)
    assert p.tpot_s > bare.tpot_s
    # 40 x 100 prompt tokens in 2,048-token steps: 2,048 (a bucket) and 1,952, which runs the 2,048 prompt bucket
    assert p.ttft_s > bare.ttft_s


def test_predict_on_tpu_pays_the_padded_step_tokens():
    # tpu-inference pads a step's tokens to a power of two from 16: 40 decodes run 64 rows; the prefill of 40 x 100
    # prompt tokens in 2,048-token steps (2 steps of 2,000) runs 2 x 2,048 (48 padded rows a step)
    p = predict(TPU, L8B, tp=1, batch=40, input_tokens=100, output_tokens=64)
    bare = predict(TPU, L8B, tp=1, batch=40, input_tokens=100, output_tokens=64, padding=None)
    mm = _setting(TPU).mapped(_setting(TPU).layout)
    assert mm.chunk_tokens == 2048
    assert p.tpot_s == pytest.approx(float(mm.replica_step_s(64, 64, 40 * 132.0, 0.0)[0]), rel=1e-12)
    pairs = 100 * 101 / 2 * 40 / 2  # each step's share of the batch's causal pairs (phases.prefill_pairs)
    step = float(mm.replica_step_s(2000 + 48, 48, 0.0, pairs, logit_rows=20)[0])
    padded = _setting(TPU, padded=True)
    met = static_batch(padded.mapped(padded.layout), 40.0, 100.0, 64.0)  # the prefill before the TDP throttle
    assert float(met.ttft_s) == pytest.approx(2 * step, rel=1e-12)
    assert p.ttft_s > bare.ttft_s  # predict's TTFT, throttled at the TDP, pays it too


def test_no_gpu_prediction_is_padded():
    s = _setting(H100)
    assert engine_padding(s.chip, s.chunk_tokens) is None and _setting(H100, padded=True).padding is None
    a = predict(H100, L8B, tp=1, batch=40, input_tokens=100, output_tokens=64)
    b = predict(H100, L8B, tp=1, batch=40, input_tokens=100, output_tokens=64, padding=None)
    assert (a.ttft_s, a.tpot_s) == (b.ttft_s, b.tpot_s)


@pytest.mark.parametrize("chip", [GAUDI, TPU])
def test_predict_and_serve_run_the_same_padded_step(chip):
    choice = engine_choice(None, None, chip)
    chunk = int(choice.caps.chunk_tokens)
    served, _, _ = system(chip, read_model(L8B), 1, 1, 1, 1, None, None, None, None, None, False, 1024, 1024,
                          chunk_tokens=chunk, padding=choice.padding_at(chunk))
    predicted = _setting(chip, padded=True)
    assert served.padding is not None and served.padding == predicted.padding
    mm = predicted.mapped(predicted.layout)
    if predicted.padding is not None and predicted.padding.prompt_sizes:  # Gaudi's prompt buckets: serve's replica
        # pads each prompt of a step from its chunks (stop 52), its step model the rest of the step as predict does
        assert served.prompt_padding == predicted.padding
        mm = replace(mm, padding=replace(predicted.padding, prompt_sizes=()))
    n = np.array([1, 3, 17, 40, 100, 255])
    tokens = n + 300
    assert np.array_equal(np.asarray(served.mm.padded_rows(tokens, n)), np.asarray(mm.padded_rows(tokens, n)))
    assert np.array_equal(served.mm.replica_step_s(tokens, n, n * 1500, 0.0)[0],
                          mm.replica_step_s(tokens, n, n * 1500, 0.0)[0])


def test_the_layout_search_prices_the_padded_steps():
    padded = resolve_setting(TPU, L8B, count=8)  # at the engine's chunk on the chip, padded by default
    s = resolve_setting(TPU, L8B, count=8, padding=None)
    assert padded.padding is not None and all(padded.mapped(lay).padding is padded.padding for lay in padded.layouts)
    assert all(s.mapped(lay).padding is None for lay in s.layouts)
    p = predict(TPU, L8B, count=8, input_tokens=1024, output_tokens=1024)
    bare = predict(TPU, L8B, count=8, input_tokens=1024, output_tokens=1024, padding=None)
    assert p.output_tokens_per_s <= bare.output_tokens_per_s  # padding costs work: never more throughput


@settings(max_examples=40, deadline=None)
@given(chip=st.sampled_from([GAUDI, TPU]), decodes=st.integers(0, 300), prompt=st.integers(0, 3000),
       kv=st.integers(0, 4096))
def test_padded_steps_never_cost_less_than_unpadded(chip, decodes, prompt, kv):
    padded = _setting(chip, padded=True)
    mm_pad, mm = padded.mapped(padded.layout), _setting(chip).mapped(padded.layout)
    tokens = decodes + prompt
    t_pad, s_pad = mm_pad.padded_rows(tokens, decodes)
    assert float(t_pad) >= tokens and float(s_pad) >= decodes
    if tokens > 0:
        pad_s = float(mm_pad.replica_step_s(tokens, decodes, decodes * kv, 0.0)[0])
        assert pad_s >= float(mm.replica_step_s(tokens, decodes, decodes * kv, 0.0)[0])
        point = mm_pad.stage_step_point((1,), float(tokens), float(decodes), float(decodes * kv), 0.0)
        assert float(np.asarray(point.time_s).reshape(-1)[0]) == pytest.approx(pad_s, rel=1e-9)


@pytest.mark.parametrize(("chip", "pads"), [(GAUDI, True), (TPU, True), (H100, False)])
def test_mtp_and_disagg_rows_take_the_back_ends_padding(chip, pads):
    s = _setting(chip)
    mm = s.mapped(s.layout)
    rep = EngineReplica(mm, get_engine("vllm"), mtp=True)
    assert (rep.mm.padding is not None) == pads
    assert rep.step.graphs is (not pads)  # the compiled sizes in place of the CUDA-graph buckets, not on top of them
    if pads:
        assert rep.step.eager is None
        n = 40
        inner = rep.step.inner
        k = rep.step.verify_tokens
        # n decodes with k draft tokens each: the inner step prices n (1 + k) tokens, padded by the back end alone
        assert rep.step.step_time_s(n, n, n * 1500, 0) == pytest.approx(inner.step_time_s(n * (1 + k), n, n * 1500, 0),
                                                                         rel=1e-12)
        bare = replace(mm, padding=None)
        assert float(inner.step_time_s(n * (1 + k), n, n * 1500, 0)) > float(
            bare.replica_step_s(n * (1 + k), n, n * 1500, 0.0)[0])  # 40 rows (x 1 + k tokens) run a larger size
