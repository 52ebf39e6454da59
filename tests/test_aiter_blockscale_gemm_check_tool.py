"""tools/step_model/aiter_blockscale_gemm_check.py: the model's time for DeepSeek-R1's TP8 block-FP8 GEMMs against
aiter's tuned-table timings on MI300X (cu_num 304) and MI355X (cu_num 256)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.conftest import load_tool

ag = load_tool("aiter_blockscale_gemm_check")

PEAK_FP8 = {304: 2614.9e12, 256: 5033.2e12}  # dense FP8 FLOP/s: MI300X, MI355X (chip files)


def test_measured_points_stay_under_each_chips_peak_and_dram_rate() -> None:
    # every timing implies a rate below its chip's FP8 peak and a weight read below 8 TB/s (MI355X's datasheet)
    for cu, shapes in ag.MEASURED_US.items():
        for (n, k), pts in shapes.items():
            for m, us in pts.items():
                assert 2 * m * n * k / (us * 1e-6) < PEAK_FP8[cu]
                assert n * k / (us * 1e-6) < 8.0e12


def test_the_decode_points_of_the_k7168_shapes_are_flat_in_m() -> None:
    # the fact the module doc states: M 16-128 within 17-21 us for every K 7168 shape with N <= 1536 on both chips
    for shapes in ag.MEASURED_US.values():
        for (n, k), pts in shapes.items():
            if k == 7168 and n <= 1536:
                assert all(17.0 <= pts[m] <= 21.0 for m in (16, 64, 128))


def test_model_us_by_hand() -> None:
    # m 64, n 1536, k 7168, tile 256 x 256 (M tile 64: cost.gemm.m_tile), 304 in flight: 6 tiles, one wave of 304
    # tiles of 2 x 64 x 256 x 7168 FLOP = 7.14e10 FLOP at 1e15 x 0.5 -> 142.7 us; bytes 11.0 MB at 1e12 -> 11.5 us
    t = ag.model_us(64, 1536, 7168, (256.0, 256.0), 304, 1e15, 0.5, 1e12, 2e-6)
    assert t == pytest.approx(304 * 2 * 64 * 256 * 7168 / 5e14 * 1e6 + 2.0)
    # one row: the weight read binds
    assert ag.model_us(1, 1536, 7168, (256.0, 256.0), 304, 1e15, 0.5, 1e9, 0.0) == pytest.approx(
        (1536 * 7168 + 1536 + 7168) / 1e9 * 1e6)


@given(st.integers(1, 20480), st.sampled_from([(1536, 7168), (7168, 256), (4608, 7168)]))
def test_model_never_beats_the_unquantised_roofline(m: int, nk: tuple[int, int]) -> None:
    n, k = nk
    peak, frac, bw = 2614.9e12, 0.7, 3e12
    t = ag.model_us(m, n, k, (256.0, 256.0), 304, peak, frac, bw, 0.0)
    assert t * 1e-6 >= max(2 * m * n * k / (peak * frac), n * k / bw) * (1 - 1e-12)


def test_compare_prices_every_point_once_and_names_a_bad_chip() -> None:
    rows = ag.compare("amd-mi355x", "atom", None)
    assert len(rows) == sum(len(p) for p in ag.MEASURED_US[256].values())
    assert all(r["model_us"] > 0 and r["ratio"] == pytest.approx(r["model_us"] / r["measured_us"]) for r in rows)
    with pytest.raises(ValueError, match=r"--chip 'nvidia-h100-sxm'.*allowed: amd-mi300x, amd-mi355x"):
        ag.compare("nvidia-h100-sxm", "sglang", None)
