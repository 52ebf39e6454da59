"""A Blackwell bf16 decode step grows smoothly with the batch (branch mtile47): vLLM and SGLang run their 16-bit
linears through cuBLASLt on Blackwell as on Hopper (``split_k_16bit_families``), and there cuBLAS sizes the token side
of its tile to the batch in 8-row steps (``cost.gemm.row_tile``; the SM100 16-bit MMA's N is any multiple of 8 up to
256), so Qwen3-32B on B200 no longer jumps +21 % at 33 sequences, +37 % at 65 or +13 % at 129."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inferchip.catalog.engines import get_engine
from inferchip.cost import gemm
from inferchip.cost.constants import CUBLASLT_16BIT_TILES, MIN_TILE_M
from inferchip.performance.predict import predict
from inferchip.performance.setting.engine import engine_setting

B200 = "nvidia-b200-180gb"
QWEN = "Qwen/Qwen3-32B"
BLACKWELL = CUBLASLT_16BIT_TILES["nvidia-blackwell"]


def test_row_tile_by_hand():
    """vLLM issue #35467's B200 shape, 272 rows: two token tiles of 136 (cuBLAS's 128x136 kernel), not 256 padded
    rows; 129 rows: one tile of 136; 33: 40; 257: two of 136 (ceil(257 / 2) = 129 -> 136); step 0 is m_tile."""
    assert float(gemm.row_tile(272.0, 256.0, 8.0)) == 136.0
    assert float(gemm.row_tile(129.0, 256.0, 8.0)) == 136.0
    assert float(gemm.row_tile(33.0, 256.0, 8.0)) == 40.0
    assert float(gemm.row_tile(257.0, 256.0, 8.0)) == 136.0
    assert float(gemm.row_tile(1.0, 256.0, 8.0)) == 8.0
    assert float(gemm.row_tile(33.0, 128.0, 0.0)) == float(gemm.m_tile(33.0, 128.0)) == 64.0
    assert float(gemm.row_tile(3.0, 128.0, 0.0)) == MIN_TILE_M


@settings(max_examples=300, deadline=None)
@given(m=st.integers(1, 50_000), tile_m=st.sampled_from([64.0, 128.0, 256.0]), step=st.sampled_from([0.0, 8.0, 16.0]))
def test_row_tile_holds_the_rows_and_pads_less_than_a_step(m: int, tile_m: float, step: float):
    """The tiles hold every row, no tile is above the kernel's rows, a stepped tile pads each tile by less than one
    step (a power-of-two tile by less than the tile), and the scalar twin gives the same float."""
    tm = float(gemm.row_tile(float(m), tile_m, step))
    assert tm == gemm.row_tile_scalar(float(m), tile_m, step)
    tiles = math.ceil(m / tm)
    assert tiles * tm >= m and tm <= tile_m
    if step > 0.0:
        assert tiles == math.ceil(m / tile_m) and tiles * tm - m < tiles * step
        assert tm % step == 0.0


def test_down_projection_at_129_rows_by_hand():
    """Qwen3-32B's down projection (K 25,600 -> N 5,120) at 129 rows on 148 SMs, 1 PFLOP/s, partials free.
    The chip's 128 x 256 tile: 2 x 20 = 40 tiles, split 3 (floor(148 / 40)), 1/3 wave of 128 x 256 x 25,600 MACs.
    The 8-row-step candidates: 256 x 64 -> one 136-row tile x 80 = 80 tiles, no split (floor(148 / 80) = 1): one wave
    of 136 x 64; 256 x 128 -> 40 tiles of 136 x 128, split 3: 1/3 wave of 136 x 128. Per SM: 128 x 256 / 3 = 10,923,
    136 x 64 = 8,704, 136 x 128 / 3 = 5,803 row-columns: the last wins, 0.53 of the chip tile's."""
    rate, k = 1e15, 25_600.0
    per_rc = 148 * 2 * k / rate  # seconds per row-column of one wave on 148 SMs
    picked = float(gemm.cublas_tile_compute_s(129.0, 5_120.0, k, 50.0, 148.0, rate, 0.0, BLACKWELL))
    chip_tile = float(gemm.cublas_tile_compute_s(129.0, 5_120.0, k, 50.0, 148.0, rate, 0.0, BLACKWELL[:1]))
    assert picked == pytest.approx(136 * 128 / 3 * per_rc, rel=1e-12)
    assert chip_tile == pytest.approx(128 * 256 / 3 * per_rc, rel=1e-12)


def test_vllm_and_sglang_list_blackwell_and_no_engine_takes_it():
    assert get_engine("vllm").splits_16bit_k_on("nvidia-blackwell")
    assert get_engine("sglang").splits_16bit_k_on("nvidia-blackwell")
    assert not get_engine("trtllm").splits_16bit_k_on("nvidia-blackwell")  # TensorRT engines: their own tactics
    cal, _ = engine_setting(None, None, B200)
    assert cal is not None and cal.gemm_split_k_16bit is True


def _tpot_s(batch: int, split: bool = True) -> float:
    cal, _ = engine_setting(None, None, B200)
    assert cal is not None
    cal = cal.model_copy(update={"gemm_split_k_16bit": split})
    return predict(B200, QWEN, calibration=cal, batch=batch, input_tokens=1024, output_tokens=1024).tpot_s


def test_the_b200_jumps_are_gone():
    """Full wave of the chip's tile (the old rule): +21 % at 32 -> 33 and +37 % at 64 -> 65 (the test can fail); the
    default engine's library: under 1 % at every M-tile boundary, 128 -> 129 included."""
    assert _tpot_s(33, False) / _tpot_s(32, False) > 1.15 and _tpot_s(65, False) / _tpot_s(64, False) > 1.3
    for b in (16, 32, 64, 128, 144):
        assert _tpot_s(b + 1) / _tpot_s(b) < 1.01, b


def _padded(b: int) -> int:
    return -(-b // 8) * 8  # b rows in the 8-row steps of the SM100 16-bit MMA's token side


@settings(max_examples=25, deadline=None)
@given(batch=st.integers(1, 197))
def test_b200_decode_step_per_sequence_never_rises(batch: int):
    """A memory-bound decode step streams the weights once and each sequence's KV and activations, TPOT(b) = W + b s:
    one more sequence adds at most its share, (b + 1) / b; a compute-bound GEMM grows with its padded rows, at most by
    one 8-row step (r(b + 1) / r(b), r = b rounded up to 8). So TPOT(b) <= TPOT(b + 1) <= TPOT(b) max of the two
    (197: the most Qwen3-32B bf16 sequences of 2,048 tokens one B200 holds). The old rule breaks it at 33 and 65."""
    t0, t1 = _tpot_s(batch), _tpot_s(batch + 1)
    assert t0 <= t1 <= t0 * max((batch + 1) / batch, _padded(batch + 1) / _padded(batch)) * (1.0 + 1e-12)
