"""One cost rule per operator kind, each against a hand calculation; the registry refuses an
unknown kind; the step is the sum of its operators' rules."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pytest

from conftest import make_chip, tiny_dense, tiny_moe
from inferchip.cost.rules import (
    RULES,
    KernelCost,
    UnknownOperatorError,
    cost_context,
    cost_operator,
    rule_for,
)
from inferchip.cost.step import compile_step, step_cost, step_points
from inferchip.mapping.layout import Layout
from inferchip.mapping.memory_fit import Formats
from inferchip.mapping.operators import (
    OP_CLASSES,
    AllReduce,
    AllToAll,
    Attention,
    Elementwise,
    Embedding,
    Gemm,
    GroupedGemm,
    HostStep,
    LmHead,
    PointToPoint,
    VectorGemm,
)
from inferchip.mapping.sharding import shard
from inferchip.spec.calibration import Calibration

CAL = Calibration()  # gemm 0.80, attention 0.55, memory 0.80, link 0.70, kernel overhead x1, step 2 ms, MoE 1.25
BF16 = Formats("bf16", "bf16", "bf16")
FP8 = Formats("fp8", "fp8", "fp8")
BW, PEAK_BF16, PEAK_FP8, LINK, LAT, K_OVER = 3.35e12, 989.4e12, 1978.9e12, 450e9, 3e-6, 3e-6


def one(op, fmt=BF16, tokens=1.0, decode_seqs=0.0, kv=0.0, pairs=0.0, rows=None, cal=CAL) -> KernelCost:
    ctx = cost_context(make_chip(), fmt, cal)
    return cost_operator(op, ctx, step_points(1, tokens, decode_seqs, kv, pairs, rows))


def val(x) -> float:
    return float(np.asarray(x).reshape(-1)[0])


def test_gemm_by_hand():
    # m=256, k=n=4096, bf16 on 128x128 tiles, 132 in flight: 2 x 32 = 64 tiles, one wave of 132.
    c = one(Gemm("o", 4096, 4096, "attention_proj"), tokens=256.0, decode_seqs=256.0)
    spent = 132 * 2 * 128 * 128 * 4096
    assert val(c.compute_s) == pytest.approx(spent / (PEAK_BF16 * 0.80))
    nbytes = 4096 * 4096 * 2 + 256 * (4096 + 4096) * 2  # weights once, activations in and out
    assert val(c.dram_bytes) == pytest.approx(nbytes)
    assert val(c.memory_s) == pytest.approx(nbytes / (BW * 0.80))
    assert val(c.flop) == pytest.approx(2 * 256 * 4096 * 4096)
    assert val(c.overhead_s) == pytest.approx(K_OVER)


def test_lm_head_runs_the_logit_rows_with_16_bit_weights():
    # fp8 model: the LM head still reads bf16 weights and computes in bf16; 3 logit rows (tile 16).
    c = one(LmHead(4096, 32000), fmt=FP8, tokens=100.0, decode_seqs=2.0, rows=3.0)
    tiles = math.ceil(32000 / 128)  # 250 tiles of 16 x 128 -> 2 waves of 132
    assert val(c.compute_s) == pytest.approx(2 * 132 * 2 * 16 * 128 * 4096 / (PEAK_BF16 * 0.80))
    assert tiles == 250
    assert val(c.dram_bytes) == pytest.approx(4096 * 32000 * 2 + 3 * (4096 + 32000) * 1)


def test_router_runs_on_the_vector_units():
    c = one(VectorGemm("router", 1024, 8), tokens=64.0, decode_seqs=64.0)
    flop = 2 * 64 * 1024 * 8
    assert val(c.flop) == flop
    assert val(c.compute_s) == pytest.approx(flop / (66.9e12 * 0.80))


def test_grouped_gemm_by_hand():
    # 8 local experts of 1024 x 2048, top-2 of 8 (f = 1/4), ep 1, 64 tokens: each expert gets
    # 64 x 1/4 x 8 / 1 / 8 = 16 tokens on average, the busiest 16 x 1.25 = 20 (one 32-row tile);
    # an expert gets none with probability (3/4)^64 under uniform routing (expert_popularity_log_sd 0), so
    # 8 (1 - 0.75^64) experts read weights.
    c = one(GroupedGemm("experts_up", 1024, 2048, 8, 0.25, 8, 1), tokens=64.0, decode_seqs=64.0,
            cal=CAL.model_copy(update={"expert_popularity_log_sd": 0.0}))
    active = 8 * (1 - 0.75 ** 64)
    waves = math.ceil(1 * 16 * active / 132)  # 16 N tiles per expert
    assert val(c.compute_s) == pytest.approx(waves * 132 * 2 * 32 * 128 * 1024 / (PEAK_BF16 * 0.80))
    assert val(c.flop) == pytest.approx(2 * 16 * 1024 * 2048 * 8)
    assert val(c.dram_bytes) == pytest.approx(1024 * 2048 * active * 2 + 16 * 8 * (1024 + 2048) * 2)


def test_attention_decode_by_hand():
    # 8 heads of 128, 2 KV heads (512 KV elements per token), bf16; 16 sequences of 4096 tokens.
    c = one(Attention(8, 128, 128, 512), tokens=16.0, decode_seqs=16.0, kv=16 * 4096.0)
    flop = 2 * 8 * (128 + 128) * 16 * 4096
    nbytes = 16 * 4096 * 512 * 2 + 16 * 512 * 2  # the cache read, the new tokens' K and V written
    assert val(c.flop) == pytest.approx(flop)
    assert val(c.compute_s) == pytest.approx(flop / (PEAK_BF16 * 0.55))
    assert val(c.memory_s) == pytest.approx(nbytes / (BW * 0.80))
    assert val(c.overhead_s) == pytest.approx(K_OVER)  # one kernel: decode only


def test_mla_decode_scores_over_latent_and_rope_key():
    # Absorbed MLA: 16 heads, latent 512 + rope 64 cached per token, 2 h (576 + 512) FLOP per KV token.
    c = one(Attention(16, 192, 128, 576, mla=True, latent_dim=512), tokens=4.0, decode_seqs=4.0, kv=4 * 1000.0)
    assert val(c.flop) == pytest.approx(2 * 16 * (576 + 512) * 4000)


def test_sliding_window_caps_kv_read_and_prefill_pairs():
    full = one(Attention(8, 128, 128, 512), tokens=2048.0, decode_seqs=0.0, pairs=2048 * 2049 / 2)
    win = one(Attention(8, 128, 128, 512, window=256), tokens=2048.0, decode_seqs=0.0, pairs=2048 * 2049 / 2)
    assert val(win.flop) == pytest.approx(2 * 8 * 256 * 2048 * 256)
    assert val(full.flop) == pytest.approx(2 * 8 * 256 * 2048 * 2049 / 2)


def test_elementwise_and_embedding_are_memory_kernels():
    e = one(Elementwise(10000.0, 3), tokens=32.0, decode_seqs=32.0)
    assert val(e.memory_s) == pytest.approx(32 * 10000 * 2 / (BW * 0.80))
    assert val(e.overhead_s) == pytest.approx(3 * K_OVER)
    emb = one(Embedding(4096), fmt=FP8, tokens=32.0, decode_seqs=32.0)
    assert val(emb.dram_bytes) == 32 * 4096 * 2  # the table stays 16-bit


def test_all_reduce_by_hand():
    # 8192 tokens x 8192 bf16 elements = 128 MiB over 8 chips: ring beats tree at this size.
    c = one(AllReduce(8192, 8), tokens=8192.0, decode_seqs=8192.0)
    s, bw = 8192 * 8192 * 2, LINK * 0.70
    ring = 2 * 7 * LAT + 2 * 7 / 8 * s / bw
    tree = 2 * 3 * LAT + 2 * s / bw
    assert ring < tree
    assert val(c.network_s) == pytest.approx(ring)
    assert val(c.link_bytes) == s
    assert val(c.compute_s) == 0.0 and val(c.memory_s) == 0.0
    # 16 tokens (256 KiB): the latency-optimal tree wins.
    small = one(AllReduce(8192, 8), tokens=16.0, decode_seqs=16.0)
    assert val(small.network_s) == pytest.approx(2 * 3 * LAT + 2 * 16 * 8192 * 2 / bw)


def test_all_to_all_by_hand():
    # MoE dispatch in fp8: 64 tokens x top-2 x 4096 elements x 1 byte over 4 chips.
    c = one(AllToAll(2 * 4096.0, 4, "activation"), fmt=FP8, tokens=64.0, decode_seqs=64.0)
    s = 64 * 2 * 4096 * 1
    assert val(c.network_s) == pytest.approx(3 * LAT + 3 / 4 * s / (LINK * 0.70))
    # The combine comes back 16-bit, and the logits' gather moves fp32 logit rows.
    comb = one(AllToAll(2 * 4096.0, 4), fmt=FP8, tokens=64.0, decode_seqs=64.0)
    assert val(comb.link_bytes) == 2 * s
    logits = one(AllToAll(32000.0, 4, "fp32_logits", rows="logit_rows"), tokens=100.0, decode_seqs=2.0, rows=3.0)
    assert val(logits.link_bytes) == 3 * 32000 * 4


def test_expert_kernels_rate_prices_prefill_steps_only():
    """A chip family whose expert all-to-all kernels move 150 GB/s (DeepEP normal kernels): a prefill-only step's
    dispatch pays all its bytes at that rate where the wire (450 GB/s x 0.70) would be faster; a step with
    decodes (low-latency kernels) and the LM head's logit gather keep the link's price."""
    ctx = cost_context(make_chip(expert_a2a_kernel_bytes_per_s=150e9), FP8, CAL)
    # top-2 over 4 ranks: 4 (1 - (3/4)^2) = 1.75 destination ranks per token, not 2 copies
    op = AllToAll(2 * 4096.0, 4, "activation", rank_elements_per_row=1.75 * 4096.0)
    s = 4096 * 1.75 * 4096 * 1
    pre = cost_operator(op, ctx, step_points(1, 4096.0, 0.0, 0.0, 4096.0 ** 2 / 2))
    assert val(pre.link_bytes) == pytest.approx(s)
    assert val(pre.network_s) == pytest.approx(3 * LAT + s / 150e9)
    dec = cost_operator(op, ctx, step_points(1, 4096.0, 4096.0, 4096.0, 0.0))
    assert val(dec.network_s) == pytest.approx(3 * LAT + 3 / 4 * s / (LINK * 0.70))
    # a family without such kernels: every routed copy, at the link's price
    plain = cost_operator(op, cost_context(make_chip(), FP8, CAL), step_points(1, 4096.0, 0.0, 0.0, 4096.0 ** 2 / 2))
    assert val(plain.network_s) == pytest.approx(3 * LAT + 3 / 4 * (s / 1.75 * 2) / (LINK * 0.70))
    gather = cost_operator(AllToAll(32000.0, 4, "fp32_logits", rows="logit_rows"), ctx,
                           step_points(1, 100.0, 0.0, 0.0, 50.0, 3.0))
    assert val(gather.network_s) == pytest.approx(3 * LAT + 3 / 4 * 3 * 32000 * 4 / (LINK * 0.70))


def test_point_to_point_and_host():
    c = one(PointToPoint(4096.0), tokens=10.0, decode_seqs=10.0)
    assert val(c.network_s) == pytest.approx(LAT + 10 * 4096 * 2 / (LINK * 0.70))
    assert val(one(HostStep()).overhead_s) == CAL.step_overhead_s


@dataclass(frozen=True)
class Mystery:
    op_class: str = "mlp"


def test_unknown_operator_kind_raises_naming_it():
    with pytest.raises(UnknownOperatorError, match="Mystery"):
        rule_for(Mystery)
    with pytest.raises(UnknownOperatorError, match="Mystery"):
        cost_operator(Mystery(), cost_context(make_chip(), BF16, CAL), step_points(1, 1.0, 1.0, 1.0, 0.0))
    sm = shard(tiny_dense(), Layout())
    layer = sm.layers[0]
    bad = type(layer)(layer.count, (*layer.gemms, Mystery()), layer.attention, layer.elementwise,
                      layer.collectives, layer.moe)
    with pytest.raises(UnknownOperatorError, match="Mystery"):
        compile_step(type(sm)(**{**sm.__dict__, "layers": (bad,)}), make_chip(), BF16, CAL)


def test_every_operator_kind_has_a_rule_and_an_explicit_class():
    ops = [op for layer in shard(tiny_moe(), Layout(tp=2, ep=2, pp=2)).layers for op in layer.operators()]
    ops += list(shard(tiny_moe(), Layout(tp=2, ep=2, pp=2)).stage_operators())
    assert {type(op) for op in ops} <= set(RULES)
    assert all(op.op_class in OP_CLASSES for op in ops)
    classes = {op.name: op.op_class for op in ops if hasattr(op, "name")}
    assert classes["router"] == classes["experts_up"] == "experts" and classes["qkv"] == "attention_proj"


@pytest.mark.parametrize("model, layout", [(tiny_dense(), Layout(tp=2, pp=2)), (tiny_moe(), Layout(tp=2, ep=2))])
def test_step_is_the_sum_of_its_rules(model, layout):
    sm, chip = shard(model, layout), make_chip()
    ctx = cost_context(chip, FP8, CAL)
    pts = step_points(1, 300.0, 44.0, 44 * 1000.0, 256 * 257 / 2)
    total = 0.0
    for op, reps in sm.operators():
        c = cost_operator(op, ctx, pts)
        body = max(val(c.compute_s), val(c.memory_s))
        total += reps * (body + val(c.overhead_s) + val(c.network_s))
    cost = step_cost(sm, chip, FP8, CAL, 300.0, 44.0, 44 * 1000.0, 256 * 257 / 2)
    assert float(cost.time_s) == pytest.approx(total, rel=1e-12)
    assert float(cost.time_s) == pytest.approx(sum(float(c.time_s) for c in cost.classes.values()), rel=1e-12)


def test_plan_evaluates_arrays_of_steps_like_single_steps():
    sm, chip = shard(tiny_moe(), Layout(tp=2, ep=2, attn_dp=False)), make_chip()
    plan = compile_step(sm, chip, FP8, CAL)
    b = np.array([1.0, 7.0, 64.0, 300.0])
    grid = plan.cost(b, b, b * 2048, 0.0)
    for i, x in enumerate(b):
        single = plan.cost(x, x, x * 2048, 0.0)
        assert float(grid.time_s[i]) == pytest.approx(float(single.time_s), rel=1e-12)
        assert float(grid.classes["experts"].time_s[i]) == pytest.approx(float(single.classes["experts"].time_s))


def test_large_grids_are_summed_group_by_group_to_the_same_result():
    # 2 chips x 120 batches x 300 lengths: far above the whole-array limit, so summed kind by kind.
    from inferchip.spec.chip import stack_chips

    chips = stack_chips([make_chip(), make_chip(memory_bytes_per_s=8e12, gemm_tiles_in_flight=148)], (-1, 1, 1))
    sm = shard(tiny_moe(), Layout(tp=2, ep=2))
    plan = compile_step(sm, chips, FP8, CAL)
    b = np.arange(1.0, 121.0).reshape(1, -1, 1)
    ctx = np.linspace(128, 32768, 300).reshape(1, 1, -1)
    grid = plan.cost(b + 64, b, b * ctx, 64 * 65 / 2)
    assert grid.time_s.shape == (2, 120, 300)
    for c, i, j in [(0, 0, 0), (1, 7, 123), (0, 119, 299), (1, 60, 5)]:
        one_chip = compile_step(sm, make_chip() if c == 0 else make_chip(memory_bytes_per_s=8e12,
                                                                         gemm_tiles_in_flight=148), FP8, CAL)
        x, k = b[0, i, 0], ctx[0, 0, j]
        single = one_chip.cost(x + 64, x, x * k, 64 * 65 / 2)
        assert float(grid.time_s[c, i, j]) == pytest.approx(float(single.time_s), rel=1e-12)
        for name, cc in single.classes.items():
            for field in ("time_s", "compute_bound_s", "memory_bound_s", "network_s", "overhead_s"):
                assert float(getattr(grid.classes[name], field)[c, i, j]) == pytest.approx(float(getattr(cc, field)),
                                                                                            rel=1e-12, abs=1e-18)
        for f, v in single.flop_by_format.items():
            assert float(grid.flop_by_format[f][c, i, j]) == pytest.approx(float(v), rel=1e-12)
        assert float(grid.dram_bytes[c, i, j]) == pytest.approx(float(single.dram_bytes), rel=1e-12)
        assert float(grid.link_bytes[c, i, j]) == pytest.approx(float(single.link_bytes), rel=1e-12)
