"""Prefill attention as its own kernel class (``prefill_attention_compute_fraction``) against hand
calculations, attention projections at their weights' compute format, and the property that a
prefill step never beats its compute and DRAM bounds."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import make_chip, tiny_dense, tiny_moe
from inferchip.cost.rules import cost_context, cost_operator
from inferchip.cost.step import step_cost, step_points
from inferchip.mapping.layout import Layout
from inferchip.mapping.memory_fit import Formats
from inferchip.mapping.operators import Attention, Gemm
from inferchip.mapping.sharding import shard
from inferchip.spec.calibration import Calibration

BF16 = Formats("bf16", "bf16", "bf16")


def _attention_s(cal: Calibration, tokens: float, seqs: float, kv: float, pairs: float) -> float:
    sm = shard(tiny_dense(layers=1, hidden=1024, heads=8, kv_heads=2), Layout())
    return float(step_cost(sm, make_chip(), BF16, cal, tokens, seqs, kv, pairs).classes["attention"].time_s)


def test_prefill_attention_by_hand():
    """One layer, 8 query heads of 128, 2 KV heads, bf16; one 4,096-token prompt, no decodes."""
    cal = Calibration(prefill_attention_compute_fraction=0.6, attention_compute_fraction=0.2)
    t = 4096
    pairs = t * (t + 1) / 2  # causal: each query sees itself and the tokens before it
    flop = 2 * 8 * (128 + 128) * pairs  # Q K^T and P V over the causal pairs, 8 heads
    compute_s = flop / (989.4e12 * 0.6)
    nbytes = t * (8 * 256 * 2 + 2 * 2 * 128 * 2)  # q, k, v read once (bf16) + K and V written
    memory_s = nbytes / (3.35e12 * cal.memory_bandwidth_fraction)
    assert compute_s > memory_s  # a long prompt's attention is compute bound
    expected = compute_s + 3e-6 * cal.kernel_overhead_scale  # one kernel launch
    assert _attention_s(cal, t, 0, 0, pairs) == pytest.approx(expected)


def test_causal_pairs_are_half_the_square():
    """Causal masking halves the score and value FLOP of a prompt: pairs t (t + 1) / 2, not t^2."""
    cal = Calibration(prefill_attention_compute_fraction=0.5)
    t = 8192
    causal = _attention_s(cal, t, 0, 0, t * (t + 1) / 2)
    square = _attention_s(cal, t, 0, 0, float(t * t))
    over = 3e-6 * cal.kernel_overhead_scale
    assert (causal - over) / (square - over) == pytest.approx((t + 1) / (2 * t), rel=1e-9)


@settings(max_examples=30, deadline=None)
@given(frac=st.floats(0.05, 1.0), seqs=st.integers(1, 256), ctx=st.integers(1, 16384))
def test_each_phase_reads_only_its_own_fraction(frac, seqs, ctx):
    """The prefill fraction never moves a decode-only step; the decode fraction never moves a prefill-only one."""
    base = Calibration()
    pre = base.model_copy(update={"prefill_attention_compute_fraction": frac})
    dec = base.model_copy(update={"attention_compute_fraction": frac})
    assert _attention_s(pre, seqs, seqs, seqs * ctx, 0) == _attention_s(base, seqs, seqs, seqs * ctx, 0)
    pairs = ctx * (ctx + 1) / 2
    assert _attention_s(dec, ctx, 0, 0, pairs) == _attention_s(base, ctx, 0, 0, pairs)


def test_mla_prefill_is_not_absorbed():
    """DeepSeek-V3 MLA prefill runs as multi-head attention over the up-projected K and V:
    2 h (192 + 128) FLOP per pair (qk = 128 nope + 64 rope, v = 128), at the prefill fraction;
    decode's absorbed form is 2 h (576 + 512) per KV token at the decode fraction."""
    att = Attention(q_heads=16, qk_dim=192, v_dim=128, kv_elements_per_token=576, mla=True, latent_dim=512)
    cal = Calibration(prefill_attention_compute_fraction=0.5, attention_compute_fraction=0.25)
    ctx = cost_context(make_chip(), Formats("fp8", "bf16", "fp8"), cal)
    pairs = 1000.0 * 1001 / 2
    pre = cost_operator(att, ctx, step_points(1, 1000.0, 0.0, 0.0, pairs))
    assert float(np.ravel(pre.flop)[0]) == pytest.approx(2 * 16 * (192 + 128) * pairs)
    assert float(np.ravel(pre.compute_s)[0]) == pytest.approx(2 * 16 * 320 * pairs / (989.4e12 * 0.5))
    dec = cost_operator(att, ctx, step_points(1, 4.0, 4.0, 4000.0, 0.0))
    assert float(np.ravel(dec.flop)[0]) == pytest.approx(2 * 16 * (576 + 512) * 4000)
    assert float(np.ravel(dec.compute_s)[0]) == pytest.approx(2 * 16 * 1088 * 4000 / (989.4e12 * 0.25))


