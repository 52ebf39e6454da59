"""Collective communication time: the alpha-beta (Hockney) model.

``alpha`` is the latency of one step over the link (one hop, with the collective's software
step), ``beta = 1/(bw x eff)``. An all-reduce of ``S`` bytes over ``p`` chips takes the fastest
of the algorithms the chip's software has, as the libraries pick by message size:

* ring: ``2(p-1) alpha + 2(p-1)/p S beta``; tree / latency-optimal: ``2 ceil(log2 p) alpha + 2 S beta``
  (Thakur, Rabenseifner, Gropp, IJHPCA 2005; NCCL bus-bandwidth factors from NVIDIA/nccl-tests
  doc/PERFORMANCE.md);
* where every peer is one hop away and the serving engines reduce with direct peer-to-peer kernels
  (``direct`` = 1: vLLM/SGLang custom all-reduce, TensorRT-LLM one-/two-shot, AMD AITER on ROCm;
  vLLM csrc/custom_all_reduce.cuh ``cross_device_reduce_1stage`` / ``_2stage``), also
  one-shot: a start barrier, then each chip reads every peer's whole buffer and reduces it,
  ``2 alpha + (p-1) S beta``; two-shot: reduce-scatter then all-gather, each such a round,
  ``4 alpha + 2(p-1)/p S beta``. Two-shot never loses to ring or tree, so a direct link's
  all-reduce is the faster of one-shot (small messages) and two-shot (large ones).

Every argument may be an array (steps, chips, operators); a group of one chip moves nothing
off-chip and takes no time. :func:`all_reduce_scalar_s` is the same equation on floats for
the scalar step path (``cost/scalar_step.py``).
"""

from __future__ import annotations

import math

import numpy as np

from inferchip.cost.constants import ALL_REDUCE_PHASES
from inferchip.cost.roofline import ArrayLike, FloatArray

ONE_SHOT_ROUNDS = 2  # start barrier + the reads of every peer's buffer (one hop each)
TWO_SHOT_ROUNDS = 2 * ONE_SHOT_ROUNDS  # reduce-scatter round + all-gather round


def all_reduce_time_s(nbytes: ArrayLike, group: ArrayLike, link_bytes_per_s: ArrayLike,
                      latency_s: ArrayLike, efficiency: ArrayLike, direct: ArrayLike = 0.0) -> FloatArray:
    """All-reduce of ``nbytes`` (the buffer each chip holds) over ``group`` chips; ``direct`` > 0
    where one-shot / two-shot peer-to-peer kernels are available. Units: B, B/s, s -> s."""
    s = np.asarray(nbytes, dtype=float)
    g = np.asarray(group, dtype=float)
    lat = np.asarray(latency_s, dtype=float)
    bw = np.asarray(link_bytes_per_s) * efficiency
    ring = ALL_REDUCE_PHASES * (g - 1) * lat + ALL_REDUCE_PHASES * (g - 1) / g * s / bw
    tree = ALL_REDUCE_PHASES * np.ceil(np.log2(np.maximum(g, 1.0))) * lat + ALL_REDUCE_PHASES * s / bw
    one_shot = ONE_SHOT_ROUNDS * lat + (g - 1) * s / bw
    two_shot = TWO_SHOT_ROUNDS * lat + ALL_REDUCE_PHASES * (g - 1) / g * s / bw
    library = np.minimum(ring, tree)
    t = np.where(np.asarray(direct) > 0, np.minimum(library, np.minimum(one_shot, two_shot)), library)
    return np.where((s > 0) & (g > 1), t, 0.0)


def all_reduce_scalar_s(nbytes: float, group: float, link_bytes_per_s: float, latency_s: float,
                        efficiency: float, direct: float = 0.0) -> float:
    """:func:`all_reduce_time_s` on floats (same equation, no numpy). Units: B, B/s, s -> s."""
    if nbytes <= 0 or group <= 1:
        return 0.0
    s, g, lat, bw = nbytes, group, latency_s, link_bytes_per_s * efficiency
    ring = ALL_REDUCE_PHASES * (g - 1) * lat + ALL_REDUCE_PHASES * (g - 1) / g * s / bw
    tree = ALL_REDUCE_PHASES * math.ceil(math.log2(g)) * lat + ALL_REDUCE_PHASES * s / bw
    t = min(ring, tree)
    if direct > 0:
        one_shot = ONE_SHOT_ROUNDS * lat + (g - 1) * s / bw
        two_shot = TWO_SHOT_ROUNDS * lat + ALL_REDUCE_PHASES * (g - 1) / g * s / bw
        t = min(t, one_shot, two_shot)
    return t


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
