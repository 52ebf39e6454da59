"""Block-scaled 4-bit GEMMs on Blackwell (cost.constants.BLOCK_SCALED_4BIT_GEMM): the mainloop at 0.895 of the FP4
peak and 5.13 us a 128 x 256 output tile outside it, solved from two published B200 rates under the model's tile and
wave count; a 4-bit GEMM's rate rises with its reduction depth K. By hand: 148 tiles at once (592 tensor cores x
0.25), 1.0777 ns a unit of K a wave at the 9 PFLOP/s peak (2 x 128 x 256 x 148 / 9e15), 1.2041 ns at 0.895 of it."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inferchip.cost.constants import BLOCK_SCALED_4BIT_GEMM
from inferchip.cost.rules import cost_context, cost_operator
from inferchip.cost.step import step_points
from inferchip.mapping.operators import Gemm, LmHead
from inferchip.performance.setting import resolve_setting

FRACTION, TILE_S = BLOCK_SCALED_4BIT_GEMM["blackwell"]


def _mapped(chip: str = "nvidia-b200-180gb", weights: str = "fp4", activations: str = "fp4"):
    s = resolve_setting(chip, "meta-llama/Llama-3.1-8B-Instruct", count=1, tp=1, weights=weights,
                        activations=activations, kv="fp8")
    return s.mapped(s.layout)


def _pts(rows: float):
    return step_points(1, np.array(rows), np.array(0.0), np.array(0.0), np.array(0.0), np.array(rows))


def _compute_s(op: Gemm | LmHead, mm, rows: float) -> float:
    return float(np.squeeze(cost_operator(op, cost_context(mm.chip, mm.formats, mm.cal), _pts(rows)).compute_s))


def test_the_two_published_rates_are_reproduced_by_hand():
    """vLLM PR #20646 (CUTLASS NVFP4, B200): N 6,144 K 4,096 at M 16,384, 3,904 TFLOP/s: 128 x 24 = 3,072 tiles,
    21 waves of 4,096 x 1.2041 ns + 5.13 us = 10.06 us: 211.3 us. DeepGEMM PR #348 (cuBLASLt MXFP4, B200) 8,192^3 at
    5,239 TFLOP/s: 2,048 tiles, 14 waves of 8,192 x 1.2041 ns + 5.13 us = 14.99 us: 209.9 us."""
    mm = _mapped()
    qkv = _compute_s(Gemm("qkv", 4096, 6144, "attention_proj"), mm, 16384.0)
    assert qkv == pytest.approx(21 * (4096 * 1.2041e-9 + 5.13e-6), rel=1e-3)
    assert 2 * 16384 * 6144 * 4096 / qkv == pytest.approx(3.904e15, rel=0.01)
    cube = _compute_s(Gemm("cube", 8192, 8192, "mlp"), mm, 8192.0)
    assert cube == pytest.approx(14 * (8192 * 1.2041e-9 + 5.13e-6), rel=1e-3)
    assert 2 * 8192**3 / cube == pytest.approx(5.239e15, rel=0.01)


def test_only_block_scaled_4bit_gemms_on_blackwell_take_it():
    """FP8 GEMMs on the B200, the 16-bit LM head, W4A8 (FP8 activations) and the FP4 GEMMs of a chip of another
    architecture (B300, Blackwell Ultra: not measured) keep the calibrated fraction and no extra depth."""
    op = Gemm("qkv", 4096, 6144, "attention_proj")
    fp4, fp8 = _mapped(), _mapped(weights="fp8", activations="fp8")
    cal = fp4.cal.gemm_compute_fraction
    # FP8 on the B200: 21 waves of 4,096 units of K at cal x 4.5 PFLOP/s (2 x 128 x 256 x 148 / 4.5e15 = 2.1554 ns)
    assert _compute_s(op, fp8, 16384.0) == pytest.approx(21 * 4096 * 2.1554e-9 / cal, rel=1e-3)
    head = LmHead(4096, 128256)
    assert cost_context(fp4.chip, fp4.formats, fp4.cal).block_scaled_4bit_gemm == (FRACTION, TILE_S)
    assert _compute_s(head, fp4, 4096.0) == _compute_s(head, fp8, 4096.0)  # 16-bit either way
    w4a8 = _mapped(weights="mxfp4", activations="fp8")
    assert _compute_s(op, w4a8, 16384.0) == pytest.approx(_compute_s(op, fp8, 16384.0), rel=1e-9)
    b300 = _mapped(chip="nvidia-b300-288gb")
    assert cost_context(b300.chip, b300.formats, b300.cal).block_scaled_4bit_gemm is None


@settings(max_examples=40, deadline=None)
@given(k=st.integers(256, 32768), rows=st.sampled_from([128.0, 4096.0, 16384.0]))
def test_a_4bit_gemm_gains_rate_with_depth_and_never_passes_the_mainloop_rate(k: int, rows: float):
    """Invariant: with the tile's fixed time, doubling K raises the attainable FLOP/s, and no 4-bit GEMM runs above
    0.895 of the peak."""
    mm = _mapped()
    flop = lambda kk: 2 * rows * 8192 * kk  # noqa: E731
    rate1 = flop(k) / _compute_s(Gemm("g", k, 8192, "mlp"), mm, rows)
    rate2 = flop(2 * k) / _compute_s(Gemm("g", 2 * k, 8192, "mlp"), mm, rows)
    assert rate2 > rate1
    assert rate2 < FRACTION * 9e15


def test_the_w4a4_note_states_the_rate_the_step_is_priced_at():
    """The setting's note says what the cost layer does: on Blackwell the block-scaled rate of the dense GEMMs,
    elsewhere the 4-bit peak (the page's notes and predict's read it)."""
    from inferchip.performance.predict import predict

    def w4a4(chip: str) -> str:
        p = predict(chip, "meta-llama/Llama-3.1-8B", weights="fp4", activations="fp4", batch=8,
                    input_tokens=128, output_tokens=128)
        return next(n for n in p.notes if n.startswith("W4A4"))

    blackwell, amd = w4a4("nvidia-b200-180gb"), w4a4("amd-mi355x")
    assert "0.895 of the fp4 peak plus 5.13 us a tile" in blackwell
    assert "BLOCK_SCALED" not in amd and "GEMMs at the" in amd
