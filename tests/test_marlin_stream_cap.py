"""The Marlin MoE read cap (issue 12, H100 / H200 pairs): vLLM's Marlin expert kernels read at most a per-SM rate
times the chip's SM count, whatever the HBM (cost.gemm.expert_stream_cap_bytes_per_s; catalog/engines.yaml, the
vLLM ``recipe_moe_kernel`` entries). Hand calculations of the cap and of its source's arithmetic, a bad YAML value
refused, and Hypothesis invariants of the capped grouped GEMM: the cap never makes a step faster, and with the
cap more HBM bandwidth never makes it slower."""

from __future__ import annotations

import math

import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from inferchip.catalog.calibration_file import load_calibration
from inferchip.catalog.chips import get_chip_params
from inferchip.catalog.engines import get_engine
from inferchip.cost.gemm import expert_stream_cap_bytes_per_s
from inferchip.cost.step import compile_step
from inferchip.errors import SpecError
from inferchip.performance.setting import resolve_setting
from inferchip.spec.engine import RecipeMoeKernel
from inferchip.validation.closed_loop_rows import _moe_stream_cap_bytes_per_s

H100, H200, B200 = "nvidia-h100-sxm-80gb", "nvidia-h200-sxm-141gb", "nvidia-b200-180gb"


def test_cap_by_hand() -> None:
    assert expert_stream_cap_bytes_per_s(132, 19.3) == pytest.approx(132 * 19.3e9, rel=1e-12)  # 2.5476 TB/s
    assert expert_stream_cap_bytes_per_s(78, 20.0) == pytest.approx(1.56e12, rel=1e-12)
    for sms, rate in ((0, 19.3), (132, 0.0), (-1, 19.3), (132, float("nan"))):
        with pytest.raises(ValueError, match="positive SM count"):
            expert_stream_cap_bytes_per_s(sms, rate)


def test_source_arithmetic_by_hand() -> None:
    """The docstring's derivation: Mixtral experts (H4096, I14336) in 4-bit with bf16 scales per 128 weights,
    7.92 of 8 read by 16 top-2 tokens, in FlagGems PR #4350's 0.282324 ms: 19.3 GB/s per SM on 132 SMs."""
    h, i = 4096, 14336
    w13 = 2 * i * h / 2 + h / 128 * 2 * i * 2
    w2 = i * h / 2 + i / 128 * h * 2
    assert w13 + w2 == pytest.approx(90.83e6, rel=1e-4)
    experts = 8 * (1 - (6 / 8) ** 16)
    assert experts == pytest.approx(7.92, abs=0.005)
    per_sm_gb_per_s = experts * (w13 + w2) / 0.282324e-3 / 132 / 1e9
    assert per_sm_gb_per_s == pytest.approx(get_engine("vllm").moe_kernel_on(H100, "mxfp4").read_gb_per_s_per_sm,
                                            abs=0.05)


def test_engine_entries_resolve_the_same_cap_on_h100_and_h200() -> None:
    e = get_engine("vllm")
    caps = [_moe_stream_cap_bytes_per_s(e.moe_kernel_on(c, "mxfp4"), get_chip_params(c, "central"))
            for c in (H100, H200)]
    assert get_chip_params(H100, "central").sm_count == get_chip_params(H200, "central").sm_count == 132
    assert caps[0] == caps[1] == pytest.approx(132 * 19.3e9, rel=1e-12)
    assert math.isinf(_moe_stream_cap_bytes_per_s(e.moe_kernel_on(B200, "mxfp4"), get_chip_params(B200, "central")))
    no_rate = RecipeMoeKernel(accelerator="h100", kernel="marlin", mma_peak_fraction=0.667)
    assert math.isinf(_moe_stream_cap_bytes_per_s(no_rate, get_chip_params(H100, "central")))
    rated = RecipeMoeKernel(accelerator="b200", kernel="marlin", mma_peak_fraction=0.667, read_gb_per_s_per_sm=20)
    with pytest.raises(SpecError, match="compute.sm_count"):  # B200's file states no SM count
        _moe_stream_cap_bytes_per_s(rated, get_chip_params(B200, "central"))


