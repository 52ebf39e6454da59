"""Time of a weight GEMM ``(m x k) @ (k x n)`` on a matrix-unit chip, vectorised over m.

Tile and wave quantisation (NVIDIA, *Matrix Multiplication Background User's Guide*,
DU-09799-001): the output is computed in ``tile_m x tile_n`` tiles, ``tiles_in_flight``
at a time; a partial tile costs a full one, and a partial last wave costs a full wave.
A menu of M tiles (full, 1/2, 1/4 of the chip's tile, never below 16) stands for the
small-M kernels libraries pick for decode; the fastest is taken.

Split-K: where the output tiles cannot fill one wave (a decode GEMM of a few rows and a
narrow N, the down and output projections), kernel libraries cut the reduction into slices
that run as extra tiles (cuBLAS split-K and CUTLASS stream-K on Hopper/Blackwell), so the
chip's units are busy instead of idle: :func:`split_k`. Without it a 16-tile GEMM on a
132-unit chip would be charged a whole wave of 132 full-depth tiles.

Every argument may be an array (steps, chips, operators).
"""

from __future__ import annotations

import numpy as np

from inferchip.cost.constants import FLOP_PER_MAC, MIN_TILE_M, SPLIT_K_MIN_DEPTH
from inferchip.cost.roofline import ArrayLike, FloatArray


def split_k(tiles: ArrayLike, k: ArrayLike, tiles_in_flight: ArrayLike) -> FloatArray:
    """Slices the reduction of a GEMM with ``tiles`` output tiles is cut into (1 = no split).

    ``s = max(1, min(floor(tiles_in_flight / tiles), floor(k / SPLIT_K_MIN_DEPTH)))``: as many
    slices as make ``tiles x s`` fill at most one wave, each slice at least
    :data:`~inferchip.cost.constants.SPLIT_K_MIN_DEPTH` deep. A GEMM whose output tiles fill a
    wave already is not split. Hand check (H100: 132 tiles in flight, 128 x 256 tiles): a
    down projection of 64 rows, N 4096, K 12288 has 16 tiles, ``s = min(8, 24) = 8``.
    (NVIDIA cuBLAS picks split-K for skinny shapes by heuristic; CUTLASS stream-K partitions the
    k-iterations over the SMs: Osama et al., "Stream-K", PPoPP 2023, arXiv 2301.03598.)"""
    want = np.floor(np.asarray(tiles_in_flight, dtype=float) / np.maximum(np.asarray(tiles, dtype=float), 1.0))
    most = np.floor(np.asarray(k, dtype=float) / SPLIT_K_MIN_DEPTH)
    return np.asarray(np.maximum(1.0, np.minimum(want, most)), dtype=float)


def quantised_flop(m: ArrayLike, k: ArrayLike, n: ArrayLike, groups: ArrayLike, tile_m: ArrayLike,
                   tile_n: ArrayLike, tiles_in_flight: ArrayLike) -> FloatArray:
    """FLOP the matrix units actually spend, counting padded tiles and the partial last wave.

    ``m`` rows per group, ``groups`` independent GEMMs of the same shape (MoE experts).
    The M tile is the chip's tile, or for skinny GEMMs (decode) the smallest power of two
    that holds ``m`` (not below the MMA instruction's 16 rows), as libraries pick
    small-M kernels. Tiles too few to fill a wave are split along K (:func:`split_k`): ``s``
    slices of ``k / s`` each. Returns waves x tiles_in_flight x tile FLOP (of the slice depth).
    """
    m = np.asarray(m, dtype=float)
    tm = np.minimum(np.asarray(tile_m, dtype=float),
                    np.maximum(MIN_TILE_M, 2.0 ** np.ceil(np.log2(np.maximum(m, 1.0)))))
    tiles = np.ceil(np.maximum(m, 1.0) / tm) * np.ceil(n / np.asarray(tile_n, dtype=float)) * groups
    s = split_k(tiles, k, tiles_in_flight)
    waves = np.ceil(tiles * s / tiles_in_flight)
    spent = waves * tiles_in_flight * FLOP_PER_MAC * tm * tile_n * k / s
    return np.where(m > 0, spent, 0.0)


def gemm_flop(m: ArrayLike, k: ArrayLike, n: ArrayLike, groups: ArrayLike = 1.0) -> FloatArray:
    """Useful FLOP: 2 m k n per group."""
    return FLOP_PER_MAC * np.asarray(m, dtype=float) * k * n * groups


def gemm_bytes(m: ArrayLike, k: ArrayLike, n: ArrayLike, weight_groups: ArrayLike,
               weight_bytes: ArrayLike, act_bytes: ArrayLike, groups: ArrayLike = 1.0) -> FloatArray:
    """DRAM bytes: weights read once per step for each group that has tokens, activations in and out."""
    m = np.asarray(m, dtype=float)
    return k * n * weight_groups * weight_bytes + m * groups * (k + n) * act_bytes
