"""One spelling per interface where stop 51 left the command line's in the API (branch engine52): ``ic.review``'s
errors name its keywords (``seed=``, ``models``, ``claim_file``), ``review`` its options (``--seed``, ``--models``,
``--claim-file``); ``ic.load_network``'s dynamic-axis advice names its keywords (``N=SIZE``), ``vision`` / ``drive``
``--dim``; and a JSON record's format sources and KV notes name the record's own fields (``the weights given``,
``kv int4``), not options (``--weights``, ``--kv``), in the CLI's JSON and the API's alike."""

from __future__ import annotations

import json

import pytest

import inferchip as ic
from cli_in_process import run_main
from inferchip.errors import InferchipError, InvalidSettingError, SpecError

H100, L8B = "nvidia-h100-sxm-80gb", "meta-llama/Llama-3.1-8B-Instruct"


@pytest.mark.parametrize(("config", "api", "cli"), [
    ({"seed": -1}, "seed=-1: allowed 0 to", ["--seed", "-1"]),
    ({"samples": 0}, "samples=0: allowed 1 to 1,000,000", ["--samples", "0"]),
    ({"metric": "speed"}, "metric: unknown figure 'speed'", ["--metric", "speed"]),
    ({"models": ["deepseek-ai/DeepSeek-R1"]}, "models: none of deepseek-ai/DeepSeek-R1",
     ["--models", "deepseek-ai/DeepSeek-R1"]),
])
def test_review_errors_name_the_keyword_in_the_api_and_the_option_on_the_command_line(config, api, cli) -> None:
    kw = {"chips": [H100], "models": [L8B], **config}
    with pytest.raises(InvalidSettingError) as err:
        ic.review(**kw)
    assert str(err.value).startswith(api) and "--" not in str(err.value).split(";")[0], str(err.value)
    models = [] if "models" in config else ["--models", L8B]
    code, out = run_main(["review", "--chips", H100, *models, *cli])
    keyword = api.split(":")[0].split("=")[0]  # seed, samples, metric, models
    assert code == 2 and f"{cli[0]}{' ' + cli[1] if '=' in api.split(':')[0] else ''}" in out, out
    assert f"{keyword}=" not in out and f"error: {keyword}:" not in out, out


def test_review_slo_and_claim_file_are_named_as_each_interface_takes_them(tmp_path) -> None:
    with pytest.raises(InvalidSettingError, match=r"^slos: unknown service level 'fast'"):
        ic.review(chips=[H100], models=[L8B], slos=("fast",))
    missing = tmp_path / "claim.yaml"
    with pytest.raises(InferchipError, match=r"^claim_file: "):
        ic.review(chips=[H100], models=[L8B], claim_file=str(missing))
    code, out = run_main(["review", "--chips", H100, "--models", L8B, "--claim-file", str(missing)])
    assert code == 2 and "error: --claim-file: " in out and "error: claim_file" not in out, out


def test_load_network_names_its_keywords_and_vision_its_option() -> None:
    with pytest.raises(InvalidSettingError, match=r"^N=: dynamic axes apply to ONNX files only"):
        ic.load_network("resnet50", N=1)
    with pytest.raises(SpecError, match=r"ic\.load_network\(FILE\.onnx, NAME=VALUE\)") as err:
        ic.load_model("graph.onnx")
    assert "--dim" not in str(err.value)
    code, out = run_main(["predict", "--chip", H100, "--model", "graph.onnx", "--batch", "1"])
    assert code == 2 and "--dim NAME=VALUE" in out, out


def test_json_format_sources_and_kv_notes_name_the_records_fields() -> None:
    code, text = run_main(["predict", "--chip", H100, "--model", L8B, "--weights", "fp8", "--batch", "1",
                           "--format", "json"])
    assert code == 0, text
    got = json.loads(text)
    assert (got["weights_source"], got["activations_source"], got["kv_source"]) == (
        "the weights given", "the default of the weights given, fp8", "the default of the weights given, fp8")
    p = ic.predict(H100, L8B, weights="fp8", activations="fp8", kv="int4", batch=1)
    assert (p.weights_source, p.activations_source, p.kv_source) == (
        "the weights given", "the activations given", "the kv given")
    assert any(n.startswith("kv int4: vLLM, SGLang and TensorRT-LLM store no int4 KV cache") for n in p.notes)
    code, text = run_main(["predict", "--chip", H100, "--model", L8B, "--kv", "int4", "--batch", "1",
                           "--format", "json"])
    got = json.loads(text)
    for key in ("weights_source", "activations_source", "kv_source", "notes"):
        assert "--weights" not in json.dumps(got[key]) and "--kv " not in json.dumps(got[key]), (key, got[key])
    checkpoint = ic.predict(H100, L8B, batch=1)  # the checkpoint's dtype: the KV source says how to ask for fp8
    assert checkpoint.kv_source.endswith("(kv fp8 for an FP8 cache)"), checkpoint.kv_source
