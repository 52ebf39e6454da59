"""Split-K of the 16-bit (cuBLAS) weight GEMMs: the wave count by hand, its limits, the scalar twin, and the
step's 16-bit GEMMs (not its quantised ones) getting cheaper where their tiles cannot fill the chip."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import make_chip, tiny_dense
from inferchip.cost.gemm import (
    gemm_waves,
    split_k_compute_s,
    split_k_compute_s_scalar,
    split_k_slices_max,
    split_waves,
    split_waves_scalar,
)
from inferchip.cost.step import compile_step, step_cost
from inferchip.mapping.layout import Layout
from inferchip.mapping.memory_fit import Formats
from inferchip.mapping.sharding import shard
from inferchip.spec.calibration import Calibration


def test_split_waves_by_hand():
    # gpt-oss-120b qkv at TP2 and 128 decode rows on B200: n 2560 -> 10 tiles of 256, K 2880 -> at most
    # floor(2880 / 512) = 5 slices; 148 units would take 14, so 5: ceil(50 / 148) / 5 = 0.2 waves.
    assert split_waves_scalar(10.0, 148.0, 5.0) == pytest.approx(0.2)
    # 100 tiles: floor(148 / 100) = 1 slice, one full wave, as without split-K.
    assert split_waves_scalar(100.0, 148.0, 5.0) == 1.0
    # 200 tiles fill more than a wave: no split, two waves.
    assert split_waves_scalar(200.0, 148.0, 5.0) == 2.0


def test_split_k_is_taken_only_where_faster_by_hand():
    # 10 tiles on 148 units, 5 slices at most, a 10 us wave: data-parallel 10 us; split 0.2 x 10 = 2 us plus
    # 5 partial round trips. At 1 us each: 7 us (split taken); at 2 us each: 12 us (data-parallel kept).
    assert split_k_compute_s_scalar(10.0, 148.0, 5.0, 1.0, 10e-6, 1.0, 1e-6) == pytest.approx(7e-6)
    assert split_k_compute_s_scalar(10.0, 148.0, 5.0, 1.0, 10e-6, 1.0, 2e-6) == pytest.approx(10e-6)
    # one slice allowed (a quantised GEMM): the data-parallel time whatever the partials cost
    assert split_k_compute_s_scalar(10.0, 148.0, 1.0, 1.0, 10e-6, 1.0, 0.0) == pytest.approx(10e-6)


def test_only_16_bit_weights_split_and_only_where_the_run_states_cublas():
    k = np.array([2880.0, 2880.0, 2880.0, 300.0])
    wb = np.array([2.0, 1.0, 0.53125, 2.0])  # bf16, fp8, mxfp4, a shallow bf16 GEMM
    assert list(split_k_slices_max(k, wb, True)) == [5.0, 1.0, 1.0, 1.0]
    assert list(split_k_slices_max(k, wb, False)) == [1.0, 1.0, 1.0, 1.0]


@settings(max_examples=200, deadline=None)
@given(tiles=st.integers(1, 5000), units=st.integers(1, 400), slices=st.integers(1, 64))
def test_split_waves_bounds_and_scalar_twin(tiles, units, slices):
    """Never more waves than the data-parallel count, never fewer than perfect packing, one slice is the
    data-parallel count, and the scalar twin gives the array function's float."""
    w = float(split_waves(float(tiles), float(units), float(slices)))
    assert w == split_waves_scalar(float(tiles), float(units), float(slices))
    assert tiles / units - 1e-12 <= w <= float(gemm_waves(tiles, units))
    assert float(split_waves(float(tiles), float(units), 1.0)) == math.ceil(tiles / units)


@settings(max_examples=200, deadline=None)
@given(tiles=st.integers(1, 5000), units=st.integers(1, 400), slices=st.integers(1, 64),
       partial=st.floats(0.0, 1e-4))
def test_split_k_choice_never_slower_and_scalar_twin(tiles, units, slices, partial):
    """The library's choice is never slower than the data-parallel kernel, and the scalar twin agrees."""
    a = float(split_k_compute_s(float(tiles), float(units), float(slices), 64.0, 1e-9, 1.0, partial))
    assert a == pytest.approx(split_k_compute_s_scalar(float(tiles), float(units), float(slices), 64.0, 1e-9, 1.0,
                                                       partial), rel=1e-12)
    assert a <= math.ceil(tiles / units) * 64.0 * 1e-9 * (1 + 1e-12)


def test_step_16_bit_gemms_split_quantised_ones_do_not():
    """A one-layer dense model at 64 decode rows on the H100-like chip: hidden 1024 gives 4 tiles of 256 along N
    for 132 units, so the bf16 GEMMs split K (compute time falls), the fp8 ones keep their full wave; the
    weights' read bounds the split GEMMs from below, and the array and scalar paths agree. Split-K is on because
    the calibration says the run's 16-bit GEMMs are cuBLASLt's (Calibration.gemm_split_k_16bit)."""
    model, chip = tiny_dense(layers=1, hidden=1024, heads=8, kv_heads=2, ffn=4096), make_chip()
    cal = Calibration(gemm_split_k_16bit=True)
    sm = shard(model, Layout())
    rows = 64.0
    bf16 = step_cost(sm, chip, Formats("bf16", "bf16", "bf16"), cal, rows, rows, rows * 512, 0.0)
    proj = bf16.classes["attention_proj"]
    fp8 = step_cost(sm, chip, Formats("fp8", "fp8", "fp8"), cal, rows, rows, rows * 512, 0.0)
    # the same shapes: bf16 spends half the fp8 FLOP rate, so without split-K its compute would be twice fp8's
    assert float(proj.compute_bound_s) < 2.0 * float(fp8.classes["attention_proj"].compute_bound_s)
    plan = compile_step(sm, chip, Formats("bf16", "bf16", "bf16"), cal)
    one = plan.cost(rows, rows, rows * 512, 0.0)
    assert float(one.time_s) == pytest.approx(float(bf16.time_s), rel=1e-9)


def test_without_the_statement_bf16_keeps_its_full_wave_exactly():
    """The default calibration (no cuBLASLt statement): the bf16 projections' compute is exactly twice fp8's (the
    same tiles and waves at half the rate), in the array and compiled paths alike, and the flag makes it smaller."""
    model, chip = tiny_dense(layers=1, hidden=1024, heads=8, kv_heads=2, ffn=4096), make_chip()
    sm, rows = shard(model, Layout()), 64.0
    cal = Calibration()
    bf16 = step_cost(sm, chip, Formats("bf16", "bf16", "bf16"), cal, rows, rows, rows * 512, 0.0)
    fp8 = step_cost(sm, chip, Formats("fp8", "fp8", "fp8"), cal, rows, rows, rows * 512, 0.0)
    plain = float(bf16.classes["attention_proj"].compute_bound_s)
    # (within 0.1 %: the classes also hold small non-GEMM terms)
    assert plain == pytest.approx(2.0 * float(fp8.classes["attention_proj"].compute_bound_s), rel=1e-3)
    split = step_cost(sm, chip, Formats("bf16", "bf16", "bf16"), Calibration(gemm_split_k_16bit=True), rows, rows,
                      rows * 512, 0.0)
    assert float(split.classes["attention_proj"].compute_bound_s) < plain
    plan = compile_step(sm, chip, Formats("bf16", "bf16", "bf16"), cal)
    assert float(plan.cost(rows, rows, rows * 512, 0.0).time_s) == pytest.approx(float(bf16.time_s), rel=1e-12)
