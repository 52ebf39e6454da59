"""Number formats the engine's record fixes (stop 40): the activations vLLM's MXFP4 expert kernels take (catalog/
engines.yaml moe_kernels ``activations``), for a user's ``--engine`` prediction and the rows' launch recipes alike;
the attention a quantised alias checkpoint leaves unquantised (alias_checkpoints.csv ``attention_weights``); the
checkpoint_attention rule applied to predict/serve/curve from the checkpoint the ``--model`` id names."""

from __future__ import annotations

import json

import pytest
from tests.cli_in_process import run_main

from inferchip.catalog.checkpoints import attention_weight_format, checkpoint_weights
from inferchip.catalog.engines import get_engine, moe_kernel_entry
from inferchip.catalog.models import load_model, resolve_alias
from inferchip.mapping.format_defaults import served_attention
from inferchip.performance.setting import resolve_setting
from inferchip.validation.cases import read_cases
from inferchip.validation.plan import case_formats

B200 = "nvidia-b200-180gb"
H100 = "nvidia-h100-sxm-80gb"
GPT_OSS = "openai/gpt-oss-120b"
L405_FP8 = "meta-llama/Llama-3.1-405B-Instruct-FP8"
V2, NV_V2, V1 = "nvidia/DeepSeek-R1-0528-FP4-v2", "nvidia/DeepSeek-R1-0528-NVFP4-v2", "nvidia/DeepSeek-R1-0528-FP4"


def _predict(*args: str) -> dict:
    code, text = run_main(["predict", "--format", "json", *args])
    assert code == 0, text
    return json.loads(text)


# --- A5: vLLM's MXFP4 MoE activations on Blackwell ------------------------------------------------------------------

def test_vllm_blackwell_kernels_state_their_activations():
    """vLLM v0.11.2 / v0.13.0 get_mxfp4_backend: SM100 default FlashInfer MXFP4 x BF16; the MXFP8 variable's
    TensorRT-LLM kernel and the CUTLASS one quantise to MXFP8 (priced fp8); Hopper's kernels are W4A16."""
    got = {k: moe_kernel_entry("vllm", "mxfp4", k, "nvidia-blackwell", "test").activations
           for k in ("flashinfer", "flashinfer-mxfp8", "flashinfer-cutlass")}
    assert got == {"flashinfer": "bf16", "flashinfer-mxfp8": "fp8", "flashinfer-cutlass": "fp8"}
    assert {moe_kernel_entry("vllm", "mxfp4", k, "nvidia-hopper", "test").activations
            for k in ("triton", "marlin", "flashinfer")} == {"bf16"}


@pytest.mark.parametrize(("extra", "act", "source_start"), [
    ((), "fp8", "checkpoint mxfp4 weights, 4-bit float units on the chip: W4A8"),  # no engine: the format rule
    (("--engine", "vllm"), "bf16", "the engine's expert kernel (named on the engine line) takes bf16"),
    (("--engine", "vllm", "--moe-kernel", "flashinfer-mxfp8"), "fp8", "the engine's expert kernel"),
    (("--engine", "vllm", "--activations", "fp8"), "fp8", "the activations given"),  # an option given wins
    (("--engine", "trtllm"), "fp8", "checkpoint mxfp4 weights, 4-bit float units"),  # W4A8_MXFP4_MXFP8: no entry
    (("--engine", "vllm", "--weights", "mxfp4"), "bf16", "the engine's expert kernel"),  # the kernel, not --weights'
])
def test_predict_gpt_oss_b200_activations_follow_the_engines_kernel(extra, act, source_start):
    d = _predict("--chip", B200, "--model", GPT_OSS, "--batch", "8", *extra)
    assert d["activations"] == act
    assert d["activations_source"].startswith(source_start)


def test_vllm_bf16_experts_cost_more_prefill_time_than_mxfp8():
    """The same kernel's padding, MXFP8 vs BF16 activations: a 4,096-token prefill of MXFP4 experts is compute
    bound, and the bf16 MMA peak is half the fp8 one, so the default (bf16) TTFT is the longer."""
    args = ("--chip", B200, "--model", GPT_OSS, "--batch", "1", "--input-tokens", "4096", "--engine", "vllm")
    bf16 = _predict(*args)
    mxfp8 = _predict(*args, "--moe-kernel", "flashinfer-mxfp8")
    assert (bf16["activations"], mxfp8["activations"]) == ("bf16", "fp8")
    assert bf16["ttft_s"] > mxfp8["ttft_s"] * 1.05


