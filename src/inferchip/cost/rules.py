"""One cost rule per operator kind, and the registry that maps an operator type to its rule.

A rule is pure: ``rule.cost(table, ctx, points) -> KernelCost`` reads only its arguments,
where ``table`` holds the columns of a batch of operators of one kind (``rule.table(ops,
ctx)``, built once per plan), ``ctx`` the constants of one chip, number formats and
calibration (:class:`CostContext`) and ``points`` the step's token counts (:class:`StepPoints`).
The context, points and result types live in :mod:`inferchip.cost.context` (re-exported here).
Results are arrays of shape ``step points x operators`` (the operator axis last); a single
operator is a batch of one (:func:`cost_operator`).

Every kernel's time is the slower of its compute and DRAM time plus a per-kernel overhead
(:mod:`inferchip.cost.roofline`); weight GEMMs pay tile and wave quantisation
(:mod:`inferchip.cost.gemm`); collectives follow the alpha-beta model (:mod:`inferchip.cost.network`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from inferchip.cost import gemm
from inferchip.cost.constants import FLOP_PER_MAC, FP32_BYTES, VECTOR_WORK_FORMAT
from inferchip.cost.context import CostContext as CostContext  # re-exported: the rules' context, points, results
from inferchip.cost.context import KernelCost as KernelCost
from inferchip.cost.context import OpTable as OpTable
from inferchip.cost.context import Rule as Rule
from inferchip.cost.context import StepPoints as StepPoints
from inferchip.cost.context import cost_context as cost_context
from inferchip.cost.gemm import (
    gemm_bytes,
    gemm_flop,
    moe_token_time_s,
    moe_token_vector_flop,
    quantised_flop,
)
from inferchip.cost.gemm import m_tile as m_tile  # re-exported (the M tile moved to cost/gemm.py)
from inferchip.cost.kernels.attention import attention_columns, attention_work
from inferchip.cost.network import (
    all_gather_time_s,
    all_reduce_time_s,
    all_to_all_latency_s,
    all_to_all_time_s,
    expert_kernel_terms,
    point_to_point_time_s,
    reduce_scatter_time_s,
)
from inferchip.cost.roofline import ArrayLike, FloatArray, compute_time_s
from inferchip.mapping.memory_fit import ATTENTION_OUT, ATTENTION_Q_B
from inferchip.mapping.operators import (
    AllGather,
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
    ReduceScatter,
    VectorGemm,
)
from inferchip.spec.formats import BYTES_PER_ELEMENT


class UnknownOperatorError(TypeError):
    """An operator type with no cost rule."""


def _columns(*names: str) -> Callable[[Sequence[Any], CostContext], OpTable]:
    def table(ops: Sequence[Any], ctx: CostContext) -> OpTable:
        return {n: np.array([float(getattr(op, n)) for op in ops]) for n in names}
    return table


# --- weight GEMMs -----------------------------------------------------------------------
def _matrix_gemm_table(weight_bytes: Callable[[CostContext, Any], float], peak: Callable[[CostContext, Any], ArrayLike],
                       capped: Callable[[CostContext, Any], bool] = lambda c, op: False
                       ) -> Callable[[Sequence[Any], CostContext], OpTable]:
    """Columns of weight GEMMs on the matrix units, with everything that does not depend on
    the rows: tiles along N, FLOP per wave row, weight bytes and peak rate (per operator: the
    per-layer format map), activation bytes per row. ``capped`` (per operator: a dense weight GEMM the engine
    build's dense-GEMM kernel runs): the seconds per useful FLOP of that kernel's plateau
    (``CostContext.dense_gemm_cap_flop_per_s``; 0: none). A block-scaled 4-bit GEMM (4-bit weights and
    activations) on a chip with :data:`~inferchip.cost.constants.BLOCK_SCALED_4BIT_GEMM` figures runs its mainloop at
    that fraction of the peak and pays the tile's time outside it as extra reduction depth (:func:`four_bit_tiles`)."""
    def table(ops: Sequence[Any], ctx: CostContext) -> OpTable:
        k = np.array([float(op.k) for op in ops])
        n = np.array([float(op.n) for op in ops])
        wb = np.array([float(weight_bytes(ctx, op)) for op in ops])
        peaks = np.concatenate([np.broadcast_to(peak(ctx, op), (*ctx.chip_shape, 1)) for op in ops], axis=-1)
        fraction, extra_k = four_bit_tiles(ctx, wb, peaks)
        return {"k": k, "n": n, "n_tiles": np.ceil(n / ctx.tile_n),
                "k_slices": gemm.split_k_slices_max(k, wb, ctx.gemm_split_k_16bit),
                "cublas": np.where(wb >= 2.0, 1.0, 0.0) if ctx.cublas_tiles else np.zeros_like(k),  # tile per shape
                "flop_per_wave_row": ctx.tiles_in_flight * FLOP_PER_MAC * ctx.tile_n * (k + extra_k),
                "weight_bytes": k * n * wb, "row_bytes": (k + n) * ctx.act_bytes,
                "flop_per_row": FLOP_PER_MAC * k * n,
                "attainable_flop_per_s": fraction * peaks,
                "seconds_per_flop": np.array([1.0 / ctx.dense_gemm_cap_flop_per_s if capped(ctx, op) else 0.0
                                              for op in ops])}
    return table


def four_bit_tiles(ctx: CostContext, weight_bytes: FloatArray, peaks: FloatArray) -> tuple[FloatArray, FloatArray]:
    """(fraction of the peak, extra reduction depth) of weight GEMMs with these weight bytes per element at these
    peaks: ``ctx.gemm_compute_fraction`` and none, except the block-scaled 4-bit GEMMs (under a byte per weight and
    per activation) on a chip with ``ctx.block_scaled_4bit_gemm`` ``(f, t)``: ``f``, and the depth a full tile's
    mainloop covers in ``t`` seconds at ``f`` of the peak, ``t f peak / (tiles in flight x 2 x tile M x tile N)``
    (:data:`~inferchip.cost.constants.BLOCK_SCALED_4BIT_GEMM`)."""
    base = np.full(np.shape(peaks), ctx.gemm_compute_fraction)
    if ctx.block_scaled_4bit_gemm is None or ctx.act_bytes >= 1.0:
        return base, np.zeros(np.shape(peaks))
    frac, tile_s = ctx.block_scaled_4bit_gemm
    four = np.broadcast_to(weight_bytes < 1.0, np.shape(peaks))
    depth = tile_s * frac * peaks / (ctx.tiles_in_flight * FLOP_PER_MAC * ctx.tile_m * ctx.tile_n)
    return np.where(four, frac, base), np.where(four, depth, 0.0)


def _matrix_gemm(m: FloatArray, ops: OpTable, ctx: CostContext) -> KernelCost:
    """A GEMM of ``m`` rows on the matrix units: compute at the tile/wave-quantised FLOP
    (:func:`~inferchip.cost.gemm.quantised_flop`, one group: M tile :func:`~inferchip.cost.gemm.m_tile`,
    waves :func:`~inferchip.cost.gemm.split_k_compute_s`: 16-bit weights may split K; where cuBLASLt runs them,
    ``ctx.cublas_tiles``, the tile it picks per shape, :func:`~inferchip.cost.gemm.cublas_tile_compute_s`), memory =
    weights once plus activations in and out (:func:`~inferchip.cost.gemm.gemm_bytes`); the compute at least the
    useful FLOP at the kernel's plateau (``seconds_per_flop``)."""
    tm = m_tile(m, ctx.tile_m)
    partial_s = gemm.split_k_partial_s(m, ops["n"], ctx.attainable_bytes_per_s)  # a slice's fp32 round trip
    matrix_s = gemm.split_k_compute_s(np.ceil(np.maximum(m, 1.0) / tm) * ops["n_tiles"], ctx.tiles_in_flight,
                                      ops["k_slices"], tm, ops["flop_per_wave_row"], ops["attainable_flop_per_s"],
                                      partial_s)
    if ctx.cublas_tiles:  # 16-bit GEMMs on cuBLASLt: the tile it picks per shape
        picked = gemm.cublas_tile_compute_s(m, ops["n"], ops["k"], ops["k_slices"], ctx.tiles_in_flight,
                                            ops["attainable_flop_per_s"], partial_s, ctx.cublas_tiles)
        matrix_s = np.where(ops["cublas"] > 0.0, picked, matrix_s)
    matrix_s = np.maximum(matrix_s, m * ops["flop_per_row"] * ops["seconds_per_flop"])  # the kernel's plateau
    nb = ops["weight_bytes"] + m * ops["row_bytes"]
    return KernelCost(compute_s=np.where(m > 0, matrix_s, 0.0), memory_s=nb / ctx.attainable_bytes_per_s,
                      overhead_s=ctx.kernel_overhead_s, flop=m * ops["flop_per_row"], dram_bytes=nb)


def gemm_cost(ops: OpTable, ctx: CostContext, pts: StepPoints) -> KernelCost:
    """:class:`Gemm`: rows are this chip's tokens, weights in the weight format."""
    return _matrix_gemm(pts.tokens, ops, ctx)


def lm_head_cost(ops: OpTable, ctx: CostContext, pts: StepPoints) -> KernelCost:
    """:class:`LmHead`: rows are the logit rows, 16-bit weights, computed in bf16."""
    return _matrix_gemm(pts.logit_rows, ops, ctx)


def vector_gemm_cost(ops: OpTable, ctx: CostContext, pts: StepPoints) -> KernelCost:
    """:class:`VectorGemm` (router): useful FLOP on the vector units, no tile quantisation."""
    m, k, n = pts.tokens, ops["k"], ops["n"]
    flop = gemm_flop(m, k, n)
    nb = gemm_bytes(m, k, n, 1.0, ctx.weight_bytes, ctx.act_bytes)
    return KernelCost(compute_s=compute_time_s(flop, ctx.vector_flop_per_s, ctx.gemm_compute_fraction),
                      memory_s=nb / ctx.attainable_bytes_per_s, overhead_s=ctx.kernel_overhead_s, flop=flop,
                      dram_bytes=nb)


def grouped_gemm_cost(ops: OpTable, ctx: CostContext, pts: StepPoints) -> KernelCost:
    """:class:`GroupedGemm` (routed experts) over the stage's tokens ``m``, uniform routing: each local expert
    gets ``m f E / ep / e`` tokens (f routed fraction, E experts in all, e local), the busiest ``moe_imbalance``
    times that; an expert gets no token with probability ``(1 - f)^m``, so ``e (1 - (1 - f)^m)`` experts read
    their weights (:func:`inferchip.cost.gemm.experts_reached`); the MMA at ``moe_mma_peak_fraction`` of the peak;
    the bytes at the chip's attainable stream, at most ``moe_stream_cap_bytes_per_s``
    (:func:`inferchip.cost.gemm.expert_stream_cap_bytes_per_s`); the compute at least the useful FLOP at the
    engine build's fused-MoE plateau (``CostContext.expert_gemm_cap_flop_per_s``; infinite: none)."""
    m, k, n, e, f = pts.all_tokens, ops["k"], ops["n"], ops["experts"], ops["routed_fraction"]
    assigned = m * f * ops["experts_total"] / ops["ep"] / e
    per_expert = assigned * ctx.moe_imbalance
    active = gemm.experts_reached(e, f, m, ctx.expert_popularity_log_sd)
    spent = quantised_flop(per_expert, k, n, active, ctx.tile_m, ctx.tile_n, ctx.tiles_in_flight)
    nb = gemm_bytes(assigned, k, n, active, ctx.weight_bytes, ctx.act_bytes, e)
    over: ArrayLike = (ctx.kernel_overhead_s + moe_token_time_s(m, ctx.moe_token_vector_flop, ctx.vector_flop_per_s)
                       if ctx.moe_token_vector_flop else ctx.kernel_overhead_s)  # per token beyond the MMA, if any
    stream = np.minimum(ctx.attainable_bytes_per_s, ctx.moe_stream_cap_bytes_per_s)  # SM-bound kernels: capped
    useful = gemm_flop(assigned, k, n, e)
    compute = np.maximum(compute_time_s(spent, ctx.peak_gemm_flop_per_s * ctx.moe_mma_peak_fraction,
                                        ctx.gemm_compute_fraction), useful / ctx.expert_gemm_cap_flop_per_s)
    return KernelCost(compute_s=compute, memory_s=nb / stream, overhead_s=over, flop=useful, dram_bytes=nb)


def _grouped_table(ops: Sequence[Any], ctx: CostContext) -> OpTable:
    t = _columns("k", "n", "experts", "routed_fraction", "experts_total")(ops, ctx)
    t["ep"] = np.array([float(max(op.ep, 1)) for op in ops])
    return t


# --- attention and elementwise ----------------------------------------------------------
def attention_cost(ops: OpTable, ctx: CostContext, pts: StepPoints) -> KernelCost:
    """:class:`Attention`: decode and prefill as two kernel classes (:mod:`inferchip.cost.kernels.attention`)."""
    w = attention_work(ops, pts.decode_seqs, pts.prefill_tokens, pts.decode_kv_tokens, pts.prefill_pairs)
    return KernelCost(compute_s=w.compute_s, memory_s=w.dram_bytes / ctx.attainable_bytes_per_s,
                      overhead_s=ctx.kernel_overhead_s * w.kernels, flop=w.flop, dram_bytes=w.dram_bytes)


def _attention_table(ops: Sequence[Any], ctx: CostContext) -> OpTable:
    pre_fmt = ctx.prefill_attention_format or ctx.attention_format
    pre_act = ctx.act_bytes if pre_fmt == ctx.attention_format else max(ctx.act_bytes, BYTES_PER_ELEMENT[pre_fmt])
    return attention_columns(ops, ctx.peak_attention_flop_per_s, ctx.attention_compute_fraction,
                             ctx.prefill_attention_compute_fraction, ctx.kv_bytes, pre_act,
                             prefill_peak_flop_per_s=ctx.peak_prefill_attention_flop_per_s,
                             mla_prefill_peak_flop_per_s=ctx.peak_mla_prefill_attention_flop_per_s,
                             mla_prefill_act_bytes=max(ctx.act_bytes, BYTES_PER_ELEMENT["bf16"]),
                             peak_16bit_flop_per_s=ctx.peak_lm_head_flop_per_s,
                             mma_flop_per_exp_16bit=ctx.mma_flop_per_exp_16bit)


def _memory_kernel(nbytes: FloatArray, ops: OpTable, ctx: CostContext) -> KernelCost:
    return KernelCost(memory_s=nbytes / ctx.attainable_bytes_per_s, overhead_s=ops["overhead_s"], dram_bytes=nbytes)


def _memory_table(elements: str, element_bytes: Callable[[CostContext], float],
                  kernels: Callable[[Any], float]) -> Callable[[Sequence[Any], CostContext], OpTable]:
    def table(ops: Sequence[Any], ctx: CostContext) -> OpTable:
        return {"bytes_per_token": np.array([float(getattr(op, elements)) for op in ops]) * element_bytes(ctx),
                "overhead_s": ctx.kernel_overhead_s * np.array([float(kernels(op)) for op in ops])}
    return table


def elementwise_cost(ops: OpTable, ctx: CostContext, pts: StepPoints) -> KernelCost:
    """:class:`Elementwise`: memory-bound, ``tokens x elements x hidden-state bytes`` moved (norms, residual
    adds, rotary and the gated activation read and write 16-bit tensors; GEMM inputs are quantised on the fly)."""
    return _memory_kernel(pts.tokens * ops["bytes_per_token"], ops, ctx)


def embedding_cost(ops: OpTable, ctx: CostContext, pts: StepPoints) -> KernelCost:
    """:class:`Embedding`: a gather of ``tokens x hidden`` 16-bit elements, one kernel."""
    return _memory_kernel(pts.tokens * ops["bytes_per_token"], ops, ctx)


def host_cost(ops: OpTable, ctx: CostContext, pts: StepPoints) -> KernelCost:
    """:class:`HostStep`: the calibrated host time per iteration, times the stage's share of the iterations
    (``min(1, max(1 / stages, logit rows))``: one iteration per micro-batch, a stage's rows being its share of
    the replica's sequences; 1 without pipeline parallelism), plus that per running (decoding) sequence, as an
    overhead; the DRAM bytes the device moves per running sequence within that time
    (``CostContext.sequence_dram_bytes``: energy only, no time of their own)."""
    share = np.minimum(1.0, np.maximum(1.0 / ops["stages"], pts.logit_rows))
    return KernelCost(overhead_s=ops["overhead_s"] * share + ops["seq_overhead_s"] * pts.decode_seqs,
                      dram_bytes=ops["seq_dram_bytes"] * pts.decode_seqs)


# --- collectives --------------------------------------------------------------------------
def _payload_table(*names: str) -> Callable[[Sequence[Any], CostContext], OpTable]:
    def table(ops: Sequence[Any], ctx: CostContext) -> OpTable:
        per_element = {"activation": ctx.act_bytes, "hidden_state": ctx.hidden_state_bytes, "fp32_logits": FP32_BYTES}
        t = _columns(*names)(ops, ctx)
        t["element_bytes"] = np.array([float(per_element[op.payload]) for op in ops])
        if any(getattr(op, "rows", "tokens") == "logit_rows" for op in ops):
            t["logit_rows"] = np.array([float(getattr(op, "rows", "tokens") == "logit_rows") for op in ops])
        return t
    return table


def all_reduce_cost(ops: OpTable, ctx: CostContext, pts: StepPoints) -> KernelCost:
    """:class:`AllReduce` of ``tokens x elements x element bytes`` over the group."""
    nb = pts.tokens * ops["elements_per_token"] * ops["element_bytes"]
    t = all_reduce_time_s(nb, ops["group"], ctx.link_bytes_per_s, ctx.link_latency_s, ctx.link_bandwidth_fraction,
                          ctx.link_direct_all_reduce, ctx.all_reduce_codec)
    return KernelCost(network_s=t, link_bytes=nb)


def all_to_all_cost(ops: OpTable, ctx: CostContext, pts: StepPoints) -> KernelCost:
    """:class:`AllToAll` of ``rows x elements x element bytes`` sent by each chip."""
    rows = pts.tokens if "logit_rows" not in ops else np.where(ops["logit_rows"] > 0, pts.logit_rows, pts.tokens)
    el, rate = expert_kernel_terms(ops["elements_per_row"], ops["rank_elements_per_row"], pts.decode_seqs,
                                   ctx.expert_a2a_kernel_bytes_per_s)
    nb = rows * el * ops["element_bytes"]  # one-sided expert kernels: per destination rank (cost/network.py)
    lat = all_to_all_latency_s(ops["group"], ctx.link_latency_s, ops["rank_elements_per_row"], pts.decode_seqs,
                               ctx.expert_a2a_decode_floor_s, ctx.expert_a2a_decode_per_peer_s)
    t = all_to_all_time_s(nb, ops["group"], ctx.link_bytes_per_s, ctx.link_latency_s, ctx.link_bandwidth_fraction, rate,
                          fixed_s=lat)
    return KernelCost(network_s=t, link_bytes=nb)


def all_gather_cost(ops: OpTable, ctx: CostContext, pts: StepPoints) -> KernelCost:
    """:class:`AllGather`: each chip ends with ``group x tokens x (elements x element bytes + routing bytes)``
    (its own tokens the ``1/group`` of it that stays)."""
    nb = ops["group"] * pts.tokens * (ops["elements_per_token"] * ops["element_bytes"] + ops["routing_bytes_per_token"])
    t = all_gather_time_s(nb, ops["group"], ctx.link_bytes_per_s, ctx.link_latency_s, ctx.link_bandwidth_fraction)
    return KernelCost(network_s=t, link_bytes=nb)


def reduce_scatter_cost(ops: OpTable, ctx: CostContext, pts: StepPoints) -> KernelCost:
    """:class:`ReduceScatter` of a buffer of ``group x tokens x elements x element bytes`` on each chip."""
    nb = ops["group"] * pts.tokens * ops["elements_per_token"] * ops["element_bytes"]
    t = reduce_scatter_time_s(nb, ops["group"], ctx.link_bytes_per_s, ctx.link_latency_s, ctx.link_bandwidth_fraction)
    return KernelCost(network_s=t, link_bytes=nb)


def point_to_point_cost(ops: OpTable, ctx: CostContext, pts: StepPoints) -> KernelCost:
    """:class:`PointToPoint`: ``tokens x elements x element bytes`` to the next stage."""
    nb = pts.tokens * ops["elements_per_token"] * ops["element_bytes"]
    t = point_to_point_time_s(nb, ctx.link_bytes_per_s, ctx.link_latency_s, ctx.link_bandwidth_fraction)
    return KernelCost(network_s=t, link_bytes=nb)


def gemm_weight_bytes(ctx: CostContext, op: Any) -> float:
    """Bytes per weight element of a dense GEMM: attention projections in the per-layer map's
    format (``Formats.attention_weights``; the output projection in ``Formats.attention_out_weights``, MLA's q_b in
    ``Formats.attention_q_b_weights``), the others in the weight format."""
    if getattr(op, "op_class", None) != "attention_proj":
        return ctx.weight_bytes
    name = getattr(op, "name", "")
    return (ctx.attention_out_weight_bytes if name == ATTENTION_OUT else ctx.attention_q_b_weight_bytes
            if name == ATTENTION_Q_B else ctx.attention_weight_bytes)


def gemm_peak_flop_per_s(ctx: CostContext, op: Any) -> FloatArray:
    """Peak of a dense GEMM: attention projections in their weights' compute format (FLOP reported under the GEMM's)."""
    if op.op_class != "attention_proj":
        return ctx.peak_gemm_flop_per_s
    return (ctx.peak_attention_out_flop_per_s if op.name == ATTENTION_OUT else ctx.peak_attention_q_b_flop_per_s
            if op.name == ATTENTION_Q_B else ctx.peak_attention_proj_flop_per_s)


def gemm_takes_plateau(ctx: CostContext, op: Any) -> bool:
    """Whether the engine build's dense-GEMM plateau (``CostContext.dense_gemm_cap_flop_per_s``) bounds dense GEMM
    ``op``: a linear in the checkpoint's weight format, the one the plateau's kernel serves (SGLang's B200 FP8
    recipes: Fp8LinearMethod.apply sends the block-quantised linears to dispatch_w8a8_block_fp8_linear, FlashInfer's
    groupwise FP8 GEMM; an unquantised linear runs UnquantizedLinearMethod, F.linear). Attention projections the
    per-layer map keeps in another format (``Formats.attention_weights``, bf16 in an FP4 checkpoint) are not."""
    return not (op.op_class == "attention_proj" and ctx.attention_weights_own_format)


def _per_chip_column(value: ArrayLike, n_ops: int) -> FloatArray:
    """A column of ``n_ops`` operators holding ``value``: a float, or one per chip of a sweep (its shape, then the
    operator axis)."""
    v = np.asarray(value, dtype=float)
    return np.broadcast_to(v[..., None], (*v.shape, n_ops)).astype(float)


def _no_flop(ctx: CostContext) -> str | None:
    return None


RULES: dict[type, Rule] = {
    Gemm: Rule(_matrix_gemm_table(gemm_weight_bytes, gemm_peak_flop_per_s, capped=gemm_takes_plateau), gemm_cost,
               lambda c: c.gemm_format),
    GroupedGemm: Rule(_grouped_table, grouped_gemm_cost, lambda c: c.gemm_format),
    VectorGemm: Rule(_columns("k", "n"), vector_gemm_cost, lambda c: "fp32"),
    LmHead: Rule(_matrix_gemm_table(lambda c, op: c.embedding_bytes, lambda c, op: c.peak_lm_head_flop_per_s),
                 lm_head_cost, lambda c: "bf16"),
    Attention: Rule(_attention_table, attention_cost, lambda c: c.attention_format),
    Elementwise: Rule(_memory_table("elements_per_token", lambda c: c.hidden_state_bytes, lambda op: op.kernels),
                      elementwise_cost, _no_flop),
    Embedding: Rule(_memory_table("hidden", lambda c: c.embedding_bytes, lambda op: 1.0), embedding_cost, _no_flop),
    HostStep: Rule(lambda ops, ctx: {"overhead_s": _per_chip_column(ctx.step_overhead_s, len(ops)),
                                     "seq_overhead_s": _per_chip_column(ctx.sequence_overhead_s, len(ops)),
                                     "seq_dram_bytes": np.full(len(ops), ctx.sequence_dram_bytes),
                                     "stages": np.array([float(op.stages) for op in ops])},
                   host_cost, _no_flop),
    AllReduce: Rule(_payload_table("elements_per_token", "group"), all_reduce_cost, _no_flop),
    AllToAll: Rule(_payload_table("elements_per_row", "group", "rank_elements_per_row"), all_to_all_cost, _no_flop),
    AllGather: Rule(_payload_table("elements_per_token", "group", "routing_bytes_per_token"), all_gather_cost,
                    _no_flop),
    ReduceScatter: Rule(_payload_table("elements_per_token", "group"), reduce_scatter_cost, _no_flop),
    PointToPoint: Rule(_payload_table("elements_per_token"), point_to_point_cost, _no_flop),
}


def moe_token_vector_cost(ops: OpTable, ctx: CostContext, pts: StepPoints) -> KernelCost:
    """The FP32 FLOP of a MoE kernel's per-token work (:func:`~inferchip.cost.gemm.moe_token_vector_flop`;
    its time is in :func:`grouped_gemm_cost`'s overhead): no time of its own. One pseudo-operator per plan
    (:data:`MOE_TOKEN_VECTOR`, added by :func:`~inferchip.cost.step.compile_step`)."""
    return KernelCost(flop=moe_token_vector_flop(pts.all_tokens, ops["vector_flop_per_token"]))
MOE_TOKEN_VECTOR = Rule(_columns(), moe_token_vector_cost, lambda c: VECTOR_WORK_FORMAT)


def rule_for(kind: type) -> Rule:
    """The rule of an operator type; an operator kind without one is an error that names it."""
    try:
        return RULES[kind]
    except KeyError:
        raise UnknownOperatorError(
            f"no cost rule for operator kind {kind.__name__!r} (known: {', '.join(k.__name__ for k in RULES)})"
        ) from None


def cost_operator(op: Any, ctx: CostContext, pts: StepPoints) -> KernelCost:
    """Cost of one operator (a batch of one: arrays end in an operator axis of length one)."""
    rule = rule_for(type(op))
    return rule.cost(rule.table([op], ctx), ctx, pts)