def test_bf16_attention_projections_run_at_the_bf16_rate():
    """gpt-oss-style map: MXFP4 experts, FP8 activations, attention projections left bf16. A large
    projection GEMM is compute bound at the bf16 peak (half the FP8 one), an MLP GEMM at the FP8 peak."""
    cal = Calibration()
    fmt = Formats("mxfp4", "fp8", "fp8", attention_weights="bf16")
    ctx = cost_context(make_chip(), fmt, cal)
    m = 8192.0  # 64 M tiles of 128: whole tiles and waves
    pts = step_points(1, m, 0.0, 0.0, m * (m + 1) / 2)
    k = n = 4096
    waves = np.ceil(64 * 32 / 132)  # M tiles x N tiles over the tiles in flight
    spent = waves * 132 * 128 * 2 * 128 * k  # FLOP the waves execute
    proj = cost_operator(Gemm("o", k, n, "attention_proj"), ctx, pts)
    mlp = cost_operator(Gemm("mlp_up", k, n, "mlp"), ctx, pts)
    assert float(np.ravel(proj.compute_s)[0]) == pytest.approx(spent / (989.4e12 * cal.gemm_compute_fraction))
    assert float(np.ravel(mlp.compute_s)[0]) == pytest.approx(spent / (1978.9e12 * cal.gemm_compute_fraction))
    # without the map every projection runs in the GEMM format
    plain = cost_operator(Gemm("o", k, n, "attention_proj"), cost_context(make_chip(), Formats("fp8", "fp8", "fp8"),
                                                                         cal), pts)
    assert float(np.ravel(plain.compute_s)[0]) == pytest.approx(float(np.ravel(mlp.compute_s)[0]))


MODELS = [tiny_dense(layers=4, hidden=2048, heads=16, kv_heads=4, ffn=8192), tiny_moe(layers=2)]
FORMATS = [Formats("fp8", "fp8", "fp8"), BF16, Formats("fp8", "fp8", "fp8", attention_weights="bf16")]


@settings(max_examples=80, deadline=None)
@given(model=st.sampled_from(range(len(MODELS))), fmt=st.sampled_from(range(len(FORMATS))),
       tp=st.sampled_from([1, 2, 4, 8]), prompts=st.integers(1, 16), prompt=st.integers(1, 16384),
       cached=st.integers(0, 8192), frac=st.floats(0.05, 1.0), bw_scale=st.floats(0.3, 3.0))
