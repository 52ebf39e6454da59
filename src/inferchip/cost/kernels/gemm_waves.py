"""The tile and wave time of a GEMM on arrays, written into a few arrays of the broadcast shape.

The array forms of :mod:`inferchip.cost.gemm` (``m_tile``, ``row_tile``, ``split_k_compute_s``,
``cublas_tile_compute_s``) call these: the same operations in the same order as the expressions they replaced
(``tests/test_gemm_in_place.py`` holds those expressions and asserts every float equal), without a new array per
operation. A sweep's concurrency grids are millions of elements (``performance.fast_sweep.decode_times_points``);
there a new array per operation, fresh pages mapped and filled, cost most of the time of these few FLOP.
"""

from __future__ import annotations

import numpy as np

from inferchip.cost.constants import FLOP_PER_MAC, MIN_TILE_M
from inferchip.cost.roofline import ArrayLike, FloatArray

TileChoices = tuple[tuple[float, float, float], ...]  # cost.gemm.TileChoices: (most rows, columns, row step)


def power_tile(m: FloatArray) -> FloatArray:
    """:func:`~inferchip.cost.gemm.m_tile` before its cap: ``max(MIN_TILE_M, 2^ceil(log2(max(m, 1))))``, in one
    new array (one array for every cap: :func:`cublas_tile_into` takes it once for all its power-of-two
    candidates)."""
    x = np.maximum(m, 1.0, out=np.empty(np.shape(m)))  # (an array at 0 dimensions too)
    np.log2(x, out=x)
    np.ceil(x, out=x)
    np.exp2(x, out=x)  # 2.0 ** x: exact at the integers ceil gives (and ~10x faster than np.power)
    out: FloatArray = np.maximum(MIN_TILE_M, x, out=x)
    return out


def stepped_tile_into(rows: FloatArray, tile_m: float, step: float, out: FloatArray) -> FloatArray:
    """:func:`~inferchip.cost.gemm.row_tile` of ``rows`` (>= 1) with a positive ``step``, written into ``out``
    (``rows``' shape): the same operations, ``min(tile_m, ceil(rows / ceil(rows / tile_m) / step) step)``."""
    np.divide(rows, tile_m, out=out)
    np.ceil(out, out=out)
    np.divide(rows, out, out=out)
    out /= step
    np.ceil(out, out=out)
    out *= step
    result: FloatArray = np.minimum(tile_m, out, out=out)
    return result


def split_k_into(t: FloatArray, tiles_in_flight: ArrayLike, slices_max: ArrayLike, tile_rows: ArrayLike,
                 flop_per_wave_row: ArrayLike, flop_per_s: ArrayLike, partial_s: ArrayLike, out: FloatArray,
                 s: FloatArray, sk: FloatArray) -> FloatArray:
    """:func:`~inferchip.cost.gemm.split_k_compute_s` written into ``out``, ``s`` and ``sk`` scratch (each of the
    arguments' broadcast shape): the same operations in the same order."""
    np.maximum(t, 1.0, out=s)  # split_slices: max(1, min(floor(T / max(tiles, 1)), slices_max))
    np.divide(tiles_in_flight, s, out=s)
    np.floor(s, out=s)
    np.minimum(s, slices_max, out=s)
    np.maximum(1.0, s, out=s)
    np.divide(t, tiles_in_flight, out=out)  # the data-parallel kernel: ceil(tiles / T) full waves
    np.ceil(out, out=out)
    times_wave_s(out, tile_rows, flop_per_wave_row, flop_per_s)
    split = s > 1.0  # where s is 1 the split kernel is the data-parallel one (its time counts as infinite)
    if not split.any():
        return out
    np.multiply(t, s, out=sk)  # cost.gemm's _waves_of_slices: ceil(tiles s / T) / s
    sk /= tiles_in_flight
    np.ceil(sk, out=sk)
    sk /= s
    times_wave_s(sk, tile_rows, flop_per_wave_row, flop_per_s)
    s *= partial_s  # the s partial sums' round trips
    if not bool(np.all(np.greater_equal(partial_s, 0.0))):  # (a NaN or a negative: the split's time as written)
        s = np.where(split, s, np.inf)
    # Where s is 1 the split's waves are the data-parallel ones (t x 1 / T, / 1: the same floats), so with partial
    # sums >= 0 its time is at least dp's and the least of the two is dp's: no infinity to put there.
    sk += s
    result: FloatArray = np.minimum(out, sk, out=out)
    return result


def times_wave_s(waves: FloatArray, tile_rows: ArrayLike, flop_per_wave_row: ArrayLike, flop_per_s: ArrayLike) -> None:
    """``waves x tile_rows x flop_per_wave_row / flop_per_s`` (s), left to right, in place."""
    waves *= tile_rows
    waves *= flop_per_wave_row
    waves /= flop_per_s


def cublas_tile_into(rows: FloatArray, n: FloatArray, k: ArrayLike, slices_max: ArrayLike, tiles_in_flight: ArrayLike,
                     flop_per_s: ArrayLike, partial_s: ArrayLike, choices: TileChoices) -> FloatArray:
    """:func:`~inferchip.cost.gemm.cublas_tile_compute_s` of ``rows`` (>= 1): the least over ``choices`` of each
    candidate's :func:`split_k_into`, one set of arrays for every candidate (an array, 0 dimensions too)."""
    shape = np.broadcast_shapes(rows.shape, n.shape, *(np.shape(x) for x in (
        k, slices_max, tiles_in_flight, flop_per_s, partial_s)))
    best, each, s, sk, tiles = (np.empty(shape) for _ in range(5))  # one set of arrays for every candidate
    tm = np.empty(rows.shape)
    power: FloatArray | None = None  # the power-of-two tile before its cap, shared by those candidates
    for c, (bm, bn, step) in enumerate(choices):
        if step <= 0.0:
            power = power_tile(rows) if power is None else power
            np.minimum(bm, power, out=tm)
        else:
            stepped_tile_into(rows, bm, step, tm)
        np.divide(rows, tm, out=tiles)  # ceil(rows / M tile) x ceil(n / N)
        np.ceil(tiles, out=tiles)
        tiles *= np.ceil(n / bn)
        split_k_into(tiles, tiles_in_flight, slices_max, tm,
                     np.asarray(tiles_in_flight, dtype=float) * FLOP_PER_MAC * bn * np.asarray(k, dtype=float),
                     flop_per_s, partial_s, best if c == 0 else each, s, sk)
        if c:
            np.minimum(best, each, out=best)
    return best
