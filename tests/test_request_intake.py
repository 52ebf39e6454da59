"""An engine loop's intake per request in series with its steps (SchedulerConfig.request_intake_s,
EngineSpec.request_intake_s): hand-calculated first-token times, the lone request's unchanged wait, the bound, bad
input, the catalogue's carve-out and the fit tool (tools/ttft/intake_fit.py)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

from inferchip.catalog.engines import get_engine
from inferchip.errors import InvalidSettingError
from inferchip.sim import BurstArrivals, ClosedLoopArrivals, LinearStepModel, SchedulerConfig, simulate
from inferchip.sim.runs.search import simulate_client

STEP_S = 0.010  # every step lasts 10 ms (LinearStepModel fixed_s): the intake is all that moves a step
INTAKE_S = 0.002


def _first_tokens_s(intake_s: float, requests: int, budget: int) -> np.ndarray:
    """First-token times of ``requests`` 100-token prompts sent at once, one output token each."""
    res = simulate(LinearStepModel(fixed_s=STEP_S), BurstArrivals(input_tokens=100, output_tokens=1),
                   num_requests=requests, exact_step_times=True,
                   scheduler_config=SchedulerConfig(max_num_batched_tokens=budget, max_num_seqs=4,
                                                    request_intake_s=intake_s))
    return np.sort(res.requests["first_token_s"])


def test_one_prompt_a_step_pays_its_intake_in_its_own_step():
    # budget 100 = one prompt a step: step k admits prompt k, lasting 10 + 2 ms; first tokens at 12, 24, 36 ms
    assert _first_tokens_s(INTAKE_S, 3, 100) == pytest.approx([0.012, 0.024, 0.036])
    assert _first_tokens_s(0.0, 3, 100) == pytest.approx([0.010, 0.020, 0.030])


def test_a_step_admitting_three_prompts_pays_three_intakes():
    # budget 300: one step takes all three, 10 + 3 x 2 = 16 ms
    assert _first_tokens_s(INTAKE_S, 3, 300) == pytest.approx([0.016, 0.016, 0.016])


def test_the_burst_drains_one_intake_a_request_slower():
    # the serial term adds t per request to the wave's drain: the last of C prompts waits C x t more
    c = 12
    late = _first_tokens_s(INTAKE_S, c, 100)[-1] - _first_tokens_s(0.0, c, 100)[-1]
    assert late == pytest.approx(c * INTAKE_S)


def test_a_lone_request_waits_what_it_did_when_the_intake_is_carved_out_of_the_request_time():
    # one client: TTFT = request time + intake + its step; moving t from the delay into the step changes nothing
    arr = ClosedLoopArrivals(concurrency=1, input_tokens=100, output_tokens=4)
    model = LinearStepModel(fixed_s=STEP_S)
    r_s = 0.0172
    before = simulate_client(model, arr, r_s, num_requests=3, exact_step_times=True,
                             scheduler_config=SchedulerConfig(max_num_batched_tokens=128, max_num_seqs=4))
    after = simulate_client(model, arr, r_s - INTAKE_S, num_requests=3, exact_step_times=True,
                            scheduler_config=SchedulerConfig(max_num_batched_tokens=128, max_num_seqs=4,
                                                             request_intake_s=INTAKE_S))
    assert after.ttft_s == pytest.approx(before.ttft_s)
    assert after.ttft_s == pytest.approx(np.full(3, r_s + STEP_S))


@pytest.mark.parametrize("intake_s", [0.0, 1e-4, 0.002, 0.05])
def test_no_first_token_beats_the_steps_it_needs(intake_s):
    # the bound: prompt k of a one-prompt-a-step burst cannot see its first token before k steps (+ k intakes)
    first = _first_tokens_s(intake_s, 5, 100)
    k = np.arange(1, 6)
    assert np.all(first >= k * STEP_S - 1e-12)
    assert first == pytest.approx(k * (STEP_S + intake_s))


def test_a_negative_intake_is_refused_naming_the_field():
    with pytest.raises(InvalidSettingError, match="request_intake_s"):
        SchedulerConfig(request_intake_s=-0.001)


def test_catalogue_intakes_are_the_nvidia_engines_and_part_of_their_request_time():
    for eid in ("vllm", "trtllm"):
        e = get_engine(eid)
        assert 0 < e.request_intake_s < e.request_overhead_s
    for eid in ("sglang", "atom", "dynamo"):  # no first-wave intercept read for them (see the doc section)
        assert get_engine(eid).request_intake_s == 0.0


def _tool():
    path = Path(__file__).resolve().parents[1] / "tools" / "ttft" / "intake_fit.py"
    sys.path.insert(0, str(path.parent))
    spec = importlib.util.spec_from_file_location("intake_fit", path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_lad_line_recovers_a_planted_line_through_an_outlier():
    tool = _tool()
    x = np.array([3.0, 5.0, 8.0, 17.0, 60.0])
    y = 1.2 + 0.2 * x
    y[2] += 40.0  # a stalled run: the median line ignores it
    t, beta = tool.lad_line(x, y)
    assert t == pytest.approx(1.2, abs=1e-6) and beta == pytest.approx(0.2, abs=1e-6)


def test_fit_rows_reads_the_worker_engines_rows_only():
    tool = _tool()
    rows = [{"worker": "vllm", "clients": 64, "sim_ms": d, "excess_ms": 1.0 + 0.25 * d, "chip": "b200"}
            for d in (4.0, 6.0, 10.0)]
    rows += [{"worker": "sglang", "clients": 64, "sim_ms": 5.0, "excess_ms": 90.0, "chip": "b200"},
             {"worker": "vllm", "clients": 8, "sim_ms": 5.0, "excess_ms": 90.0, "chip": "b200"}]
    er = tool.engine_rows(rows, "vllm", 16)
    assert len(er) == 3
    t, beta, n = tool.fit_rows(er)
    assert (t, beta, n) == (pytest.approx(1.0), pytest.approx(0.25), 3)
    with pytest.raises(ValueError, match="at least 2 rows"):
        tool.lad_line(np.array([1.0]), np.array([2.0]))


def test_fold_rows_move_linearly_between_the_runs_without_and_with_the_intake():
    tool = _tool()
    base = [{"case_id": "a", "metric": "ttft_ms", "engine": "vllm", "weng": "", "ttft": 0.100, "tpot": 0.01,
             "e2e": 1.0, "tput": 100.0, "r0": 0.0172, "wr0": 0.0},
            {"case_id": "b", "metric": "ttft_ms", "engine": "sglang", "weng": "", "ttft": 0.5, "tpot": 0.02,
             "e2e": 2.0, "tput": 50.0, "r0": 0.16, "wr0": 0.0}]
    new = [dict(base[0], ttft=0.140, r0=0.01596), dict(base[1])]
    # a fold whose vLLM intake is 1.63 of the shipped 1.24 ms: 0.100 + 1.63 / 1.24 x 0.040 s
    out = tool.interpolated(base, new, {"vllm": 1.63 / 1.24})
    assert out[0]["ttft"] == pytest.approx(0.100 + 1.63 / 1.24 * 0.040)
    assert out[0]["r0"] == pytest.approx(0.0172 + 1.63 / 1.24 * (0.01596 - 0.0172))
    assert out[1] == new[1]  # an engine without an intake: as run
    assert new[0]["ttft"] == 0.140  # the input rows are not changed


def test_serve_and_curve_run_the_engines_intake():
    from types import SimpleNamespace

    from inferchip.interfaces.serve_system import engine_config

    step = SimpleNamespace(ranks=1)
    caps = get_engine("vllm").caps_on("nvidia-h100-sxm-80gb", 80 * 2**30, "nvidia-hopper")
    assert engine_config(get_engine("vllm"), step, 8192, caps).request_intake_s == get_engine("vllm").request_intake_s
    assert get_engine("vllm").request_intake_s > 0
    assert engine_config(None, step, 8192, caps).request_intake_s == 0.0


@pytest.mark.parametrize(("engine", "before_s"), [("vllm", 0.0172), ("trtllm", 0.0274)])
def test_predict_adds_the_intake_back_so_a_lone_request_waits_what_it_did(engine, before_s):
    """predict has no engine loop to run the intake in: its host time is the request time before the carve-out
    (vLLM 17.2 ms = 15.96 + 1.24; TensorRT-LLM 27.4 ms = 25.54 + 1.86, engines.yaml), plus the tokenisation; the
    simulated paths add only what lies outside the loop (review39 found predict's TTFT 1.24 ms lower)."""
    from inferchip.catalog.engines import request_host_time

    host = request_host_time(get_engine(engine), 1000, "nvidia-h100-sxm-80gb", "bf16", "", "meta-llama/Llama-3.1-8B")
    assert host.intake_s == get_engine(engine).request_intake_s > 0
    assert host.total_s - host.tokenize_s == pytest.approx(before_s, abs=1e-9)
    assert host.outside_loop_s == pytest.approx(host.total_s - host.intake_s)
    assert "intake" in host.text()


def test_predict_cli_ttft_carries_the_intake(capsys):
    """The CLI's lone-request TTFT with --engine vllm is the one without the engine's host time plus total_s."""
    import json

    from inferchip.catalog.engines import request_host_time
    from inferchip.interfaces.cli import main

    args = ["predict", "--chip", "nvidia-h100-sxm-80gb", "--model", "meta-llama/Llama-3.1-8B", "--batch", "1",
            "--input-tokens", "1000", "--output-tokens", "10", "--format", "json"]
    assert main([*args, "--engine", "vllm"]) == 0
    with_engine = json.loads(capsys.readouterr().out)
    host = request_host_time(get_engine("vllm"), 1000, "nvidia-h100-sxm-80gb", "bf16", "", "meta-llama/Llama-3.1-8B")
    shown = with_engine["engine"]["request_host"]["request_host_s"]
    assert shown == pytest.approx(host.total_s) == pytest.approx(0.0172)
    assert with_engine["ttft_s"] > host.total_s
