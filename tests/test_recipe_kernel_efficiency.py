"""An engine build's kernel efficiency on one chip (EngineSpec.recipe_kernel_efficiency): the lookup, and the
calibration it gives (the engine's and the recipe's multipliers on the attainable fractions, each product at
most 1)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from inferchip.catalog.engines import engine_calibration, get_engine, load_engines
from inferchip.spec.calibration import Calibration
from inferchip.spec.engine import RecipeKernelEfficiency

MI300X, MI355X = "amd-mi300x", "amd-mi355x"


def test_sglang_multipliers_on_mi300x_only() -> None:
    e = get_engine("sglang")
    k = e.kernel_efficiency_on(MI300X, "mxfp4")  # the MI300X build's factor on every kernel class (no such rows)
    assert k is not None and k.gemm < 1 and k.memory < 1 and k.attention < 1 and k.kernel_overhead == 1.0
    # FP8 (the rows): the compute-bound kernels' factor, the bytes at the calibration's rate, a longer fixed time per
    # kernel (branch mi300x41) and the aiter block-FP8 plateau
    k = e.kernel_efficiency_on(MI300X, "fp8")
    assert k is not None and k.gemm == k.attention == 0.68 and k.memory == 1.0 and k.kernel_overhead == 2.42
    # MI355X FP8: the aiter block-FP8 GEMM and fused-MoE plateaus, no multiplier (tests/test_dense_gemm_plateau.py,
    # tests/test_expert_gemm_plateau.py)
    k355 = e.kernel_efficiency_on(MI355X, "fp8")
    assert k355 is not None and (k355.gemm, k355.attention, k355.memory) == (1.0, 1.0, 1.0)
    assert k355.dense_gemm_flop_per_s and k355.expert_gemm_flop_per_s
    assert e.kernel_efficiency_on(MI355X, "mxfp4") is None
    assert e.kernel_efficiency_on("nvidia-h200-sxm-141gb", "fp8") is None
    for other in (x for x in load_engines().engines if x.id != "sglang"):  # vLLM (the MLPerf rows) and the rest
        assert other.kernel_efficiency_on(MI300X, "fp8") is None
        k = other.kernel_efficiency_on(MI355X, "fp8")  # ATOM: a plateau, no multiplier
        assert k is None or (k.gemm, k.attention, k.memory) == (1.0, 1.0, 1.0)


def test_calibration_by_hand() -> None:
    cal = Calibration()
    eng = get_engine("sglang")
    rec = RecipeKernelEfficiency(accelerator="mi300x", gemm=0.5, attention=0.8, memory=0.6)
    out = engine_calibration(cal, eng, rec)
    assert out.gemm_compute_fraction == pytest.approx(cal.gemm_compute_fraction * eng.kernel_efficiency.gemm * 0.5)
    assert out.attention_compute_fraction == pytest.approx(cal.attention_compute_fraction * 0.8)
    assert out.prefill_attention_compute_fraction == pytest.approx(cal.prefill_attention_compute_fraction * 0.8)
    assert out.memory_bandwidth_fraction == pytest.approx(cal.memory_bandwidth_fraction * 0.6)
    assert out.link_bandwidth_fraction == engine_calibration(cal, eng).link_bandwidth_fraction  # links untouched
    assert engine_calibration(cal, eng, None) == engine_calibration(cal, eng)
    assert out.kernel_overhead_scale == cal.kernel_overhead_scale  # no kernel_overhead: the calibration's


def test_kernel_overhead_by_hand() -> None:
    # 0.992 x 2.42 = 2.40064: the fixed time per kernel the row's cost context takes (chip's 5 us x that)
    cal = Calibration(kernel_overhead_scale=0.992)
    rec = RecipeKernelEfficiency(accelerator="mi300x", kernel_overhead=2.42)
    out = engine_calibration(cal, get_engine("sglang"), rec)
    assert out.kernel_overhead_scale == pytest.approx(2.40064)
    assert out.memory_bandwidth_fraction == engine_calibration(cal, get_engine("sglang")).memory_bandwidth_fraction
    with pytest.raises(ValidationError):
        RecipeKernelEfficiency(accelerator="mi300x", kernel_overhead=0.5)  # a build is never faster per kernel


def test_efficiency_above_one_is_refused() -> None:
    with pytest.raises(ValidationError):
        RecipeKernelEfficiency(accelerator="mi300x", gemm=1.2)


@settings(max_examples=40, deadline=None)
@given(st.floats(0.21, 1.0), st.floats(0.21, 1.0), st.floats(0.21, 1.0))
def test_recipe_never_raises_a_fraction(g: float, a: float, m: float) -> None:
    cal, eng = Calibration(), get_engine("sglang")
    base = engine_calibration(cal, eng)
    out = engine_calibration(cal, eng, RecipeKernelEfficiency(accelerator="x", gemm=g, attention=a, memory=m))
    for f in ("gemm_compute_fraction", "attention_compute_fraction", "memory_bandwidth_fraction"):
        assert getattr(out, f) <= getattr(base, f) + 1e-12
