"""Activations and KV default to what the engines do with the checkpoint when ``--weights`` is not given
(mapping.format_defaults.kv_choice, format_sources): KV in the checkpoint's model dtype (``--kv-cache-dtype auto``),
activations by the shipped format's rule; each format's source in the setting, the prediction, predict/serve/curve
text and JSON; an explicit option wins, and an explicit ``--weights`` keeps its old defaults."""

from __future__ import annotations

import json

import pytest
from tests.cli_in_process import run_main

import inferchip as ic
from inferchip.catalog.checkpoints import checkpoint_weights
from inferchip.mapping.memory_fit import kv_bytes_per_sequence_on_its_chip
from inferchip.performance.setting import resolve_setting

B200 = "nvidia-b200-180gb"
H100 = "nvidia-h100-sxm-80gb"
GPT_OSS = "openai/gpt-oss-120b"
R1 = "deepseek-ai/DeepSeek-R1"


@pytest.mark.parametrize(("model", "dtype"), [(GPT_OSS, "bf16"), (R1, "bf16"), ("deepseek-ai/DeepSeek-R1-0528", "bf16"),
                                              ("Qwen/Qwen3-235B-A22B-FP8", "bf16"),
                                              ("meta-llama/Llama-2-7b-hf", "fp16"), ("EleutherAI/gpt-j-6b", "bf16")])
def test_checkpoint_model_dtype(model, dtype):
    """The 16-bit dtype the bundled configs state (torch_dtype), an alias its base config's, none stated: bf16."""
    assert checkpoint_weights(model).dtype == dtype


@pytest.mark.parametrize(("chip", "act", "act_source"), [
    (B200, "fp8", "checkpoint mxfp4 weights, 4-bit float units on the chip: W4A8, MXFP8"),
    (H100, "bf16", "checkpoint mxfp4 weights, no 4-bit float units on the chip: W4A16, bf16"),
])
def test_gpt_oss_default_formats_and_sources(chip, act, act_source):
    s = resolve_setting(chip, GPT_OSS, tp=1)
    assert (s.formats.weights, s.formats.activations, s.formats.kv) == ("mxfp4", act, "bf16")
    assert s.activations_source.startswith(act_source)
    assert s.kv_source.startswith("checkpoint model dtype bf16: the engines' --kv-cache-dtype auto")


def test_gpt_oss_kv_bytes_per_token_at_bf16_by_hand():
    """gpt-oss-120b: 36 layers x 8 KV heads x head_dim 64 x (K and V) x 2 B = 73,728 B per token (100 tokens, under
    the 128-token sliding window of half the layers, so every layer holds all of them); fp8 given: half."""
    s = resolve_setting(B200, GPT_OSS, tp=1)
    per_token_b = 2 * 36 * 8 * 64 * 2
    assert per_token_b == 73_728
    got = float(kv_bytes_per_sequence_on_its_chip(s.mapped(s.layout).sm, s.formats, 100.0))
    assert got == pytest.approx(100 * per_token_b, rel=1e-12)
    fp8 = resolve_setting(B200, GPT_OSS, tp=1, kv="fp8")
    assert (fp8.formats.kv, fp8.kv_source) == ("fp8", "the kv given")
    assert float(kv_bytes_per_sequence_on_its_chip(fp8.mapped(fp8.layout).sm, fp8.formats, 100.0)) == pytest.approx(
        got / 2, rel=1e-12)


def test_deepseek_r1_mla_kv_bytes_per_token_at_bf16_by_hand():
    """DeepSeek-R1 MLA caches the 512-wide latent and the 64-wide RoPE key: 61 layers x 576 x 2 B = 70,272 B per
    token in bf16 (the engines' default); activations FP8 per token group (block FP8 checkpoint)."""
    s = resolve_setting(B200, R1, tp=1)
    assert (s.formats.weights, s.formats.activations, s.formats.kv, s.compute_format) == ("fp8", "fp8", "bf16", "fp8")
    assert s.activations_source.startswith("checkpoint fp8 weights: W8A8, activations quantised to FP8 at run time")
    per_token_b = 61 * 576 * 2
    assert per_token_b == 70_272
    got = float(kv_bytes_per_sequence_on_its_chip(s.mapped(s.layout).sm, s.formats, 1000.0))
    assert got == pytest.approx(1000 * per_token_b, rel=1e-12)


def test_explicit_options_win_and_given_weights_keep_their_defaults():
    given = resolve_setting(B200, R1, tp=1, weights="fp8")  # the review's and the rows' case: unchanged
    assert (given.formats.activations, given.formats.kv) == ("fp8", "fp8")
    follows = "the default of the weights given, fp8"  # the record's own field, not the CLI's --weights (engine52)
    assert (given.activations_source, given.kv_source) == (follows, follows)
    both = resolve_setting(B200, GPT_OSS, tp=1, activations="bf16", kv="fp8")
    assert (both.formats.activations, both.formats.kv) == ("bf16", "fp8")
    assert (both.activations_source, both.kv_source) == ("the activations given", "the kv given")
    llama = resolve_setting(H100, "meta-llama/Llama-2-7b-hf", tp=1)
    assert (llama.formats.activations, llama.formats.kv) == ("fp16", "fp16")
    assert llama.activations_source == "checkpoint dtype fp16: served in one dtype"


