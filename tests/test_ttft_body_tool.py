"""tools/ttft/ttft_body.py and first_wave_steps.py: rows needed for a target median, the body's
under / over counts, the median with one group's part taken out, and the first wave's end, by hand."""

from __future__ import annotations

import numpy as np
import pytest
from tests.conftest import load_tool

tb = load_tool("ttft_body")


def test_needed_by_hand():
    # |e| = 5, 10, 13, 20, 40: median 13; two rows at or below 12, three must be for a median of 12 -> one more
    assert tb.needed([5.0, -10.0, 13.0, -20.0, 40.0], 12.0) == (2, 1)
    # already there: nothing more needed
    assert tb.needed([1.0, 2.0, 50.0], 12.0) == (2, 0)


def test_body_counts_by_hand():
    # body is 12 < |e| <= 30: -13 and -29 under, +20 over; -31 (tail), +12 (at the target) and +5 outside
    assert tb.body_counts([-13.0, -29.0, 20.0, -31.0, 12.0, 5.0], 12.0) == (2, 1)


def test_median_without_by_hand():
    errs = [-20.0, 10.0, 30.0]
    parts = [(-5.0, -15.0), None, (25.0, 5.0)]
    # spread part out of the chosen first row: -20 - (-15) = -5 -> |e| 5, 10, 30: median 10
    assert tb.median_without(errs, parts, [True, True, False], 1) == pytest.approx(10.0)
    # median part out of the third row: 30 - 25 = 5 -> |e| 20, 10, 5: median 10; a row without parts keeps its error
    assert tb.median_without(errs, parts, [False, True, True], 0) == pytest.approx(10.0)
    # nothing chosen: the plain median |e|
    assert tb.median_without(errs, parts, [False, False, False], 0) == pytest.approx(20.0)


def test_keys_and_bad_id():
    k = tb.keys_of("imax-gptoss120b-b200-vllm-fp4-tp1ep1-8192-1024-c64-r1-ttft", "vllm", "nvidia-b200-180gb")
    assert k == {"engine": "vllm", "chip": "b200-180gb", "band": "c33-128", "len": "8192/1024"}
    with pytest.raises(SystemExit, match="no -ISL-OSL-cC-"):
        tb.keys_of("no-lengths-here", "vllm", "nvidia-b200-180gb")


def test_first_wave_end_by_hand():
    fw = load_tool("first_wave_steps")
    # sends in order 0, 0, 0 (the wave of 3), then 2.0; first tokens 0.5, 1.5, 1.0, 2.1: the wave ends at 1.5
    arrival = np.array([0.0, 2.0, 0.0, 0.0])
    first = np.array([0.5, 2.1, 1.5, 1.0])
    assert fw.first_wave_end_s(arrival, first, 3) == pytest.approx(1.5)
    # a wave of one: the first send (stable order) only
    assert fw.first_wave_end_s(arrival, first, 1) == pytest.approx(0.5)
