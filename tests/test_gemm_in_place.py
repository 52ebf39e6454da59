"""The array tile and wave times of ``cost.gemm`` written in place equal, bit for bit, the expressions they replace.

Stop 53 wrote ``split_k_compute_s``, ``cublas_tile_compute_s``, ``row_tile`` and ``m_tile`` into a few arrays of
the broadcast shape (a sweep's grids are millions of elements, and a new array per operation cost most of their
time). The oracles below are the stop-52 expressions, one new array per operation; every element must be the same
float, over broadcast shapes (GEMMs x grid, as ``fast_sweep.decode_times_points`` lays them), zero dimensions, rows
a hair above a power of two, and partial sums that are negative or NaN (where the split's time is taken as
written).
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from inferchip.cost.constants import CUBLASLT_16BIT_TILES, FLOP_PER_MAC, MIN_TILE_M
from inferchip.cost.gemm import cublas_tile_compute_s, m_tile, row_tile, split_k_compute_s


def _m_tile(m, tile_m):
    m = np.asarray(m, dtype=float)
    return np.minimum(tile_m, np.maximum(MIN_TILE_M, 2.0 ** np.ceil(np.log2(np.maximum(m, 1.0)))))


def _row_tile(m, tile_m, step):
    if step <= 0.0:
        return _m_tile(m, tile_m)
    rows = np.maximum(np.asarray(m, dtype=float), 1.0)
    return np.minimum(tile_m, np.ceil(rows / np.ceil(rows / tile_m) / step) * step)


def _split_k(tiles, units, slices_max, tile_rows, flop_per_wave_row, flop_per_s, partial_s):
    t = np.asarray(tiles, dtype=float)
    s = np.maximum(1.0, np.minimum(np.floor(units / np.maximum(t, 1.0)), slices_max))
    dp = np.ceil(t / units) * tile_rows * flop_per_wave_row / flop_per_s
    sk = np.ceil(t * s / units) / s * tile_rows * flop_per_wave_row / flop_per_s + np.where(
        s > 1.0, s * np.asarray(partial_s, dtype=float), np.inf)
    return np.minimum(dp, sk)


def _cublas(m, n, k, slices_max, units, flop_per_s, partial_s, choices):
    rows = np.maximum(np.asarray(m, dtype=float), 1.0)
    n = np.asarray(n, dtype=float)
    best = None
    for bm, bn, step in choices:
        tm = _row_tile(rows, bm, step)
        t = _split_k(np.ceil(rows / tm) * np.ceil(n / bn), units, slices_max, tm,
                     np.asarray(units, dtype=float) * FLOP_PER_MAC * bn * np.asarray(k, dtype=float), flop_per_s,
                     partial_s)
        best = t if best is None else np.minimum(best, t)
    return best


def _same(a, b) -> bool:
    """Equal floats, NaN where NaN, the same shape and the same kind of result (a 0-d input answers a scalar)."""
    return (np.shape(a) == np.shape(b) and isinstance(a, np.ndarray) == isinstance(b, np.ndarray)
            and np.array_equal(a, b, equal_nan=True))


ROWS = st.one_of(st.floats(0.0, 40_000.0), st.integers(0, 12).map(lambda j: float(np.nextafter(2.0 ** j, np.inf))),
                 st.integers(1, 20_000).map(float))
GEMMS = st.integers(1, 4)


@settings(max_examples=150, deadline=None)
@given(data=st.data(), gemms=GEMMS, points=st.integers(0, 40), zero_d=st.booleans(),
       family=st.sampled_from(sorted(CUBLASLT_16BIT_TILES)), units=st.sampled_from([1.0, 108.0, 132.0, 148.0, 304.0]),
       partial_kind=st.sampled_from(["non-negative", "negative", "nan"]))
def test_in_place_equals_the_expressions_it_replaces(data, gemms, points, zero_d, family, units, partial_kind):
    if zero_d:
        m = np.asarray(data.draw(ROWS))
        n, k, slices = (np.asarray(float(data.draw(st.integers(lo, hi)))) for lo, hi in
                        ((1, 60_000), (16, 30_000), (1, 32)))
        flop_s = np.asarray(1e12)
    else:
        m = np.array(data.draw(st.lists(ROWS, min_size=points, max_size=points)))[None, :]
        n, k, slices = (np.array(data.draw(st.lists(st.integers(lo, hi), min_size=gemms, max_size=gemms)),
                                 dtype=float)[:, None] for lo, hi in ((1, 60_000), (16, 30_000), (1, 32)))
        flop_s = np.array(data.draw(st.lists(st.floats(1e11, 1e15), min_size=gemms, max_size=gemms)))[:, None]
        m = np.broadcast_to(m, (gemms, points)).copy()
    partial = 2.0 * 4.0 * m * n / 3e12
    if partial_kind == "negative":
        partial = partial - 1e-6
    elif partial_kind == "nan":
        partial = np.where(m > 100.0, np.nan, partial)
    choices = CUBLASLT_16BIT_TILES[family]
    assert _same(cublas_tile_compute_s(m, n, k, slices, units, flop_s, partial, choices),
                 _cublas(m, n, k, slices, units, flop_s, partial, choices))
    for bm, _, step in choices:
        assert _same(row_tile(m, bm, step), _row_tile(m, bm, step))
        assert _same(m_tile(m, bm), _m_tile(m, bm))
        tm = _row_tile(m, bm, step)
        tiles = np.ceil(np.maximum(m, 1.0) / tm) * np.ceil(n / 256.0)
        fpwr = units * FLOP_PER_MAC * 256.0 * k
        assert _same(split_k_compute_s(tiles, units, slices, tm, fpwr, flop_s, partial),
                     _split_k(tiles, units, slices, tm, fpwr, flop_s, partial))


def test_a_hair_above_a_power_of_two_keeps_log2_rounding():
    """m a few ulps above 64: float log2 rounds to 6, so the tile stays 64 (the scalar path's float), not 128."""
    m = np.nextafter(64.0, np.inf)
    assert float(m_tile(np.array([m]), 256.0)[0]) == float(_m_tile(np.array([m]), 256.0)[0])
    assert float(m_tile(65.0, 256.0)) == 128.0
