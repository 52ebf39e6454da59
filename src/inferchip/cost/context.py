"""The constants the cost rules read and the shapes they exchange.

:class:`CostContext` holds one chip's (or an array of chips') rates, the number formats and the
calibration fractions (:func:`cost_context` builds it); :class:`StepPoints` the token counts of a step;
:class:`KernelCost` what a rule returns; :class:`Rule` how one operator kind is costed
(:mod:`inferchip.cost.rules` holds the rules and their registry).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from inferchip.cost.constants import BLOCK_SCALED_4BIT_GEMM, CUBLASLT_16BIT_TILES, MMA_FLOP_PER_EXP_16BIT
from inferchip.cost.peaks import peak_flop_per_s
from inferchip.cost.roofline import ArrayLike, FloatArray
from inferchip.mapping.memory_fit import EMBEDDING_FORMAT, Formats
from inferchip.spec.calibration import Calibration
from inferchip.spec.chip import ChipParams
from inferchip.spec.formats import BYTES_PER_ELEMENT, compute_format
from inferchip.spec.stream import attainable_memory_bytes_per_s

# Hidden states between layers, all-reduced partial sums and MoE combines stay 16-bit when GEMMs
# run in fp8/fp4: engines quantise GEMM inputs on the fly (TensorRT-LLM, vLLM FP8/NVFP4 linear layers).
HIDDEN_STATE_FORMAT = "bf16"
OpTable = dict[str, FloatArray]


@dataclass(frozen=True)
class CostContext:
    """The constants the rules read: chip rates, number formats and calibration fractions.

    Chip rates (FLOP/s, B/s, s, tile sizes) carry a trailing axis of length one
    (``chip shape + (1,)``) so they broadcast against ``points x operators`` arrays.
    Bytes are per element of the named format.
    """

    gemm_format: str
    attention_format: str
    weight_bytes: float
    attention_weight_bytes: float  # attention projections' weights (the per-layer format map)
    attention_out_weight_bytes: float  # the attention output projection's (Formats.attention_out_weights)
    attention_q_b_weight_bytes: float  # MLA's q_b (Formats.attention_q_b_weights)
    act_bytes: float
    kv_bytes: float
    hidden_state_bytes: float  # 16-bit hidden states, or the activation format if wider
    embedding_bytes: float
    peak_gemm_flop_per_s: FloatArray
    peak_attention_flop_per_s: FloatArray
    peak_attention_proj_flop_per_s: FloatArray
    peak_attention_out_flop_per_s: FloatArray
    peak_attention_q_b_flop_per_s: FloatArray
    peak_lm_head_flop_per_s: FloatArray
    vector_flop_per_s: FloatArray
    memory_bytes_per_s: FloatArray
    link_bytes_per_s: FloatArray
    link_latency_s: FloatArray
    link_direct_all_reduce: FloatArray  # 1: one-/two-shot peer-to-peer all-reduce kernels (cost/network.py)
    expert_a2a_kernel_bytes_per_s: FloatArray  # prefill rate of the one-sided expert kernels (0: none)
    expert_a2a_decode_floor_s: FloatArray  # one low-latency expert kernel call: floor (0: link alpha, network.py)
    expert_a2a_decode_per_peer_s: FloatArray  # ... plus this per peer
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
    step_overhead_s: ArrayLike  # host time per iteration: a float, or per chip of a sweep (host_times_s)
    sequence_overhead_s: ArrayLike  # ... and per running sequence
    chip_shape: tuple[int, ...]
    all_reduce_codec: str = ""  # the engine's QuickReduce codec for large TP all-reduces (cost/network.py)
    moe_token_vector_flop: float = 0.0  # per token and MoE layer beyond the MMA (vLLM Triton MoE kernels)
    sequence_dram_bytes: float = 0.0  # DRAM bytes per running sequence within sequence_overhead_s (native top-p)
    moe_mma_peak_fraction: float = 1.0  # share of the tensor-core peak the expert kernels can issue (Marlin on Hopper)
    moe_stream_cap_bytes_per_s: float = float("inf")  # most bytes/s the expert kernels read (SM-bound Marlin)
    expert_popularity_log_sd: float = 0.0  # routing popularity spread of the experts (gemm.experts_reached)
    prefill_attention_format: str = ""  # "" : attention_format (prefill_attention_format())
    gemm_split_k_16bit: bool = False  # 16-bit weight GEMMs may split K (cuBLASLt split-K; Calibration field)
    # (M, N) tiles cuBLASLt picks from per shape for those 16-bit GEMMs (constants.CUBLASLT_16BIT_TILES of the
    # chip's family where gemm_split_k_16bit is set); empty: every weight GEMM runs the chip's tile
    cublas_tiles: tuple[tuple[float, float, float], ...] = ()
    # most FLOP/s of a dense weight GEMM in the checkpoint's weight format (Calibration field; the engine build's
    # kernel for those linears: attention projections the per-layer map keeps in another format run another)
    dense_gemm_cap_flop_per_s: float = float("inf")
    expert_gemm_cap_flop_per_s: float = float("inf")  # routed-expert kernel's plateau (useful FLOP/s)
    attention_weights_own_format: bool = False  # the attention projections' weights are not in the weight format
    # dense 16-bit MMA FLOP per softmax exponential, both at peak (cost.constants.MMA_FLOP_PER_EXP_16BIT; inf: none)
    mma_flop_per_exp_16bit: float = float("inf")
    peak_prefill_attention_flop_per_s: FloatArray | None = None  # None: peak_attention_flop_per_s
    # (mainloop fraction, seconds a tile outside the mainloop) of the chip's block-scaled 4-bit GEMMs
    # (cost.constants.BLOCK_SCALED_4BIT_GEMM); None: they take gemm_compute_fraction like every GEMM
    block_scaled_4bit_gemm: tuple[float, float] | None = None
    peak_mla_prefill_attention_flop_per_s: FloatArray | None = None  # MLA ops' prefill peak; None: as the others


def prefill_attention_format(attention_format: str, projection_weights: str, follows_projections: bool) -> str:
    """The format the prefill (context) attention computes in: ``attention_format`` (FP8 where the
    activations and KV are FP8), except where the engine runs FP8 context attention only for quantised
    attention (``follows_projections``) and the attention projections' weights are 16-bit: their bf16
    outputs Q, K and V then stay 16-bit. TensorRT-LLM ``cpp/tensorrt_llm/thop/attentionOp.cpp``:
    ``mFP8ContextFMHA = is_fp8_out || is_fp4_out || (hasFp8KvCache() && use_paged_context_fmha)``, the
    output quantised only for an FP8/FP4 output projection, and ``_torch/attention_backend/trtllm.py``
    refuses paged context FMHA over an FP8 KV cache without FP8 attention (``has_fp8_qdq``, NVFP4 or FP8
    block scales), so gpt-oss (attention in its checkpoint's ``modules_to_not_convert``) runs it in bf16."""
    if follows_projections and projection_weights in ("bf16", "fp16") and attention_format not in ("bf16", "fp16"):
        return projection_weights
    return attention_format


def attention_format(fmt: Formats) -> str:
    """The format attention computes in: FP8 where the KV cache and the activations are 8-bit, else bf16."""
    return "fp8" if (fmt.kv in ("fp8", "int8") and fmt.activations in ("fp8", "int8")) else "bf16"


def prefill_attention_format_of(fmt: Formats, cal: Calibration) -> str:
    """The prefill attention's format for ``fmt`` under ``cal`` (:func:`prefill_attention_format`); FP8 over an FP8
    KV cache whatever the activations and projections where the engine's MLA context attention quantises Q, K and V
    (``Calibration.mla_prefill_attention_fp8_kv``: TensorRT-LLM attentionOp ``mFP8ContextMLA``, set by its SM version
    and ``hasFp8KvCache()`` alone)."""
    if cal.mla_prefill_attention_fp8_kv and fmt.kv == "fp8":
        return "fp8"
    return prefill_attention_format(attention_format(fmt), fmt.attention_weights or fmt.weights,
                                    cal.prefill_attention_follows_projections)


def cost_context(chip: ChipParams, fmt: Formats, cal: Calibration) -> CostContext:
    """The constants of one chip (or an array of chips), formats and calibration."""
    attn_fmt = attention_format(fmt)
    gemm_fmt = compute_format(fmt.weights, fmt.activations)
    # Unquantised attention projections (gpt-oss modules_to_not_convert) run their MMA in their dtype.
    proj_fmt = compute_format(fmt.attention_weights or fmt.weights, fmt.activations)
    out_fmt = compute_format(fmt.attention_out_weights or fmt.attention_weights or fmt.weights, fmt.activations)
    q_b_fmt = compute_format(fmt.attention_q_b_weights or fmt.attention_weights or fmt.weights, fmt.activations)
    pre_attn_fmt = prefill_attention_format_of(fmt, cal)

    def col(x: ArrayLike) -> FloatArray:
        return np.asarray(x, dtype=float)[..., None]

    rates = dict(
        peak_gemm_flop_per_s=col(peak_flop_per_s(chip, gemm_fmt)),
        peak_attention_flop_per_s=col(peak_flop_per_s(chip, attn_fmt)),
        peak_attention_proj_flop_per_s=col(peak_flop_per_s(chip, proj_fmt)),
        peak_attention_out_flop_per_s=col(peak_flop_per_s(chip, out_fmt)),
        peak_attention_q_b_flop_per_s=col(peak_flop_per_s(chip, q_b_fmt)),
        peak_lm_head_flop_per_s=col(peak_flop_per_s(chip, "bf16")),
        vector_flop_per_s=col(chip.vector_flop_per_s), memory_bytes_per_s=col(chip.memory_bytes_per_s),
        link_bytes_per_s=col(chip.link_bytes_per_s), link_latency_s=col(chip.link_latency_s),
        link_direct_all_reduce=col(chip.link_direct_all_reduce),
        expert_a2a_kernel_bytes_per_s=col(chip.expert_a2a_kernel_bytes_per_s),
        expert_a2a_decode_floor_s=col(chip.expert_a2a_decode_floor_s),
        expert_a2a_decode_per_peer_s=col(chip.expert_a2a_decode_per_peer_s),
        tile_m=col(chip.gemm_tile_m), tile_n=col(chip.gemm_tile_n), tiles_in_flight=col(chip.gemm_tiles_in_flight),
        kernel_overhead_s=col(np.asarray(chip.kernel_overhead_s) * cal.kernel_overhead_scale),
    )
    # kernels reach the fitted fraction of the chip's measured streaming rate (spec.stream)
    rates["attainable_bytes_per_s"] = attainable_memory_bytes_per_s(
        rates["memory_bytes_per_s"], col(chip.memory_stream_share), cal.memory_bandwidth_fraction)
    shape = np.broadcast_shapes(*(v.shape[:-1] for v in rates.values()))
    host = host_times_s(chip, cal)
    return CostContext(
        gemm_format=gemm_fmt, attention_format=attn_fmt, weight_bytes=fmt.weight_bytes,
        attention_weight_bytes=fmt.attention_weight_bytes, attention_out_weight_bytes=fmt.attention_out_weight_bytes,
        attention_q_b_weight_bytes=fmt.attention_q_b_weight_bytes,
        act_bytes=fmt.act_bytes,
        kv_bytes=fmt.kv_bytes, hidden_state_bytes=max(fmt.act_bytes, BYTES_PER_ELEMENT[HIDDEN_STATE_FORMAT]),
        embedding_bytes=BYTES_PER_ELEMENT[EMBEDDING_FORMAT],
        gemm_compute_fraction=cal.gemm_compute_fraction, attention_compute_fraction=cal.attention_compute_fraction,
        prefill_attention_compute_fraction=cal.prefill_attention_compute_fraction,
        memory_bandwidth_fraction=cal.memory_bandwidth_fraction, link_bandwidth_fraction=cal.link_bandwidth_fraction,
        moe_imbalance=cal.moe_imbalance, step_overhead_s=host[0], sequence_overhead_s=host[1], chip_shape=shape,
        all_reduce_codec=fmt.all_reduce,
        moe_token_vector_flop=cal.moe_token_vector_flop, sequence_dram_bytes=cal.sequence_dram_bytes,
        moe_mma_peak_fraction=cal.moe_mma_peak_fraction,
        moe_stream_cap_bytes_per_s=cal.moe_stream_cap_bytes_per_s, prefill_attention_format=pre_attn_fmt,
        expert_popularity_log_sd=cal.expert_popularity_log_sd,
        gemm_split_k_16bit=cal.gemm_split_k_16bit,
        cublas_tiles=CUBLASLT_16BIT_TILES.get(chip.family, ()) if cal.gemm_split_k_16bit else (),
        dense_gemm_cap_flop_per_s=(float("inf") if cal.dense_gemm_cap_flop_per_s is None
                                   else cal.dense_gemm_cap_flop_per_s),
        expert_gemm_cap_flop_per_s=(float("inf") if cal.expert_gemm_cap_flop_per_s is None
                                    else cal.expert_gemm_cap_flop_per_s),
        attention_weights_own_format=(fmt.attention_weights or fmt.weights) != fmt.weights,
        mma_flop_per_exp_16bit=MMA_FLOP_PER_EXP_16BIT.get(chip.architecture, float("inf")),
        block_scaled_4bit_gemm=BLOCK_SCALED_4BIT_GEMM.get(chip.architecture),
        peak_prefill_attention_flop_per_s=(None if pre_attn_fmt == attn_fmt
                                           else col(peak_flop_per_s(chip, pre_attn_fmt))),
        # an MLA extend path that runs 16-bit flash attention (Calibration.mla_prefill_attention_16bit)
        peak_mla_prefill_attention_flop_per_s=(col(peak_flop_per_s(chip, "bf16")) if cal.mla_prefill_attention_16bit
                                               and pre_attn_fmt not in ("bf16", "fp16") else None), **rates,
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


def host_times_s(chip: ChipParams, cal: Calibration) -> tuple[ArrayLike, ArrayLike]:
    """Host time per iteration and per running sequence on ``chip``: its family's own runtime's where the family
    is statically scheduled (``ChipParams.host_step_s``; no per-sequence host time), else the calibration's (a GPU
    serving engine's). Chips stacked for a sweep (``spec.params.stack_chips``) get them chip by chip, arrays of the
    chip axis's shape; one chip, two floats."""
    own = np.asarray(chip.host_step_s, dtype=float)
    if own.ndim == 0:
        return (cal.step_overhead_s, cal.sequence_overhead_s) if np.isnan(own) else (float(own), 0.0)
    calibrated = np.isnan(own)
    return np.where(calibrated, cal.step_overhead_s, own), np.where(calibrated, cal.sequence_overhead_s, 0.0)
