"""Number formats: storage bytes per element and which compute format a GEMM uses."""

from __future__ import annotations

from typing import Literal, get_args

NumberFormat = Literal["fp32", "tf32", "bf16", "fp16", "fp8", "int8", "fp4", "mxfp4", "int4"]
"""Formats a spec may name. ``fp4`` is NVFP4-style (e2m1 + fp8 scale per 16 values),
``mxfp4`` the OCP MX format (e2m1 + e8m0 scale per 32 values); ``int4`` is weight-only
(activations stay in a wider format and weights are dequantised in the kernel)."""

ALL_FORMATS: tuple[str, ...] = get_args(NumberFormat)

BYTES_PER_ELEMENT: dict[str, float] = {
    "fp32": 4.0,
    "tf32": 4.0,  # stored as fp32, computed on tensor cores with a 10-bit mantissa
    "bf16": 2.0,
    "fp16": 2.0,
    "fp8": 1.0,
    "int8": 1.0,
    # 4-bit values plus block scales: NVFP4 one fp8 scale per 16 values (NVIDIA Blackwell
    # docs), MXFP4 one e8m0 scale per 32 values (OCP Microscaling spec v1.0), int4 (AWQ/GPTQ)
    # one fp16 scale per group of 128.
    "fp4": 0.5 + 1.0 / 16,
    "mxfp4": 0.5 + 1.0 / 32,
    "int4": 0.5 + 2.0 / 128,
}

# Order of widening: a format the chip cannot compute runs at the next wider one it has.
WIDER: dict[str, tuple[str, ...]] = {
    "fp4": ("fp4", "mxfp4", "fp8", "bf16", "fp16", "fp32"),
    "mxfp4": ("mxfp4", "fp4", "fp8", "bf16", "fp16", "fp32"),
    "int4": ("int4", "int8", "fp8", "bf16", "fp16", "fp32"),
    "fp8": ("fp8", "int8", "bf16", "fp16", "fp32"),
    "int8": ("int8", "fp8", "bf16", "fp16", "fp32"),
    "fp16": ("fp16", "bf16", "tf32", "fp32"),
    "bf16": ("bf16", "fp16", "tf32", "fp32"),
    "tf32": ("tf32", "fp32"),
    "fp32": ("fp32",),
}

_WIDTH_RANK = {"fp4": 0, "mxfp4": 0, "int4": 0, "fp8": 1, "int8": 1, "fp16": 2, "bf16": 2, "tf32": 3, "fp32": 3}


def compute_format(weights: str, activations: str) -> str:
    """Format in which a GEMM with these operand formats is computed.

    Weight-only int4 (W4A16, Marlin-style) computes at the activation format after
    dequantisation; otherwise the wider of the two operands sets the math, as with
    FP8 activations on FP4 weights (Blackwell "NVFP4 on selected layers").
    """
    if weights == "int4":
        return activations
    return weights if _WIDTH_RANK[weights] >= _WIDTH_RANK[activations] else activations


def check_format(name: str, field: str) -> str:
    if name not in BYTES_PER_ELEMENT:
        from inferchip.errors import InvalidSettingError

        raise InvalidSettingError(f"{field}: unknown number format '{name}'; allowed: {', '.join(ALL_FORMATS)}")
    return name
