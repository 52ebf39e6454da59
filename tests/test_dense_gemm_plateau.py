"""A launch recipe's dense-GEMM plateau (RecipeKernelEfficiency.dense_gemm_flop_per_s): SGLang's B200 FP8 scripts run
the block-FP8 linears on FlashInfer's TensorRT-LLM groupwise GEMM, which sgl-project/sglang PR #13528 measures at a
~442 TFLOP/s plateau. The dense weight GEMMs take at least their useful FLOP at that rate; the LM head and the
experts do not; small GEMMs keep the roofline (the step-level checks, for both plateaus:
tests/test_gemm_plateau_steps.py)."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from inferchip.catalog.engines import engine_calibration, get_engine
from inferchip.cost.rules import cost_context, cost_operator
from inferchip.cost.step import step_points
from inferchip.mapping.operators import Gemm, LmHead
from inferchip.performance.setting import resolve_setting
from inferchip.spec.engine import RecipeKernelEfficiency

PLATEAU = 4.42e14  # FLOP/s per GPU, engines.yaml sglang recipe_kernel_efficiency (b200, fp8)


def _mapped():
    s = resolve_setting("nvidia-b200-180gb", "deepseek-ai/DeepSeek-V2-Lite", count=8, tp=8, weights="fp8",
                        activations="fp8")
    return s.mapped(s.layout)


def _pts(rows: float):
    return step_points(1, np.array(rows), np.array(0.0), np.array(0.0), np.array(0.0), np.array(rows))


def test_catalogue_places_the_plateau_on_the_block_fp8_recipes_only():
    e = get_engine("sglang")
    assert e.kernel_efficiency_on("nvidia-b200-180gb", "fp8").dense_gemm_flop_per_s == PLATEAU
    assert e.kernel_efficiency_on("nvidia-b200-180gb", "fp4") is None  # experts-only FP4 checkpoint
    assert e.kernel_efficiency_on("nvidia-h200-sxm-141gb", "fp8") is None  # DeepGEMM on Hopper
    assert e.kernel_efficiency_on("nvidia-gb200-186gb", "fp8") is None  # "b200" is not a part of gb200's id
    # the AMD FP8 recipes' aiter block-scale GEMM (engines.yaml sources): SGLang MI355X / MI300X, ATOM MI355X
    assert e.kernel_efficiency_on("amd-mi355x", "fp8").dense_gemm_flop_per_s == 1.034e15
    assert e.kernel_efficiency_on("amd-mi300x", "fp8").dense_gemm_flop_per_s == 7.76e14
    assert e.kernel_efficiency_on("amd-mi300x", "fp8").gemm == 0.68  # the engine build's factor kept beside it
    assert e.kernel_efficiency_on("amd-mi355x", "mxfp4") is None  # other kernels for the MXFP4 linears
    assert get_engine("atom").kernel_efficiency_on("amd-mi355x", "fp8").dense_gemm_flop_per_s == 1.26e15
    assert get_engine("atom").kernel_efficiency_on("amd-mi355x", "mxfp4") is None


def test_engine_calibration_carries_the_recipe_plateau():
    mm = _mapped()
    e = get_engine("sglang")
    cal = engine_calibration(mm.cal, e, e.kernel_efficiency_on("nvidia-b200-180gb", "fp8"))
    assert cal.dense_gemm_cap_flop_per_s == PLATEAU
    assert engine_calibration(mm.cal, e).dense_gemm_cap_flop_per_s is None


def test_a_large_dense_gemm_takes_its_useful_flop_at_the_plateau():
    mm = _mapped()
    capped = mm.cal.model_copy(update={"dense_gemm_cap_flop_per_s": PLATEAU})
    op = Gemm("q_b", 7168, 24576, "attention_proj")  # PR #13528's N 24,576 x K 7,168
    ctx0, ctx1 = cost_context(mm.chip, mm.formats, mm.cal), cost_context(mm.chip, mm.formats, capped)
    # M 2,048: 2 x 2048 x 7168 x 24576 = 7.2159e11 FLOP at 4.42e14 FLOP/s = 1.6326 ms (the PR measures 1.6325 ms)
    big = cost_operator(op, ctx1, _pts(2048.0))
    assert float(np.squeeze(big.compute_s)) == pytest.approx(2 * 2048 * 7168 * 24576 / PLATEAU, rel=1e-12)
    assert float(np.squeeze(big.compute_s)) == pytest.approx(1.6325e-3, rel=1e-3)
    assert float(np.squeeze(cost_operator(op, ctx0, _pts(2048.0)).compute_s)) < 0.5e-3  # the calibrated peak share
    # M 8: 2 x 8 x 7168 x 24576 / 4.42e14 = 6.38 us of compute, below the 30 us read of the 176 MB of weights,
    # which still binds (the PR: 47 us at M 8-32, DeepGEMM 70 us): the kernel's time does not move
    small0, small1 = cost_operator(op, ctx0, _pts(8.0)), cost_operator(op, ctx1, _pts(8.0))
    assert float(np.squeeze(small1.compute_s)) == pytest.approx(2 * 8 * 7168 * 24576 / PLATEAU, rel=1e-12)
    assert float(np.squeeze(small1.memory_s)) > float(np.squeeze(small1.compute_s))
    assert max(float(np.squeeze(small1.compute_s)), float(np.squeeze(small1.memory_s))) == float(
        np.squeeze(small0.memory_s))
    # the LM head (16-bit, its own kernel; 2,048 logit rows here) is not a block-FP8 linear: no plateau
    head = LmHead(7168, 129280)
    assert float(np.squeeze(cost_operator(head, ctx1, _pts(2048.0)).compute_s)) == float(
        np.squeeze(cost_operator(head, ctx0, _pts(2048.0)).compute_s))


def test_a_bad_plateau_is_refused_naming_the_field():
    with pytest.raises(ValidationError, match="dense_gemm_flop_per_s"):
        RecipeKernelEfficiency(accelerator="b200", weights="fp8", dense_gemm_flop_per_s=-1.0)
    with pytest.raises(ValidationError, match="dense_gemm_flop_per_s"):
        RecipeKernelEfficiency(accelerator="b200", weights="fp8", dense_gemm_flop_per_s=1e20)


def test_the_plateau_bounds_the_weight_format_linears_only():
    """SGLang's Fp8LinearMethod sends only the block-FP8 linears to FlashInfer's groupwise GEMM; a 16-bit linear runs
    F.linear. With the attention projections kept in bf16 (Formats.attention_weights) an FP8 checkpoint's q_b takes
    no plateau, its MLP still does: at M 2,048 the MLP's 2 x 2048 x 7168 x 24576 FLOP at 4.42e14 FLOP/s = 1.6326 ms."""
    s = resolve_setting("nvidia-b200-180gb", "deepseek-ai/DeepSeek-V2-Lite", count=8, tp=8, weights="fp8",
                        activations="fp8", attention_weights="bf16")
    mm = s.mapped(s.layout)
    capped = mm.cal.model_copy(update={"dense_gemm_cap_flop_per_s": PLATEAU})
    ctx0, ctx1 = cost_context(mm.chip, mm.formats, mm.cal), cost_context(mm.chip, mm.formats, capped)
    assert ctx1.attention_weights_own_format and not cost_context(*_same_format(), capped).attention_weights_own_format
    proj, mlp = Gemm("q_b", 7168, 24576, "attention_proj"), Gemm("mlp_up", 7168, 24576, "mlp")
    pts = _pts(2048.0)
    assert float(np.squeeze(cost_operator(proj, ctx1, pts).compute_s)) == float(
        np.squeeze(cost_operator(proj, ctx0, pts).compute_s)) < 1.0e-3  # bf16 at the calibrated peak share
    assert float(np.squeeze(cost_operator(mlp, ctx1, pts).compute_s)) == pytest.approx(
        2 * 2048 * 7168 * 24576 / PLATEAU, rel=1e-12)


def _same_format():
    mm = _mapped()
    return mm.chip, mm.formats
