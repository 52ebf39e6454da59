"""A launch recipe's routed-expert plateau (RecipeKernelEfficiency.expert_gemm_flop_per_s): SGLang's ROCm build
runs DeepSeek's block-FP8 experts through aiter's fused MoE, whose own tuned table (ROCm/aiter
a8w8_blockscale_tuned_fmoe_ds_v3.csv, gfx950 rows) reaches at most ~720 TFLOP/s of useful FLOP on MI355X. A
routed-expert GEMM takes at least its useful FLOP at that rate; the dense GEMMs do not; a decode step's weight reads
keep binding (the step-level checks, for both plateaus: tests/test_gemm_plateau_steps.py)."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from inferchip.catalog.engines import engine_calibration, get_engine
from inferchip.cost.rules import cost_context, cost_operator
from inferchip.cost.step import step_points
from inferchip.mapping.operators import Gemm, GroupedGemm
from inferchip.performance.setting import resolve_setting
from inferchip.spec.engine import RecipeKernelEfficiency

PLATEAU = 7.2e14  # useful FLOP/s per GPU, engines.yaml sglang recipe_kernel_efficiency (mi355x, fp8)


def _mapped():
    s = resolve_setting("amd-mi355x", "deepseek-ai/DeepSeek-V2-Lite", count=8, tp=8, weights="fp8",
                        activations="fp8")
    return s.mapped(s.layout)


def _pts(rows: float):
    return step_points(1, np.array(rows), np.array(0.0), np.array(0.0), np.array(0.0), np.array(rows))


def test_catalogue_places_the_plateau_on_the_mi355x_fp8_sglang_recipe_only():
    e = get_engine("sglang")
    assert e.kernel_efficiency_on("amd-mi355x", "fp8").expert_gemm_flop_per_s == PLATEAU
    assert e.kernel_efficiency_on("amd-mi355x", "fp4") is None  # MXFP4: aiter's a4w4 MoE, not this table
    assert e.kernel_efficiency_on("nvidia-b200-180gb", "fp8").expert_gemm_flop_per_s is None
    assert e.kernel_efficiency_on("amd-mi300x", "fp8").expert_gemm_flop_per_s is None  # no gfx942 rows in the table
    # ATOM MI355X FP8: the aiter block-FP8 GEMM plateau (atom40); its fused MoE is not priced from this table
    assert get_engine("atom").kernel_efficiency_on("amd-mi355x", "fp8").expert_gemm_flop_per_s is None


def test_engine_calibration_carries_the_recipe_plateau():
    mm = _mapped()
    e = get_engine("sglang")
    cal = engine_calibration(mm.cal, e, e.kernel_efficiency_on("amd-mi355x", "fp8"))
    # both aiter plateaus on the one MI355X FP8 entry: the fused MoE's and the block-FP8 GEMM's (1,034 TFLOP/s)
    assert cal.expert_gemm_cap_flop_per_s == PLATEAU and cal.dense_gemm_cap_flop_per_s == 1.034e15
    assert engine_calibration(mm.cal, e).expert_gemm_cap_flop_per_s is None


def test_a_large_expert_gemm_takes_its_useful_flop_at_the_plateau():
    mm = _mapped()
    capped = mm.cal.model_copy(update={"expert_gemm_cap_flop_per_s": PLATEAU})
    ctx0, ctx1 = cost_context(mm.chip, mm.formats, mm.cal), cost_context(mm.chip, mm.formats, capped)
    # DeepSeek's up projection at TP8: 256 experts of 7,168 x 512 (gate and up, 2 x 256), top-8 of 256, no EP.
    # 8,192 tokens give each expert 8192 x 8 / 256 = 256 rows: 2 x 256 x 7168 x 512 x 256 = 4.8104e11 useful FLOP,
    # 668.1 us at 7.2e14 FLOP/s (aiter's table: 1,270.8 us for both stages of the top-9 layer at 8,192 tokens)
    up = GroupedGemm("experts_up", 7168, 512, 256, 8 / 256, 256, 1)
    useful = 2 * 256 * 7168 * 512 * 256
    big1, big0 = cost_operator(up, ctx1, _pts(8192.0)), cost_operator(up, ctx0, _pts(8192.0))
    assert float(np.squeeze(big1.compute_s)) == pytest.approx(useful / PLATEAU, rel=1e-12)
    assert float(np.squeeze(big1.compute_s)) == pytest.approx(668.1e-6, rel=1e-3)
    assert float(np.squeeze(big0.compute_s)) < 0.5 * useful / PLATEAU  # 0.645 of the peak x imbalance: 296.5 us
    assert float(np.squeeze(big1.flop)) == float(np.squeeze(big0.flop)) == pytest.approx(useful, rel=1e-12)
    # 4 decode tokens: 32 routed rows, at most 32 experts read (7,168 x 512 B each, 117 MB): the read binds
    small0, small1 = cost_operator(up, ctx0, _pts(4.0)), cost_operator(up, ctx1, _pts(4.0))
    assert float(np.squeeze(small1.memory_s)) > float(np.squeeze(small1.compute_s))
    assert max(float(np.squeeze(small1.compute_s)), float(np.squeeze(small1.memory_s))) == float(
        np.squeeze(small0.memory_s))
    # a dense GEMM is not the fused MoE: no plateau
    dense = Gemm("q_b", 1536, 24576, "attention_proj")
    assert float(np.squeeze(cost_operator(dense, ctx1, _pts(8192.0)).compute_s)) == float(
        np.squeeze(cost_operator(dense, ctx0, _pts(8192.0)).compute_s))


def test_a_bad_plateau_is_refused_naming_the_field():
    for bad in (-1.0, 1e20):
        with pytest.raises(ValidationError, match="expert_gemm_flop_per_s"):
            RecipeKernelEfficiency(accelerator="mi355x", weights="fp8", expert_gemm_flop_per_s=bad)
