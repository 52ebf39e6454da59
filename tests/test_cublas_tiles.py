"""cuBLASLt's per-shape output tile for the 16-bit weight GEMMs on Hopper and Blackwell
(cost.gemm.cublas_tile_compute_s): the pick by hand, its bounds, the scalar twin, its scope (Hopper family, cuBLASLt
statement, 16-bit weights) and the array, scalar, compiled and fast-sweep paths giving the same step."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import loop_step, make_chip, tiny_dense
from inferchip.cost.constants import CUBLASLT_16BIT_TILES, FLOP_PER_MAC
from inferchip.cost.context import cost_context
from inferchip.cost.gemm import cublas_tile_compute_s, cublas_tile_compute_s_scalar, split_k_compute_s
from inferchip.cost.scalar_step import _compile
from inferchip.cost.step import compile_step, step_points
from inferchip.mapping.layout import Layout
from inferchip.mapping.memory_fit import Formats
from inferchip.mapping.sharding import shard
from inferchip.performance.fast_sweep import decode_times, sweep_parts
from inferchip.spec.calibration import Calibration

HOPPER = CUBLASLT_16BIT_TILES["nvidia-hopper"]
BLACKWELL = CUBLASLT_16BIT_TILES["nvidia-blackwell"]
BF16 = Formats("bf16", "bf16", "bf16")


def test_the_hopper_candidates_are_the_profiled_kernels():
    # vLLM's H100 profile names cuBLAS tiles 128x128, 256x128, 64x128, 64x64 (its M = the layer's output features);
    # in this model's (tokens x features) orientation: 128x128, 128x256, 128x64, 64x64
    # (row step 0: the rows' tile a power of two)
    assert set(HOPPER) == {(128.0, 128.0, 0.0), (128.0, 256.0, 0.0), (128.0, 64.0, 0.0), (64.0, 64.0, 0.0)}


def test_pick_by_hand_multi_wave_prefill_gemm():
    """528 x 8,192 @ 8,192 x 14,336 (a Llama-70B TP4 gate/up with a prompt in the step), 132 units, no split-K:
    128 x 256: 5 x 56 = 280 tiles -> 3 waves of 128 x 256 x 8,192 MACs; 128 x 128: 560 -> 5 waves;
    128 x 64: 1,120 -> 9 waves; 64 x 64: 9 x 224 = 2,016 -> 16 waves of 64 x 64. Spent per unit:
    3 x 32,768 = 98,304 / 5 x 16,384 = 81,920 / 9 x 8,192 = 73,728 / 16 x 4,096 = 65,536 MACs x k: 64 x 64 wins."""
    k, n, rate = 8192.0, 14336.0, 1e12
    t = float(cublas_tile_compute_s(528.0, n, k, 1.0, 132.0, rate, 0.0, HOPPER))
    assert t == pytest.approx(16 * 64 * 132 * FLOP_PER_MAC * 64 * k / rate, rel=1e-12)
    full = 3 * 128 * 132 * FLOP_PER_MAC * 256 * k / rate  # the chip's one tile (128 x 256)
    assert t / full == pytest.approx(65536 / 98304, rel=1e-12)
    # one candidate: exactly the chip-tile count of split_k_compute_s
    one = float(cublas_tile_compute_s(528.0, n, k, 1.0, 132.0, rate, 0.0, ((128.0, 256.0, 0.0),)))
    assert one == pytest.approx(full, rel=1e-12)


def test_pick_by_hand_decode_gemm_splits_k():
    """64 decode rows, n 2,560 (10 tiles of 256 / 20 of 128 / 40 of 64 along N), k 8,192 (16 slices at most),
    132 units, partials free: 128 x 256 -> M tile 64, 10 tiles, 13 slices, ceil(130 / 132) / 13 = 1/13 wave of
    64 x 256; 64 x 64 -> 40 tiles, 3 slices, ceil(120 / 132) / 3 = 1/3 wave of 64 x 64 (64 x 256 / 13 = 1,260 vs
    64 x 64 / 3 = 1,365 MACs per k): the wide tile wins, as the split-K path alone gives."""
    k, n, rate = 8192.0, 2560.0, 1e12
    got = float(cublas_tile_compute_s(64.0, n, k, 16.0, 132.0, rate, 0.0, HOPPER))
    wide = float(split_k_compute_s(10.0, 132.0, 16.0, 64.0, 132.0 * FLOP_PER_MAC * 256.0 * k, rate, 0.0))
    assert got == pytest.approx(wide, rel=1e-12)
    assert wide == pytest.approx(64 * 132 * FLOP_PER_MAC * 256 * k / 13 / rate, rel=1e-12)


def test_no_candidate_is_an_error():
    with pytest.raises(ValueError, match="at least one candidate"):
        cublas_tile_compute_s(8.0, 256.0, 256.0, 1.0, 132.0, 1e12, 0.0, ())
    with pytest.raises(ValueError, match="at least one candidate"):
        cublas_tile_compute_s_scalar(8.0, 256.0, 256.0, 1.0, 132.0, 1e12, 0.0, ())


@settings(max_examples=200, deadline=None)
@given(m=st.integers(1, 20_000), n=st.integers(1, 60_000), k=st.integers(16, 30_000), units=st.integers(1, 200),
       slices=st.integers(1, 32), partial=st.floats(0.0, 1e-4), tiles=st.sampled_from([HOPPER, BLACKWELL]))
def test_pick_bounds_and_scalar_twin(m, n, k, units, slices, partial, tiles):
    """Never slower than any one candidate (the chip's 128 x 256 among them), never faster than the useful FLOP
    at the rate, and the scalar twin gives the array function's float."""
    rate = 1e12
    a = float(cublas_tile_compute_s(float(m), float(n), float(k), float(slices), float(units), rate, partial, tiles))
    s = cublas_tile_compute_s_scalar(float(m), float(n), float(k), float(slices), float(units), rate, partial, tiles)
    assert a == pytest.approx(s, rel=1e-12)
    for tile in tiles:
        assert a <= float(cublas_tile_compute_s(float(m), float(n), float(k), float(slices), float(units), rate,
                                                partial, (tile,))) * (1 + 1e-12)
    assert a >= FLOP_PER_MAC * m * n * k / rate * (1 - 1e-12)  # never below the useful FLOP at the rate


def test_scope_family_statement_and_16_bit_weights():
    """The tiles come with the cuBLASLt statement on a Hopper chip only; a generic chip or no statement keeps none."""
    hopper = make_chip(family="nvidia-hopper")
    assert cost_context(hopper, BF16, Calibration(gemm_split_k_16bit=True)).cublas_tiles == HOPPER
    assert cost_context(hopper, BF16, Calibration()).cublas_tiles == ()
    assert cost_context(make_chip(), BF16, Calibration(gemm_split_k_16bit=True)).cublas_tiles == ()


def _plans(fmt: Formats, cal: Calibration, family: str = "nvidia-hopper"):
    model = tiny_dense(layers=2, hidden=2048, heads=16, kv_heads=4, ffn=8192)
    return compile_step(shard(model, Layout()), make_chip(family=family), fmt, cal)


def test_step_16_bit_gemms_pick_quantised_ones_do_not():
    """At 600 step tokens (a prompt in a decode step) the bf16 GEMMs on a Hopper chip under the statement cost
    less than with the chip's one tile; fp8 GEMMs (CUTLASS / the engine's own kernels) do not move."""
    on, off = Calibration(gemm_split_k_16bit=True), Calibration()
    for fmt, moves in ((BF16, True), (Formats("fp8", "fp8", "fp8"), False)):
        a = _plans(fmt, on).cost(600.0, 64.0, 64.0 * 512, 536.0 * 268.0)
        b = _plans(fmt, on, family="generic").cost(600.0, 64.0, 64.0 * 512, 536.0 * 268.0)
        assert (float(a.classes["mlp"].time_s) < float(b.classes["mlp"].time_s)) is moves
        assert float(a.flop_by_format.get(fmt.weights, 0.0)) == pytest.approx(
            float(b.flop_by_format.get(fmt.weights, 0.0)))  # useful FLOP unchanged: only the waves
    c = _plans(BF16, off).cost(600.0, 64.0, 64.0 * 512, 536.0 * 268.0)
    d = _plans(BF16, off, family="generic").cost(600.0, 64.0, 64.0 * 512, 536.0 * 268.0)
    assert float(c.time_s) == float(d.time_s)  # no statement: no pick, bit for bit


@pytest.mark.parametrize("family", ["nvidia-hopper", "nvidia-blackwell"])
@pytest.mark.parametrize("t", [1.0, 8.0, 64.0, 65.0, 129.0, 145.0, 600.0, 4097.0])
def test_array_scalar_and_compiled_paths_agree(t, family):
    plan = _plans(BF16, Calibration(gemm_split_k_16bit=True), family=family)
    s = min(t, 64.0)
    pts = step_points(1, np.array([t]), np.array([s]), np.array([s * 700.0]), np.array([(t - s) * (t - s + 1) / 2]))
    array = float(plan.evaluate(pts).time_s.reshape(-1)[0])
    point = float(plan.point_cost((1,), t, s, s * 700.0, (t - s) * (t - s + 1) / 2).time_s.reshape(-1)[0])
    assert point == pytest.approx(array, rel=1e-12)
    scalar = plan.scalar
    assert scalar is not None
    p = (t, t, s, t - s, s * 700.0, (t - s) * (t - s + 1) / 2, s)
    assert _compile(scalar)(*p) == loop_step(scalar, p)


@pytest.mark.parametrize("family", ["nvidia-hopper", "nvidia-blackwell"])
def test_fast_sweep_equals_the_plan(family):
    plan = _plans(BF16, Calibration(gemm_split_k_16bit=True), family=family)
    grid = np.array([1.0, 8.0, 64.0, 96.0, 128.0, 145.0, 200.0, 512.0])
    i, o = 400.0, 350.0
    fast = decode_times(sweep_parts(plan), plan, 1, grid, i, o)
    new = grid / o
    pts = step_points(1, grid + new * i, grid, grid * (i + o * o / (2 * o)), new * (i * (0.0 + (i + 1.0) / 2.0)))
    ref = plan.evaluate(pts).time_s
    assert np.allclose(fast, ref, rtol=1e-12, atol=0.0)
    assert not math.isnan(float(fast[0]))
