"""Collective communication time: the alpha-beta (Hockney) model.

``alpha`` is the per-message latency of one step over the link, ``beta = 1/(bw x eff)``.
Ring all-reduce: ``2(p-1) alpha + 2(p-1)/p S beta``; a latency-optimal tree/one-shot
algorithm: ``2 ceil(log2 p) alpha + 2 S beta`` (Thakur, Rabenseifner, Gropp, IJHPCA 2005;
NCCL bus-bandwidth factors from NVIDIA/nccl-tests doc/PERFORMANCE.md). The faster of the
two is taken, as NCCL picks its algorithm by message size.

Every argument may be an array (steps, chips, operators); a group of one chip moves nothing
off-chip and takes no time.
"""

from __future__ import annotations

import numpy as np

from inferchip.cost.constants import ALL_REDUCE_PHASES
from inferchip.cost.roofline import ArrayLike, FloatArray


def all_reduce_time_s(nbytes: ArrayLike, group: ArrayLike, link_bytes_per_s: ArrayLike,
                      latency_s: ArrayLike, efficiency: ArrayLike) -> FloatArray:
    """All-reduce of ``nbytes`` (the buffer each chip holds) over ``group`` chips. Units: B, B/s, s -> s."""
    s = np.asarray(nbytes, dtype=float)
    g = np.asarray(group, dtype=float)
    bw = np.asarray(link_bytes_per_s) * efficiency
    ring = ALL_REDUCE_PHASES * (g - 1) * latency_s + ALL_REDUCE_PHASES * (g - 1) / g * s / bw
    tree = ALL_REDUCE_PHASES * np.ceil(np.log2(g)) * latency_s + ALL_REDUCE_PHASES * s / bw
    return np.where((s > 0) & (g > 1), np.minimum(ring, tree), 0.0)


def all_to_all_time_s(nbytes: ArrayLike, group: ArrayLike, link_bytes_per_s: ArrayLike,
                      latency_s: ArrayLike, efficiency: ArrayLike) -> FloatArray:
    """All-to-all where each chip sends ``nbytes`` in total, (p-1)/p of it off-chip:
    ``(p-1) alpha + (p-1)/p S beta``. Units: B, B/s, s -> s."""
    s = np.asarray(nbytes, dtype=float)
    g = np.asarray(group, dtype=float)
    bw = np.asarray(link_bytes_per_s) * efficiency
    return np.where((s > 0) & (g > 1), (g - 1) * latency_s + (g - 1) / g * s / bw, 0.0)


def point_to_point_time_s(nbytes: ArrayLike, link_bytes_per_s: ArrayLike,
                          latency_s: ArrayLike, efficiency: ArrayLike) -> FloatArray:
    """One transfer between pipeline stages: ``alpha + S beta``. Units: B, B/s, s -> s."""
    s = np.asarray(nbytes, dtype=float)
    return np.where(s > 0, latency_s + s / (np.asarray(link_bytes_per_s) * efficiency), 0.0)
