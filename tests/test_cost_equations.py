"""Single operators against hand calculations: a GEMM, a decode attention, an all-reduce."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import make_chip, tiny_dense
from inferchip.cost.gemm import (
    gemm_bytes,
    gemm_flop,
    gemm_waves,
    gemm_waves_scalar,
    m_tile,
    m_tile_scalar,
    quantised_flop,
)
from inferchip.cost.network import all_reduce_time_s, all_to_all_time_s
from inferchip.cost.step import step_cost
from inferchip.mapping.layout import Layout
from inferchip.mapping.memory_fit import Formats
from inferchip.mapping.sharding import destination_ranks, shard
from inferchip.spec.calibration import Calibration


def test_gemm_tile_and_wave_quantisation_by_hand():
    # m=256, k=n=4096 on 132 tiles in flight with 128x128 tiles:
    # 2 x 32 = 64 tiles -> 1 wave of 132 slots: 132 * 2*128*128*4096 FLOP spent.
    spent = quantised_flop(np.array([256.0]), 4096, 4096, 1.0, 128, 128, 132)
    assert spent[0] == pytest.approx(132 * 2 * 128 * 128 * 4096)


def test_skinny_gemm_uses_a_small_m_tile():
    # Decode, m=8: the M tile shrinks to 16 (smallest MMA), 1 x 32 tiles -> 1 wave.
    spent = quantised_flop(np.array([8.0]), 4096, 4096, 1.0, 128, 128, 132)
    assert spent[0] == pytest.approx(132 * 2 * 16 * 128 * 4096)
    # m=40 -> tile 64.
    spent = quantised_flop(np.array([40.0]), 4096, 4096, 1.0, 128, 128, 132)
    assert spent[0] == pytest.approx(132 * 2 * 64 * 128 * 4096)
    assert gemm_flop(np.array([256.0]), 4096, 4096)[0] == 2 * 256 * 4096 * 4096


def test_gemm_large_m_has_only_wave_tail_waste():
    # m=n=k=8192: 64 x 64 = 4096 tiles of 128x128, 132 slots -> ceil(4096/132) = 32 waves.
    spent = quantised_flop(np.array([8192.0]), 8192, 8192, 1.0, 128, 128, 132)
    useful = gemm_flop(np.array([8192.0]), 8192, 8192)
    assert spent[0] == pytest.approx(32 * 132 * 2 * 128 * 128 * 8192)
    assert useful[0] / spent[0] == pytest.approx(4096 / (32 * 132))


def test_waves_and_m_tile_by_hand():
    # 448 tiles (Llama-2-70B gate/up, n = 57344 on 128-wide tiles) on 132 SMs: 3 full waves and a partial one.
    assert gemm_waves(448.0, 132.0) == 4.0
    assert gemm_waves(132.0, 132.0) == 1.0
    assert m_tile(65.0, 128.0) == 128.0  # 65 rows: the 128-row tile (the 64-row kernel no longer holds them)
    assert m_tile(3.0, 256.0) == 16.0  # never below the 16-row MMA


# Tiles are whole counts (ceil(m / tile_m) ceil(n / tile_n) groups): a float draw would reach subnormals like
# 5e-324 that divide to 0 and no GEMM has. Tiles in flight are whole counts too (matrix units x tiles per unit): a
# fractional draw (4.6) fails ``w * units >= tiles`` by one rounding (43,415 x 4.6 = 199,708.99...), which no chip has.
@given(tiles=st.integers(0, 10**6).map(float), units=st.integers(1, 2000).map(float), m=st.floats(0.0, 1e5),
       tile_m=st.sampled_from([16.0, 64.0, 128.0, 256.0]))
def test_the_scalar_wave_and_tile_counts_are_the_array_ones(tiles, units, m, tile_m):
    """The scalar step's twins give the array functions' floats; a wave holds at most ``units`` tiles and a
    partial wave costs a full one."""
    w = gemm_waves_scalar(tiles, units)
    assert w == float(gemm_waves(tiles, units))
    assert w == math.ceil(tiles / units) and w * units >= tiles
    assert m_tile_scalar(m, tile_m) == float(m_tile(m, tile_m))
    assert 16.0 <= m_tile_scalar(m, tile_m) <= max(tile_m, 16.0)


def test_gemm_bytes_by_hand():
    # Decode GEMM m=8, 8192x8192 fp8 weights, bf16 activations in and out.
    b = gemm_bytes(np.array([8.0]), 8192, 8192, 1.0, 1.0, 2.0)
    assert b[0] == 8192 * 8192 * 1 + 8 * (8192 + 8192) * 2


def test_all_reduce_ring_and_tree_by_hand():
    bw, lat, eff = 450e9, 3e-6, 0.7
    big = 64e6
    # Ring: 2(p-1) alpha + 2(p-1)/p S/(bw eff) with p=8.
    ring = 2 * 7 * lat + 2 * 7 / 8 * big / (bw * eff)
    tree = 2 * 3 * lat + 2 * big / (bw * eff)
    assert all_reduce_time_s(np.array([big]), 8, bw, lat, eff)[0] == pytest.approx(min(ring, tree))
    assert ring < tree  # bandwidth term dominates for a large message
    small = 16e3
    ring_s = 2 * 7 * lat + 2 * 7 / 8 * small / (bw * eff)
    tree_s = 2 * 3 * lat + 2 * small / (bw * eff)
    assert tree_s < ring_s  # latency term dominates for a small message
    assert all_reduce_time_s(np.array([small]), 8, bw, lat, eff)[0] == pytest.approx(tree_s)
    assert all_reduce_time_s(np.array([big]), 1, bw, lat, eff)[0] == 0.0


def test_all_to_all_by_hand():
    t = all_to_all_time_s(np.array([8e6]), 4, 100e9, 2e-6, 0.5)
    assert t[0] == pytest.approx(3 * 2e-6 + 3 / 4 * 8e6 / 50e9)
    # Expert kernels at 150 GB/s on NVLink 5 (900 GB/s x 0.46 = 414 GB/s on the wire): all 8 MB (own rows
    # included) at 150 GB/s = 53.3 us, not 3/4 x 8 MB / 414 GB/s = 14.5 us; on a slow link the wire still wins.
    fast = all_to_all_time_s(np.array([8e6]), 4, 900e9, 2e-6, 0.46, 150e9)
    assert fast[0] == pytest.approx(3 * 2e-6 + 8e6 / 150e9)
    slow = all_to_all_time_s(np.array([8e6]), 4, 100e9, 2e-6, 0.5, 150e9)
    assert slow[0] == pytest.approx(t[0])


def test_expert_all_to_all_matches_deepep_gb200_rates():
    """deepseek-ai/DeepEP issue #394: normal kernels on 4 GB200 move 169 GB/s (dispatch) and 135 GB/s (combine)
    in DeepEP's metric (bytes a rank receives). A DeepSeek-R1 token (hidden 7168, top-8) on EP 4 goes to
    3.61 ranks: fp8 out (7,168 B per rank; the scales left out here) and bf16 back (14,336 B). 4,096 tokens
    per rank, one MoE layer, at the Blackwell family's 150 GB/s: within 15 % of the issue's rates, where the
    link alone would be about 3x faster."""
    r = destination_ranks(8, 4)
    assert r == pytest.approx(4 * (1 - 0.75 ** 8)) and r == pytest.approx(3.6, abs=0.02)
    out_b, back_b = 4096 * r * 7168 * 1.0, 4096 * r * 7168 * 2.0
    model = sum(float(all_to_all_time_s(b, 4, 900e9, 3e-6, 0.46, 150e9)) for b in (out_b, back_b))
    deepep = out_b / 169e9 + back_b / 135e9
    assert model == pytest.approx(deepep, rel=0.15)
    wire = sum(float(all_to_all_time_s(b, 4, 900e9, 3e-6, 0.46)) for b in (out_b, back_b))
    assert deepep / wire > 2.5


@settings(max_examples=100, deadline=None)
@given(k=st.integers(1, 16), p=st.integers(1, 288))
def test_destination_ranks_bounded_and_growing(k, p):
    """Distinct ranks a token reaches: at least one, at most min(k, p), never fewer with more ranks."""
    r = destination_ranks(k, p)
    assert 1.0 - 1e-12 <= r <= min(k, p) + 1e-9
    assert destination_ranks(k, p + 1) >= r - 1e-12


def test_decode_attention_streams_the_kv_cache():
    # One layer, 8 heads of 128, 2 KV heads, bf16 KV. 16 sequences with 4096 cached tokens each.
    model = tiny_dense(layers=1, hidden=1024, heads=8, kv_heads=2)
    chip = make_chip()
    cal = Calibration()
    sm = shard(model, Layout())
    fmt = Formats("bf16", "bf16", "bf16")
    seqs, ctx = 16, 4096
    cost = step_cost(sm, chip, fmt, cal, seqs, seqs, seqs * ctx, 0.0)
    kv_elems = 2 * 2 * 128  # K and V, 2 heads of 128 per token
    read = seqs * ctx * kv_elems * 2  # bytes of the cache read
    write = seqs * kv_elems * 2  # the new token's K and V
    mem_s = (read + write) / (3.35e12 * cal.memory_bandwidth_fraction)
    flop = 2 * 8 * (128 + 128) * seqs * ctx  # QK^T and PV, 8 query heads
    comp_s = flop / (989.4e12 * cal.attention_compute_fraction)
    assert mem_s > comp_s  # decode attention is memory bound
    expected = mem_s + chip.kernel_overhead_s * cal.kernel_overhead_scale
    assert float(cost.classes["attention"].time_s) == pytest.approx(expected)
    assert str(cost.classes["attention"].bound()) == "memory"


def test_sliding_window_caps_decode_kv_read():
    chip, cal, fmt = make_chip(), Calibration(), Formats()
    full = step_cost(shard(tiny_dense(window=None), Layout()), chip, fmt, cal, 8, 8, 8 * 32768, 0.0)
    win = step_cost(shard(tiny_dense(window=1024), Layout()), chip, fmt, cal, 8, 8, 8 * 32768, 0.0)
    ratio = (float(win.classes["attention"].time_s) - 2 * 3e-6) / (float(full.classes["attention"].time_s) - 2 * 3e-6)
    # Both are memory bound: the windowed layer reads 1024 of 32768 tokens (+1 written per sequence).
    assert ratio == pytest.approx((1024 + 1) / (32768 + 1), rel=1e-6)


def test_experts_reached_by_hand_and_at_vanishing_token_counts():
    """e (1 - (1 - f)^m): 64 local experts at f = 6/64 (DeepSeek-V2-Lite) reached by 1 token -> 6, by 2 tokens
    -> 64 (1 - (58/64)^2) = 11.4375; a vanishing count keeps a vanishing share (the scalar and array steps agree:
    1 - (1 - f)^m rounds to 0 in one libm and not the other at m ~ 4e-16), f = 1 reaches every expert."""
    import math

    from inferchip.cost.gemm import experts_reached

    assert float(experts_reached(64, 6 / 64, 1.0)) == pytest.approx(6.0, rel=1e-12)
    assert float(experts_reached(64, 6 / 64, 2.0)) == pytest.approx(64 * (1 - (58 / 64) ** 2), rel=1e-12)
    tiny = float(experts_reached(64, 6 / 64, 4.440892098500626e-16))
    assert 0.0 < tiny == pytest.approx(-64 * 4.440892098500626e-16 * math.log1p(-6 / 64), rel=1e-9)
    assert float(experts_reached(64, 6 / 64, 0.0)) == 0.0
    assert float(experts_reached(8, 1.0, 0.5)) == 8.0 and float(experts_reached(8, 1.0, 0.0)) == 0.0


def test_experts_reached_with_a_popularity_spread_by_hand():
    """Expert i takes a token with probability f w_i (w the log-normal popularity quantiles, mean 1): one token
    reaches f e experts whatever the spread; two reach e (2 f - f^2 mean(w^2)), fewer than uniform routing's
    e (2 f - f^2); many reach every expert; a spread of 0 is uniform routing; the scalar path agrees."""
    from inferchip.cost.gemm import experts_reached, experts_reached_scalar, popularity_weights

    w = popularity_weights(1.0)
    assert len(w) == 64 and float(w.mean()) == pytest.approx(1.0, rel=1e-12)
    assert float(np.std(np.log(w))) == pytest.approx(1.0, abs=0.05)  # the quantile grid's spread
    f, e = 4 / 128, 128.0
    assert float(experts_reached(e, f, 1.0, 1.0)) == pytest.approx(4.0, rel=1e-12)
    two = e * (2 * f - f * f * float(np.mean(w * w)))
    assert float(experts_reached(e, f, 2.0, 1.0)) == pytest.approx(two, rel=1e-12)
    assert two < e * (1 - (1 - f) ** 2)
    assert float(experts_reached(e, f, 1e5, 1.0)) == pytest.approx(e, rel=1e-9)
    assert float(experts_reached(e, f, 32.0, 0.0)) == pytest.approx(e * (1 - (1 - f) ** 32), rel=1e-12)
    ms = np.array([0.0, 1.0, 4.0, 32.0, 64.0])
    for sd in (0.0, 0.5, 1.0):
        vec = experts_reached(e, f, ms, sd)
        assert [experts_reached_scalar(e, f, float(m), sd) for m in ms] == pytest.approx(list(vec), rel=1e-12)
    assert float(experts_reached(e, f, 32.0, 1.0)) < float(experts_reached(e, f, 32.0, 0.5)) < e * (1 - (1 - f) ** 32)
