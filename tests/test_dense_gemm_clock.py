"""The measured dense-GEMM clock of a chip (spec.stream.DenseGemmClock, matrix_clock_share) and where the cost
model reads it (cost.context.cost_context: the matrix units' peaks, never the DRAM or vector rates)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from inferchip.catalog.chips import get_chip_params
from inferchip.cost.context import cost_context
from inferchip.cost.peaks import peak_flop_per_s
from inferchip.mapping.memory_fit import Formats
from inferchip.spec.calibration import Calibration
from inferchip.spec.stream import DenseGemmClock, matrix_clock_share

SOURCE = dict(kernel="hipblaslt-bench", source="AMD ROCm blog", url="https://rocm.blogs.amd.com/x", date="2025")


def clock(**mhz: float) -> DenseGemmClock:
    return DenseGemmClock(mhz=mhz, **SOURCE)


def test_share_by_hand_is_the_median_clock_over_the_peak_clock():
    # MI300X (AMD's Table 1): FP16 1115, BF16 1207, FP8 1230 MHz; peak clock 2100 MHz -> median 1207 / 2100
    assert matrix_clock_share(2.1, clock(fp16=1115, bf16=1207, fp8=1230)) == pytest.approx(1207 / 2100, rel=1e-12)
    assert matrix_clock_share(2.0, clock(bf16=1000, fp8=1200)) == pytest.approx(1100 / 2000, rel=1e-12)  # even: mean
    assert matrix_clock_share(2.1, None) == 1.0  # not measured: the datasheet peak is taken as sustained
    assert matrix_clock_share(None, clock(fp8=1230)) == 1.0  # no peak clock to relate it to
    with pytest.raises(ValueError, match="above the peak clock"):
        matrix_clock_share(1.0, clock(fp8=1230))


def test_bad_clock_entries_are_refused():
    with pytest.raises(ValidationError, match="unknown number format"):
        clock(fp9=1000)
    with pytest.raises(ValidationError):
        clock(fp8=-5)
    with pytest.raises(ValidationError):
        DenseGemmClock(mhz={}, **SOURCE)
    with pytest.raises(ValidationError):
        DenseGemmClock(mhz={"fp8": 1230}, **{**SOURCE, "url": "rocm.blogs.amd.com"})


def test_catalogue_chips_carry_their_share():
    assert get_chip_params("amd-mi300x").matrix_clock_share == pytest.approx(1207 / 2100, rel=1e-12)
    assert get_chip_params("amd-mi325x").matrix_clock_share == pytest.approx(1447 / 2100, rel=1e-12)
    for unmeasured in ("nvidia-h100-sxm-80gb", "nvidia-b200-180gb", "amd-mi355x", "intel-gaudi3"):
        assert get_chip_params(unmeasured).matrix_clock_share == 1.0


def test_cost_context_slows_the_matrix_units_only():
    chip = get_chip_params("amd-mi300x")
    full = dataclasses.replace(chip, matrix_clock_share=1.0)
    fmt = Formats(weights="fp8", activations="fp8", kv="fp8")
    cal = Calibration()
    a, b = cost_context(chip, fmt, cal), cost_context(full, fmt, cal)
    share = chip.matrix_clock_share
    assert float(a.peak_gemm_flop_per_s.ravel()[0]) == pytest.approx(float(peak_flop_per_s(chip, "fp8")) * share)
    for name in ("peak_gemm_flop_per_s", "peak_attention_flop_per_s", "peak_attention_proj_flop_per_s",
                 "peak_lm_head_flop_per_s"):
        assert float(getattr(a, name).ravel()[0]) == pytest.approx(float(getattr(b, name).ravel()[0]) * share)
    for name in ("attainable_bytes_per_s", "vector_flop_per_s", "link_bytes_per_s", "kernel_overhead_s"):
        assert np.array_equal(getattr(a, name), getattr(b, name))


@settings(max_examples=60, deadline=None)
@given(share=st.floats(0.05, 1.0))
def test_the_gemm_peak_is_linear_in_the_share_and_never_above_the_datasheet(share):
    chip = dataclasses.replace(get_chip_params("nvidia-h100-sxm-80gb"), matrix_clock_share=share)
    fmt = Formats(weights="fp8", activations="fp8", kv="fp8")
    got = float(cost_context(chip, fmt, Calibration()).peak_gemm_flop_per_s.ravel()[0])
    peak = float(peak_flop_per_s(chip, "fp8"))
    assert got == pytest.approx(peak * share, rel=1e-12)
    assert got <= peak * (1 + 1e-12)
