"""tools/step_model/prefill_a2a_check.py: expected destination ranks and DeepEP normal-mode time per token, by hand."""

from __future__ import annotations

import pytest

from conftest import load_tool


@pytest.fixture(scope="module")
def tool():
    return load_tool("prefill_a2a_check")


def test_expected_destination_ranks(tool):
    none_on_rank = 1.0
    for i in range(8):  # all 8 picks among the 192 experts of the other three ranks
        none_on_rank *= (192 - i) / (256 - i)
    assert tool.expected_destination_ranks(256, 8, 4) == pytest.approx(4 * (1 - none_on_rank), rel=1e-12)
    assert tool.expected_destination_ranks(256, 8, 4) == pytest.approx(3.614, abs=1e-3)
    assert tool.expected_destination_ranks(256, 8, 1) == pytest.approx(1.0)  # one rank holds every expert
    assert tool.expected_destination_ranks(256, 8, 256) == pytest.approx(8.0)  # one expert per rank: k ranks


def test_deepep_time_per_token(tool):
    # 58 MoE layers x 3.614 ranks x (7,168 x 1.03125 B / 169 GB/s + 7,168 x 2 B / 135 GB/s) = 31.4 us
    t = tool.deepep_normal_s_per_token(7168, 256, 8, 4, 58)
    assert t == pytest.approx(58 * 3.6142 * (7392 / 169e9 + 14336 / 135e9), rel=1e-3)
    assert t == pytest.approx(31.4e-6, rel=2e-3)
    assert tool.deepep_normal_s_per_token(7168, 256, 8, 4, 58, 338e9, 270e9) == pytest.approx(t / 2)
