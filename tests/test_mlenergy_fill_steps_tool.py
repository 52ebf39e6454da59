"""tools/energy/mlenergy_fill_steps.py: the prompt-share ratio by hand, and one run's halves from the catalogue."""

from __future__ import annotations

import math

import pytest
from tests.conftest import load_tool

fill = load_tool("mlenergy_fill_steps")


def test_prompt_share_ratio_by_hand() -> None:
    # measured mean step 32.9 ms, median ITL 27.9 ms: the prompts add 5.0 ms; predicted 43.0 over a 28.4 ms
    # decode-only step: 14.6 ms, 2.92 times the measured share (Llama-3.1-70B TP4 at 128 sequences, main d88361b)
    assert fill.prompt_share_ratio(0.0430, 0.0284, 0.0329, 0.0279) == pytest.approx(14.6 / 5.0)
    assert math.isnan(fill.prompt_share_ratio(0.02, 0.01, 0.01, 0.01))  # no measured share: no ratio


def test_halves_of_the_gpqa_runs_are_read_from_their_notes() -> None:
    runs = fill.run_halves("gpqa")
    assert len(runs) == 62  # every gpqa power row states its ITL, running batch and throughput
    for x in runs:
        assert 0.0 < x["share"] < 1.0
        assert x["decode_s"] > 0.0 and x["mean_s"] >= x["decode_s"]