def test_api_predict_and_serve_report_the_sources():
    p = ic.predict(B200, GPT_OSS, batch=8, input_tokens=1024, output_tokens=256)  # the fast path
    slow = ic.predict(B200, GPT_OSS, max_ttft_s=10.0, input_tokens=1024, output_tokens=256)
    for q in (p, slow):
        d = q.to_dict()
        assert (d["activations"], d["kv"]) == ("fp8", "bf16")
        assert d["kv_source"].startswith("checkpoint model dtype bf16")
        assert d["activations_source"].startswith("checkpoint mxfp4 weights")
    run = ic.serve(B200, GPT_OSS, rate_per_s=2.0, num_requests=20, input_tokens=256, output_tokens=32)
    assert run["kv_source"].startswith("checkpoint model dtype bf16")
    assert run["activations_source"].startswith("checkpoint mxfp4 weights")


def test_cli_predict_serve_curve_say_where_each_format_came_from():
    base = ["predict", "--chip", B200, "--model", R1, "--count", "8", "--batch", "8"]
    code, text = run_main([*base, "--format", "json"])
    assert code == 0, text
    answer = json.loads(text)
    assert (answer["weights"], answer["activations"], answer["kv"]) == ("fp8", "fp8", "bf16")
    assert answer["kv_source"].startswith("checkpoint model dtype bf16")
    code, text = run_main([*base, "--kv", "fp8"])
    assert code == 0, text
    flat = " ".join(text.split())
    assert "fp8/fp8/fp8" in flat and "KV format from" in flat and "activations format from" in flat
    serve = ["serve", "--chip", B200, "--model", GPT_OSS, "--rate", "2", "--requests", "20", "--input-tokens", "256",
             "--output-tokens", "32"]
    code, text = run_main(serve)
    assert code == 0, text
    flat = " ".join(text.split())  # the console wraps long lines
    assert "activations from checkpoint mxfp4 weights" in flat and "KV from checkpoint model dtype bf16" in flat
    curve = ["curve", "--chip", H100, "--model", "meta-llama/Llama-2-7b-hf", "--input-tokens", "128",
             "--output-tokens", "16", "--format", "json"]
    code, text = run_main(curve)
    assert code == 0, text
    answer = json.loads(text)
    assert (answer["activations_source"], answer["kv_source"][:28]) == ("checkpoint dtype fp16: served in one dtype",
                                                                       "checkpoint model dtype fp16:")


def test_serve_mtp_rows_use_the_checkpoint_kv():
    """A --mtp row (validate's case rows, which state their formats) is priced with the checkpoint's KV: the same
    figures as --kv bf16, other than --kv fp8's."""
    cmd = ["serve", "--chip", B200, "--model", R1, "--count", "8", "--tp", "8", "--mtp", "1", "--concurrency", "64",
           "--input-tokens", "4096", "--output-tokens", "256", "--format", "json"]
    runs = {}
    for kv in (None, "bf16", "fp8"):
        code, text = run_main(cmd if kv is None else [*cmd, "--kv", kv])
        assert code == 0, text
        runs[kv] = json.loads(text)
    assert runs[None]["kv_source"].startswith("checkpoint model dtype bf16")
    assert runs["bf16"]["kv_source"] == "the kv given"
    # each of the three sources, as predict and plain serve give them (the activations' missing before stop 40)
    assert all(r["activations_source"].startswith("checkpoint fp8 weights: W8A8") for r in runs.values())
    assert all(r["weights_source"].startswith("checkpoint quantization_config") for r in runs.values())
    assert runs[None]["tpot_s_mean"] == runs["bf16"]["tpot_s_mean"] != runs["fp8"]["tpot_s_mean"]


@pytest.mark.parametrize(("model", "weights", "kv"), [(R1, None, None), (GPT_OSS, None, None), (R1, "fp8", None),
                                                      (GPT_OSS, None, "fp8"), ("meta-llama/Llama-2-7b-hf", None, None)])
def test_case_row_formats_are_the_settings(model, weights, kv):
    """``serve --mtp``/``--disagg`` rows state their formats before a setting is resolved
    (``format_defaults.stated_formats``): the same weights, KV and sources as the setting resolves (one rule, not a
    copy of it in the command)."""
    from inferchip.mapping.format_defaults import stated_formats

    s = resolve_setting(B200, model, count=8, tp=8, weights=weights, kv=kv)
    w, w_source, kv_given, kv_source = stated_formats(model, weights, kv)
    assert (w, w_source, kv_source) == (s.formats.weights, s.weights_source, s.kv_source)
    assert kv_given in (None, s.formats.kv)
    assert (kv_given is None) == (weights is not None and kv is None)  # None: the given --weights' default
