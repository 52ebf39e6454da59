"""TensorRT-LLM's context attention is FP8 only for quantised attention projections
(``EngineSpec.context_attention_follows_projections``): the format rule by hand, the prefill attention time at
the bf16 peak by hand (decode untouched), the catalogue records (TensorRT-LLM on, vLLM off, Dynamo's TensorRT-LLM
workers through ``kernel_engine``), a closed-loop gpt-oss row's note, and the property that the rule never makes a
prefill step faster."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import make_chip, tiny_dense
from inferchip.catalog.engines import get_engine, kernel_engine
from inferchip.cost.context import cost_context, prefill_attention_format
from inferchip.cost.step import step_cost
from inferchip.mapping.layout import Layout
from inferchip.mapping.memory_fit import Formats
from inferchip.mapping.sharding import shard
from inferchip.spec.calibration import Calibration
from inferchip.validation.cases import COLUMNS, parse_cases
from inferchip.validation.validate import validate_cases

# gpt-oss on Blackwell: MXFP4 experts with FP8 activations, FP8 KV, attention projections kept bf16
GPTOSS = Formats("mxfp4", "fp8", "fp8", attention_weights="bf16")
DYNAMO_TRT = "NVIDIA Dynamo + TensorRT-LLM, PD-disaggregated; nvcr.io#nvidia/ai-dynamo/tensorrtllm-runtime:0.7.0.post2"
NOTE = "prefill attention in bf16"


@pytest.mark.parametrize("attn, proj, follows, expected", [
    ("fp8", "bf16", True, "bf16"),   # unquantised projections: Q, K, V stay bf16 (TensorRT-LLM)
    ("fp8", "fp16", True, "fp16"),
    ("fp8", "bf16", False, "fp8"),   # an engine that quantises Q itself (vLLM FlashInfer) keeps FP8
    ("fp8", "mxfp4", True, "fp8"),   # quantised projections: FP8 context FMHA
    ("fp8", "fp8", True, "fp8"),
    ("bf16", "bf16", True, "bf16"),  # already 16-bit: nothing to change
])
def test_prefill_attention_format_rule(attn, proj, follows, expected):
    assert prefill_attention_format(attn, proj, follows) == expected


def _attention(cal: Calibration, tokens: float, seqs: float, kv: float, pairs: float) -> float:
    sm = shard(tiny_dense(layers=1, hidden=1024, heads=8, kv_heads=2), Layout())
    return float(step_cost(sm, make_chip(), GPTOSS, cal, tokens, seqs, kv, pairs).classes["attention"].time_s)


def test_prefill_attention_at_the_bf16_peak_by_hand():
    """One layer, 8 query heads of 128, 2 KV heads; one 4,096-token prompt. The flag moves the prefill kernel from
    the FP8 peak (1,978.9 TFLOP/s on the test chip) to the bf16 one (989.4); the q, k, v reads are then bf16."""
    base = Calibration(prefill_attention_compute_fraction=0.6)
    follows = base.model_copy(update={"prefill_attention_follows_projections": True})
    t = 4096
    pairs = t * (t + 1) / 2
    flop = 2 * 8 * (128 + 128) * pairs
    launch = 3e-6 * base.kernel_overhead_scale
    assert _attention(base, t, 0, 0, pairs) == pytest.approx(flop / (1978.9e12 * 0.6) + launch)
    assert _attention(follows, t, 0, 0, pairs) == pytest.approx(flop / (989.4e12 * 0.6) + launch)
    ctx = cost_context(make_chip(), GPTOSS, follows)
    assert (ctx.attention_format, ctx.prefill_attention_format) == ("fp8", "bf16")
    # decode attention (XQA / trtllm-gen kernels, not read) keeps the FP8 rate: a decode-only step is unchanged
    assert _attention(follows, 64, 64, 64 * 2048, 0) == pytest.approx(_attention(base, 64, 64, 64 * 2048, 0))


def test_the_records_that_carry_it():
    assert get_engine("trtllm").context_attention_follows_projections
    assert not get_engine("vllm").context_attention_follows_projections  # FP8 query (disable_flashinfer_q_quantization)
    dyn = get_engine("dynamo")
    assert not dyn.context_attention_follows_projections
    assert kernel_engine(dyn, DYNAMO_TRT.lower()).id == "trtllm"
    assert kernel_engine(dyn, "nvidia dynamo + sglang").id == "sglang"
    assert kernel_engine(get_engine("vllm"), "vllm").id == "vllm"  # no worker: the engine itself


def _row(case_id: str, software: str, accelerator: str, tp: str):
    vals = {"case_id": case_id, "source_kind": "x", "source": "x", "accelerator": accelerator,
            "num_accelerators": tp, "software": software, "model": "openai/gpt-oss-120b", "weight_dtype": "mxfp4",
            "act_dtype": "", "kv_dtype": "", "tp": tp, "pp": "1", "ep": "1", "scenario": "server",
            "input_tokens": "1024", "output_tokens": "1024", "concurrency": "4", "metric": "ttft_ms", "value": "50",
            "unit": "ms", "notes": ""}
    return parse_cases(",".join(COLUMNS) + "\n" + ",".join(f'"{vals[c]}"' for c in COLUMNS) + "\n")[0]


def test_closed_loop_rows_note_it_for_tensorrt_llm_only():
    trt = _row("imax-x-tp1ep1-1024-1024-c4-r1-ttft", "TensorRT-LLM (trtllm-serve); release:1.2.0rc2",
               "nvidia-b200-180gb", "1")
    vllm = _row("imax-y-tp1ep1-1024-1024-c4-r1-ttft", "vLLM; vllm/vllm-openai:v0.13.0", "nvidia-b200-180gb", "1")
    r_trt, r_vllm = validate_cases([trt, vllm], Calibration())
    assert r_trt.status == "ok" and r_vllm.status == "ok", (r_trt.reason, r_vllm.reason)
    assert any(NOTE in n for n in r_trt.notes)
    assert not any(NOTE in n for n in r_vllm.notes)


@settings(max_examples=30, deadline=None)
@given(prompt=st.integers(16, 16384), cached=st.integers(0, 8192), frac=st.floats(0.1, 1.0))
def test_the_rule_never_makes_a_prefill_step_faster(prompt, cached, frac):
    base = Calibration(prefill_attention_compute_fraction=frac)
    follows = base.model_copy(update={"prefill_attention_follows_projections": True})
    pairs = prompt * (cached + (prompt + 1) / 2)
    assert _attention(follows, prompt, 0, 0, pairs) >= _attention(base, prompt, 0, 0, pairs) * (1 - 1e-12)


def test_the_engine_calibration_carries_the_attention_format_on_every_path():
    """``engine_calibration`` (the CLI's ``--engine``, ``serve``, ``curve``) and the closed-loop rows resolve the
    flag the same way: from the engine whose kernels run (Dynamo's workers through ``kernel_engine``)."""
    from inferchip.catalog.engines import engine_calibration
    from inferchip.performance.setting.engine import engine_setting

    cal = Calibration()
    assert engine_calibration(cal, get_engine("trtllm")).prefill_attention_follows_projections
    assert not engine_calibration(cal, get_engine("vllm")).prefill_attention_follows_projections
    dyn = get_engine("dynamo")
    assert engine_calibration(cal, dyn, software=DYNAMO_TRT).prefill_attention_follows_projections
    assert not engine_calibration(cal, dyn, software="nvidia dynamo + sglang").prefill_attention_follows_projections
    cli_cal, spec = engine_setting("trtllm", None)
    assert spec.id == "trtllm" and cli_cal.prefill_attention_follows_projections
