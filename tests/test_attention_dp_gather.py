"""Attention data parallelism with expert parallelism below the group (``ep < tp``): the MoE's tokens are
all-gathered before it and its outputs reduce-scattered after it (mapping/sharding.py ``gather_scatter``;
TensorRT-LLM's post-quant allgather / reducescatter), costed by the ring equations of cost/network.py.

The model is DeepSeek-V3's architecture (tests/test_attention_dp.py), so the hand derivations do not depend on
the catalogue.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import make_chip
from inferchip.cost.network import all_gather_time_s, reduce_scatter_time_s, ring_half_scalar_s
from inferchip.cost.step import step_cost
from inferchip.mapping.layout import Layout
from inferchip.mapping.operators import AllGather, AllToAll, GroupedGemm, ReduceScatter
from inferchip.mapping.sharding import ROUTING_BYTES_PER_EXPERT, shard
from inferchip.spec.calibration import Calibration
from inferchip.validation.closed_loop import Worker
from test_attention_dp import DENSE, DSV3, E_FFN, FMT, LAYERS, H

CAL = Calibration(link_bandwidth_fraction=0.5)
MOE_LAYERS = LAYERS - DENSE


def test_ring_all_gather_and_reduce_scatter_by_hand():
    """4 chips gather 1 MB (250 kB each) over 450 GB/s at half efficiency, 3 us a step: 3 steps, 3/4 of it moved."""
    s, lat, beta = 1e6, 3e-6, 1 / (450e9 * 0.5)
    want = 3 * lat + 0.75 * s * beta
    assert float(all_gather_time_s(s, 4, 450e9, lat, 0.5)) == pytest.approx(want)
    assert float(reduce_scatter_time_s(s, 4, 450e9, lat, 0.5)) == pytest.approx(want)
    assert ring_half_scalar_s(s, 4, 450e9, lat, 0.5) == pytest.approx(want)
    assert float(all_gather_time_s(s, 1, 450e9, lat, 0.5)) == 0.0  # one chip moves nothing
    assert float(all_gather_time_s(0.0, 4, 450e9, lat, 0.5)) == 0.0


@settings(max_examples=200, deadline=None)
@given(s=st.floats(0.0, 1e10), g=st.integers(1, 72), bw=st.floats(1e9, 2e12), lat=st.floats(0.0, 1e-4),
       eff=st.floats(0.05, 1.0), more=st.integers(1, 8))
def test_scalar_twin_and_more_chips_never_cheaper(s, g, bw, lat, eff, more):
    t = float(all_gather_time_s(s, g, bw, lat, eff))
    assert ring_half_scalar_s(s, g, bw, lat, eff) == pytest.approx(t, rel=1e-12, abs=0.0)
    # The same gathered buffer over more chips: more steps, a larger share off-chip.
    assert float(all_gather_time_s(s, g + more, bw, lat, eff)) >= t


def test_ep1_layers_gather_and_scatter_instead_of_the_all_to_all():
    gathered = shard(DSV3, Layout(tp=8, ep=1, attn_dp=True))
    moe = [layer for layer in gathered.layers if layer.moe][0]
    assert moe.collectives == (AllGather(H, 8, "activation", routing_bytes_per_token=8.0 * ROUTING_BYTES_PER_EXPERT),
                               ReduceScatter(H, 8, "hidden_state"))
    up = [g for g in moe.gemms if isinstance(g, GroupedGemm) and g.name == "experts_up"][0]
    assert (up.experts, up.n, up.ep) == (256, 2 * math.ceil(E_FFN / 8), 1)  # every expert, 1/8 of its width
    dispatched = shard(DSV3, Layout(tp=8, ep=8, attn_dp=True))
    assert all(isinstance(c, AllToAll) for layer in dispatched.layers if layer.moe for c in layer.collectives)
    dense = [layer for layer in gathered.layers if not layer.moe][0]
    assert dense.collectives == ()  # replicated dense MLP under attention DP: nothing to gather


def test_link_bytes_and_time_of_a_decode_step_by_hand():
    """64 sequences on 8 ranks (8 each), fp8 activations: per MoE layer each rank gathers 8 ranks x 8 tokens of
    H fp8 bytes plus top-8 ids and weights (6 B each), and reduce-scatters 8 x 8 tokens of H 16-bit partial sums;
    each a ring of 7 steps carrying 7/8 of its buffer."""
    b, lat, beta = 64, 3e-6, 1 / (450e9 * 0.5)
    gather_b = 8 * 8 * (H * 1 + 8 * 6)
    scatter_b = 8 * 8 * H * 2
    assert (gather_b, scatter_b) == (461_824, 917_504)
    c = step_cost(shard(DSV3, Layout(tp=8, ep=1, attn_dp=True)), make_chip(), FMT, CAL, b, b, b * 4096, 0.0)
    assert float(c.link_bytes) == pytest.approx(MOE_LAYERS * (gather_b + scatter_b))
    ring = 2 * 7 * lat + 7 / 8 * (gather_b + scatter_b) * beta
    assert float(c.classes["communication"].network_s) == pytest.approx(MOE_LAYERS * ring)


@settings(max_examples=60, deadline=None)
@given(tokens=st.integers(8, 20_000), tp=st.sampled_from([2, 4, 8]))
def test_expert_flop_per_chip_do_not_depend_on_the_split(tokens, tp):
    """Every rank runs every token on a 1/tp slice of each expert (ep 1) or its own tokens' copies on whole
    experts of its 1/tp share (ep = tp): the same MMA work per chip at any load (no tile rounding in FLOP)."""
    def expert_flop(ep: int) -> float:
        c = step_cost(shard(DSV3, Layout(tp=tp, ep=ep, attn_dp=True)), make_chip(), FMT, CAL, tokens, 0.0, 0.0,
                      float(tokens) * 512)
        return float(sum(np.asarray(v).sum() for v in c.flop_by_format.values()))
    assert expert_flop(1) == pytest.approx(expert_flop(tp), rel=1e-9)


def test_closed_loop_worker_keeps_a_stated_ep_below_its_tp():
    """TensorRT-LLM tp2ep1-dpa: the row's tp is the worker's, its ep 1: experts split in width. SGLang's per-rank
    TP1/EP1 on a 4-chip attention-DP worker and a tp1/ep8 row keep the experts expert-parallel over the worker."""
    lay, notes = Worker(chips=2, tp=2, ep=1, dpa=True).layout()
    assert lay == Layout(tp=2, ep=1, attn_dp=True) and "all-gathered" in notes[0]
    assert Worker(chips=4, tp=4, ep=2, dpa=True).layout()[0] == Layout(tp=4, ep=2, attn_dp=True)
    assert Worker(chips=4, tp=1, ep=1, dpa=True).layout()[0] == Layout(tp=4, ep=4, attn_dp=True)
    assert Worker(chips=8, tp=1, ep=8, dpa=True).layout() == (Layout(tp=8, ep=8, attn_dp=True), [])
    assert Worker(chips=2, tp=2, ep=2, dpa=True).layout() == (Layout(tp=2, ep=2, attn_dp=True), [])