def test_serve_json_and_the_api_carry_the_kernels_activations():
    code, text = run_main(["serve", "--chip", B200, "--model", GPT_OSS, "--rate", "2", "--requests", "20",
                           "--input-tokens", "256", "--output-tokens", "32", "--engine", "vllm", "--format", "json"])
    assert code == 0, text
    run = json.loads(text)
    assert run["activations"] == "bf16"
    assert run["activations_source"].startswith("the engine's expert kernel")


def _gpt_oss_vllm_row(chip: str):
    return next(c for c in read_cases("src/inferchip/catalog/inferencemax_cases.csv")
                if c.model == GPT_OSS and "vllm" in c.software.lower() and c.act_dtype is None
                and c.accelerator == chip)


def test_b200_vllm_rows_take_mxfp8_and_hopper_rows_bf16():
    """The InferenceMAX B200 vLLM gpt-oss rows leave act_dtype blank; their recipe exports
    VLLM_USE_FLASHINFER_MOE_MXFP4_MXFP8=1 (MXFP8: fp8, here by the format rule, no B200 recipe entry); the Hopper rows'
    recipe Marlin kernel takes bf16."""
    assert get_engine("vllm").moe_kernel_on(B200, "mxfp4") is None
    assert case_formats(_gpt_oss_vllm_row(B200))[0].activations == "fp8"
    assert case_formats(_gpt_oss_vllm_row(H100))[0].activations == "bf16"


@pytest.mark.parametrize(("kernel", "act"), [("flashinfer", "bf16"), ("flashinfer-mxfp8", "fp8")])
def test_a_rows_recipe_kernel_sets_its_blank_activations(tmp_path, monkeypatch, kernel, act):
    """A recipe_moe_kernel entry for B200 (a copy of the catalogue) gives the row's blank act_dtype its kernel's
    activations: the record a user's --engine prediction reads."""
    import inferchip.catalog.engines as engines

    text = engines.ENGINES_FILE.read_text(encoding="utf-8")
    anchor = "      - {accelerator: h200, weights: mxfp4, kernel: marlin,"
    assert anchor in text
    text = text.replace(anchor, f"      - {{accelerator: b200, weights: mxfp4, kernel: {kernel}, mma_peak_fraction: "
                                f"1.0}}\n{anchor}", 1)
    copy = tmp_path / "engines.yaml"
    copy.write_text(text, encoding="utf-8")
    monkeypatch.setattr(engines, "ENGINES_FILE", copy)
    assert get_engine("vllm").moe_kernel_on(B200, "mxfp4").kernel == kernel
    assert case_formats(_gpt_oss_vllm_row(B200))[0].activations == act


def test_a_kernel_activation_outside_the_formats_is_refused(tmp_path):
    import shutil

    from inferchip.catalog.engines import ENGINES_FILE, load_engines
    from inferchip.errors import SpecError

    bad = tmp_path / "engines.yaml"
    shutil.copy(ENGINES_FILE, bad)
    text = bad.read_text(encoding="utf-8").replace("pad_hidden_to: 256, pad_intermediate_to: 256, activations: bf16,",
                                                   "pad_hidden_to: 256, pad_intermediate_to: 256, activations: fp9,", 1)
    bad.write_text(text, encoding="utf-8")
    with pytest.raises(SpecError, match="activations 'fp9'; allowed"):
        load_engines(str(bad))


# --- A6: Llama-3.1-405B FP8 keeps attention in bf16 ---------------------------------------------------------------

def test_405b_fp8_alias_keeps_attention_bf16():
    assert checkpoint_weights(L405_FP8).format == "fp8"
    assert attention_weight_format(L405_FP8, "fp8") == "bf16"
    assert attention_weight_format(L405_FP8, "bf16") is None  # served in another format: the map does not apply
    assert attention_weight_format(resolve_alias(L405_FP8), "fp8") is None  # the bf16 base config quantises nothing


