"""CDNA 16-bit GEMMs under vLLM / SGLang / ATOM: aiter's tuned bf16 kernels (ROCm/aiter
aiter/configs/bf16_tuned_gemm.csv @c5ff88ed) split K and size their token tile in 16-row steps
(cost.constants.CUBLASLT_16BIT_TILES amd-cdna3 / amd-cdna4); the model's pick against the file's rows by hand."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from inferchip.cost.constants import CUBLASLT_16BIT_TILES
from inferchip.cost.gemm import (
    CUBLAS_SPLIT_K_MIN_DEPTH,
    cublas_tile_compute_s_scalar,
    row_tile_scalar,
    split_slices,
)
from inferchip.performance.predict import predict
from inferchip.performance.setting.engine import engine_setting

CDNA = CUBLASLT_16BIT_TILES["amd-cdna3"]


def test_cdna_candidates_are_the_chip_tile_and_the_aiter_kernels() -> None:
    assert CDNA == ((256.0, 256.0, 0.0), (64.0, 64.0, 16.0))
    assert CUBLASLT_16BIT_TILES["amd-cdna4"] == CDNA


@pytest.mark.parametrize(("m", "tile_rows", "split"), [(80, 48, 10), (128, 64, 10), (220, 64, 5), (256, 64, 5)])
def test_aiter_bf16_rows_by_hand(m: int, tile_rows: int, split: int) -> None:
    # aiter bf16_tuned_gemm.csv, 80 CUs, N 256, K 5,120: the chosen kernel's token tile and split K. By hand: 80 rows
    # -> ceil(80 / 64) = 2 tiles of ceil(40 / 16) x 16 = 48 rows; 2 x 256 / 64 = 8 tiles on 80 CUs -> floor(80 / 8)
    # = 10 slices, at most 5,120 / 512 = 10. 220 rows -> 4 tiles of 64 (ceil(55 / 16) x 16), 16 tiles -> 5 slices.
    n, k, cus = 256, 5120, 80
    tm = row_tile_scalar(m, 64.0, 16.0)
    assert tm == tile_rows
    tiles = math.ceil(m / tm) * math.ceil(n / 64)
    assert float(split_slices(tiles, cus, math.floor(k / CUBLAS_SPLIT_K_MIN_DEPTH))) == split


def test_the_aiter_tile_beats_the_full_wave_at_129_rows_on_304_cus() -> None:
    # Qwen3-32B's o projection (8,192 in, 5,120 out) at 129 rows on MI300X (304 CUs), no partial
    # cost: the 256 x 256 tile, 20 tiles -> split min(floor(304 / 20) = 15, 16) = 15: ceil(300 / 304) / 15 = 1/15
    # wave of 256 rows; the 64 x 64 tile: 3 x 80 = 240 tiles, split 1, one wave of 48 rows (ceil(43 / 16) x 16).
    # Per wave row 304 x 2 x N x K: 256 / 15 = 17.1 rows against 48 x (64 / 256) = 12 rows of the 256-column row.
    flop_per_s = 1e15
    t = cublas_tile_compute_s_scalar(129, 5120, 8192, 16, 304, flop_per_s, 0.0, CDNA)
    full = cublas_tile_compute_s_scalar(129, 5120, 8192, 16, 304, flop_per_s, 0.0, CDNA[:1])
    assert t == pytest.approx(48 * 304 * 2 * 64 * 8192 / flop_per_s)
    assert full == pytest.approx(256 / 15 * 304 * 2 * 256 * 8192 / flop_per_s)


def test_vllm_splits_on_cdna_and_the_mi300x_jump_is_gone() -> None:
    cal, _ = engine_setting(None, None, "amd-mi300x")
    assert cal.gemm_split_k_16bit is True

    def tpot(b: int) -> float:
        return predict("amd-mi300x", "Qwen/Qwen3-32B", calibration=cal, batch=b, input_tokens=1024,
                       output_tokens=1024).tpot_s

    # main: 34.14 -> 48.91 ms at 32 -> 33 (+43 %), 52.84 -> 82.40 at 64 -> 65 (+56 %); now at most the added share
    for b in (32, 64):
        assert tpot(b + 1) <= tpot(b) * (b + 1) / b


@given(st.integers(1, 1024), st.integers(1, 64).map(lambda x: 256 * x), st.integers(1, 64).map(lambda x: 512 * x))
def test_pick_never_above_the_full_wave(m: int, n: int, k: int) -> None:
    slices = math.floor(k / CUBLAS_SPLIT_K_MIN_DEPTH)
    t = cublas_tile_compute_s_scalar(m, n, k, slices, 304, 1e15, 0.0, CDNA)
    assert t <= cublas_tile_compute_s_scalar(m, n, k, slices, 304, 1e15, 0.0, CDNA[:1]) * (1 + 1e-12)
    assert t >= 2.0 * m * n * k / 1e15 * (1 - 1e-12)
