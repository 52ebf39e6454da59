"""One cost rule per operator kind, and the registry that maps an operator type to its rule.

A rule is pure: ``rule.cost(table, ctx, points) -> KernelCost`` reads only its arguments,
where ``table`` holds the columns of a batch of operators of one kind (``rule.table(ops,
ctx)``, built once per plan), ``ctx`` the constants of one chip, number formats and
calibration (:class:`CostContext`) and ``points`` the step's token counts (:class:`StepPoints`).
Results are arrays of shape ``step points x operators`` (the operator axis last); a single
operator is a batch of one (:func:`cost_operator`).

Every kernel's time is the slower of its compute and DRAM time plus a per-kernel overhead
(:mod:`inferchip.cost.roofline`); weight GEMMs pay tile and wave quantisation
(:mod:`inferchip.cost.gemm`); collectives follow the alpha-beta model (:mod:`inferchip.cost.network`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from inferchip.cost import gemm
from inferchip.cost.constants import FLOP_PER_MAC, FP32_BYTES, MIN_TILE_M, VECTOR_WORK_FORMAT
from inferchip.cost.gemm import gemm_bytes, gemm_flop, moe_token_time_s, moe_token_vector_flop, quantised_flop
from inferchip.cost.kernels.attention import attention_columns, attention_work
from inferchip.cost.network import all_reduce_time_s, all_to_all_time_s, expert_kernel_terms, point_to_point_time_s
from inferchip.cost.peaks import peak_flop_per_s
from inferchip.cost.roofline import ArrayLike, FloatArray, compute_time_s
from inferchip.mapping.memory_fit import EMBEDDING_FORMAT, Formats
from inferchip.mapping.operators import (
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
from inferchip.spec.calibration import Calibration
from inferchip.spec.chip import ChipParams
from inferchip.spec.formats import BYTES_PER_ELEMENT, compute_format

# Hidden states between layers, all-reduced partial sums and MoE combines stay 16-bit when GEMMs
# run in fp8/fp4: engines quantise GEMM inputs on the fly (TensorRT-LLM, vLLM FP8/NVFP4 linear layers).
HIDDEN_STATE_FORMAT = "bf16"
OpTable = dict[str, FloatArray]


class UnknownOperatorError(TypeError):
    """An operator type with no cost rule."""


@dataclass(frozen=True)
class CostContext:
    """The constants the rules read: chip rates, number formats and calibration fractions. Chip rates (FLOP/s,
    B/s, s, tile sizes) carry a trailing axis of length one (``chip shape + (1,)``) so they broadcast against
    ``points x operators`` arrays. Bytes are per element of the named format."""

    gemm_format: str
    attention_format: str
    weight_bytes: float
    attention_weight_bytes: float  # attention projections' weights (the per-layer format map)
    act_bytes: float
    kv_bytes: float
    hidden_state_bytes: float  # 16-bit hidden states, or the activation format if wider
    embedding_bytes: float
    peak_gemm_flop_per_s: FloatArray
    peak_attention_flop_per_s: FloatArray
    peak_attention_proj_flop_per_s: FloatArray
    peak_lm_head_flop_per_s: FloatArray
    vector_flop_per_s: FloatArray
    memory_bytes_per_s: FloatArray
    link_bytes_per_s: FloatArray
    link_latency_s: FloatArray
    link_direct_all_reduce: FloatArray  # 1: one-/two-shot peer-to-peer all-reduce kernels (cost/network.py)
    expert_a2a_kernel_bytes_per_s: FloatArray  # prefill rate of the one-sided expert kernels (0: none)
    tile_m: FloatArray
    tile_n: FloatArray
    tiles_in_flight: FloatArray
    kernel_overhead_s: FloatArray  # per kernel, calibrated
    attainable_bytes_per_s: FloatArray  # DRAM bandwidth x its attainable fraction
    gemm_compute_fraction: float
    attention_compute_fraction: float  # decode attention
    prefill_attention_compute_fraction: float
    memory_bandwidth_fraction: float
    link_bandwidth_fraction: float
    moe_imbalance: float
    step_overhead_s: float
    sequence_overhead_s: float
    chip_shape: tuple[int, ...]
    all_reduce_codec: str = ""  # the engine's QuickReduce codec for large TP all-reduces (cost/network.py)
    moe_token_vector_flop: float = 0.0  # per token and MoE layer beyond the MMA (vLLM Triton MoE kernels)
    moe_mma_peak_fraction: float = 1.0  # share of the tensor-core peak the expert kernels can issue (Marlin on Hopper)


def cost_context(chip: ChipParams, fmt: Formats, cal: Calibration) -> CostContext:
    """The constants of one chip (or an array of chips), formats and calibration."""
    attn_fmt = "fp8" if (fmt.kv in ("fp8", "int8") and fmt.activations in ("fp8", "int8")) else "bf16"
    gemm_fmt = compute_format(fmt.weights, fmt.activations)
    # Unquantised attention projections (gpt-oss modules_to_not_convert) run their MMA in their dtype.
    proj_fmt = compute_format(fmt.attention_weights or fmt.weights, fmt.activations)

    def col(x: ArrayLike) -> FloatArray:
        return np.asarray(x, dtype=float)[..., None]

    rates = dict(
        peak_gemm_flop_per_s=col(peak_flop_per_s(chip, gemm_fmt)),
        peak_attention_flop_per_s=col(peak_flop_per_s(chip, attn_fmt)),
        peak_attention_proj_flop_per_s=col(peak_flop_per_s(chip, proj_fmt)),
        peak_lm_head_flop_per_s=col(peak_flop_per_s(chip, "bf16")),
        vector_flop_per_s=col(chip.vector_flop_per_s), memory_bytes_per_s=col(chip.memory_bytes_per_s),
        link_bytes_per_s=col(chip.link_bytes_per_s), link_latency_s=col(chip.link_latency_s),
        link_direct_all_reduce=col(chip.link_direct_all_reduce),
        expert_a2a_kernel_bytes_per_s=col(chip.expert_a2a_kernel_bytes_per_s),
        tile_m=col(chip.gemm_tile_m), tile_n=col(chip.gemm_tile_n), tiles_in_flight=col(chip.gemm_tiles_in_flight),
        kernel_overhead_s=col(np.asarray(chip.kernel_overhead_s) * cal.kernel_overhead_scale),
    )
    rates["attainable_bytes_per_s"] = rates["memory_bytes_per_s"] * cal.memory_bandwidth_fraction
    shape = np.broadcast_shapes(*(v.shape[:-1] for v in rates.values()))
    return CostContext(
        gemm_format=gemm_fmt, attention_format=attn_fmt, weight_bytes=fmt.weight_bytes,
        attention_weight_bytes=fmt.attention_weight_bytes, act_bytes=fmt.act_bytes,
        kv_bytes=fmt.kv_bytes, hidden_state_bytes=max(fmt.act_bytes, BYTES_PER_ELEMENT[HIDDEN_STATE_FORMAT]),
        embedding_bytes=BYTES_PER_ELEMENT[EMBEDDING_FORMAT],
        gemm_compute_fraction=cal.gemm_compute_fraction, attention_compute_fraction=cal.attention_compute_fraction,
        prefill_attention_compute_fraction=cal.prefill_attention_compute_fraction,
        memory_bandwidth_fraction=cal.memory_bandwidth_fraction, link_bandwidth_fraction=cal.link_bandwidth_fraction,
        moe_imbalance=cal.moe_imbalance, step_overhead_s=cal.step_overhead_s,
        sequence_overhead_s=cal.sequence_overhead_s, chip_shape=shape, all_reduce_codec=fmt.all_reduce,
        moe_token_vector_flop=cal.moe_token_vector_flop, moe_mma_peak_fraction=cal.moe_mma_peak_fraction, **rates,
    )


class StepPoints(NamedTuple):
    """Token counts of a step on the busiest chip, each with a trailing axis of length one.

    ``tokens``: tokens this chip runs attention, dense layers and collectives for;
    ``all_tokens``: tokens of the whole stage (its routed experts serve every chip's);
    ``decode_seqs``: decoding sequences; ``prefill_tokens``: prompt tokens; ``decode_kv_tokens``:
    KV tokens the decoding sequences read; ``prefill_pairs``: causal query-key pairs of the
    prompt chunks; ``logit_rows``: rows through the LM head. ``shape``: the steps' shape.
    """

    tokens: FloatArray
    all_tokens: FloatArray
    decode_seqs: FloatArray
    prefill_tokens: FloatArray
    decode_kv_tokens: FloatArray
    prefill_pairs: FloatArray
    logit_rows: FloatArray
    shape: tuple[int, ...]


class KernelCost(NamedTuple):
    """Seconds, FLOP and bytes of a batch of operators (``points x operators``), per run."""

    compute_s: ArrayLike = 0.0
    memory_s: ArrayLike = 0.0
    overhead_s: ArrayLike = 0.0
    network_s: ArrayLike = 0.0
    flop: ArrayLike = 0.0
    dram_bytes: ArrayLike = 0.0
    link_bytes: ArrayLike = 0.0


class Rule(NamedTuple):
    """How one operator kind is costed: its columns, its cost and the format its FLOP run in."""

    table: Callable[[Sequence[Any], CostContext], OpTable]
    cost: Callable[[OpTable, CostContext, StepPoints], KernelCost]
    flop_format: Callable[[CostContext], str | None]


def _columns(*names: str) -> Callable[[Sequence[Any], CostContext], OpTable]:
    def table(ops: Sequence[Any], ctx: CostContext) -> OpTable:
        return {n: np.array([float(getattr(op, n)) for op in ops]) for n in names}
    return table


# --- weight GEMMs -----------------------------------------------------------------------
def _matrix_gemm_table(weight_bytes: Callable[[CostContext, Any], float], peak: Callable[[CostContext, Any], ArrayLike]
                       ) -> Callable[[Sequence[Any], CostContext], OpTable]:
    """Columns of weight GEMMs on the matrix units, with everything that does not depend on
    the rows: tiles along N, FLOP per wave row, weight bytes and peak rate (per operator: the
    per-layer format map), activation bytes per row."""
    def table(ops: Sequence[Any], ctx: CostContext) -> OpTable:
        k = np.array([float(op.k) for op in ops])
        n = np.array([float(op.n) for op in ops])
        wb = np.array([float(weight_bytes(ctx, op)) for op in ops])
        return {"k": k, "n": n, "n_tiles": np.ceil(n / ctx.tile_n),
                "flop_per_wave_row": ctx.tiles_in_flight * FLOP_PER_MAC * ctx.tile_n * k,
                "weight_bytes": k * n * wb, "row_bytes": (k + n) * ctx.act_bytes,
                "flop_per_row": FLOP_PER_MAC * k * n,
                "attainable_flop_per_s": ctx.gemm_compute_fraction * np.concatenate(
                    [np.broadcast_to(peak(ctx, op), (*ctx.chip_shape, 1)) for op in ops], axis=-1)}
    return table


def m_tile(m: ArrayLike, tile_m: ArrayLike) -> FloatArray:
    """M tile of a GEMM of ``m`` rows: the chip's, or for skinny GEMMs the smallest power of two
    that holds ``m``, not below the MMA instruction's 16 rows (:func:`~inferchip.cost.gemm.quantised_flop`)."""
    return np.minimum(tile_m, np.maximum(MIN_TILE_M, 2.0 ** np.ceil(np.log2(np.maximum(m, 1.0)))))


def _matrix_gemm(m: FloatArray, ops: OpTable, ctx: CostContext) -> KernelCost:
    """A GEMM of ``m`` rows on the matrix units: compute at the tile/wave-quantised FLOP
    (:func:`~inferchip.cost.gemm.quantised_flop`, one group), memory = weights once plus
    activations in and out (:func:`~inferchip.cost.gemm.gemm_bytes`)."""
    tm = m_tile(m, ctx.tile_m)
    waves = np.ceil(np.ceil(np.maximum(m, 1.0) / tm) * ops["n_tiles"] / ctx.tiles_in_flight)
    spent = np.where(m > 0, waves * tm * ops["flop_per_wave_row"], 0.0)
    nb = ops["weight_bytes"] + m * ops["row_bytes"]
    return KernelCost(compute_s=spent / ops["attainable_flop_per_s"], memory_s=nb / ctx.attainable_bytes_per_s,
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
    their weights (:func:`inferchip.cost.gemm.experts_reached`); the MMA at ``moe_mma_peak_fraction`` of the peak."""
    m, k, n, e, f = pts.all_tokens, ops["k"], ops["n"], ops["experts"], ops["routed_fraction"]
    assigned = m * f * ops["experts_total"] / ops["ep"] / e
    per_expert = assigned * ctx.moe_imbalance
    active = gemm.experts_reached(e, f, m)
    spent = quantised_flop(per_expert, k, n, active, ctx.tile_m, ctx.tile_n, ctx.tiles_in_flight)
    nb = gemm_bytes(assigned, k, n, active, ctx.weight_bytes, ctx.act_bytes, e)
    over: ArrayLike = (ctx.kernel_overhead_s + moe_token_time_s(m, ctx.moe_token_vector_flop, ctx.vector_flop_per_s)
                       if ctx.moe_token_vector_flop else ctx.kernel_overhead_s)  # per token beyond the MMA, if any
    return KernelCost(compute_s=compute_time_s(spent, ctx.peak_gemm_flop_per_s * ctx.moe_mma_peak_fraction,
                                               ctx.gemm_compute_fraction), memory_s=nb / ctx.attainable_bytes_per_s,
                      overhead_s=over, flop=gemm_flop(assigned, k, n, e), dram_bytes=nb)


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
    return attention_columns(ops, ctx.peak_attention_flop_per_s, ctx.attention_compute_fraction,
                             ctx.prefill_attention_compute_fraction, ctx.kv_bytes, ctx.act_bytes)


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
    """:class:`HostStep`: the calibrated host time per iteration plus that per running (decoding) sequence."""
    return KernelCost(overhead_s=ops["overhead_s"] + ops["seq_overhead_s"] * pts.decode_seqs)


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
    t = all_to_all_time_s(nb, ops["group"], ctx.link_bytes_per_s, ctx.link_latency_s, ctx.link_bandwidth_fraction, rate)
    return KernelCost(network_s=t, link_bytes=nb)


def point_to_point_cost(ops: OpTable, ctx: CostContext, pts: StepPoints) -> KernelCost:
    """:class:`PointToPoint`: ``tokens x elements x element bytes`` to the next stage."""
    nb = pts.tokens * ops["elements_per_token"] * ops["element_bytes"]
    t = point_to_point_time_s(nb, ctx.link_bytes_per_s, ctx.link_latency_s, ctx.link_bandwidth_fraction)
    return KernelCost(network_s=t, link_bytes=nb)


def gemm_weight_bytes(ctx: CostContext, op: Any) -> float:
    """Bytes per weight element of a dense GEMM: attention projections in the per-layer map's
    format (``Formats.attention_weights``), the others in the weight format."""
    return ctx.attention_weight_bytes if getattr(op, "op_class", None) == "attention_proj" else ctx.weight_bytes


def gemm_peak_flop_per_s(ctx: CostContext, op: Any) -> FloatArray:
    """Peak of a dense GEMM: attention projections in their weights' compute format (FLOP reported under the GEMM's)."""
    return ctx.peak_attention_proj_flop_per_s if op.op_class == "attention_proj" else ctx.peak_gemm_flop_per_s


def _no_flop(ctx: CostContext) -> str | None:
    return None


RULES: dict[type, Rule] = {
    Gemm: Rule(_matrix_gemm_table(gemm_weight_bytes, gemm_peak_flop_per_s), gemm_cost,
               lambda c: c.gemm_format),
    GroupedGemm: Rule(_grouped_table, grouped_gemm_cost, lambda c: c.gemm_format),
    VectorGemm: Rule(_columns("k", "n"), vector_gemm_cost, lambda c: "fp32"),
    LmHead: Rule(_matrix_gemm_table(lambda c, op: c.embedding_bytes, lambda c, op: c.peak_lm_head_flop_per_s),
                 lm_head_cost, lambda c: "bf16"),
    Attention: Rule(_attention_table, attention_cost, lambda c: c.attention_format),
    Elementwise: Rule(_memory_table("elements_per_token", lambda c: c.hidden_state_bytes, lambda op: op.kernels),
                      elementwise_cost, _no_flop),
    Embedding: Rule(_memory_table("hidden", lambda c: c.embedding_bytes, lambda op: 1.0), embedding_cost, _no_flop),
    HostStep: Rule(lambda ops, ctx: {"overhead_s": np.full(len(ops), ctx.step_overhead_s),
                                     "seq_overhead_s": np.full(len(ops), ctx.sequence_overhead_s)},
                   host_cost, _no_flop),
    AllReduce: Rule(_payload_table("elements_per_token", "group"), all_reduce_cost, _no_flop),
    AllToAll: Rule(_payload_table("elements_per_row", "group", "rank_elements_per_row"), all_to_all_cost, _no_flop),
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
