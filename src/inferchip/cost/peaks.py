"""Peak throughput for a compute format, with fallback to the next wider format the chip has.

Works for one chip (scalars) and for a sweep of chips (arrays per format, 0 where a chip
has no units for that format).
"""

from __future__ import annotations

import math

import numpy as np

from inferchip.cost.roofline import FloatArray
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
