"""Roofline of one kernel: the slower of compute and memory time, plus a fixed overhead."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
ArrayLike = FloatArray | float  # a number or an array of them (steps, chips, operators)


def compute_time_s(flop: ArrayLike, peak_flop_per_s: ArrayLike, fraction: ArrayLike) -> FloatArray:
    """t = FLOP / (peak x attainable fraction). Units: FLOP, FLOP/s -> s."""
    return np.asarray(flop, dtype=float) / (np.asarray(peak_flop_per_s) * fraction)


def memory_time_s(nbytes: ArrayLike, bytes_per_s: ArrayLike, fraction: ArrayLike) -> FloatArray:
    """t = bytes / (bandwidth x attainable fraction). Units: B, B/s -> s."""
    return np.asarray(nbytes, dtype=float) / (np.asarray(bytes_per_s) * fraction)


def kernel_time_s(compute_s: ArrayLike, memory_s: ArrayLike, overhead_s: ArrayLike) -> FloatArray:
    """A fused kernel overlaps its compute and memory traffic: max(compute, memory) + overhead."""
    return np.maximum(compute_s, memory_s) + overhead_s
