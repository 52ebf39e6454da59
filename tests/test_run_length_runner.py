"""The launch runner's benchmark length (prompts per client) as engine data: matching by hand, the shipped
SGLang entries against the runner (InferenceX runners/launch_mi355x-amd.sh: DeepSeek-R1-0528 on MI355X sends
50 x CONC prompts, 20 x CONC at OSL 8192; every other script 10 x CONC), and the first wave's weight in the
simulated mean (1 / prompts per client)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from inferchip.catalog.engines import get_engine
from inferchip.spec.engine_workers import RunLength, run_length
from inferchip.validation.closed_loop import PROMPTS_PER_CLIENT, SIM_ROUNDS

ENTRIES = (RunLength(layout="aggregated", accelerator="mi355x", model="deepseek-r1-0528", output_tokens=8192,
                     prompts_per_client=20),
           RunLength(layout="aggregated", accelerator="mi355x", model="deepseek-r1-0528", prompts_per_client=50))


def rl(entries, chip, model, osl, default, *, software="SGLang v0.5.5", disaggregated=False):
    return run_length(entries, software=software, accelerator=chip, model=model, output_tokens=osl,
                      disaggregated=disaggregated) or default


def test_run_length_by_hand():
    assert rl(ENTRIES, "amd-mi355x", "deepseek-ai/DeepSeek-R1-0528", 8192, 10) == 20
    assert rl(ENTRIES, "amd-mi355x", "deepseek-ai/DeepSeek-R1-0528", 1024, 10) == 50
    assert rl(ENTRIES, "AMD-MI355X", "amd/DeepSeek-R1-0528-MXFP4-Preview", 1024, 10) == 50
    assert rl(ENTRIES, "amd-mi355x", "deepseek-ai/DeepSeek-R1", 1024, 10) == 10  # the PD rows' model
    assert rl(ENTRIES, "amd-mi300x", "deepseek-ai/DeepSeek-R1-0528", 1024, 10) == 10
    assert rl(ENTRIES, "amd-mi355x", "deepseek-ai/DeepSeek-R1-0528", 1024, 10, disaggregated=True) == 10  # PD
    assert rl(ENTRIES, "nvidia-b200-180gb", "deepseek-ai/DeepSeek-R1-0528", 8192, 7) == 7
    assert rl((), "amd-mi355x", "deepseek-ai/DeepSeek-R1-0528", 1024, 10) == 10


def test_fewer_prompts_than_the_simulated_rounds_rejected():
    with pytest.raises(ValidationError):
        RunLength(accelerator="mi355x", model="x", prompts_per_client=SIM_ROUNDS - 1)


def test_shipped_sglang_entries_are_the_runners():
    sgl = get_engine("sglang")
    rls = sgl.run_length
    model = "deepseek-ai/DeepSeek-R1-0528"
    assert rl(rls, "amd-mi355x", model, 1024, PROMPTS_PER_CLIENT) == 50
    assert rl(rls, "amd-mi355x", model, 8192, PROMPTS_PER_CLIENT) == 20
    for chip in ("nvidia-b200-180gb", "nvidia-h200-sxm-141gb", "amd-mi300x"):
        for osl in (1024, 8192):
            assert rl(rls, chip, model, osl, PROMPTS_PER_CLIENT) == PROMPTS_PER_CLIENT
    assert rl(rls, "amd-mi355x", "openai/gpt-oss-120b", 1024, PROMPTS_PER_CLIENT) == PROMPTS_PER_CLIENT
