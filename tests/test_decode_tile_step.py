"""A Hopper bf16 decode step grows smoothly with the batch (branch decodestep46): predict, serve and curve without
``--engine`` take the catalogue default engine's 16-bit GEMM library on the chip's family (cuBLASLt split-K on Hopper,
``catalog.engines.default_gemm_calibration``), so Qwen3-32B on H200 no longer jumps +29 % from 32 to 33 sequences;
where the full-wave rule remains (an engine or family with no split-K source), predict states the jump."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from inferchip.catalog.engines import default_gemm_calibration
from inferchip.cost import gemm
from inferchip.cost.constants import CUBLASLT_16BIT_TILES
from inferchip.interfaces.cli import app
from inferchip.interfaces.cmd_predict import tile_step_note
from inferchip.performance.predict import predict
from inferchip.performance.setting.engine import engine_setting

H200 = "nvidia-h200-sxm-141gb"
QWEN = "Qwen/Qwen3-32B"


def test_down_projection_at_33_rows_by_hand():
    """Qwen3-32B's down projection (K 25,600 -> N 5,120) at 33 decode rows on 132 SMs, at 1 PFLOP/s and 1 us per
    split-K partial round trip. The chip's one tile (128 x 256, M tile 64 for 33 rows): 20 tiles, one wave of
    64 x 256 x 25,600 MACs per SM, X = 64 x 132 x 2 x 256 x 25,600 FLOP / 1e15 = 110.73 us. cuBLASLt's candidates:
    128 x 256 split 6 (floor(132 / 20)): X / 6 + 6 us = 24.46; 128 x 128 (40 tiles) split 3: X / 2 / 3 + 3 us =
    21.46; 128 x 64 and 64 x 64 (80 tiles, no split): X / 4 = 27.68. The least, 21.46 us, is below the 262 MB weight
    stream at H200's 4.8 TB/s (54.6 us); the full wave is twice above it."""
    x_s = 64 * 132 * 2 * 256 * 25_600 / 1e15
    full = gemm.split_k_compute_s(20.0, 132.0, 1.0, 64.0, 132.0 * 2 * 256 * 25_600, 1e15, 1e-6)
    picked = gemm.cublas_tile_compute_s(33.0, 5_120.0, 25_600.0, 50.0, 132.0, 1e15, 1e-6,
                                        CUBLASLT_16BIT_TILES["nvidia-hopper"])
    assert float(full) == pytest.approx(x_s, rel=1e-12)
    assert float(picked) == pytest.approx(x_s / 6.0 + 3e-6, rel=1e-12)
    stream_s = 25_600 * 5_120 * 2 / 4.8e12
    assert float(picked) < stream_s < 2.0 * stream_s < float(full)


def test_no_engine_takes_the_default_engines_gemm_library():
    cal_h200, spec = engine_setting(None, None, H200)
    cal_mi300x, _ = engine_setting(None, None, "amd-mi300x")
    cal_a100, _ = engine_setting(None, None, "nvidia-a100-sxm-80gb")
    assert spec is None
    assert cal_h200.gemm_split_k_16bit is True  # vLLM (the default) lists nvidia-hopper
    assert cal_mi300x.gemm_split_k_16bit is True  # and amd-cdna3 (amdtile47: hipBLASLt / aiter split K)
    assert cal_a100.gemm_split_k_16bit is False  # no family it lists (Ampere)
    assert engine_setting(None, None, None)[0] is None  # no chip: the calibration as given
    # a calibration that already splits keeps it on a family the default engine does not list
    assert default_gemm_calibration(cal_h200, "nvidia-ampere").gemm_split_k_16bit is True


def _tpot_s(chip: str, model: str, batch: int, split: bool) -> float:
    cal, _ = engine_setting(None, None, chip)
    cal = cal.model_copy(update={"gemm_split_k_16bit": split})
    return predict(chip, model, calibration=cal, batch=batch, input_tokens=1024, output_tokens=1024).tpot_s


