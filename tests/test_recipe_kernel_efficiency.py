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
    for w in ("fp8", "mxfp4"):  # the MI300X build's factor whatever the weights (the FP8 entry adds a plateau)
        k = e.kernel_efficiency_on(MI300X, w)
        assert k is not None and k.gemm < 1 and k.memory < 1 and k.attention < 1
    # MI355X: the aiter block-FP8 GEMM plateau alone, no multiplier (tests/test_dense_gemm_plateau.py)
    k355 = e.kernel_efficiency_on(MI355X, "fp8")
    assert k355 is not None and (k355.gemm, k355.attention, k355.memory) == (1.0, 1.0, 1.0)
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
