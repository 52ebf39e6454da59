"""A workload compiled once into roofline tables, so any chip's step time is a few array lookups.

A step's time on a chip is, operator by operator (:mod:`inferchip.cost.step`)::

    t = sum_op reps * (max(F_op / P_k(op), D_op / BW) + overhead_op + network_op)

where ``F_op`` is the FLOP the operator spends (tile quantisation and compute efficiency
included), ``P_k`` the chip's peak of the format ``k`` it runs in (or its vector rate),
``D_op`` its DRAM bytes over the attainable fraction and ``BW`` the chip's DRAM bandwidth. An
operator is compute-bound exactly when its intensity ``F_op / D_op`` exceeds the chip's balance
``P_k / BW``: with the operators of each format sorted by intensity, the sum is a suffix sum of
``F`` over ``P`` plus a prefix sum of ``D`` over ``BW``, split where the balance falls
(``searchsorted``). That is exact for every chip that shares the tables' GEMM tile, kernel
overhead and link latency.

The coefficients are read off the real step plan (:func:`inferchip.cost.step.compile_step`)
evaluated on probe chips: all peaks and the attainable bandwidth 1; then one format's peak
doubled (its operators' compute time halves), and the link bandwidth set to each value the
designs use (network time is ``min(ring, tree)``, not linear in 1/bandwidth: it is tabulated).

The points are the review's question (:func:`inferchip.performance.operating.steady_state`
with fixed 1024/1024 lengths): steady-state continuous batching at each concurrency of
:data:`BATCH_GRID`, and the step that carries a new prompt's first chunk (its TTFT).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from inferchip.cost.context import StepPoints
from inferchip.cost.step import compile_step, step_points
from inferchip.mapping.layout import Layout
from inferchip.mapping.memory_fit import Formats
from inferchip.performance.mapped import DEFAULT_CHUNK_TOKENS, map_model
from inferchip.performance.phases import prefill_pairs
from inferchip.spec.calibration import Calibration
from inferchip.spec.model import ModelSpec
from inferchip.spec.params import ChipParams

BATCH_GRID = np.unique(np.round(np.geomspace(1, 4096, 22))).astype(float)
KINDS = ("fp8", "bf16", "vector")  # what an operator's FLOP run on (GEMMs fp8, LM head bf16, router vector)
REFERENCE_KERNEL_OVERHEAD_S = 5e-6  # generic family default (catalog/families.yaml), per kernel
REFERENCE_LINK_LATENCY_S = 5e-6  # generic family default, per hop
OFFSET = 1000.0  # log-intensity offset between points in the concatenated search array


@dataclass(frozen=True)
class KindTable:
    """One format's operators at every point, concatenated over points (sorted by log intensity
    within each point, point p's keys shifted by ``p * OFFSET``)."""

    keys: np.ndarray  # (points x ops,) sorted: log(F/D) + p * OFFSET
    f_suffix: np.ndarray  # (points x (ops + 1),) sum of F over ops at and after each position of its point
    d_prefix: np.ndarray  # (points x (ops + 1),) sum of D over ops before each position of its point
    n_ops: int
    f: np.ndarray  # (points, ops) the raw columns, for kinds of few operators (a direct max is cheaper)
    d: np.ndarray


@dataclass(frozen=True)
class WorkloadTable:
    """Everything the vectorised evaluation needs of one (model, tp, tile) at the points."""

    model_id: str
    tp: int
    tile: int
    batch: np.ndarray  # (G,) concurrency per replica
    kinds: dict[str, KindTable]  # per kind: decode points then prefill points (2G)
    d_only: np.ndarray  # (2G,) DRAM bytes of operators without FLOP (always memory-bound)
    overhead_s: np.ndarray  # (2G,) kernel and step overheads
    link_bytes_per_s: np.ndarray  # (L,) the link bandwidths tabulated
    network_s: np.ndarray  # (2G, L)
    weights_bytes: float
    activation_bytes: float  # a full chunk's activations on one chip
    kv_bytes_per_seq: float  # one sequence at full context (1024 + 1024), on one chip
    dp: int
    prefill_chunks: float
    max_ttft_s: float | None = None
    max_tpot_s: float | None = None


