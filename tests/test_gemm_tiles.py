"""cost.gemm.chosen_tile_flop: the tile a library that times its candidates per shape would keep (diagnostic)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inferchip.cost.gemm import chosen_tile_flop, quantised_flop

# TensorRT-LLM's Hopper GEMM candidates (cutlass_heuristic.cpp get_candidate_tiles_sm90, non-grouped)
SM90 = tuple((float(a), float(b)) for a in (64, 128) for b in (16, 32, 64, 128, 256))


def test_a_decode_gemm_by_hand_fills_the_sms_in_one_wave():
    # 65 rows x 8192 columns on 132 SMs: 128 x 64 (or 64 x 128) gives 128 tiles, one wave: 132 x 2 x 128 x 64 x k;
    # the fixed 128 x 256 tile runs one wave of 132 x 2 x 128 x 256 x k, four times as much
    k = 8192.0
    assert float(chosen_tile_flop(65.0, k, 8192.0, 132.0, SM90)) == 132 * 2 * 128 * 64 * k
    assert float(quantised_flop(65.0, k, 8192.0, 1.0, 128.0, 256.0, 132.0)) == 132 * 2 * 128 * 256 * k
    # 129 rows x 57344 columns: three 64-row tiles x 1792 of 32 columns = 5376 tiles, 41 waves (40.7):
    # 41 x 132 x 2 x 64 x 32 x k, less than 128 x 256 (2 x 224 = 448 tiles, 4 waves: 4 x 132 x 2 x 128 x 256 x k)
    assert float(chosen_tile_flop(129.0, k, 57344.0, 132.0, SM90)) == 41 * 132 * 2 * 64 * 32 * k
    assert 41 * 64 * 32 < 4 * 128 * 256


@settings(max_examples=300, deadline=None)
@given(m=st.floats(0.5, 5000.0), n=st.sampled_from([512.0, 1280.0, 8192.0, 10240.0, 28672.0, 57344.0]),
       k=st.sampled_from([1024.0, 8192.0]), t=st.sampled_from([132.0, 148.0, 304.0]))
def test_the_pick_spends_at_least_the_useful_flop_and_at_most_the_chip_tile(m, n, k, t):
    spent = float(chosen_tile_flop(m, k, n, t, SM90))
    assert spent >= 2.0 * max(m, 1.0) * n * k * (1 - 1e-12)  # the tiles cover every output element
    if m > 32:  # the fixed tile's M tile (64 or 128 rows above 32) with 256 columns is a candidate
        assert spent <= float(quantised_flop(m, k, n, 1.0, 128.0, 256.0, t))


def test_the_array_pick_is_per_element_and_needs_a_candidate():
    m = np.array([[1.0], [65.0], [129.0]])
    n = np.array([8192.0, 57344.0])
    out = chosen_tile_flop(m, 8192.0, n, 132.0, SM90)
    assert out.shape == (3, 2)
    for i in range(3):
        for j in range(2):
            assert out[i, j] == float(chosen_tile_flop(float(m[i, 0]), 8192.0, float(n[j]), 132.0, SM90))
    with pytest.raises(ValueError):
        chosen_tile_flop(1.0, 1.0, 1.0, 1.0, ())


def test_no_rows_spend_nothing_as_with_the_fixed_tile():
    """A GEMM of 0 rows (an empty decode batch) is no GEMM: the pick charges nothing, as quantised_flop does."""
    m = np.array([0.0, 1.0])
    assert list(quantised_flop(m, 8192.0, 8192.0, 1.0, 128.0, 256.0, 132.0))[0] == 0.0
    got = chosen_tile_flop(m, 8192.0, 8192.0, 132.0, SM90)
    assert float(got[0]) == 0.0 and float(got[1]) > 0.0
