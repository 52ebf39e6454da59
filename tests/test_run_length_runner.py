"""The launch runner's benchmark length (prompts per client) as engine data: matching by hand, the shipped
SGLang entries against the runner (InferenceX runners/launch_mi355x-amd.sh: DeepSeek-R1-0528 on MI355X sends
50 x CONC prompts, 20 x CONC at OSL 8192; every other script 10 x CONC), and the first wave's weight in the
simulated mean (1 / prompts per client)."""

from __future__ import annotations

from pathlib import Path

import pytest

from inferchip.catalog.engines import get_engine
from inferchip.spec.engine.workers import RunLength, run_length
from inferchip.validation.closed_loop import PROMPTS_PER_CLIENT

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


def test_every_stated_run_length_in_the_notes_is_the_engines():
    """A row whose notes state "benchmark prompts per client: N" simulates N (engines.yaml run_length): the two
    statements of one fact cannot drift apart."""
    import re
    from pathlib import Path

    from inferchip.validation.cases import read_cases
    from inferchip.validation.closed_loop import row_facts
    path = Path(__file__).resolve().parents[1] / "src" / "inferchip" / "catalog" / "inferencemax_cases.csv"
    stated = [(c, int(m.group(1))) for c in read_cases(path)
              if (m := re.search(r"benchmark prompts per client:\s*(\d+)", c.notes, re.IGNORECASE))]
    assert len(stated) >= 400
    assert all(row_facts(c).prompts_per_client == n for c, n in stated)


def test_a_shadowed_entry_is_refused(tmp_path):
    import yaml

    from inferchip.catalog.engines import load_engines
    from inferchip.errors import SpecError
    src = Path(__file__).resolve().parents[1] / "src" / "inferchip" / "catalog" / "engines.yaml"
    data = yaml.safe_load(src.read_text())
    sgl = next(e for e in data["engines"] if e["id"] == "sglang")
    sgl["run_length"] = list(reversed(sgl["run_length"]))  # the broad 50 first: the OSL-8192 20 is never reached
    bad = tmp_path / "engines.yaml"
    bad.write_text(yaml.safe_dump(data))
    with pytest.raises(SpecError, match=r"engine sglang: run_length entry 1 .* never reached: entry 0"):
        load_engines(bad)
