"""The simulated MLPerf Offline run (offline45): every sample sent at once, the run sized as LoadGen sizes its one
query, simulated in part and extended at its steady rate; TensorRT-LLM's admission of a prompt's whole KV blocks.

Hand-calculated on the linear step model: 10 ms a step whatever it holds, prompts and answers of 10 tokens, at most
4 running. A wave of 4 requests is admitted in one step (their first tokens), decodes 9 steps more and finishes:
10 steps, 0.1 s, 40 output tokens; the next wave is admitted in the step after. So the replica makes 400 tokens/s,
40 requests/s, at every point of the run (no ramp, no drain to thin it out)."""

from __future__ import annotations

import pytest

from conftest import shipped_case
from inferchip.catalog.calibration_file import load_dataset_lengths
from inferchip.catalog.engines import get_engine
from inferchip.sim import BurstArrivals, LinearStepModel, SchedulerConfig, simulate
from inferchip.sim.runs.offline import MIN_SIMULATED, offline_run, steady_tokens_per_s
from inferchip.validation.plan import offline_by_use, plan_for, uses_simulator
from inferchip.validation.server_choice import server_model_for

MODEL = LinearStepModel(fixed_s=0.01, kv_capacity_tokens=1_000_000)
CFG = SchedulerConfig(max_num_seqs=4, max_num_batched_tokens=64)


def _burst(n: int):
    return simulate(MODEL, BurstArrivals(input_tokens=10, output_tokens=10), num_requests=n, scheduler_config=CFG)


def test_the_steady_stretch_of_a_burst_runs_at_the_waves_rate():
    res = _burst(40)  # 10 waves, 1.0 s
    assert float(res.requests["finish_s"].max()) == pytest.approx(1.0)
    assert steady_tokens_per_s(res, 4) == pytest.approx(400.0)


@pytest.mark.parametrize("samples, simulated, span_s", [
    (1000, MIN_SIMULATED, 25.0),  # 400 simulated (10 s) + 600 more at 40 requests/s (15 s)
    (100, 100, 2.5),              # fewer than the first simulation: simulated again whole, 25 waves
])
def test_an_offline_run_is_sized_by_its_steady_rate_and_extended_or_rerun(samples, simulated, span_s):
    seen: list[float] = []

    def size(rate: float) -> int:
        seen.append(rate)
        return samples

    run = offline_run(_burst, 1, 4, size)
    assert seen == [pytest.approx(40.0)]  # requests/s of the steady stretch, handed to LoadGen's rule
    assert (run.simulated, run.requests) == (simulated, samples)
    assert run.span_s == pytest.approx(span_s)
    assert run.output_tokens == pytest.approx(10.0 * samples)
    assert run.tokens_per_s == pytest.approx(400.0)


def test_the_fewest_samples_bound_the_run_from_below():
    run = offline_run(_burst, 2000, 4, lambda rate: 10)
    assert run.requests == 2000 and run.span_s == pytest.approx(10.0 + 1600 / 40.0)


def test_a_whole_prompt_at_admission_keeps_a_chunked_prompt_from_being_preempted():
    """KV pool of 64 tokens = 4 blocks of 16; two 40-token prompts, a budget of 48 tokens a step. Chunk by chunk, the
    first prompt runs whole (3 blocks) and the second starts with 8 tokens (the 4th block); its next chunk of 32 needs
    2 blocks more: the newer one is preempted. Admitted by the prompt's 3 blocks, the second waits for the first to
    finish: no preemption."""
    model = LinearStepModel(fixed_s=0.01, kv_capacity_tokens=64)
    runs = {}
    for whole in (False, True):
        cfg = SchedulerConfig(max_num_seqs=2, max_num_batched_tokens=48, prompt_blocks_at_admission=whole)
        res = simulate(model, BurstArrivals(input_tokens=40, output_tokens=2), num_requests=2, scheduler_config=cfg)
        assert bool(res.finished.all())
        runs[whole] = res.summary()["preemptions"]
    assert runs[False] >= 1 and runs[True] == 0


def test_offline_rows_of_engines_that_pause_and_recompute_are_simulated():
    trt, vllm = get_engine("trtllm"), get_engine("vllm")
    assert trt.prompt_blocks_at_admission and vllm.admits_by_use and not vllm.prompt_blocks_at_admission
    lengths = load_dataset_lengths()
    for case_id, simulated in (("mlp51-deepseek-r1-offline-b200x8-nvidia", True),  # NVIDIA harness: max_util
                               ("mlp51-llama2-70b-99-offline-mi300xx8-amd", True),  # vLLM
                               ("mlp40-gptj-99-offline-tpuv5ex4", False)):  # Saxml: analytic
        case = shipped_case(case_id, "validation_cases.csv")
        plan = plan_for(case, lengths)
        assert offline_by_use(case, plan) is simulated and uses_simulator(case, plan) is simulated
    assert server_model_for("output_tokens_per_s_total", "auto", True) == "sim"
    assert server_model_for("output_tokens_per_s_total", "analytic", True) == "analytic"
    assert server_model_for("output_tokens_per_s_total", "auto") == "analytic"  # server rows: per metric kind