@pytest.mark.parametrize("bad", ["-19.3", "0", "1000", "fast"])
def test_bad_yaml_rate_refused(bad: str) -> None:
    entry = yaml.safe_load(f"{{accelerator: h200, weights: mxfp4, kernel: marlin, mma_peak_fraction: 0.667, "
                           f"read_gb_per_s_per_sm: {bad}}}")
    with pytest.raises(ValidationError, match="read_gb_per_s_per_sm"):
        RecipeMoeKernel.model_validate(entry)


def _plan(chip: str, cap_bytes_per_s: float):
    cal = load_calibration(None).model_copy(update={"moe_mma_peak_fraction": 0.667,
                                                    "moe_stream_cap_bytes_per_s": cap_bytes_per_s})
    s = resolve_setting(chip, "openai/gpt-oss-120b", count=2, tp=2, weights="mxfp4", activations="bf16",
                        calibration=cal)
    mm = s.mapped(s.layout)
    return compile_step(mm.sm, mm.chip, mm.formats, mm.cal)


_PLANS: dict[tuple[str, float], object] = {}


def _decode_s(chip: str, cap: float, batch: float, context: float, scalar: bool) -> tuple[float, float]:
    plan = _PLANS.setdefault((chip, cap), _plan(chip, cap))
    if scalar:
        c = plan.cost(batch, batch, batch * context, 0.0, None)  # type: ignore[attr-defined]
    else:
        c = plan.cost(np.array([batch]), np.array([batch]), np.array([batch * context]),  # type: ignore[attr-defined]
                      np.array([0.0]), None)
    return float(np.sum(c.time_s)), float(np.sum(c.classes["experts"].time_s))


@settings(max_examples=25, deadline=None)
@given(batch=st.integers(1, 256), context=st.integers(128, 9000),
       cap_tb_per_s=st.sampled_from([0.5, 1.5, 2.5476, 3.0, 4.0]))
def test_cap_never_faster_and_more_hbm_never_slower(batch: int, context: int, cap_tb_per_s: float) -> None:
    cap = cap_tb_per_s * 1e12
    for chip in (H100, H200):
        free_step, free_experts = _decode_s(chip, float("inf"), batch, context, scalar=False)
        capped_step, capped_experts = _decode_s(chip, cap, batch, context, scalar=False)
        assert capped_step >= free_step * (1 - 1e-12) and capped_experts >= free_experts * (1 - 1e-12)
        one_step, _ = _decode_s(chip, cap, batch, context, scalar=True)  # the scalar path prices it the same
        assert one_step == pytest.approx(capped_step, rel=1e-9)
    # H200 = H100's compute with more HBM: under the same cap it is never slower, step or experts
    h100 = _decode_s(H100, cap, batch, context, scalar=False)
    h200 = _decode_s(H200, cap, batch, context, scalar=False)
    assert h200[0] <= h100[0] * (1 + 1e-12) and h200[1] <= h100[1] * (1 + 1e-12)


def test_binding_cap_prices_h200_experts_like_h100() -> None:
    """A cap below both chips' attainable streams makes the memory-bound expert kernels take the same time on
    H100 and H200 (same compute, same bytes), while a cap above both leaves H200's experts faster."""
    low, high = 1.0e12, 10e12
    b, ctx_len = 64.0, 1024.0
    assert _decode_s(H100, low, b, ctx_len, False)[1] == pytest.approx(_decode_s(H200, low, b, ctx_len, False)[1],
                                                                    rel=1e-9)
    assert _decode_s(H200, high, b, ctx_len, False)[1] < _decode_s(H100, high, b, ctx_len, False)[1]

