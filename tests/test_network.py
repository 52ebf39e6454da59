"""Collective times (cost/network.py): the alpha-beta equations by hand, the scalar twin equal to the
array form, and the physical invariant that a faster link (more bandwidth, lower latency, more
algorithms) never makes a collective or a tensor-parallel step slower."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import make_chip, tiny_dense, tiny_moe
from inferchip.catalog.chips import family_defaults, load_chip
from inferchip.cost.network import (
    all_reduce_scalar_s,
    all_reduce_time_s,
    all_to_all_latency_s,
    all_to_all_latency_scalar_s,
    all_to_all_scalar_s,
    all_to_all_time_s,
    low_latency_fixed_s,
    point_to_point_time_s,
)
from inferchip.cost.step import compile_step
from inferchip.mapping.layout import Layout
from inferchip.mapping.memory_fit import Formats
from inferchip.mapping.sharding import shard
from inferchip.spec.calibration import Calibration
from inferchip.spec.chip import chip_params


def test_one_shot_and_two_shot_by_hand():
    bw, lat, eff = 448e9, 3e-6, 0.5
    beta = 1 / (bw * eff)
    # 57,344 B: 4 decode tokens of a 7168-wide bf16 hidden state, TP8.
    small = 4 * 7168 * 2.0
    one_shot = 2 * lat + 7 * small * beta  # 6 us + 1.79 us
    two_shot = 4 * lat + 2 * 7 / 8 * small * beta
    ring = 2 * 7 * lat + 2 * 7 / 8 * small * beta
    tree = 2 * 3 * lat + 2 * small * beta
    assert one_shot < two_shot < tree < ring
    assert all_reduce_time_s(small, 8, bw, lat, eff, 1.0) == pytest.approx(one_shot)
    assert all_reduce_time_s(small, 8, bw, lat, eff, 0.0) == pytest.approx(tree)
    assert one_shot == pytest.approx(7.792e-6, rel=1e-3)
    # 64 MB: two-shot's bytes win (one-shot moves 7 S, two-shot 1.75 S with 2 alpha more).
    big = 64e6
    assert all_reduce_time_s(big, 8, bw, lat, eff, 1.0) == pytest.approx(4 * lat + 1.75 * big * beta)
    assert all_reduce_time_s(big, 8, bw, lat, eff, 0.0) == pytest.approx(2 * 7 * lat + 1.75 * big * beta)
    # Two chips: one-shot reads one peer's buffer, 2 alpha + S beta.
    assert all_reduce_time_s(1e3, 2, bw, lat, eff, 1.0) == pytest.approx(2 * lat + 1e3 * beta)
    assert all_reduce_time_s(1e3, 1, bw, lat, eff, 1.0) == 0.0
    assert all_reduce_time_s(0.0, 8, bw, lat, eff, 1.0) == 0.0


def test_point_to_point_by_hand():
    assert point_to_point_time_s(1e6, 100e9, 2e-6, 0.5) == pytest.approx(2e-6 + 1e6 / 50e9)


@settings(max_examples=200, deadline=None)
@given(s=st.floats(0.0, 1e9), g=st.integers(1, 72), bw=st.floats(1e9, 2e12), lat=st.floats(0.0, 1e-4),
       eff=st.floats(0.05, 1.0), direct=st.sampled_from([0.0, 1.0]))
def test_scalar_twin_equals_array_form(s, g, bw, lat, eff, direct):
    a = float(all_reduce_time_s(s, g, bw, lat, eff, direct))
    assert all_reduce_scalar_s(s, float(g), bw, lat, eff, direct) == pytest.approx(a, rel=1e-12, abs=1e-18)


@settings(max_examples=300, deadline=None)
@given(s=st.floats(1.0, 1e9), g=st.integers(2, 72), bw=st.floats(1e9, 2e12), lat=st.floats(0.0, 1e-4),
       eff=st.floats(0.05, 1.0), more_bw=st.floats(1.0, 10.0), less_lat=st.floats(0.0, 1.0),
       direct=st.sampled_from([0.0, 1.0]))
def test_faster_link_never_slower(s, g, bw, lat, eff, more_bw, less_lat, direct):
    """More bandwidth, lower latency or the direct kernels never make a collective slower."""
    base = float(all_reduce_time_s(s, g, bw, lat, eff, direct))
    tol = 1e-12 * base
    assert float(all_reduce_time_s(s, g, bw * more_bw, lat, eff, direct)) <= base + tol
    assert float(all_reduce_time_s(s, g, bw, lat * less_lat, eff, direct)) <= base + tol
    assert float(all_reduce_time_s(s, g, bw, lat, eff, 1.0)) <= float(all_reduce_time_s(s, g, bw, lat, eff, 0.0))
    a2a = float(all_to_all_time_s(s, g, bw, lat, eff))
    assert float(all_to_all_time_s(s, g, bw * more_bw, lat * less_lat, eff)) <= a2a * (1 + 1e-12)
    # Expert kernels with their own rate R: never faster than the link alone nor than S / R, a faster link never
    # slower, and the scalar twin is the same equation.
    kern = float(all_to_all_time_s(s, g, bw, lat, eff, 150e9))
    assert kern >= a2a * (1 - 1e-12) and kern >= s / 150e9
    assert float(all_to_all_time_s(s, g, bw * more_bw, lat * less_lat, eff, 150e9)) <= kern * (1 + 1e-12)
    assert all_to_all_scalar_s(s, float(g), bw, lat, eff, 150e9) == pytest.approx(kern, rel=1e-12, abs=1e-18)
    assert all_to_all_scalar_s(s, float(g), bw, lat, eff) == pytest.approx(a2a, rel=1e-12, abs=1e-18)
    p2p = float(point_to_point_time_s(s, bw, lat, eff))
    assert float(point_to_point_time_s(s, bw * more_bw, lat * less_lat, eff)) <= p2p * (1 + 1e-12)
    # Never below the bandwidth bound: every algorithm moves at least 2(p-1)/p S per chip (ring and
    # two-shot; tree 2 S, one-shot (p-1) S, both at least as much for p >= 2).
    assert base >= 2 * (g - 1) / g * s / (bw * eff) * (1 - 1e-12)


@settings(max_examples=25, deadline=None)
@given(tokens=st.integers(1, 4096), kv=st.integers(0, 1 << 20), tp=st.sampled_from([2, 4, 8]),
       more_bw=st.floats(1.0, 8.0), less_lat=st.floats(0.0, 1.0), direct=st.sampled_from([0.0, 1.0]),
       moe=st.booleans())
def test_tensor_parallel_step_never_slower_on_a_faster_link(tokens, kv, tp, more_bw, less_lat, direct, moe):
    model = tiny_moe() if moe else tiny_dense()
    sm = shard(model, Layout(tp=tp))
    fmt, cal = Formats("bf16", "bf16", "bf16"), Calibration()
    slow = make_chip(link_direct_all_reduce=direct)
    fast = make_chip(link_direct_all_reduce=1.0, link_bytes_per_s=slow.link_bytes_per_s * more_bw,
                     link_latency_s=slow.link_latency_s * less_lat)
    dec = float(min(tokens, 256))
    t_slow = float(compile_step(sm, slow, fmt, cal).cost(float(tokens), dec, float(kv), 0.0).time_s)
    t_fast = float(compile_step(sm, fast, fmt, cal).cost(float(tokens), dec, float(kv), 0.0).time_s)
    assert t_fast <= t_slow * (1 + 1e-9)


def test_step_prices_the_direct_all_reduce_per_layer_by_hand():
    """A TP8 decode step of a 2-layer dense model pays 2 all-reduces per layer: the direct kernels
    change the communication class by 4 x (tree - one-shot); the logits gather is the same in both."""
    model = tiny_dense(layers=2, hidden=1024)
    sm = shard(model, Layout(tp=8))
    fmt, cal = Formats("bf16", "bf16", "bf16"), Calibration(link_bandwidth_fraction=0.5)
    seqs = 4.0

    def comm_s(direct: float) -> float:
        c = compile_step(sm, make_chip(link_direct_all_reduce=direct), fmt, cal).cost(seqs, seqs, seqs * 100, 0.0)
        return float(c.classes["communication"].network_s)

    nbytes = seqs * 1024 * 2.0  # bf16 hidden state of 4 tokens
    beta = 1 / (450e9 * 0.5)
    one_shot = 2 * 3e-6 + 7 * nbytes * beta
    tree = 2 * 3 * 3e-6 + 2 * nbytes * beta
    assert comm_s(0.0) - comm_s(1.0) == pytest.approx(4 * (tree - one_shot))


def test_catalogue_direct_all_reduce_families():
    """NVLink/NVSwitch and xGMI full-mesh families reduce with direct kernels; PCIe cards and
    torus / Ethernet scale-up do not (they keep the library's ring and tree)."""
    for fam in ("nvidia-hopper", "nvidia-blackwell", "amd-cdna3", "amd-cdna4"):
        assert family_defaults(fam).scaleup_direct_all_reduce
    for fam in ("nvidia-ada", "google-tpu", "intel-gaudi", "generic"):
        assert not family_defaults(fam).scaleup_direct_all_reduce
    mi300x = chip_params(load_chip("amd-mi300x"), family_defaults("amd-cdna3"))
    assert mi300x.link_direct_all_reduce == 1.0
    assert math.isclose(mi300x.link_latency_s, 3e-6)
    l40s = load_chip("nvidia-l40s")
    assert chip_params(l40s, family_defaults(l40s.family)).link_direct_all_reduce == 0.0
    assert np.isfinite(mi300x.link_bytes_per_s)


def test_low_latency_expert_call_by_hand():
    """One call of the one-sided low-latency expert kernels over 48 ranks: 23.5 us + 47 x 0.099 us = 28.153 us
    (TensorRT-LLM tech blog 18's GB200 line; no family of catalog/families.yaml carries it yet), against
    47 x 3 us = 141 us of link steps; the logits gather (no rank elements), a step without decodes and a family
    without the figure keep (p - 1) alpha; the whole all-to-all adds the wire bytes to the floor."""
    floor, per_peer, alpha = 23.5e-6, 0.099e-6, 3e-6
    assert float(low_latency_fixed_s(48, floor, per_peer)) == pytest.approx(28.153e-6)
    lat = all_to_all_latency_s(np.array([48.0, 48.0, 48.0, 48.0]), alpha, np.array([7168.0, 0.0, 7168.0, 7168.0]),
                               np.array([90.0, 90.0, 0.0, 90.0]), np.array([floor, floor, floor, 0.0]), per_peer)
    assert lat == pytest.approx([28.153e-6, 141e-6, 141e-6, 141e-6])
    s, bw, eff = 4.8e6, 900e9, 0.46
    t = float(all_to_all_time_s(s, 48, bw, alpha, eff, fixed_s=28.153e-6))
    assert t == pytest.approx(28.153e-6 + 47 / 48 * s / (bw * eff))
    assert all_to_all_scalar_s(s, 48.0, bw, alpha, eff, fixed_s=28.153e-6) == pytest.approx(t, rel=1e-12)
    assert float(all_to_all_time_s(0.0, 48, bw, alpha, eff, fixed_s=28.153e-6)) == 0.0


@settings(max_examples=200, deadline=None)
@given(g=st.integers(2, 72), more=st.integers(0, 64), floor=st.floats(1e-6, 1e-4), per_peer=st.floats(0.0, 1e-6))
def test_low_latency_floor_never_shrinks_with_more_ranks(g, more, floor, per_peer):
    """More ranks never make one low-latency call cheaper, and its fixed part is never below the floor."""
    small = float(low_latency_fixed_s(g, floor, per_peer))
    assert small >= floor
    assert float(low_latency_fixed_s(g + more, floor, per_peer)) >= small


def test_family_figure_reaches_the_chip_in_si_units():
    """A family's (floor, per peer) figure in us becomes the chip's seconds: the Blackwell family carries the public
    one-sided figure (TensorRT-LLM tech blog 18, docs stop 33 "floor33"); a family without it (0, 0) keeps the
    link's (p - 1) alpha."""
    fam = family_defaults("nvidia-blackwell")
    spec = load_chip("nvidia-gb200-186gb")
    shipped = chip_params(spec, fam)
    assert shipped.expert_a2a_decode_floor_s == pytest.approx(23.5e-6)
    assert shipped.expert_a2a_decode_per_peer_s == pytest.approx(0.099e-6)
    plain = chip_params(spec, fam.model_copy(update={"expert_a2a_decode_floor_us": (0.0, 0.0)}))
    assert plain.expert_a2a_decode_floor_s == 0.0 and plain.expert_a2a_decode_per_peer_s == 0.0
    assert family_defaults("nvidia-hopper").expert_a2a_decode_floor_us == (0.0, 0.0)


@pytest.mark.parametrize("figure", [[-1.0, 0.1], [23.5, -0.1], [23.5, float("nan")], [float("inf"), 0.0]])
def test_family_figure_out_of_bounds_is_rejected_naming_the_field(figure):
    """``expert_a2a_decode_floor_us`` in a family file carries the same bound as every other latency of the family
    (finite, 0 to 1e6 us): a negative or non-finite floor would price a call below zero or as NaN."""
    from inferchip.catalog.yaml_io import validate
    from inferchip.errors import SpecError
    from inferchip.spec.chip import FamilyDefaults

    body = {**family_defaults("nvidia-blackwell").model_dump(), "expert_a2a_decode_floor_us": figure}
    with pytest.raises(SpecError, match=r"families.yaml.*expert_a2a_decode_floor_us.*between 0 and"):
        validate(FamilyDefaults, body, "families.yaml (family 'nvidia-blackwell')")
    body["expert_a2a_decode_floor_us"] = [23.5, 0.099]
    assert validate(FamilyDefaults, body, "families.yaml").expert_a2a_decode_floor_us == (23.5, 0.099)


@settings(max_examples=200, deadline=None)
@given(g=st.integers(1, 72), alpha=st.floats(0.0, 1e-5), rank=st.sampled_from([0.0, 7168.0]),
       decodes=st.sampled_from([0.0, 1.0, 90.0]), floor=st.sampled_from([0.0, 23.5e-6]), per_peer=st.floats(0.0, 1e-6))
def test_latency_scalar_twin_makes_the_same_decision(g, alpha, rank, decodes, floor, per_peer):
    """The scalar step's latency term (``all_to_all_latency_scalar_s``) is the array one, floor or link steps."""
    want = float(all_to_all_latency_s(float(g), alpha, rank, decodes, floor, per_peer))
    assert all_to_all_latency_scalar_s(float(g), alpha, rank, decodes, floor, per_peer) == pytest.approx(want,
                                                                                                        rel=1e-12)
