"""tools/step_model/hipblaslt_gemm_check.py: the model's GEMM time against hipBLASLt's tuning-file timings."""

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
