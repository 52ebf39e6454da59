"""Split-K of skinny GEMMs (cost.gemm.split_k): physical invariants as properties.

A split never charges less than the useful FLOP (no GEMM beats its roofline), never more than
the unsplit kernel, and fills at most one wave when it splits (the scalar twins' agreement with
the array rules: tests/test_scalar_step.py and tests/test_fast_path.py)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from inferchip.cost.constants import SPLIT_K_MIN_DEPTH
from inferchip.cost.gemm import gemm_flop, quantised_flop, split_k

M = st.integers(1, 20000)
DIM = st.integers(16, 65536)
TILES = st.sampled_from([(128, 128), (128, 256), (256, 128), (256, 256)])
IN_FLIGHT = st.sampled_from([1.0, 4.0, 108.0, 132.0, 148.0, 304.0])


def _unsplit(m, k, n, tm_chip, tn, tif):
    tm = min(tm_chip, max(16.0, 2.0 ** np.ceil(np.log2(max(m, 1.0)))))
    tiles = np.ceil(m / tm) * np.ceil(n / tn)
    return np.ceil(tiles / tif) * tif * 2 * tm * tn * k, tiles


@settings(max_examples=300, deadline=None)
@given(m=M, k=DIM, n=DIM, tile=TILES, tif=IN_FLIGHT)
def test_split_gemm_between_useful_and_unsplit_flop(m, k, n, tile, tif):
    spent = float(quantised_flop(np.array([float(m)]), float(k), float(n), 1.0, tile[0], tile[1], tif)[0])
    useful = float(gemm_flop(np.array([float(m)]), k, n)[0])
    unsplit, tiles = _unsplit(float(m), float(k), float(n), float(tile[0]), float(tile[1]), tif)
    assert spent >= useful * (1 - 1e-12)
    assert spent <= unsplit * (1 + 1e-12)
    s = float(split_k(tiles, float(k), tif))
    assert s >= 1.0 and s == int(s)
    if s > 1.0:  # split: the slices fill at most one wave, each at least the minimum depth
        assert tiles * s <= tif
        assert k / s >= SPLIT_K_MIN_DEPTH