def test_the_users_jump_is_gone():
    """The reported sweep: TPOT 26.7 ms at 32 and 35.3 at 40 (+32 % for +25 % sequences) with the full wave; with
    the default engine's library the step grows by less than the added sequences' share."""
    assert _tpot_s(H200, QWEN, 40, False) / _tpot_s(H200, QWEN, 32, False) > 1.25  # the old rule: the test can fail
    cal, _ = engine_setting(None, None, H200)
    t = {b: predict(H200, QWEN, calibration=cal, batch=b, input_tokens=1024, output_tokens=1024).tpot_s
         for b in (24, 32, 33, 40, 48, 64, 65)}
    assert all(t0 <= t1 for t0, t1 in zip(t.values(), list(t.values())[1:], strict=False))
    assert t[40] / t[32] < 1.05 and t[33] / t[32] < 1.01 and t[65] / t[64] < 1.01


@settings(max_examples=25, deadline=None)
@given(case=st.sampled_from([(H200, QWEN), ("nvidia-h100-sxm-80gb", "meta-llama/Llama-3.1-8B")]),
       batch=st.integers(1, 95))
def test_decode_step_per_sequence_never_rises(case: tuple[str, str], batch: int):
    """A memory-bound decode step streams the weights once and each sequence's KV and activations: TPOT(b) = W + b s,
    so TPOT(b) <= TPOT(b + 1) <= TPOT(b) (b + 1) / b (per-token cost non-increasing) for every batch, M-tile
    boundaries (16, 32, 64) included, where the 16-bit GEMMs run cuBLASLt's split-K."""
    chip, model = case
    t0, t1 = _tpot_s(chip, model, batch, True), _tpot_s(chip, model, batch + 1, True)
    assert t0 <= t1 <= t0 * (batch + 1) / batch * (1.0 + 1e-12)


def test_tile_step_note_by_hand():
    """TPOT 35.34 ms at 40 over 26.74 ms at 32: +32 % for +25 % sequences -> a note; 33.0 ms at 40 (+23 %) -> none;
    batch 16 or less, or 17 (b0 = 16 is the smallest boundary) with a flat step -> none."""
    asked: list[int] = []

    def at(b: int) -> float:
        asked.append(b)
        return 26.74e-3

    note = tile_step_note(40, 35.34e-3, at)
    assert asked == [32] and note is not None and "32 % above batch 32's" in note and "25 % more sequences" in note
    assert tile_step_note(40, 33.0e-3, at) is None
    assert tile_step_note(16, 1.0, at) is None and tile_step_note(1, 1.0, at) is None
    assert tile_step_note(17, 26.74e-3 * 17 / 16, at) is None


def _notes(*args: str) -> list[str]:
    res = CliRunner().invoke(app, ["predict", "--chip", H200, "--model", QWEN, "--format", "json", *args])
    assert res.exit_code == 0, res.output
    notes: list[str] = json.loads(res.output)["notes"]
    return notes


def test_predict_states_the_jump_where_the_full_wave_remains():
    """TensorRT-LLM lists no split-K family: its H200 bf16 step jumps past 32 rows and predict says so; without
    --engine (vLLM's cuBLASLt) there is no jump and no such note."""
    assert any("M tile doubles" in n for n in _notes("--batch", "40", "--engine", "trtllm"))
    assert not any("M tile doubles" in n for n in _notes("--batch", "40"))


def test_the_jump_note_names_the_gemms_format():
    """An 8-bit GEMM's jump is not put down to the 16-bit library (cuBLASLt's split K on Hopper is 16-bit only)."""
    def at(b: int) -> float:
        return 26.74e-3

    fp8 = tile_step_note(40, 35.34e-3, at, "fp8")
    bf16 = tile_step_note(40, 35.34e-3, at, "bf16")
    assert fp8 is not None and "fp8 GEMMs" in fp8 and "split_k_16bit_families" not in fp8
    assert bf16 is not None and "bf16 GEMMs" in bf16 and "split_k_16bit_families" in bf16

