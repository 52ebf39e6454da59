"""A launch recipe's GEMM plateau through the whole step, for both kinds the catalogue ships
(RecipeKernelEfficiency.dense_gemm_flop_per_s on the block-FP8 linears, tests/test_dense_gemm_plateau.py;
expert_gemm_flop_per_s on the routed experts, tests/test_expert_gemm_plateau.py): a prefill step gets longer and a
small decode step does not; the array rule, the scalar twin and the compiled scalar step agree."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import loop_step
from inferchip.cost.step import compile_step, step_points
from inferchip.performance.setting import resolve_setting

# (Calibration field, chip, plateau FLOP/s per GPU): engines.yaml sglang recipe_kernel_efficiency (b200, fp8) and
# (mi355x, fp8)
PLATEAUS = [("dense_gemm_cap_flop_per_s", "nvidia-b200-180gb", 4.42e14),
            ("expert_gemm_cap_flop_per_s", "amd-mi355x", 7.2e14)]
IDS = ["dense", "expert"]


def _plans(field: str, chip: str, plateau: float):
    s = resolve_setting(chip, "deepseek-ai/DeepSeek-V2-Lite", count=8, tp=8, weights="fp8", activations="fp8")
    mm = s.mapped(s.layout)
    return (compile_step(mm.sm, mm.chip, mm.formats, mm.cal),
            compile_step(mm.sm, mm.chip, mm.formats, mm.cal.model_copy(update={field: plateau})))


@pytest.mark.parametrize(("field", "chip", "plateau"), PLATEAUS, ids=IDS)
def test_the_plateau_lengthens_a_prefill_step_and_not_a_small_decode_step(field, chip, plateau):
    p0, p1 = _plans(field, chip, plateau)
    pre = (8192.0, 0.0, 0.0, 8192.0 * 4096.0)
    assert float(p1.cost(*pre).time_s) > float(p0.cost(*pre).time_s)
    dec = (4.0, 4.0, 4.0 * 2000.0, 0.0)
    assert float(p1.cost(*dec).time_s) == float(p0.cost(*dec).time_s)


@pytest.mark.parametrize(("field", "chip", "plateau"), PLATEAUS, ids=IDS)
@settings(max_examples=150, deadline=None)
@given(decode=st.floats(0.0, 512.0), prefill=st.floats(0.0, 1e5), ctx=st.floats(0.0, 1e5),
       pairs=st.floats(0.0, 1e4))
def test_scalar_step_equals_array_step_with_the_plateau(field, chip, plateau, decode, prefill, ctx, pairs):
    plan = _plans(field, chip, plateau)[1]
    assert plan.scalar is not None
    args = [np.full((), v) for v in (decode + prefill, decode, decode * ctx, prefill * pairs)]
    a, b = plan.cost(*args, None), plan.evaluate(step_points(plan.dp, *args, None))
    np.testing.assert_allclose(a.time_s, b.time_s, rtol=1e-12, atol=0.0)
    for name in a.classes:
        np.testing.assert_allclose(a.classes[name].compute_bound_s, b.classes[name].compute_bound_s, rtol=1e-12,
                                   atol=0.0, err_msg=name)


@pytest.mark.parametrize(("field", "chip", "plateau"), PLATEAUS, ids=IDS)
@pytest.mark.parametrize("t", [1.0, 64.0, 600.0, 4097.0, 16384.0])
def test_compiled_scalar_step_keeps_the_plateau(field, chip, plateau, t):
    """A plan's scalar step is compiled after its 16th call (scalar_step.COMPILE_AFTER): the compiled step must price
    the plateau as the loop does (before: it dropped the dense one, so a simulation's later steps ran at the
    roofline). At 16,384 prefill rows the plateau is what the GEMMs cost, so a compiled step without it is visibly
    shorter."""
    from inferchip.cost.scalar_step import _compile

    scalar = _plans(field, chip, plateau)[1].scalar
    assert scalar is not None
    s = min(t, 64.0)
    p = (t, t, s, t - s, s * 700.0, (t - s) * (t - s + 1) / 2, s)
    assert _compile(scalar)(*p) == loop_step(scalar, p)
