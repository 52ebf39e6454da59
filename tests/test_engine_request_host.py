"""The engine's host time per request on every path: resolved once (``catalog.engines.request_host_time``) and
counted in TTFT and E2E by ``serve``, ``curve`` and ``predict`` with ``--engine`` as ``validate`` counts it;
nothing changes without ``--engine``."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cli_in_process import run_main
from inferchip.catalog.engines import get_engine, request_host_time, tokenizer_rate_s
from inferchip.errors import InvalidSettingError
from inferchip.performance.setting import engine as setting_engine
from inferchip.sim import (
    ClosedLoopArrivals,
    LinearStepModel,
    PoissonArrivals,
    simulate,
    simulate_client,
    throughput_interactivity_curve,
)

BASE = ["--chip", "nvidia-h100-sxm-80gb", "--model", "meta-llama/Llama-3.1-8B-Instruct", "--input-tokens", "2048",
        "--output-tokens", "64"]


def _step() -> LinearStepModel:
    return LinearStepModel(fixed_s=0.01, per_token_s=2e-6, per_kv_token_s=1e-8, kv_capacity_tokens=2_000_000)


def test_resolution_by_hand():
    vllm = get_engine("vllm")
    host = request_host_time(vllm, 8192, "nvidia-h100-sxm-80gb", "mxfp4", "", "openai/gpt-oss-120b")
    assert host.request_s == vllm.request_overhead_s and host.worker == ""
    rate = tokenizer_rate_s("openai/gpt-oss-120b")  # o200k: the model's tokenizer sets the rate
    assert rate > 0 and host.s_per_prompt_token == rate
    assert host.tokenize_s == pytest.approx(rate * 8192, rel=1e-12)
    assert host.outside_loop_s == pytest.approx(vllm.request_overhead_s + rate * 8192)  # what a simulated loop adds
    assert host.intake_s == vllm.request_intake_s > 0  # the loop's own share (firstwave39), which predict adds too
    assert host.total_s == pytest.approx(vllm.request_overhead_s + vllm.request_intake_s + rate * 8192)
    sglang = get_engine("sglang")  # a recipe on the request path: its extra time is added
    on = request_host_time(sglang, 1024, "amd-mi300x", "fp8", "", "deepseek-ai/DeepSeek-R1")
    off = request_host_time(sglang, 1024, "nvidia-h100-sxm-80gb", "fp8", "", "deepseek-ai/DeepSeek-R1")
    own = sglang.request_path("amd-mi300x", "fp8").overhead_s  # MI300X's entry carries its own time (stop 33)
    assert own is not None and on.total_s - off.total_s == pytest.approx(own)
    pd = request_host_time(sglang, 1024, "amd-mi355x", "fp8", "SGLang PD-disaggregated", "deepseek-ai/DeepSeek-R1")
    assert pd.total_s == pytest.approx(off.total_s)  # the PD recipe is off the path (stop 33: its jobs' first run)
    assert "request" in on.text() and "tokenisation" in on.text()


def _serve_json(args: list[str]) -> dict:
    code, text = run_main(["serve", *BASE, *args, "--format", "json"])
    assert code == 0, text
    return json.loads(text)


def test_serve_ttft_counts_the_host_time_at_one_client(monkeypatch):
    """At one client the queue is empty: TTFT and E2E grow by exactly the resolved host time outside the engine loop
    (the loop's intake, ``request_intake_s``, runs in the simulated loop with or without the host record)."""
    args = ["--concurrency", "1", "--requests", "6", "--engine", "vllm"]
    with_host = _serve_json(args)
    host_s = with_host["engine"]["request_host"]["request_host_s"]
    vllm = get_engine("vllm")
    rate = tokenizer_rate_s("meta-llama/Llama-3.1-8B-Instruct")  # no tokenizer record: 0, the request time alone
    assert host_s == pytest.approx(vllm.request_overhead_s + vllm.request_intake_s + rate * 2048, rel=1e-12)
    monkeypatch.setattr(setting_engine, "engine_host", lambda *a, **k: None)  # the same engine, no host time
    without = _serve_json(args)
    assert "request_host" not in without["engine"]
    for key in ("ttft_s_mean", "ttft_s_p50", "e2e_s_mean", "e2e_s_p99"):
        assert with_host[key] - without[key] == pytest.approx(host_s - vllm.request_intake_s, abs=1e-9), key
    assert with_host["tpot_s_mean"] == pytest.approx(without["tpot_s_mean"], rel=1e-12)


def test_serve_table_and_predict_say_and_add_it(monkeypatch):
    code, text = run_main(["serve", *BASE, "--concurrency", "2", "--requests", "4", "--engine", "vllm"])
    assert code == 0 and "engine host time per request:" in text and "tokenisation" in text
    code, text = run_main(["serve", *BASE, "--concurrency", "2", "--requests", "4"])
    assert code == 0 and "engine host time per request" not in text
    pred = ["predict", *BASE, "--batch", "1", "--engine", "vllm", "--format", "json"]
    code, text = run_main(pred)
    assert code == 0, text
    p = json.loads(text)
    host_s = p["engine"]["request_host"]["request_host_s"]
    monkeypatch.setattr(setting_engine, "engine_host", lambda *a, **k: None)
    code, text = run_main(pred)
    q = json.loads(text)
    assert p["ttft_s"] - q["ttft_s"] == pytest.approx(host_s, abs=1e-12)
    assert p["e2e_latency_s"] - q["e2e_latency_s"] == pytest.approx(host_s, abs=1e-12)


def test_curve_adds_it_where_one_client_runs_alone():
    kw = dict(concurrencies=[1, 4], requests_per_user=3)
    a = throughput_interactivity_curve(_step(), 512, 32, **kw).points
    b = throughput_interactivity_curve(_step(), 512, 32, request_host_s=0.05, **kw).points
    assert b[0]["ttft_s_p50"] - a[0]["ttft_s_p50"] == pytest.approx(0.05, abs=1e-12)
    assert b[1]["output_tokens_per_s"] < a[1]["output_tokens_per_s"]  # the clients wait longer between requests


def test_open_arrivals_are_the_same_process_shifted():
    arr = PoissonArrivals(rate_per_s=20.0, input_tokens=512, output_tokens=32)
    a = simulate(_step(), arr, num_requests=60, seed=3)
    b = simulate_client(_step(), arr, 0.03, num_requests=60, seed=3)
    np.testing.assert_allclose(b.ttft_s, a.ttft_s + 0.03, rtol=0, atol=1e-12)
    np.testing.assert_allclose(b.e2e_s, a.e2e_s + 0.03, rtol=0, atol=1e-12)
    with pytest.raises(InvalidSettingError, match="request_host_s"):
        simulate_client(_step(), arr, -1.0, num_requests=4)


@settings(max_examples=25, deadline=None)
@given(host_s=st.floats(0.0, 0.5), clients=st.integers(1, 16), prompt=st.integers(16, 4096),
       output=st.integers(2, 64), seed=st.integers(0, 3))
def test_host_time_never_lowers_ttft_or_e2e(host_s, clients, prompt, output, seed):
    """Physical invariant: time a request spends on the host before the scheduler cannot make its client see
    the first token or the last one earlier (mean over the run, and the fastest request)."""
    arr = ClosedLoopArrivals(concurrency=clients, input_tokens=prompt, output_tokens=output)
    a = simulate(_step(), arr, num_requests=4 * clients, seed=seed)
    b = simulate_client(_step(), arr, host_s, num_requests=4 * clients, seed=seed)
    tol = 1e-12
    for x, y in ((a.ttft_s, b.ttft_s), (a.e2e_s, b.e2e_s)):
        assert y.mean() >= x.mean() - tol and y.min() >= x.min() - tol
