"""The cost rules of :mod:`inferchip.cost.rules` at one point, in plain Python floats.

Each function is an array rule's scalar twin: ``twin(columns, chip, point) -> Kernel`` repeats the rule
operation for operation on one operator and one point (:mod:`inferchip.cost.scalar_step` assembles them
into a plan's step and compiles it). :class:`Chip` holds the context's chip rates as floats.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from inferchip.cost.constants import FLOP_PER_MAC, FP32_BYTES
from inferchip.cost.gemm import (
    cublas_tile_compute_s_scalar,
    experts_reached_scalar,
    gemm_waves_scalar,
    m_tile_scalar,
    split_k_compute_s_scalar,
)
from inferchip.cost.kernels.attention import chunked_reads_scalar
from inferchip.cost.network import (
    all_reduce_scalar_s,
    all_to_all_latency_scalar_s,
    all_to_all_scalar_s,
    ring_half_scalar_s,
)

# One operator's cost per run: compute, memory, overhead, network (s), FLOP, DRAM and link bytes.
Kernel = tuple[float, float, float, float, float, float, float]
# The point: tokens, all_tokens, decode_seqs, prefill_tokens, decode_kv_tokens, prefill_pairs, logit_rows,
# then the M tile and the tiles along M of a GEMM over the tokens and over the logit rows.
Point = tuple[float, ...]
ZERO: Kernel = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)


@dataclass(frozen=True)
class Chip:
    """The context's chip rates as floats."""

    attainable_bytes_per_s: float
    kernel_overhead_s: float
    tile_m: float
    tile_n: float
    tiles_in_flight: float
    vector_flop_per_s: float
    peak_gemm_flop_per_s: float
    link_bytes_per_s: float
    link_latency_s: float
    gemm_compute_fraction: float
    link_bandwidth_fraction: float
    moe_imbalance: float
    link_direct_all_reduce: float = 0.0
    expert_a2a_kernel_bytes_per_s: float = 0.0
    all_reduce_codec: str = ""
    moe_token_vector_flop: float = 0.0
    moe_mma_peak_fraction: float = 1.0
    moe_stream_cap_bytes_per_s: float = float("inf")
    expert_a2a_decode_floor_s: float = 0.0  # low-latency expert kernels (cost/network.py all_to_all_latency_s)
    expert_a2a_decode_per_peer_s: float = 0.0
    expert_popularity_log_sd: float = 0.0  # routing popularity spread (gemm.experts_reached)
    expert_gemm_cap_flop_per_s: float = float("inf")  # fused-MoE plateau (CostContext.expert_gemm_cap_flop_per_s)
    cublas_tiles: tuple[tuple[float, float, float], ...] = ()  # cuBLASLt's per-shape tiles (CostContext.cublas_tiles)


def as_float(x: Any) -> float:
    return float(x.reshape(-1)[0]) if hasattr(x, "reshape") else float(x)


def m_terms(m: float, c: Chip) -> tuple[float, float]:
    """A GEMM of ``m`` rows: its M tile (``gemm.m_tile``) and the tiles along M."""
    tm = m_tile_scalar(m, c.tile_m)
    return tm, math.ceil(max(m, 1.0) / tm)


def matrix_gemm(m: float, tm: float, m_tiles: float, op: tuple[float, ...], c: Chip) -> Kernel:
    n_tiles, flop_per_wave_row, weight_bytes, row_bytes, flop_per_row, attainable, k_slices, n, k, cublas = op[:10]
    s_per_flop = op[10]  # the kernel's plateau (seconds per useful FLOP; 0: none)
    partial = 2.0 * FP32_BYTES * m * n / c.attainable_bytes_per_s
    if m <= 0:
        cp = 0.0
    elif cublas > 0.0 and c.cublas_tiles:  # rules._matrix_gemm: cuBLASLt's tile per shape
        cp = cublas_tile_compute_s_scalar(m, n, k, k_slices, c.tiles_in_flight, attainable, partial, c.cublas_tiles)
    else:
        cp = split_k_compute_s_scalar(m_tiles * n_tiles, c.tiles_in_flight, k_slices, tm, flop_per_wave_row,
                                      attainable, partial)
    cp = max(cp, m * flop_per_row * s_per_flop) if m > 0 else 0.0  # the kernel's plateau (rules._matrix_gemm)
    nb = weight_bytes + m * row_bytes
    return (cp, nb / c.attainable_bytes_per_s, c.kernel_overhead_s, 0.0, m * flop_per_row, nb, 0.0)


def gemm_kernel(op: tuple[float, ...], c: Chip, p: Point) -> Kernel:
    return matrix_gemm(p[0], p[7], p[8], op, c)


def lm_head_kernel(op: tuple[float, ...], c: Chip, p: Point) -> Kernel:
    return matrix_gemm(p[6], p[9], p[10], op, c)


def vector_gemm_kernel(op: tuple[float, ...], c: Chip, p: Point) -> Kernel:
    m, (k, n, weight_bytes, act_bytes) = p[0], op
    flop = FLOP_PER_MAC * m * k * n * 1.0
    nb = k * n * 1.0 * weight_bytes + m * 1.0 * (k + n) * act_bytes
    return (flop / (c.vector_flop_per_s * c.gemm_compute_fraction), nb / c.attainable_bytes_per_s,
            c.kernel_overhead_s, 0.0, flop, nb, 0.0)


