"""The launch runner's benchmark length (prompts per client) as engine data: matching by hand, the shipped
SGLang entries against the runner (InferenceX runners/launch_mi355x-amd.sh: DeepSeek-R1-0528 on MI355X sends
50 x CONC prompts, 20 x CONC at OSL 8192; every other script 10 x CONC), and the first wave's weight in the
simulated mean (1 / prompts per client)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from inferchip.catalog.engines import get_engine
from inferchip.sim.engines.bench import steady_weights
from inferchip.spec.engine_workers import RecipeRunLength, run_length
from inferchip.validation.closed_loop import MIN_REQUESTS, PROMPTS_PER_CLIENT, SIM_ROUNDS, num_requests

ENTRIES = (RecipeRunLength(accelerator="mi355x", model="deepseek-r1-0528", output_tokens=8192, prompts_per_client=20),
           RecipeRunLength(accelerator="mi355x", model="deepseek-r1-0528", prompts_per_client=50))


def test_run_length_by_hand():
    assert run_length(ENTRIES, "amd-mi355x", "deepseek-ai/DeepSeek-R1-0528", 8192, 10) == 20
    assert run_length(ENTRIES, "amd-mi355x", "deepseek-ai/DeepSeek-R1-0528", 1024, 10) == 50
    assert run_length(ENTRIES, "AMD-MI355X", "amd/DeepSeek-R1-0528-MXFP4-Preview", 1024, 10) == 50
    assert run_length(ENTRIES, "amd-mi355x", "deepseek-ai/DeepSeek-R1", 1024, 10) == 10  # the PD rows' model
    assert run_length(ENTRIES, "amd-mi300x", "deepseek-ai/DeepSeek-R1-0528", 1024, 10) == 10
    assert run_length(ENTRIES, "nvidia-b200-180gb", "deepseek-ai/DeepSeek-R1-0528", 8192, 7) == 7
    assert run_length((), "amd-mi355x", "deepseek-ai/DeepSeek-R1-0528", 1024, 10) == 10


def test_fewer_prompts_than_the_simulated_rounds_rejected():
    with pytest.raises(ValidationError):
        RecipeRunLength(accelerator="mi355x", model="x", prompts_per_client=SIM_ROUNDS - 1)


def test_shipped_sglang_entries_are_the_runners():
    sgl = get_engine("sglang")
    rl = sgl.recipe_run_length
    model = "deepseek-ai/DeepSeek-R1-0528"
    assert run_length(rl, "amd-mi355x", model, 1024, PROMPTS_PER_CLIENT) == 50
    assert run_length(rl, "amd-mi355x", model, 8192, PROMPTS_PER_CLIENT) == 20
    for chip in ("nvidia-b200-180gb", "nvidia-h200-sxm-141gb", "amd-mi300x"):
        for osl in (1024, 8192):
            assert run_length(rl, chip, model, osl, PROMPTS_PER_CLIENT) == PROMPTS_PER_CLIENT
    assert run_length(rl, "amd-mi355x", "openai/gpt-oss-120b", 1024, PROMPTS_PER_CLIENT) == PROMPTS_PER_CLIENT


@given(c=st.integers(1, 512), p=st.integers(SIM_ROUNDS, 200))
def test_first_wave_weighs_one_over_prompts_per_client(c, p):
    bench, n, _ = num_requests(c, p)
    assert bench == p * c
    assert n == min(bench, max(MIN_REQUESTS, SIM_ROUNDS * c))  # the simulated run does not grow with p
    w = steady_weights(n, c, bench)
    assert w.sum() == pytest.approx(bench)
    assert w[:c].sum() / w.sum() == pytest.approx(1.0 / p)  # the first wave: C of the p C requests
