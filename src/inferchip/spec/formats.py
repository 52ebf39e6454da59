"""Number formats: storage bytes per element and which compute format a GEMM uses."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

NumberFormat = Literal["fp32", "tf32", "bf16", "fp16", "fp8", "int8", "fp4", "mxfp4", "int4"]
"""Formats a spec may name. ``fp4`` is NVFP4 (e2m1 + fp8 scale per 16 values; ``nvfp4`` is its other name),
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


# Other names users type for the catalogue's formats, each the same element, the same block scale and so the same
# bytes per element and the same peak (keys without case, '-', '_' or spaces; :func:`canonical_format`):
# * nvfp4: NVIDIA's NVFP4, E2M1 values with one FP8 E4M3 scale per 16 (and one FP32 scale per tensor), 4.5 bits an
#   element (NVIDIA Technical Blog, "Introducing NVFP4 for Efficient and Accurate Low-Precision Inference", 2025-06;
#   NVIDIA/cutlass include/cutlass/float_subbyte.h: nv_float4_t is float_e2m1_t with float_ue4m3_t scale factors,
#   "scale factors for NVFP4"): the catalogue's fp4. MXFP4 (E2M1 with one E8M0 scale per 32, OCP Microscaling
#   Formats v1.0: 4.25 bits; cutlass mx_float4_t, float_ue8m0_t scales) stays a format of its own, with its own bytes;
#   the same block-scaled SM100 tensor-core MMA takes both, so a chip that lists only fp4 runs mxfp4 at that peak
#   (WIDER).
# * e4m3 / e5m2 (fp8_e4m3, float8_e4m3fn, ...): the two OCP FP8 encodings (OCP 8-bit Floating Point Specification
#   rev 1.0), one byte, one tensor-core rate on Hopper and Blackwell (NVIDIA H100 whitepaper): the catalogue's fp8.
# * the PyTorch / Hugging Face dtype names (torch_dtype bfloat16, float16, half, float32, float) and tfloat32.
FORMAT_ALIASES: dict[str, str] = {
    "nvfp4": "fp4",
    "e4m3": "fp8", "e5m2": "fp8", "fp8e4m3": "fp8", "fp8e5m2": "fp8", "float8e4m3fn": "fp8", "float8e4m3": "fp8",
    "float8e5m2": "fp8", "bfloat16": "bf16", "float16": "fp16", "half": "fp16", "float32": "fp32", "float": "fp32",
    "tfloat32": "tf32",
}
# Block-scaled formats whose bytes per element differ from every catalogue format's, refused with the reason and
# the nearest (the error of check_format and the CLI): OCP MXFP8 (E4M3/E5M2 with one E8M0 scale per 32: 8.25 bits),
# MXFP6 / FP6 (6.25 bits) and MXINT8 (OCP Microscaling Formats v1.0) are not modelled.
NOT_MODELLED: dict[str, str] = {
    "mxfp8": "OCP MXFP8 (8-bit values + one E8M0 scale per 32, 8.25 bits an element) is not modelled; fp8 has "
             "its peak with 1 byte an element (3 % fewer weight bytes)",
    "mxfp6": "OCP MXFP6 (6.25 bits an element) is not modelled; the nearest are fp8 (its peak on Blackwell) and fp4",
    "fp6": "FP6 (E2M3/E3M2, 6 bits + block scales) is not modelled; the nearest are fp8 (its peak on Blackwell) and "
           "fp4",
    "mxint8": "OCP MXINT8 (8-bit integers + one E8M0 scale per 32) is not modelled; the nearest is int8",
}


def _key(name: str) -> str:
    return "".join(ch for ch in name.strip().lower() if ch not in "-_ ")


def canonical_format(name: str) -> str:
    """A format name in any case as the catalogue spells it ("FP8" -> "fp8", "MXFP4" -> "mxfp4"), another name of
    the same format as the catalogue's (:data:`FORMAT_ALIASES`: "NVFP4" -> "fp4", "e4m3" -> "fp8", "bfloat16" ->
    "bf16"); a name that is no format is returned as it is, for its reader's check to refuse. The one resolver of
    format names: the CLI, chip YAMLs, case files, claim files and the Python API read names through it."""
    low = name.strip().lower()
    if low in BYTES_PER_ELEMENT:
        return low
    return FORMAT_ALIASES.get(_key(name), name)


def unknown_format_reason(name: str) -> str | None:
    """Why a block-scaled format name is refused (:data:`NOT_MODELLED`), or None for a name that is no format."""
    return NOT_MODELLED.get(_key(name))


def check_format(name: str, field: str) -> str:
    """``name`` in the catalogue's spelling (:func:`canonical_format`); an unknown format raises, naming ``field``,
    and so does a value that is no name (``weights=8`` from Python: it was a raw AttributeError)."""
    fmt = canonical_format(name) if isinstance(name, str) else ""
    if fmt not in BYTES_PER_ELEMENT:
        from inferchip.errors import InvalidSettingError, labelled

        why = (unknown_format_reason(name) if isinstance(name, str)
               else f"type {type(name).__name__}: a format is given by its name")
        label = field if " " in field or field not in NAME_FIELDS else labelled(field)
        raise InvalidSettingError(f"{label}: unknown number format {name!r}{f' ({why})' if why else ''}; allowed: "
                                  f"{', '.join(ALL_FORMATS)} (or nvfp4, e4m3, e5m2, bfloat16, float16, float32)")
    return fmt


NAME_FIELDS = {"weights": "weights", "activations": "activations", "kv": "kv",
               "attention_weights": "attention weights", "attention_out_weights": "attention output weights"}
"""The label an unknown name of each :class:`FormatNames` field is refused under: a setting's key (spelled as the
interface running names it, :func:`inferchip.errors.named`), or words."""


@dataclass(frozen=True)
class FormatNames:
    """A setting's format names as given (None: not given), each checked once and in the catalogue's spelling: what
    :func:`check_names` returns and ``performance.setting`` fills the defaults of."""

    weights: str
    activations: str | None = None
    kv: str | None = None
    attention_weights: str | None = None
    attention_out_weights: str | None = None


def check_names(weights: str, activations: str | None = None, kv: str | None = None,
                attention_weights: str | None = None, attention_out_weights: str | None = None) -> FormatNames:
    """The one resolution of a setting's format names: each given one through :func:`check_format` under its
    :data:`NAME_FIELDS` label (an unknown one raises naming it), once."""
    given = {"weights": weights, "activations": activations, "kv": kv, "attention_weights": attention_weights,
             "attention_out_weights": attention_out_weights}
    checked = {k: None if v is None else check_format(v, NAME_FIELDS[k]) for k, v in given.items()}
    return FormatNames(checked["weights"] or weights, checked["activations"], checked["kv"],
                       checked["attention_weights"], checked["attention_out_weights"])
