"""The weights' default format is what the checkpoint ships (catalog.checkpoints.checkpoint_weights), resolved once
in the setting (mapping.format_defaults.weight_choice), reported as ``weights_source``; an explicit format wins; a bad
``quantization_config`` in a user's config.json is an error naming the file, the field, the value and what is
allowed."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.cli_in_process import run_main

import inferchip as ic
from inferchip.catalog.checkpoints import checkpoint_weights
from inferchip.catalog.models import model_ids
from inferchip.errors import SpecError
from inferchip.performance.setting import resolve_setting
from inferchip.spec.formats import ALL_FORMATS, BYTES_PER_ELEMENT

MODELS = Path(__file__).parent.parent / "src/inferchip/catalog/models"
B200 = "nvidia-b200-180gb"


@pytest.mark.parametrize(("model", "fmt", "source"), [
    ("openai/gpt-oss-120b", "mxfp4", "checkpoint quantization_config (quant_method mxfp4"),
    ("openai/gpt-oss-20b", "mxfp4", "checkpoint quantization_config (quant_method mxfp4"),
    ("deepseek-ai/DeepSeek-R1", "fp8", "checkpoint quantization_config (quant_method fp8"),
    ("deepseek-ai/DeepSeek-V3", "fp8", "checkpoint quantization_config (quant_method fp8"),
    ("deepseek-ai/DeepSeek-R1-0528", "fp8", "checkpoint quantization_config (quant_method fp8"),  # alias: R1's file
    ("Qwen/Qwen3-235B-A22B-FP8", "fp8", "checkpoint Qwen/Qwen3-235B-A22B-FP8: https://huggingface.co/"),
    ("Qwen/Qwen3-235B-A22B", "bf16", "checkpoint torch_dtype bfloat16"),
    ("meta-llama/Llama-2-70b-chat-hf", "fp16", "checkpoint torch_dtype float16"),
    ("meta-llama/Llama-4-Scout-17B-16E-Instruct", "bf16", "checkpoint "),
    ("EleutherAI/gpt-j-6b", "bf16", "default bf16: the checkpoint states no quantization_config or torch_dtype"),
])
def test_bundled_checkpoint_formats(model, fmt, source):
    got = checkpoint_weights(model)
    assert got.format == fmt
    assert got.source.startswith(source)


@pytest.mark.parametrize("model", model_ids())
def test_every_catalogue_id_states_a_format(model):
    assert checkpoint_weights(model).format in ALL_FORMATS


def test_gpt_oss_120b_default_weight_bytes_by_hand():
    """MXFP4 experts (0.5 + 1/32 B per element) and router, bf16 attention projections (modules_to_not_convert),
    bf16 embeddings and LM head: 36 layers, 128 experts of 3 x 2880 x 2880, q 64 x 64 and k/v 8 x 64 wide."""
    s = resolve_setting(B200, "openai/gpt-oss-120b", tp=1)
    assert (s.formats.weights, s.formats.attention_weights) == ("mxfp4", "bf16")
    assert s.weights_source.startswith("checkpoint quantization_config (quant_method mxfp4")
    mx = BYTES_PER_ELEMENT["mxfp4"]
    experts = 36 * 128 * 3 * 2880 * 2880 * mx  # 60.91 GB
    router = 36 * 2880 * 128 * mx
    attention = 36 * (2880 * (4096 + 2 * 512) + 4096 * 2880) * 2.0  # 1.91 GB
    embeddings = 2 * 201088 * 2880 * 2.0  # input embedding and LM head, untied: 2.32 GB
    expected = experts + router + attention + embeddings
    assert s.mapped(s.layout).weights_bytes == pytest.approx(expected, rel=1e-9)
    assert 64e9 < expected < 66e9
    whole = resolve_setting(B200, "openai/gpt-oss-120b", tp=1, weights="bf16")
    assert whole.weights_source == "the weights given"
    assert whole.mapped(whole.layout).weights_bytes == pytest.approx(233.6e9, rel=2e-3)  # the lead's bf16 figure


def test_deepseek_r1_default_is_fp8_one_byte_per_parameter():
    """FP8 block weights: 1 B per GEMM parameter, the bf16 embeddings and LM head 2 B: 671 GB + 2 x 129280 x 7168 B."""
    s = resolve_setting(B200, "deepseek-ai/DeepSeek-R1", tp=1)
    assert (s.formats.weights, s.formats.activations, s.formats.kv) == ("fp8", "fp8", "bf16")  # KV: model dtype
    embeddings = 2 * 129280 * 7168
    got = s.mapped(s.layout).weights_bytes
    assert got == pytest.approx(671.0e9 + embeddings, rel=2e-3)
    bf16 = resolve_setting(B200, "deepseek-ai/DeepSeek-R1", tp=1, weights="bf16")
    assert bf16.mapped(bf16.layout).weights_bytes == pytest.approx(2 * (got - embeddings), rel=1e-9)


@pytest.mark.parametrize(("model", "fmt"), [("openai/gpt-oss-120b", "mxfp4"), ("deepseek-ai/DeepSeek-R1", "fp8"),
                                            ("meta-llama/Llama-2-7b-hf", "fp16"), ("meta-llama/Llama-3.1-8B", "bf16")])
@pytest.mark.parametrize("chip", [B200, "nvidia-h100-sxm-80gb"])
def test_default_is_the_checkpoint_format_given(model, fmt, chip):
    """Activations and the per-layer map of the default are those of ``--weights <what it ships>``; the KV is the
    checkpoint's model dtype (bf16 here, fp16 for Llama-2) where ``--weights`` is not given (kv_choice)."""
    default = resolve_setting(chip, model, count=8, tp=8)
    given = resolve_setting(chip, model, count=8, tp=8, weights=fmt)
    assert default.formats == replace(given.formats, kv="fp16" if fmt == "fp16" else "bf16")
    assert default.compute_format == given.compute_format
    assert default.format_notes == given.format_notes
    assert given.weights_source == "the weights given" != default.weights_source