def _probe_chips(links: np.ndarray, tile: int, mem_fraction: float) -> tuple[ChipParams, int]:
    """Probe chips along a leading axis: base, fp8 x2, bf16 x2, vector x2, then each link value."""
    k = 4 + len(links)
    fp8, bf16, vec = np.ones(k), np.ones(k), np.ones(k)
    fp8[1], bf16[2], vec[3] = 2.0, 2.0, 2.0
    link = np.concatenate([np.full(4, 1e12), links])

    def col(x: np.ndarray) -> Any:
        # a column of probe values where ChipParams declares a float: its numeric fields may be arrays (its doc;
        # the cost equations are elementwise), as spec.params.stack_chips builds them
        return x.reshape(-1, 1)

    one = np.ones(k)
    chip = ChipParams(
        id="probe", peak_flop_per_s={"fp8": col(fp8), "bf16": col(bf16)}, memory_bytes_per_s=col(one / mem_fraction),
        memory_capacity_bytes=1e12, usable_memory_bytes=1e12, sram_bytes=0.0, link_bytes_per_s=col(link),
        link_latency_s=REFERENCE_LINK_LATENCY_S, scaleout_bytes_per_s=50e9, scaleout_latency_s=5e-6,
        max_scaleup_domain=72, gemm_tile_m=tile, gemm_tile_n=tile, gemm_tiles_in_flight=1.0,
        kernel_overhead_s=REFERENCE_KERNEL_OVERHEAD_S, tdp_w=1.0, idle_w=0.0, vector_flop_per_s=col(vec),
        memory_stream_share=1.0)  # unit probe: attainable DRAM rate 1 B/s
    return chip, k


def question_points(dp: int, batch: np.ndarray, input_tokens: float = 1024.0,
                    output_tokens: float = 1024.0) -> tuple[StepPoints, float]:
    """Decode points then first-chunk prefill points (steady_state's, fixed lengths), and the chunks per prompt."""
    b = batch
    e_o = max(output_tokens, 1.0)
    new = b / e_o
    ctx = input_tokens + output_tokens**2 / (2.0 * e_o)
    pairs_one = input_tokens * (input_tokens + 1.0) / 2.0
    chunk = min(input_tokens, float(DEFAULT_CHUNK_TOKENS))
    n_chunks = float(np.ceil(input_tokens / DEFAULT_CHUNK_TOKENS))
    tokens = np.concatenate([b + new * input_tokens, b + chunk])
    seqs = np.concatenate([b, b])
    kv = np.concatenate([b * ctx, b * ctx])
    pairs = np.concatenate([new * pairs_one, float(prefill_pairs(chunk)) + new * pairs_one])
    rows = np.concatenate([b + (new * input_tokens > 0), b + 1.0])
    return step_points(dp, tokens, seqs, kv, pairs, rows), n_chunks