def test_prefill_step_never_beats_its_compute_or_dram_bound(model, fmt, tp, prompts, prompt, cached, frac, bw_scale):
    """A prefill step (whole prompt chunks after ``cached`` tokens, causal pairs) is never faster than its
    FLOP at the chip's fastest peak nor its DRAM bytes at the full bandwidth, whatever the prefill fraction
    (up to 1: the kernel at peak)."""
    chip = make_chip(memory_bytes_per_s=3.35e12 * bw_scale)
    cal = Calibration(prefill_attention_compute_fraction=frac)
    sm = shard(MODELS[model], Layout(tp=tp))
    tokens = prompts * prompt
    pairs = prompts * prompt * (cached + (prompt + 1) / 2)
    c = step_cost(sm, chip, FORMATS[fmt], cal, tokens, 0, 0, pairs)
    flop = sum(float(np.sum(v)) for v in c.flop_by_format.values())
    t = float(c.time_s)
    assert t >= flop / max(chip.peak_flop_per_s.values())
    assert t >= float(c.dram_bytes) / chip.memory_bytes_per_s
    att = c.classes["attention"]
    heads = MODELS[model].num_heads // tp
    hd = MODELS[model].head_dim
    att_flop = 2 * heads * 2 * hd * pairs * MODELS[model].num_layers
    peak = chip.peak_flop_per_s["fp8" if FORMATS[fmt].kv == "fp8" else "bf16"]
    assert float(att.time_s) >= att_flop / peak * (1 - 1e-12)  # attention alone never beats its peak
    # nor its own DRAM bytes (q read and o written at least at the activation width, K and V read and written):
    # the review's roofline chart draws this class on its own (tests/test_roofline_chart_bound.py)
    fm = FORMATS[fmt]
    att_bytes = sum(layer.count * tokens * (layer.attention.q_heads * (layer.attention.qk_dim + layer.attention.v_dim)
                                            * fm.act_bytes + 2 * layer.attention.kv_elements_per_token * fm.kv_bytes)
                    for layer in sm.layers)
    assert float(att.time_s) >= att_bytes / chip.memory_bytes_per_s * (1 - 1e-12)


def test_faster_prefill_attention_is_never_slower():
    chip, sm = make_chip(), shard(MODELS[0], Layout())
    times = [float(step_cost(sm, chip, BF16, Calibration(prefill_attention_compute_fraction=f), 8192, 0, 0,
                             8192 * 8193 / 2).time_s) for f in (0.2, 0.4, 0.6, 0.8, 1.0)]
    assert all(a >= b for a, b in zip(times, times[1:], strict=False))
    assert times[0] > times[-1]


def test_engine_kernel_efficiency_scales_both_attention_classes():
    from inferchip.catalog.engines import engine_calibration, load_engines

    e = load_engines().engines[0]
    eng = e.model_copy(update={"kernel_efficiency": e.kernel_efficiency.model_copy(update={"attention": 1.5})})
    cal = Calibration(attention_compute_fraction=0.2, prefill_attention_compute_fraction=0.5)
    out = engine_calibration(cal, eng)
    assert out.attention_compute_fraction == pytest.approx(0.3)
    assert out.prefill_attention_compute_fraction == pytest.approx(0.75)


def test_elementwise_moves_16bit_hidden_states_under_fp8_activations():
    """Norms, residual adds, rotary and the gated activation read and write bf16 tensors: an FP8-activation
    step moves the same elementwise bytes as a bf16 one (2 bytes per element), not half."""
    sm = shard(tiny_dense(layers=1, hidden=1024, heads=8, kv_heads=2, ffn=4096), Layout())
    chip, cal = make_chip(), Calibration()
    fp8 = step_cost(sm, chip, Formats("fp8", "fp8", "fp8"), cal, 4096, 0, 0, 4096 * 4097 / 2)
    bf16 = step_cost(sm, chip, BF16, cal, 4096, 0, 0, 4096 * 4097 / 2)
    e = fp8.classes["elementwise"]
    assert float(e.time_s) == pytest.approx(float(bf16.classes["elementwise"].time_s))
    # by hand: 4h + 2h (norms, residual) + 8 heads x 128 x 2 (rotary on q and k) + 3 f (gated activation)
    elements = 6 * 1024 + 8 * 128 * 2 + 3 * 4096
    assert float(e.memory_bound_s) == pytest.approx(4096 * elements * 2 / (3.35e12 * cal.memory_bandwidth_fraction))