def test_api_predict_reports_where_the_weights_came_from():
    p = ic.predict(B200, "openai/gpt-oss-120b", batch=8, input_tokens=1024, output_tokens=256)  # the fast path
    slow = ic.predict(B200, "openai/gpt-oss-120b", max_ttft_s=10.0, input_tokens=1024, output_tokens=256)
    for q in (p, slow):
        assert q.weights == "mxfp4"
        assert q.to_dict()["weights_source"].startswith("checkpoint quantization_config (quant_method mxfp4")
    assert 64e9 < p.memory_breakdown_bytes["weights"] < 66e9
    given = ic.predict(B200, "openai/gpt-oss-120b", count=2, tp=2, batch=8, weights="bf16")
    assert (given.weights, given.weights_source) == ("bf16", "the weights given")


def test_api_serve_reports_the_formats():
    run = ic.serve(B200, "openai/gpt-oss-120b", rate_per_s=2.0, num_requests=20, input_tokens=256, output_tokens=32)
    assert (run["weights"], run["activations"], run["kv"]) == ("mxfp4", "fp8", "bf16")
    assert run["weights_source"].startswith("checkpoint quantization_config")


def test_cli_predict_says_where_the_weights_came_from():
    base = ["predict", "--chip", B200, "--model", "openai/gpt-oss-120b", "--batch", "8"]
    code, text = run_main([*base, "--format", "json"])
    assert code == 0, text
    answer = json.loads(text)
    assert answer["weights"] == "mxfp4"
    assert answer["weights_source"].startswith("checkpoint quantization_config (quant_method mxfp4")
    code, text = run_main(base)
    assert code == 0, text
    assert "weights format from" in text and "checkpoint quantization_config" in text
    code, text = run_main([*base, "--weights", "bf16"])  # the lead's case: bf16 does not fit one B200
    assert code == 2 and "does not fit" in text and "weights 233.6" in text


def test_cli_serve_says_where_the_weights_came_from():
    serve = ["serve", "--chip", B200, "--model", "openai/gpt-oss-120b", "--rate", "2", "--requests", "20",
             "--input-tokens", "256", "--output-tokens", "32"]
    code, text = run_main(serve)
    assert code == 0, text
    flat = " ".join(text.split())  # the console wraps long lines
    assert "formats (w/a/kv): mxfp4/fp8/bf16; weights format from checkpoint quantization_config" in flat
    code, text = run_main([*serve, "--weights", "fp8", "--format", "json"])
    assert code == 0, text
    assert (json.loads(text)["weights"], json.loads(text)["weights_source"]) == ("fp8", "the weights given")


def test_cli_curve_says_where_the_weights_came_from():
    """A float16 checkpoint (Llama-2) is priced fp16 with fp16 activations and KV, the curve's JSON and text say so."""
    curve = ["curve", "--chip", "nvidia-h100-sxm-80gb", "--model", "meta-llama/Llama-2-7b-hf", "--input-tokens", "128",
             "--output-tokens", "16"]
    code, text = run_main([*curve, "--format", "json"])
    assert code == 0, text
    answer = json.loads(text)
    assert (answer["weights"], answer["activations"], answer["kv"]) == ("fp16", "fp16", "fp16")
    assert answer["weights_source"].startswith("checkpoint torch_dtype float16, no quantization_config")
    code, text = run_main(curve)
    assert code == 0, text
    flat = " ".join(text.split())  # the console wraps long lines
    assert "formats (w/a/kv): fp16/fp16/fp16; weights format from checkpoint torch_dtype float16" in flat


def _user_config(tmp_path: Path, **changes: object) -> Path:
    cfg = json.loads((MODELS / "meta-llama__Llama-3.2-1B.json").read_text(encoding="utf-8"))
    cfg.update(changes)
    path = tmp_path / "config.json"
    path.write_text(json.dumps(cfg), encoding="utf-8")
    return path