def test_405b_fp8_weight_bytes_by_hand():
    """126 layers x (q 16384^2 + k, v 16384 x 1024 each + o 16384^2) = 71,873,593,344 attention weights, one byte
    more each in bf16 than in fp8: the alias's default weights exceed the base model's all-fp8 by that, / 8 per chip
    at TP8."""
    attn = 126 * (2 * 16384 * 16384 + 2 * 16384 * 1024)
    assert attn == 71_873_593_344
    alias = resolve_setting(B200, L405_FP8, count=8, tp=8)
    flat = resolve_setting(B200, resolve_alias(L405_FP8), count=8, tp=8, weights="fp8")
    assert (alias.formats.weights, alias.formats.attention_weights, flat.formats.attention_weights) == (
        "fp8", "bf16", None)
    extra = alias.mapped(alias.layout).weights_bytes - flat.mapped(flat.layout).weights_bytes
    assert extra == pytest.approx(attn / 8, rel=1e-9)


# --- T1: the checkpoint a model names drives TensorRT-LLM's attention formats in predict/serve/curve ---------------

def test_nvidia_fp4_checkpoints_are_aliases_shipping_fp4():
    for name in (V2, NV_V2, V1):
        assert resolve_alias(name) == "deepseek-ai/DeepSeek-R1"
        assert checkpoint_weights(name).format == "fp4"
        assert load_model(name).num_layers == 61


@pytest.mark.parametrize(("model", "extra", "out", "named"), [
    (V2, (), "fp4", V2),
    (NV_V2, (), "fp4", NV_V2),
    (V1, (), "bf16", V1),
    ("deepseek-ai/DeepSeek-R1-0528", ("--weights", "fp4"), "fp4", None),  # names none: v2 assumed, said so
])
def test_predict_trtllm_applies_the_named_checkpoints_attention(model, extra, out, named):
    d = _predict("--chip", B200, "--count", "4", "--model", model, "--tp", "4", "--ep", "4", "--attn-dp",
                 "--engine", "trtllm", "--batch", "64", *extra)
    note = next(n for n in d["notes"] if "checkpoint_attention" in n)
    assert f"q_a, q_b, kv_a, kv_b in bf16, o in {out}" in note
    if named is None:
        assert "no listed checkpoint named: the catalogue's first assumed" in note and V2 in note
    else:
        assert f"served checkpoint {named}:" in note


def test_predict_matches_the_rule_rows_take():
    """The v1 checkpoint (o bf16) is slower per step than v2 (o NVFP4), and predict's formats are the rule's."""
    v1 = _predict("--chip", B200, "--count", "4", "--model", V1, "--tp", "4", "--ep", "4", "--attn-dp", "--engine",
                  "trtllm", "--batch", "64")
    v2 = _predict("--chip", B200, "--count", "4", "--model", V2, "--tp", "4", "--ep", "4", "--attn-dp", "--engine",
                  "trtllm", "--batch", "64")
    assert v1["tpot_s"] > v2["tpot_s"]
    assert served_attention(get_engine("trtllm"), "", V1, "fp4", V1)[:2] == ("bf16", None)
    assert served_attention(get_engine("trtllm"), "", V2, "fp4", V2)[:2] == ("bf16", "fp4")
    assert served_attention(get_engine("vllm"), "", V2, "fp4", V2) is None  # no entry: the engine runs it as stored


@pytest.mark.parametrize("cmd", ["serve", "curve"])
def test_serve_and_curve_carry_the_assumed_checkpoint_note(cmd):
    load = ["--rate", "2", "--requests", "10"] if cmd == "serve" else []
    args = [cmd, "--chip", B200, "--count", "4", "--model", "deepseek-ai/DeepSeek-R1-0528", "--weights", "fp4",
            "--tp", "4", "--ep", "4", "--attn-dp", "--engine", "trtllm", "--input-tokens", "256", "--output-tokens",
            "16", *load]
    code, text = run_main([*args, "--format", "json"])
    assert code == 0, text
    assert "no listed checkpoint named: the catalogue's first assumed" in json.loads(text)["attention_source"]
    code, text = run_main(args)
    assert code == 0, text
    assert "the catalogue's first assumed" in " ".join(text.split())