def build_table(model: ModelSpec, tp: int, tile: int, links: np.ndarray, fmt: Formats, cal: Calibration,
                input_tokens: float = 1024.0, output_tokens: float = 1024.0) -> WorkloadTable:
    """The roofline tables of ``model`` on ``tp`` chips (pp 1, experts over the tp chips)."""
    ep = tp if model.is_moe and model.num_experts % tp == 0 else 1
    links = np.asarray(sorted(set(float(x) for x in links)), dtype=float)
    chip, _ = _probe_chips(links, tile, cal.memory_bandwidth_fraction)
    mm = map_model(model, chip, Layout(tp=tp, pp=1, ep=ep, replicas=1), fmt, cal)
    plan = compile_step(mm.sm, chip, fmt, cal)
    pts, n_chunks = question_points(plan.dp, BATCH_GRID, input_tokens, output_tokens)
    n_pts = 2 * len(BATCH_GRID)
    f_cols, d_cols, kind_cols = [], [], []
    overhead = np.zeros(n_pts)
    network = np.zeros((len(links), n_pts))
    for g in plan.groups:
        kc = g.rule.cost(g.table, plan.ctx, pts)
        reps = plan.reps[g.start:g.stop]
        shape = (chip_k := plan.ctx.chip_shape[0], n_pts, g.stop - g.start)
        comp = np.broadcast_to(np.asarray(kc.compute_s, float), shape)
        mem = np.broadcast_to(np.asarray(kc.memory_s, float), shape)
        f_cols.append(comp[0] * reps)
        d_cols.append(mem[0] * reps)
        # the probe whose doubled peak halves the compute time names the kind (none if no FLOP)
        total = comp.sum(axis=1)
        ratio = total[1:4] / np.where(total[0] > 0, total[0], 1.0)
        kind = np.where(total[0] > 0, np.argmin(ratio, axis=0), -1)
        kind_cols.append(kind)
        ovh = np.broadcast_to(np.asarray(kc.overhead_s, float), shape)[0]
        overhead += ovh @ reps
        net = np.broadcast_to(np.asarray(kc.network_s, float), shape)
        network += (net[4:] @ reps) if chip_k > 4 else 0.0
    f = np.concatenate(f_cols, axis=1)
    d = np.concatenate(d_cols, axis=1)
    kind_of = np.concatenate(kind_cols)
    kinds = {name: _kind_table(f[:, kind_of == j], d[:, kind_of == j]) for j, name in enumerate(KINDS)}
    d_only = d[:, kind_of < 0].sum(axis=1)
    mm_ref = map_model(model, chip, Layout(tp=tp, pp=1, ep=ep, replicas=1), fmt, cal)
    ctx_full = input_tokens + output_tokens
    return WorkloadTable(model.id, tp, tile, BATCH_GRID.copy(), kinds, d_only, overhead, links, network.T.copy(),
                         float(mm_ref.weights_bytes), float(mm_ref.activation_bytes(DEFAULT_CHUNK_TOKENS)),
                         float(mm_ref.kv_bytes_per_seq(np.asarray(ctx_full))) * plan.dp, plan.dp, n_chunks)


def _kind_table(f: np.ndarray, d: np.ndarray) -> KindTable:
    n_pts, n_ops = f.shape
    with np.errstate(divide="ignore"):
        inten = np.log(np.where(d > 0, f / np.where(d > 0, d, 1.0), np.inf))
    inten = np.clip(inten, -OFFSET / 4, OFFSET / 4)  # FLOP without bytes: always compute-bound
    order = np.argsort(inten, axis=1, kind="stable")
    fs = np.take_along_axis(f, order, axis=1)
    ds = np.take_along_axis(d, order, axis=1)
    keys = np.take_along_axis(inten, order, axis=1) + OFFSET * np.arange(n_pts)[:, None]
    f_suffix = np.concatenate([np.cumsum(fs[:, ::-1], axis=1)[:, ::-1], np.zeros((n_pts, 1))], axis=1)
    d_prefix = np.concatenate([np.zeros((n_pts, 1)), np.cumsum(ds, axis=1)], axis=1)
    return KindTable(keys.reshape(-1), f_suffix.reshape(-1), d_prefix.reshape(-1), n_ops, f, d)


DIRECT_MAX_OPS = 3  # kinds with at most this many operators are summed directly


def kind_time_s(t: KindTable, peak: np.ndarray, bw: np.ndarray, n_pts: int) -> np.ndarray:
    """Sum over the kind's operators of max(F/P, D/BW) at every point: (designs x points)."""
    if t.n_ops == 0:
        return np.zeros((len(peak), n_pts))
    inv_p, inv_bw = 1.0 / np.maximum(peak, 1e-30)[:, None], 1.0 / bw[:, None]
    if t.n_ops <= DIRECT_MAX_OPS:
        out = np.zeros((len(peak), n_pts))
        for j in range(t.n_ops):
            out += np.maximum(t.f[None, :, j] * inv_p, t.d[None, :, j] * inv_bw)
        return out
    beta = np.log(np.maximum(peak, 1e-30) / bw)
    pos = np.searchsorted(t.keys, (beta[:, None] + _offsets(n_pts)).reshape(-1), side="right")
    # position p * n_ops + i in the keys is position p * (n_ops + 1) + i in the cumulative arrays
    idx = pos.reshape(len(peak), n_pts) + np.arange(n_pts)
    res: np.ndarray = t.f_suffix[idx] * inv_p + t.d_prefix[idx] * inv_bw
    return res


def _offsets(n_pts: int) -> np.ndarray:
    return OFFSET * np.arange(n_pts)[None, :]