@pytest.mark.parametrize(("q", "field", "value"), [
    ("int4", "quantization_config", "'int4'"),
    ({"quant_method": "bitsandbytes", "load_in_4bit": True}, "quantization_config.quant_method", "'bitsandbytes'"),
    ({"quant_method": 8}, "quantization_config.quant_method", "8"),
    ({"bits": 4}, "quantization_config.quant_method", "None"),
    ({"quant_method": "modelopt", "quant_algo": "W4A8_AWQ"}, "quantization_config.quant_algo", "'W4A8_AWQ'"),
    ({"quant_method": "gptq", "bits": 8}, "quantization_config.bits", "8"),
    ({"quant_method": "awq", "bits": True}, "quantization_config.bits", "True"),
    ({"quant_method": "mxfp4", "modules_to_not_convert": "self_attn"}, "quantization_config.modules_to_not_convert",
     "'self_attn'"),
])
def test_cli_bad_quantization_config_names_file_field_value_allowed(tmp_path, q, field, value):
    path = _user_config(tmp_path, quantization_config=q)
    code, text = run_main(["predict", "--chip", B200, "--model", str(path), "--batch", "1"])
    assert code == 2, text
    assert text.startswith("error:") and str(path) in text
    assert f"{field}: value {value} is not allowed" in text
    assert "expected" in text


def test_cli_bad_torch_dtype_names_it(tmp_path):
    path = _user_config(tmp_path, torch_dtype="int8")
    code, text = run_main(["predict", "--chip", B200, "--model", str(path), "--batch", "1"])
    assert code == 2 and str(path) in text and "torch_dtype: value 'int8' is not allowed" in text
    assert "bfloat16, float16" in text


def test_an_unknown_method_is_no_error_where_weights_are_given(tmp_path):
    path = _user_config(tmp_path, quantization_config={"quant_method": "bitsandbytes"})
    code, text = run_main(["predict", "--chip", B200, "--model", str(path), "--batch", "1", "--weights", "bf16",
                           "--format", "json"])
    assert code == 0, text
    assert json.loads(text)["weights_source"] == "the weights given"


def test_a_user_nvfp4_checkpoint_gets_its_per_layer_map(tmp_path):
    """A ModelOpt NVFP4 config leaving attention out (exclude_modules): fp4 experts by default, bf16 attention."""
    q = {"quant_method": "modelopt", "quant_algo": "NVFP4", "exclude_modules": ["lm_head", "model.layers.*.self_attn*"]}
    path = _user_config(tmp_path, quantization_config=q)
    s = resolve_setting(B200, str(path), tp=1)
    assert (s.formats.weights, s.formats.attention_weights) == ("fp4", "bf16")
    assert s.weights_source == f"checkpoint quantization_config (quant_method modelopt, quant_algo NVFP4; {path})"


def _nested(inner: st.SearchStrategy[object]) -> st.SearchStrategy[object]:
    keys = st.sampled_from(["quant_method", "quant_algo", "bits", "modules_to_not_convert", "x"])
    return st.lists(inner, max_size=3) | st.dictionaries(keys, inner, max_size=4)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(q=st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=8), _nested, max_leaves=6))
def test_fuzzed_quantization_config_is_a_format_or_a_named_error(tmp_path, q):
    path = _user_config(tmp_path, quantization_config=q)
    try:
        got = checkpoint_weights(str(path))
    except SpecError as exc:
        assert str(path) in str(exc) and "quantization_config" in str(exc) and "expected" in str(exc)
    else:
        assert got.format in ALL_FORMATS


@pytest.mark.parametrize("q", [{"quant_method": "bitsandbytes"}, {"quant_method": "gptq", "bits": 8},
                               {"quant_method": "modelopt", "quant_algo": "W4A8_AWQ"}])
def test_a_refused_default_says_how_to_give_the_format_in_cli_and_api(tmp_path, q):
    """The error of a default the checkpoint cannot give names the way round it for both callers: ``--weights`` on
    the command line, ``weights=`` in the Python API (the API caller has no --weights)."""
    path = _user_config(tmp_path, quantization_config=q)
    with pytest.raises(SpecError) as exc:
        ic.predict(B200, str(path), batch=1)
    assert "--weights" in str(exc.value) and "weights= in the Python API" in str(exc.value)
    (tmp_path / "b").mkdir()
    bad_dtype = _user_config(tmp_path / "b", torch_dtype="int8")
    with pytest.raises(SpecError, match="weights= in the Python API"):
        resolve_setting(B200, str(bad_dtype), tp=1)


def test_the_checkpoint_is_read_once_per_setting(tmp_path, monkeypatch):
    """``resolve_setting`` takes the weights' format and the KV's default from one read of the checkpoint
    (``format_defaults.checkpoint_choice``), not one read for each."""
    import inferchip.catalog.checkpoints as ck

    calls = []
    real = ck.checkpoint_weights

    def counted(model_id: str, config=None) -> ck.CheckpointWeights:
        calls.append(model_id)
        return real(model_id, config)

    monkeypatch.setattr(ck, "checkpoint_weights", counted)
    path = _user_config(tmp_path, quantization_config={"quant_method": "gptq", "bits": 4}, torch_dtype="float16")
    s = resolve_setting(B200, str(path), tp=1)
    assert (s.formats.weights, s.formats.kv) == ("int4", "fp16")
    assert calls == [str(path)]
