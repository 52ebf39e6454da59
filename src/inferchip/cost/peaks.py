"""Peak throughput for a compute format, with fallback to the next wider format the chip has.

Works for one chip (scalars) and for a sweep of chips (arrays per format, 0 where a chip
has no units for that format).
"""

from __future__ import annotations

import math

import numpy as np

from inferchip.cost.roofline import FloatArray
from inferchip.mapping.memory_fit import Formats
from inferchip.spec.chip import ChipParams
from inferchip.spec.formats import WIDER


def peak_flop_per_s(chip: ChipParams, fmt: str) -> FloatArray:
    """Dense peak FLOP/s at ``fmt``, or at the first wider format with units (elementwise for sweeps)."""
    peaks = chip.peak_flop_per_s
    if all(type(v) is float and math.isfinite(v) for v in peaks.values()):  # one chip: the same choice in floats
        one: float | None = None
        for f in WIDER[fmt]:
            given = peaks.get(f)
            if given is not None:
                one = given if one is None or not one > 0 else one
        return np.array(one if one is not None and one > 0 else max(peaks.values()))
    out: FloatArray | None = None
    for f in WIDER[fmt]:
        given = chip.peak_flop_per_s.get(f)
        if given is None:
            continue
        v = np.asarray(given, dtype=float)
        out = v if out is None else np.where(out > 0, out, v)
    best: FloatArray = np.max(np.stack(np.broadcast_arrays(*[np.asarray(v, float)
                                                             for v in chip.peak_flop_per_s.values()])), axis=0)
    # A chip with no units in the whole widening chain runs at its fastest format (said in notes).
    return best if out is None else np.where(out > 0, out, best)


def executed_format(chip: ChipParams, fmt: str) -> str:
    """Name of the format a scalar chip actually computes ``fmt`` in (for the result's notes)."""
    for f in WIDER[fmt]:
        v = chip.peak_flop_per_s.get(f)
        if v is not None and np.all(np.asarray(v) > 0):
            return f
    return max(chip.peak_flop_per_s, key=lambda k: float(np.max(chip.peak_flop_per_s[k])))


def attention_compute_format(fmt: Formats) -> str:
    """Format attention kernels compute in: FP8 where the KV cache is 8-bit and the linear layers'
    activations are 8-bit or narrower, else bf16. An 8-bit cache is attended by FP8 kernels with the
    query quantised to it; an NVFP4/MXFP4 checkpoint quantises only its linear layers, so its attention
    follows its FP8 KV cache, not its 4-bit activations (SGLang's FP8 attention with NVFP4 MoE "allows
    faster Tensor Core instructions, resulting in a speedup for decode attention kernels": LMSYS blog,
    Deploying DeepSeek on GB200 NVL72 with PD and Large Scale EP, Part II, 2025-09-25)."""
    narrow = fmt.activations in ("fp8", "int8", "fp4", "mxfp4")
    return "fp8" if (fmt.kv in ("fp8", "int8") and narrow) else "bf16"
