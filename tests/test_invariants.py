"""Physical invariants as properties: more capability is never slower, and no prediction
beats the roofline bound."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import make_chip, tiny_dense, tiny_moe
from inferchip.cost.step import step_cost
from inferchip.mapping.layout import Layout
from inferchip.mapping.memory_fit import Formats
from inferchip.mapping.sharding import shard
from inferchip.performance.mapped import map_model
from inferchip.performance.phases import static_batch
from inferchip.spec.calibration import Calibration

CAL = Calibration()
FMT = Formats("fp8", "fp8", "fp8")
MODELS = [tiny_dense(layers=4, hidden=2048, heads=16, kv_heads=4, ffn=8192), tiny_moe(layers=2)]

steps = st.fixed_dictionaries({
    "batch": st.integers(1, 512),
    "ctx": st.integers(1, 32768),
    "prefill": st.integers(0, 8192),
    "model": st.sampled_from(range(len(MODELS))),
    "tp": st.sampled_from([1, 2, 4, 8]),
})
factor = st.floats(1.0, 8.0)


def _time(chip, s) -> float:
    sm = shard(MODELS[s["model"]], Layout(tp=s["tp"]))
    pairs = s["prefill"] * (s["prefill"] + 1) / 2
    c = step_cost(sm, chip, FMT, CAL, s["batch"] + s["prefill"], s["batch"], s["batch"] * s["ctx"], pairs)
    return float(c.time_s)


@settings(max_examples=60, deadline=None)
@given(steps, factor)
def test_more_memory_bandwidth_is_never_slower(s, f):
    base = make_chip()
    faster = dataclasses.replace(base, memory_bytes_per_s=base.memory_bytes_per_s * f)
    assert _time(faster, s) <= _time(base, s) * (1 + 1e-12)


@settings(max_examples=60, deadline=None)
@given(steps, factor)
def test_more_flops_is_never_slower(s, f):
    base = make_chip()
    faster = dataclasses.replace(base, peak_flop_per_s={k: v * f for k, v in base.peak_flop_per_s.items()},
                                 vector_flop_per_s=base.vector_flop_per_s * f)
    assert _time(faster, s) <= _time(base, s) * (1 + 1e-12)


@settings(max_examples=60, deadline=None)
@given(steps, factor)
def test_more_link_bandwidth_is_never_slower(s, f):
    base = make_chip()
    faster = dataclasses.replace(base, link_bytes_per_s=base.link_bytes_per_s * f)
    assert _time(faster, s) <= _time(base, s) * (1 + 1e-12)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 1024), st.integers(1, 16384), st.sampled_from([1, 2, 4, 8]), st.floats(0.3, 3.0))
def test_decode_step_never_beats_the_roofline(batch, ctx, tp, bw_scale):
    """A decode step is never faster than weight+KV bytes / bandwidth nor FLOPs / peak."""
    model = MODELS[0]
    chip = make_chip(memory_bytes_per_s=3.35e12 * bw_scale)
    mm = map_model(model, chip, Layout(tp=tp), FMT, CAL)
    c = step_cost(mm.sm, chip, FMT, CAL, batch, batch, batch * ctx, 0.0)
    kv_bytes = float(mm.kv_bytes_per_seq(ctx)) * batch
    bytes_lb = (mm.weights_bytes + kv_bytes) / chip.memory_bytes_per_s
    flop = sum(float(np.sum(v)) for v in c.flop_by_format.values())
    flop_lb = flop / chip.peak_flop_per_s["fp8"]
    assert float(c.time_s) >= max(bytes_lb, flop_lb)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 256), st.integers(16, 4096), st.integers(16, 2048))
def test_static_batch_latency_is_consistent(batch, inp, out):
    """TTFT >= the prefill's FLOPs / peak; e2e = TTFT + (out-1) TPOT; throughput = batch*out/e2e."""
    chip = make_chip()
    mm = map_model(MODELS[0], chip, Layout(), FMT, CAL)
    met = static_batch(mm, batch, inp, out)
    n_chunks = max(np.ceil(batch * inp / mm.chunk_tokens), 1.0)
    prefill_flop = n_chunks * sum(float(np.sum(v)) for v in met.prefill.flop_by_format.values())
    assert float(met.ttft_s) >= prefill_flop / chip.peak_flop_per_s["fp8"]
    assert float(met.e2e_s) == pytest.approx(float(met.ttft_s) + (out - 1) * float(met.tpot_s))
    assert float(met.tokens_per_s_replica) * float(met.e2e_s) == pytest.approx(batch * out)
