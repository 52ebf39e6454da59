"""tools/kernel_rates/hipblaslt_gemm_check.py: the model's GEMM time against hipBLASLt's tuning-file timings."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.conftest import load_tool

hg = load_tool("hipblaslt_gemm_check")


def test_model_us_by_hand() -> None:
    # m = 512 rows, n = k = 1024, tile 256x256, 4 tiles in flight: 2 x 4 = 8 tiles -> 2 waves of 4 tiles, each
    # tile 2 x 256 x 256 x 1024 FLOP: 8 x 134.2 MFLOP = 1.0737 GFLOP at 1e15 x 0.5 -> 2.147 us; bytes
    # 1024^2 + 512 x 2048 = 2,097,152 at 1e12 -> 2.097 us; + 1 us overhead.
    t = hg.model_us(512, 1024, 1024, (256, 256), 4, 1e15, 0.5, 1e12, 1e-6)
    assert t == pytest.approx(2 * 4 * 2 * 256 * 256 * 1024 / 5e14 * 1e6 + 1.0)
    # a one-row GEMM reads its weights: memory-bound
    assert hg.model_us(1, 1024, 1024, (256, 256), 4, 1e15, 0.5, 1e12, 0.0) == pytest.approx(
        (1024 * 1024 + 2048) / 1e12 * 1e6)


def test_measured_points_are_consistent() -> None:
    # every measured time implies a rate below the MI300X FP8 peak (2614.9 TFLOP/s) and a DRAM rate below 5.3 TB/s
    for (n, k), pts in hg.MEASURED_US.items():
        for m, us in pts.items():
            assert 2 * m * n * k / (us * 1e-6) < 2614.9e12
            assert (n * k) / (us * 1e-6) < 5.3e12


@given(st.integers(1, 4096), st.sampled_from([(128.0, 128.0), (256.0, 256.0), (128.0, 64.0)]))
def test_model_never_beats_the_unquantised_roofline(m: int, tile: tuple[float, float]) -> None:
    n, k, peak, frac, bw = 10240, 8192, 2614.9e12, 0.7, 3e12
    t = hg.model_us(m, n, k, tile, 304, peak, frac, bw, 0.0)
    assert t * 1e-6 >= max(2 * m * n * k / (peak * frac), n * k / bw) * (1 - 1e-12)


def test_per_shape_pick_by_hand_and_never_above_the_chip_tile() -> None:
    # 96 rows x 8192 columns on 304 CUs: 16 x 16 tiles give 6 x 512 = 3072 tiles, 11 waves (10.1), 11 x 16 x 16 =
    # 2816 per CU in flight and unit k; 128 x 32 (one wave of 256 tiles) gives 4096, 16 x 32 (1536 tiles, 6 waves)
    # 3072; the 256 x 256 chip tile, its M tile cut to 128 rows (cost.gemm.m_tile), one wave of 32768.
    # Compute-bound at 1e15 x 0.5, memory left out (bandwidth 1e30).
    k, t = 28672, 304
    per_shape = hg.model_us(96, 8192, k, hg.PER_SHAPE, t, 1e15, 0.5, 1e30, 0.0)
    fixed = hg.model_us(96, 8192, k, (256.0, 256.0), t, 1e15, 0.5, 1e30, 0.0)
    assert per_shape == pytest.approx(t * 2 * 11 * 16 * 16 * k / 5e14 * 1e6)
    assert fixed == pytest.approx(32768 / 2816 * per_shape)


@given(st.integers(1, 4096))
def test_per_shape_never_spends_more_than_the_256_tile(m: int) -> None:
    args = (8192, 8192, 304, 2614.9e12, 0.7, 3e12, 0.0)
    n, k, *rest = args
    assert hg.model_us(m, n, k, hg.PER_SHAPE, *rest) <= hg.model_us(m, n, k, (256.0, 256.0), *rest) * (1 + 1e-12)


@pytest.mark.parametrize("text", ["128", "0,0", "128,-64", "a,b", "128,128,1", "64.5,128", "nan,128"])
def test_a_bad_tile_names_the_option_and_what_is_allowed(text: str) -> None:
    with pytest.raises(ValueError, match=r"--tile .*allowed: M,N"):
        hg.parse_tile(text)


def test_a_tile_reads_as_two_numbers() -> None:
    assert hg.parse_tile("128,256") == (128.0, 256.0)
    assert hg.parse_tile("128,256") != hg.PER_SHAPE
