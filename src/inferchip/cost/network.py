"""Collective communication time: the alpha-beta (Hockney) model.

``alpha`` is the per-message latency of one step over the link, ``beta = 1/(bw x eff)``.
Ring all-reduce: ``2(p-1) alpha + 2(p-1)/p S beta``; a latency-optimal tree/one-shot
algorithm: ``2 ceil(log2 p) alpha + 2 S beta`` (Thakur, Rabenseifner, Gropp, IJHPCA 2005;
NCCL bus-bandwidth factors from NVIDIA/nccl-tests doc/PERFORMANCE.md). The faster of the
two is taken, as NCCL picks its algorithm by message size.
"""

from __future__ import annotations

import numpy as np

from inferchip.cost.constants import ALL_REDUCE_PHASES


def all_reduce_time_s(nbytes: np.ndarray, group: int, link_bytes_per_s: np.ndarray | float,
                      latency_s: np.ndarray | float, efficiency: float) -> np.ndarray:
    """All-reduce of ``nbytes`` (the buffer each chip holds) over ``group`` chips."""
    s = np.asarray(nbytes, dtype=float)
    if group <= 1:
        return np.zeros_like(s)
    bw = np.asarray(link_bytes_per_s) * efficiency
    ring = ALL_REDUCE_PHASES * (group - 1) * latency_s + ALL_REDUCE_PHASES * (group - 1) / group * s / bw
    tree = ALL_REDUCE_PHASES * np.ceil(np.log2(group)) * latency_s + ALL_REDUCE_PHASES * s / bw
    return np.where(s > 0, np.minimum(ring, tree), 0.0)


def all_to_all_time_s(nbytes: np.ndarray, group: int, link_bytes_per_s: np.ndarray | float,
                      latency_s: np.ndarray | float, efficiency: float) -> np.ndarray:
    """All-to-all where each chip sends ``nbytes`` in total, (p-1)/p of it off-chip."""
    s = np.asarray(nbytes, dtype=float)
    if group <= 1:
        return np.zeros_like(s)
    bw = np.asarray(link_bytes_per_s) * efficiency
    return np.where(s > 0, (group - 1) * latency_s + (group - 1) / group * s / bw, 0.0)


def point_to_point_time_s(nbytes: np.ndarray, link_bytes_per_s: np.ndarray | float,
                          latency_s: np.ndarray | float, efficiency: float) -> np.ndarray:
    """One transfer between pipeline stages."""
    s = np.asarray(nbytes, dtype=float)
    return np.where(s > 0, latency_s + s / (np.asarray(link_bytes_per_s) * efficiency), 0.0)
