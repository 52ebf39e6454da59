"""Roofline of one kernel: the slower of compute and memory time, plus a fixed overhead."""

from __future__ import annotations

import numpy as np


def compute_time_s(flop: np.ndarray, peak_flop_per_s: np.ndarray | float, fraction: np.ndarray | float) -> np.ndarray:
    """t = FLOP / (peak x attainable fraction). Units: FLOP, FLOP/s -> s."""
    return np.asarray(flop, dtype=float) / (np.asarray(peak_flop_per_s) * fraction)


def memory_time_s(nbytes: np.ndarray, bytes_per_s: np.ndarray | float, fraction: np.ndarray | float) -> np.ndarray:
    """t = bytes / (bandwidth x attainable fraction). Units: B, B/s -> s."""
    return np.asarray(nbytes, dtype=float) / (np.asarray(bytes_per_s) * fraction)


def kernel_time_s(compute_s: np.ndarray, memory_s: np.ndarray, overhead_s: np.ndarray | float) -> np.ndarray:
    """A fused kernel overlaps its compute and memory traffic: max(compute, memory) + overhead."""
    return np.maximum(compute_s, memory_s) + overhead_s
