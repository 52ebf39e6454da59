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

# Order of widening: a format the chip cannot compute runs at the next wider one it has; a chip with none of them
# emulates it on its narrower units (:func:`emulation_passes`, cost.peaks).
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

# Significand bits a multiplier input of each format holds (the implicit bit counted; int: magnitude bits): IEEE 754
# binary32 24, binary16 11; bfloat16 8 (Google Cloud TPU docs, "The bfloat16 numerical format"); TF32 11 (NVIDIA A100
# whitepaper: TF32 keeps fp16's 10-bit mantissa); FP8 E4M3 4 and FP4 E2M1 2 (OCP 8-bit Floating Point Specification
# v1.0; OCP Microscaling Formats v1.0); int8 7, int4 3 (two's complement).
SIGNIFICAND_BITS: dict[str, int] = {"fp32": 24, "tf32": 11, "bf16": 8, "fp16": 11, "fp8": 4, "int8": 7, "fp4": 2,
                                    "mxfp4": 2, "int4": 3}


def emulation_passes(want: str, units: str) -> int:
    """Matrix products a GEMM in format ``want`` takes on units of a narrower format ``units`` that has no units as
    wide: each operand split into ceil(bits_want / bits_units) slices of the narrower significand (with a block scale
    for the exponent), every slice pair multiplied: ceil(.)**2 passes at ``units``' peak. The rule reproduces cuBLAS's
    FP32 emulation on BF16 tensor cores, 3 slices x 3 = 9 products (cuBLAS ``cublasComputeType_t``
    ``CUBLAS_COMPUTE_32F_EMULATED_16BFX9``, CUDA 12.9; nvmath-python ``cublas.ComputeType`` docs); bf16 on fp8 units
    takes 2 x 2 = 4, fp16 9, bf16 on fp4 16. An upper bound on the passes (JAX's
    ``DotAlgorithmPreset.BF16_BF16_F32_X6`` drops the three smallest cross terms of fp32 on bf16: 6), an estimate
    (inferchip) for any pair but fp32 on bf16. 1 where ``units`` is as wide as ``want``."""
    return max(1, -(-SIGNIFICAND_BITS[want] // SIGNIFICAND_BITS[units])) ** 2


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


def canonical_format(name: str) -> str:
    """A format name in any case as the catalogue spells it ("FP8" -> "fp8", "MXFP4" -> "mxfp4"); a name that is no
    format is returned as it is, for its reader's check to refuse."""
    low = name.strip().lower()
    return low if low in BYTES_PER_ELEMENT else name


def check_format(name: str, field: str) -> str:
    """``name`` in the catalogue's spelling (:func:`canonical_format`); an unknown format raises, naming ``field``."""
    fmt = canonical_format(name)
    if fmt not in BYTES_PER_ELEMENT:
        from inferchip.errors import InvalidSettingError

        raise InvalidSettingError(f"{field}: unknown number format '{name}'; allowed: {', '.join(ALL_FORMATS)}")
    return fmt
