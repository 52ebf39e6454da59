"""tools/step_model/disagg_intake.py: Little's-law readings of a closed-loop row by hand, and the simulated prefill
pool's capacity scaling with its workers and falling with a longer prompt."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest

from conftest import load_tool

ROOT = Path(__file__).resolve().parents[1]
SUBSET = ROOT / "tests" / "data" / "inferencemax_subset.csv"


@pytest.fixture(scope="module")
def di():
    return load_tool("disagg_intake")


def test_littles_law_readings_by_hand(di):
    assert di.e2e_from_notes("...; mean E2E latency 45.3113 s; mean interactivity 25.7 tok/s/user") == 45.3113
    assert di.e2e_from_notes("no latency here") is None
    # 8,192 clients, 9.6 s of a 45.3 s loop before the first token: 6,456 past it on average
    assert di.decode_concurrency(8192, 9.6, 45.3) == pytest.approx(8192 * 35.7 / 45.3)
    assert di.intake_tokens_per_s(8192, 921.6, 45.3) == pytest.approx(8192 * 921.6 / 45.3)
    assert di.full_step(32768, 1000) == (32000, 32 * 1000 * 1001 // 2)
    assert di.full_step(8192, 9000) == (9000, 9000 * 9001 // 2)  # a prompt longer than the budget: one


def test_prefill_capacity_scales_with_workers_and_falls_with_the_prompt(di):
    from inferchip.catalog.calibration_file import load_calibration
    from inferchip.validation.cases import read_cases
    from inferchip.validation.validate import Validator

    # a TensorRT-LLM row: its launch reads the stated layout; the SGLang low-latency row's recipe layout (TP4) is
    # the one-prefill-worker recipe's, so doubling its workers would also change its layout
    case = next(c for c in read_cases(SUBSET) if "-disagg-" in c.case_id and "-trt-" in c.case_id
                and c.metric == "ttft_ms")
    v = Validator(load_calibration(), server_model="sim")
    base = di.prefill_capacity_tokens_per_s(v, case)
    assert 0 < base < float("inf")
    m = re.search(r"(\d+) prefill GPUs \((\d+) worker\(s\)", case.notes)
    assert m is not None
    gpus, workers = int(m.group(1)), int(m.group(2))  # twice the workers of the same width
    doubled = replace(case, notes=case.notes.replace(m.group(0), f"{2 * gpus} prefill GPUs ({2 * workers} worker(s)"),
                      num_accelerators=case.num_accelerators + gpus)  # the pools add up to the row's chips
    assert di.prefill_capacity_tokens_per_s(v, doubled) == pytest.approx(2 * base)
    longer = replace(case, input_tokens=4 * case.input_tokens)  # causal attention grows with the prompt
    assert di.prefill_capacity_tokens_per_s(v, longer) < base