def grouped_gemm_kernel(op: tuple[float, ...], c: Chip, p: Point) -> Kernel:
    m, (k, n, e, f, e_total, ep, weight_bytes, act_bytes) = p[1], op
    assigned = m * f * e_total / ep / e
    per_expert = assigned * c.moe_imbalance
    active = experts_reached_scalar(e, f, m, c.expert_popularity_log_sd)  # gemm.experts_reached
    spent = 0.0
    if per_expert > 0:  # gemm.quantised_flop
        tm = m_tile_scalar(per_expert, c.tile_m)
        tiles = math.ceil(max(per_expert, 1.0) / tm) * math.ceil(n / c.tile_n) * active
        spent = gemm_waves_scalar(tiles, c.tiles_in_flight) * c.tiles_in_flight * FLOP_PER_MAC * tm * c.tile_n * k
    nb = k * n * active * weight_bytes + assigned * e * (k + n) * act_bytes
    over = (c.kernel_overhead_s + m * (0.5 * c.moe_token_vector_flop / c.vector_flop_per_s)  # gemm.moe_token_time_s
            if c.moe_token_vector_flop else c.kernel_overhead_s)
    useful = FLOP_PER_MAC * assigned * k * n * e
    return (max(spent / (c.peak_gemm_flop_per_s * c.moe_mma_peak_fraction * c.gemm_compute_fraction),
                useful / c.expert_gemm_cap_flop_per_s),  # the fused-MoE plateau (rules.grouped_gemm_cost)
            nb / min(c.attainable_bytes_per_s, c.moe_stream_cap_bytes_per_s), over, 0.0, useful, nb, 0.0)


def attention_kernel(op: tuple[float, ...], c: Chip, p: Point) -> Kernel:
    dec_per_kv, pre_per_pair, kv_token_bytes, pre_token_bytes, dec_att, pre_att, window, chunk = op
    s_dec, t_pre, kv_d, pr = p[2], p[3], p[4], p[5]
    if window > 0:
        kv_d = min(kv_d, s_dec * window)
        pr = min(pr, t_pre * window)
    if chunk > 0:
        kv_d, pr = chunked_reads_scalar(s_dec, t_pre, kv_d, pr, chunk)
    dec_flop = dec_per_kv * kv_d
    pre_flop = pre_per_pair * pr
    nb = kv_d * kv_token_bytes + s_dec * kv_token_bytes + t_pre * pre_token_bytes
    kernels = float(s_dec > 0) + float(t_pre > 0)
    return (dec_flop / dec_att + pre_flop / pre_att, nb / c.attainable_bytes_per_s, c.kernel_overhead_s * kernels, 0.0,
            dec_flop + pre_flop, nb, 0.0)


def memory_kernel(op: tuple[float, ...], c: Chip, p: Point) -> Kernel:
    nb = p[0] * op[0]
    return (0.0, nb / c.attainable_bytes_per_s, op[1], 0.0, 0.0, nb, 0.0)


def host_kernel(op: tuple[float, ...], c: Chip, p: Point) -> Kernel:
    rows, least = p[6], 1.0 / op[3]  # rules.host_cost: the stage's share of the iterations
    share = 1.0 if rows >= 1.0 else (rows if rows > least else least)
    return (0.0, 0.0, op[0] * share + op[1] * p[2], 0.0, 0.0, op[2] * p[2], 0.0)


def all_reduce_kernel(op: tuple[float, ...], c: Chip, p: Point) -> Kernel:
    elements, g, element_bytes = op
    s = p[0] * elements * element_bytes
    t = all_reduce_scalar_s(s, g, c.link_bytes_per_s, c.link_latency_s, c.link_bandwidth_fraction,
                            c.link_direct_all_reduce, c.all_reduce_codec)
    return (0.0, 0.0, 0.0, t, 0.0, 0.0, s)


def all_to_all_kernel(op: tuple[float, ...], c: Chip, p: Point) -> Kernel:
    elements, g, element_bytes, rank_elements, logit_rows = op
    rate = c.expert_a2a_kernel_bytes_per_s if rank_elements > 0 else 0.0  # cost/network.py expert_kernel_terms
    s = (p[6] if logit_rows > 0 else p[0]) * (rank_elements if rate > 0 else elements) * element_bytes
    lat = all_to_all_latency_scalar_s(g, c.link_latency_s, rank_elements, p[2], c.expert_a2a_decode_floor_s,
                                      c.expert_a2a_decode_per_peer_s)
    t = all_to_all_scalar_s(s, g, c.link_bytes_per_s, c.link_latency_s, c.link_bandwidth_fraction,
                            rate if p[2] <= 0 else 0.0, lat)
    return (0.0, 0.0, 0.0, t, 0.0, 0.0, s)


def all_gather_kernel(op: tuple[float, ...], c: Chip, p: Point) -> Kernel:
    elements, g, element_bytes, routing_bytes = op
    s = g * p[0] * (elements * element_bytes + routing_bytes)
    t = ring_half_scalar_s(s, g, c.link_bytes_per_s, c.link_latency_s, c.link_bandwidth_fraction)
    return (0.0, 0.0, 0.0, t, 0.0, 0.0, s)


def reduce_scatter_kernel(op: tuple[float, ...], c: Chip, p: Point) -> Kernel:
    elements, g, element_bytes = op
    s = g * p[0] * elements * element_bytes
    t = ring_half_scalar_s(s, g, c.link_bytes_per_s, c.link_latency_s, c.link_bandwidth_fraction)
    return (0.0, 0.0, 0.0, t, 0.0, 0.0, s)


def point_to_point_kernel(op: tuple[float, ...], c: Chip, p: Point) -> Kernel:
    s = p[0] * op[0] * op[1]
    t = c.link_latency_s + s / (c.link_bytes_per_s * c.link_bandwidth_fraction) if s > 0 else 0.0
    return (0.0, 0.0, 0.0, t, 0.0, 0.0, s)
