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


def test_sum_len_all_reduce_by_hand(tool):
    # 4 ranks of 8,058 tokens: a 16-bit buffer of 4 x 8,058 x 7,168 x 2 B; two-shot all-reduce on a direct link,
    # 4 alpha + 2 (p-1)/p S / (bw eff), beats one-shot 2 alpha + (p-1) S / (bw eff); two a layer, 61 layers
    s = 4 * 8058 * 7168 * 2.0
    call = 4 * 3e-6 + 2 * 3 / 4 * s / (900e9 * 0.46)
    t = tool.sum_len_all_reduce_s_per_token(7168, 4, 61, 8058, 900e9, 3e-6, 0.46)
    assert t == pytest.approx(2 * 61 * call / 8058, rel=1e-9)
    assert t == pytest.approx(25.5e-6, rel=5e-3)


def test_sum_len_all_reduce_edges(tool):
    assert tool.sum_len_all_reduce_s_per_token(7168, 1, 61, 8058, 900e9, 3e-6, 0.46) == 0.0  # nothing to gather
    assert tool.sum_len_all_reduce_s_per_token(7168, 4, 61, 0, 900e9, 3e-6, 0.46) == 0.0
    # the buffer holds every rank's tokens, so a rank's bytes per own token grow with the group: 8 ranks cost more
    four = tool.sum_len_all_reduce_s_per_token(7168, 4, 61, 8058, 900e9, 3e-6, 0.46)
    eight = tool.sum_len_all_reduce_s_per_token(7168, 8, 61, 8058, 900e9, 3e-6, 0.46)
    call8 = 4 * 3e-6 + 2 * 7 / 8 * (8 * 8058 * 7168 * 2.0) / (900e9 * 0.46)
    assert eight == pytest.approx(2 * 61 * call8 / 8058, rel=1e-9)
    assert eight > 2 * four
