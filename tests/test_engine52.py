"""The Python API takes ``engine=`` / ``moe_kernel=`` as the command line takes ``--engine`` / ``--moe-kernel``, through
the one resolution (``performance.setting.engine.served_engine``, called by ``resolve_setting``): for every engine of
the catalogue ``ic.predict(..., engine=X)`` is ``inferchip predict --engine X --format json`` field by field, and
``ic.serve(..., engine=X)`` is ``inferchip serve --engine X --format json`` on a small run (branch engine52)."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

import inferchip as ic
from cli_in_process import run_main
from inferchip.catalog.chips import get_chip_params
from inferchip.catalog.engines import load_engines, runs_on
from inferchip.errors import InvalidSettingError, UnknownIdError

L8B = "meta-llama/Llama-3.1-8B-Instruct"
GPT_OSS = "openai/gpt-oss-120b"
CHIPS = ("nvidia-h100-sxm-80gb", "amd-mi300x", "nvidia-b200-180gb", "intel-gaudi3", "google-tpu-v6e-trillium")
ENGINES = [e.id for e in load_engines().engines]


def _chip_for(engine: str) -> str:
    """The first chip of :data:`CHIPS` the engine runs on (catalog/engine_hardware.yaml)."""
    hardware = load_engines().hardware
    return next(c for c in CHIPS if runs_on(hardware, engine, get_chip_params(c).family))


def _same(api: dict[str, Any], cli: dict[str, Any], skip: tuple[str, ...] = ()) -> None:
    """Every key of the API's record equal in the CLI's JSON (floats to 1e-12; the API's notes among the CLI's)."""
    for key, want in api.items():
        if key in skip:
            continue
        assert key in cli, key
        got = cli[key]
        if key == "notes":
            assert set(want) <= set(got), (set(want) - set(got))
        elif isinstance(want, float) and math.isfinite(want):
            assert got == pytest.approx(want, rel=1e-12, abs=1e-15), key
        elif isinstance(want, dict):
            _same(want, got)
        elif isinstance(want, tuple | list):
            assert json.loads(json.dumps(list(want), default=str)) == got, key
        else:
            assert want == got or (want is None and got is None), key


def _cli(args: list[str]) -> dict[str, Any]:
    code, out = run_main([*args, "--format", "json"])
    assert code == 0, out
    parsed: dict[str, Any] = json.loads(out)
    return parsed


@pytest.mark.parametrize("engine", ENGINES)
def test_predict_with_an_engine_is_the_commands_field_by_field(engine: str) -> None:
    chip = _chip_for(engine)
    api = ic.predict(chip, L8B, engine=engine, batch=8, input_tokens=2048, output_tokens=256).to_dict()
    cli = _cli(["predict", "--chip", chip, "--model", L8B, "--engine", engine, "--batch", "8", "--input-tokens", "2048",
                "--output-tokens", "256"])
    assert cli["engine"]["id"] == engine and "request_host" in cli["engine"]
    _same(api, cli)
    plain = ic.predict(chip, L8B, batch=8, input_tokens=2048, output_tokens=256)
    assert api["ttft_s"] > plain.ttft_s  # the engine's host time per request at least (it moved, as the CLI's)


def test_the_readme_names_the_keys_the_commands_json_adds() -> None:
    """The README said ic.predict(engine=) equals the command's JSON 'field by field'; the JSON has keys to_dict()
    lacks (review52c): the README names them, and they are all it adds."""
    import re
    from pathlib import Path

    api = ic.predict("nvidia-h100-sxm-80gb", L8B, engine="vllm", batch=8).to_dict()
    cli = _cli(["predict", "--chip", "nvidia-h100-sxm-80gb", "--model", L8B, "--engine", "vllm", "--batch", "8"])
    readme = " ".join((Path(__file__).parents[1] / "README.md").read_text().split())
    said = re.search(r"the command's JSON adds ([^)]*) and notes of its own", readme)
    assert said is not None
    assert set(re.findall(r"`(\w+)`", said.group(1))) == set(cli) - set(api)


def test_most_throughput_and_a_ttft_limit_with_an_engine_are_the_commands() -> None:
    chip = "nvidia-h100-sxm-80gb"
    api = ic.predict(chip, L8B, engine="vllm", max_ttft_s=0.5, input_tokens=1024, output_tokens=256).to_dict()
    cli = _cli(["predict", "--chip", chip, "--model", L8B, "--engine", "vllm", "--max-ttft-ms", "500",
                "--input-tokens", "1024", "--output-tokens", "256"])
    _same(api, cli)
    assert api["ttft_s"] <= 0.5  # the limit bounds the TTFT with the host time in it
    fast = ic.predict(chip, L8B, engine="sglang", input_tokens=1024, output_tokens=256).to_dict()
    _same(fast, _cli(["predict", "--chip", chip, "--model", L8B, "--engine", "sglang", "--max-throughput",
                      "--input-tokens", "1024", "--output-tokens", "256"]))


def test_an_expert_kernel_is_the_commands() -> None:
    chip = "nvidia-h100-sxm-80gb"
    kw = dict(weights="mxfp4", tp=2, count=2, batch=8, input_tokens=1024, output_tokens=128)
    api = ic.predict(chip, GPT_OSS, engine="vllm", moe_kernel="marlin", **kw).to_dict()  # type: ignore[arg-type]
    cli = _cli(["predict", "--chip", chip, "--model", GPT_OSS, "--weights", "mxfp4", "--tp", "2", "--count", "2",
                "--batch", "8", "--input-tokens", "1024", "--output-tokens", "128", "--engine", "vllm",
                "--moe-kernel", "marlin"])
    _same(api, cli)
    assert "marlin" in cli["engine"]["moe_kernel"]
    other = ic.predict(chip, GPT_OSS, engine="vllm", **kw)  # type: ignore[arg-type]  # vLLM's default on Hopper
    assert other.tpot_s != api["tpot_s"]


@pytest.mark.parametrize("engine", ["vllm", "sglang"])
def test_serve_with_an_engine_is_the_commands(engine: str) -> None:
    chip = "nvidia-h100-sxm-80gb"
    api = ic.serve(chip, L8B, engine=engine, tp=1, concurrency=4, num_requests=24, input_tokens=512,
                   output_tokens=64, seed=3)
    cli = _cli(["serve", "--chip", chip, "--model", L8B, "--engine", engine, "--tp", "1", "--concurrency", "4",
                "--requests", "24", "--input-tokens", "512", "--output-tokens", "64", "--seed", "3"])
    assert api["engine"]["id"] == engine and api["engine"]["request_host"] == cli["engine"]["request_host"]
    # step_padding: ic.serve's words for the padding (none on H100), which serve says in its notes
    _same(api, cli, skip=("step_padding",))
    plain = ic.serve(chip, L8B, tp=1, concurrency=4, num_requests=24, input_tokens=512, output_tokens=64, seed=3)
    assert plain["engine"] is None and api["ttft_s_mean"] > plain["ttft_s_mean"]


def test_resolve_setting_derives_the_six_from_the_engine() -> None:
    """The calibration (host time per step), the step budget and cap, the padding, the served attention and the host
    time per request: the engine's, not the default engine's."""
    from inferchip.performance.setting.engine import engine_choice

    s = ic.resolve_setting("google-tpu-v6e-trillium", L8B, engine="vllm", tp=1)
    choice = engine_choice("vllm", None, "google-tpu-v6e-trillium")
    assert s.calibration.step_overhead_s == choice.calibration.step_overhead_s
    assert (s.caps, s.chunk_tokens) == (choice.caps, choice.caps.chunk_tokens)
    assert s.padding == choice.padding_at(s.chunk_tokens) and s.padding is not None
    assert s.engine is not None and s.engine.host(1024) is not None
    assert ic.resolve_setting("google-tpu-v6e-trillium", L8B, tp=1).engine is None


def test_engine_errors_name_the_keyword_in_the_api_and_the_option_on_the_command_line() -> None:
    with pytest.raises(UnknownIdError, match=r"^engine: "):
        ic.predict("nvidia-h100-sxm-80gb", L8B, engine="vlm", batch=1)
    with pytest.raises(InvalidSettingError, match=r"engine=atom: .* not on nvidia-h100"):
        ic.predict("nvidia-h100-sxm-80gb", L8B, engine="atom", batch=1)
    with pytest.raises(InvalidSettingError, match=r"moe_kernel=marlin: the expert kernel is an engine's; give engine="):
        ic.predict("nvidia-h100-sxm-80gb", GPT_OSS, moe_kernel="marlin", batch=1)
    with pytest.raises(InvalidSettingError, match=r"max_ttft_s \(seconds\) 0.001: no TTFT meets it"):
        ic.predict("nvidia-h100-sxm-80gb", L8B, engine="vllm", max_ttft_s=0.001)
    code, out = run_main(["predict", "--chip", "nvidia-h100-sxm-80gb", "--model", L8B, "--engine", "atom",
                          "--batch", "1"])
    assert code == 2 and "--engine atom: " in out and "engine=" not in out
    code, out = run_main(["predict", "--chip", "nvidia-h100-sxm-80gb", "--model", GPT_OSS, "--moe-kernel", "marlin",
                          "--batch", "1"])
    assert code == 2 and "--moe-kernel marlin: " in out and "give --engine too" in out


@pytest.mark.parametrize("engine", [3, 1.5, ["vllm"], b"vllm"])
def test_an_engine_that_is_no_name_is_refused_naming_the_keyword(engine: Any) -> None:
    """engine=3 was an AttributeError ('int' object has no attribute 'strip'): refused as a format that is no name
    is, with its type and the engines allowed (review52c)."""
    with pytest.raises(UnknownIdError, match=rf"^engine: unknown engine .* \(type {type(engine).__name__}: an "
                                             r"engine is given by its id\); allowed: .*vllm"):
        ic.predict("nvidia-h100-sxm-80gb", L8B, engine=engine, batch=1)


def test_the_sweep_and_the_cache_key_take_the_engine() -> None:
    """predict's cache key and the sweep's copy of it (``KEYED``) gain the two keywords: a sweep with an engine is
    ic.predict's with it, point by point, and differs from one without."""
    from inferchip.performance.predict import KEYED

    assert list(KEYED)[-2:] == ["engine", "moe_kernel"]
    chip = "nvidia-h100-sxm-80gb"
    df = ic.sweep(chip, L8B, batch=[1, 8], input_tokens=1024, output_tokens=128, engine="vllm")
    for b, ttft in zip(df["batch_asked"], df["ttft_s"], strict=True):
        assert ttft == pytest.approx(ic.predict(chip, L8B, batch=b, input_tokens=1024, output_tokens=128,
                                                engine="vllm").ttft_s, rel=1e-9)
    plain = ic.sweep(chip, L8B, batch=[1, 8], input_tokens=1024, output_tokens=128)
    assert (df["ttft_s"] > plain["ttft_s"]).all()


def test_curve_and_find_count_take_the_engine() -> None:
    chip = "nvidia-h100-sxm-80gb"
    kw = dict(tp=1, concurrencies=[1, 2], requests_per_user=2, input_tokens=512, output_tokens=32)
    with_engine = ic.curve(chip, L8B, engine="vllm", **kw)  # type: ignore[arg-type]
    plain = ic.curve(chip, L8B, **kw)  # type: ignore[arg-type]
    assert with_engine.points[0]["ttft_s_p50"] > plain.points[0]["ttft_s_p50"]
    found = ic.find_count(chip, L8B, engine="vllm", tp=1, slo_ttft_s=5.0, concurrency=2, num_requests=8,
                          input_tokens=512, output_tokens=32)
    assert found["engine"]["id"] == "vllm" and found["sizing"]["count"] >= 1
