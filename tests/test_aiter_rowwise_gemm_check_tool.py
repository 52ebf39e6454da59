"""tools/kernel_rates/aiter_rowwise_gemm_check.py: the model's MI355X FP8 GEMM time across M against aiter's tuned
row-wise timings."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.conftest import load_tool

ag = load_tool("aiter_rowwise_gemm_check")
PEAK, FRAC, BW = 5033.2e12, 0.7, 6e12  # MI355X FP8 dense peak (chip file); fraction and DRAM rate for the hand sums


def test_one_measured_row_by_hand() -> None:
    # 8192 x 8192 at M 128 on 256 CUs (aiter: 23.2545 us). The 256 x 256 tile: 128 rows take a 128-row tile,
    # 32 column tiles -> one wave of 256 tiles in flight, 256 x 2 x 128 x 256 x 8192 = 137.4 GFLOP at
    # 5033.2e12 x 0.7 -> 39.0 us (compute-bound: the weights, 67.1 MB + 128 x 16,384 B at 6e12, take 11.53 us).
    fixed = ag.model_us(128, 8192, 8192, (256.0, 256.0), 256, PEAK, FRAC, BW, 0.0)
    assert fixed == pytest.approx(256 * 2 * 128 * 256 * 8192 / (PEAK * FRAC) * 1e6)
    assert fixed == pytest.approx(39.0, abs=0.05)
    # The per-shape pick: 16 x 64 tiles, 8 x 128 = 1,024 tiles, 4 full waves: 17.2 GFLOP (no padding) -> 4.9 us, so
    # the weights' 11.53 us bound it: memory-bound, below the measured 23.25 us as the fixed tile is above it.
    pick = ag.model_us(128, 8192, 8192, None, 256, PEAK, FRAC, BW, 0.0)
    assert pick == pytest.approx((8192 * 8192 + 128 * 16384) / BW * 1e6)
    assert pick < ag.MEASURED_US[(8192, 8192)][128] < fixed


def test_measured_points_are_consistent() -> None:
    # every measured time implies a rate below the MI355X FP8 peak and a weight stream below its 8 TB/s; the time
    # never falls as M doubles; the chosen kernel's block has fewer than 256 rows below M 256 and at most 64 rows up
    # to M 64, so the source is a per-M pick, not the full-wave 256 x 256 tile
    for (n, k), pts in ag.MEASURED_US.items():
        ms = sorted(pts)
        for m in ms:
            us = pts[m]
            assert 2 * m * n * k / (us * 1e-6) < PEAK
            assert n * k / (us * 1e-6) < 8e12
            assert ag.CHOSEN_M_TILE[(n, k)][m] < 256 if m < 256 else True
            assert ag.CHOSEN_M_TILE[(n, k)][m] <= 64 if m <= 64 else True
        assert all(pts[a] <= pts[b] * 1.001 for a, b in zip(ms, ms[1:], strict=False))


@given(st.integers(1, 512), st.sampled_from([(8192, 8192), (10240, 8192), (57344, 8192)]))
def test_pick_never_above_the_fixed_tile_nor_below_the_roofline(m: int, nk: tuple[int, int]) -> None:
    n, k = nk
    fixed = ag.model_us(m, n, k, (256.0, 256.0), 256, PEAK, FRAC, BW, 0.0)
    pick = ag.model_us(m, n, k, None, 256, PEAK, FRAC, BW, 0.0)
    assert pick <= fixed * (1 + 1e-12)
    assert pick * 1e-6 >= max(2 * m * n * k / (PEAK * FRAC), n * k / BW) * (1 - 1e-12)
