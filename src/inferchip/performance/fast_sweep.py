"""The fast path's sweeps on arrays, for one layout.

The decode sweep (:meth:`inferchip.performance.fast_path.FastLayout.max_throughput`): the steady-state decode step's
time over the concurrency grid. The static batches of ``ic.sweep`` (:func:`prime`): ``predict`` answers thousands of
static-batch questions on one setting, each costing two steps of the scalar path (:mod:`inferchip.cost.scalar_step`,
a few microseconds each, most of a question's time); :func:`prime` takes a block of them, finds each one's prefill
and decode step points as ``FastLayout.static`` would (its ``static_steps``, the same code), prices the distinct ones
at once (:func:`~inferchip.cost.step_rows.step_rows`: equal to the scalar step to float rounding) and holds them where
``static`` looks them up. The questions are then asked as before, through ``predict`` with all its checks; only the
steps are found instead of priced.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import NamedTuple, Protocol

import numpy as np
import numpy.typing as npt

from inferchip.cost import rules as r
from inferchip.cost.context import CostContext, KernelCost, OpTable, StepPoints
from inferchip.cost.gemm import cublas_tile_compute_s, gemm_waves, m_tile, split_k_compute_s, split_k_partial_s
from inferchip.cost.kernels.attention import chunked_reads_scalar
from inferchip.cost.roofline import FloatArray
from inferchip.cost.step import KindGroup, StepPlan, step_points
from inferchip.cost.step_rows import step_rows

StaticSteps = tuple[tuple[float, ...], tuple[float, ...], float]  # a static batch's prefill and decode points, chunks


class Primable(Protocol):
    """What :func:`prime` reads of a :class:`~inferchip.performance.fast_path.FastLayout` (which imports this
    module): its plan, where it holds primed steps, and a static batch's step points."""

    plan: StepPlan
    primed: dict[tuple[float, ...], tuple[float, ...]]

    def static_steps(self, b: float, i: float, o: float) -> StaticSteps | str | None:
        ...

LinearOp = tuple[Callable[[OpTable, CostContext, StepPoints], KernelCost], dict[str, float], float]
"""An operator whose time grows linearly with the concurrency: (its rule's cost, its columns, its runs)."""


class GemmColumns(NamedTuple):
    """The plan's weight GEMMs (and LM head), one column entry per operator."""

    rows: npt.NDArray[np.bool_]  # the LM head's: its rows are the step's sequences (+ prompts), not its tokens
    n_tiles: FloatArray
    flop_per_s: FloatArray  # seconds per row of a wave: FLOP per wave row / attainable FLOP/s
    weight_s: FloatArray  # weight bytes / attainable bandwidth
    row_s: FloatArray  # bytes per row / attainable bandwidth
    reps: FloatArray  # runs per step
    overhead_s: float  # the kernel overhead of all their runs
    flop_per_wave_row: FloatArray
    attainable_flop_per_s: FloatArray
    k_slices: FloatArray  # the most K slices each may split into (1: never; Calibration.gemm_split_k_16bit)
    n: FloatArray  # output columns (the fp32 partials' size per row)
    splits: bool  # some GEMM may split K
    k: FloatArray  # reduction depth
    cublas: npt.NDArray[np.bool_]  # cuBLASLt picks the tile per shape (rules' "cublas"; CostContext.cublas_tiles)
    plateau_s: FloatArray  # seconds per row at the kernel's plateau: FLOP per row x seconds per FLOP (0: none)


class SweepParts(NamedTuple):
    """:func:`sweep_parts` of a plan."""

    gemms: GemmColumns | None
    linear: tuple[LinearOp, ...]
    other: tuple[KindGroup, ...]  # operators priced through their rule
    attainable_bytes_per_s: float
    kernel_overhead_s: float
    tile_m: float
    tiles_in_flight: float
    cublas_tiles: tuple[tuple[float, float, float], ...] = ()  # CostContext.cublas_tiles


def sweep_parts(plan: StepPlan) -> SweepParts:
    """The plan's operator groups sorted for :func:`decode_times`: the weight GEMMs' columns as
    arrays (one per operator), the rest as (rule, columns, runs); then the chip's attainable
    bandwidth, kernel overhead, M tile and tiles in flight."""
    mat: dict[str, list[float]] = {k: [] for k in ("rows", "n_tiles", "flop_per_wave_row", "weight_bytes",
                                                    "row_bytes", "attainable_flop_per_s", "k_slices", "n", "reps",
                                                    "k", "cublas", "flop_per_row", "seconds_per_flop")}
    linear: list[LinearOp] = []
    other: list[KindGroup] = []
    for g in plan.groups:
        reps = plan.reps[g.start:g.stop]
        n = len(reps)
        if g.rule.cost in (r.gemm_cost, r.lm_head_cost):
            for name in mat:
                if name == "rows":
                    mat[name] += [float(g.rule.cost is r.lm_head_cost)] * n
                elif name == "reps":
                    mat[name] += [float(x) for x in reps]
                else:
                    mat[name] += [float(x) for x in np.broadcast_to(g.table[name], (n,))]
        elif g.rule.cost in (r.attention_cost, r.elementwise_cost, r.embedding_cost, r.host_cost):
            cols = {k: np.broadcast_to(v, (n,)) for k, v in g.table.items()}
            linear += [(g.rule.cost, {k: float(v[j]) for k, v in cols.items()}, float(reps[j])) for j in range(n)]
        else:
            other.append(g)
    arrays = {k: np.array(v, dtype=np.float64) for k, v in mat.items()}
    ctx = plan.ctx
    abw = float(np.reshape(ctx.attainable_bytes_per_s, -1)[0])
    kov = float(np.reshape(ctx.kernel_overhead_s, -1)[0])
    gemms = None
    if len(arrays["reps"]):
        gemms = GemmColumns(arrays["rows"] > 0, arrays["n_tiles"],
                            arrays["flop_per_wave_row"] / arrays["attainable_flop_per_s"], arrays["weight_bytes"] / abw,
                            arrays["row_bytes"] / abw, arrays["reps"], kov * float(np.sum(arrays["reps"])),
                            arrays["flop_per_wave_row"], arrays["attainable_flop_per_s"], arrays["k_slices"],
                            arrays["n"], bool(np.any(arrays["k_slices"] > 1.0)), arrays["k"], arrays["cublas"] > 0,
                            arrays["flop_per_row"] * arrays["seconds_per_flop"])
    return SweepParts(gemms, tuple(linear), tuple(other), abw, kov, float(np.reshape(ctx.tile_m, -1)[0]),
                      float(np.reshape(ctx.tiles_in_flight, -1)[0]), ctx.cublas_tiles)


def decode_times(parts: SweepParts, plan: StepPlan, pp: int, grid: FloatArray, i: float, o: float) -> FloatArray:
    """Replica time of the steady-state decode step at each concurrency of ``grid`` of a plan of
    ``pp`` stages (its :func:`sweep_parts`; the sweep of
    ``operating.steady_state`` without TTFT, attention data parallelism off). The weight GEMMs'
    tiles and waves are counted as ``rules._matrix_gemm`` does (``gemm.m_tile``, ``gemm.split_k_compute_s``), on a
    (grid x GEMMs) array; attention, elementwise, embedding and host operators grow linearly
    with the concurrency at fixed lengths and are summed as such; other operators go through
    their rule. The times may differ from ``StepPlan.evaluate``'s in the last bits (sums in
    another order), never by a tile or a wave."""
    mat, linear, other, abw, kov, tile_m, tiles_in_flight, cublas_tiles = parts
    e_o = max(o, 1.0)
    new = grid / e_o
    mean_ctx = i + o * o / (2.0 * e_o)
    mpp = i * (0.0 + (i + 1.0) / 2.0)
    t = grid + new * i
    s = grid
    if pp != 1:  # (x / 1 is x)
        t, s = t / pp, grid / pp
    prefill = t > s  # np.maximum(t - s, 0) > 0 of finite t, s
    gemm_s: FloatArray | float = 0.0
    if mat is not None:  # (in place where an operand is not read again: fewer arrays, the same floats)
        m = np.where(mat.rows, (s + prefill)[:, None], t[:, None])
        x = np.maximum(m, 1.0)  # m >= 1 / pp > 0 on the grid
        tm = m_tile(x, tile_m)
        x = np.ceil(x / tm, out=x)
        x *= mat.n_tiles
        if mat.splits:  # some GEMM may split K (Calibration.gemm_split_k_16bit)
            waves = split_k_compute_s(x, tiles_in_flight, mat.k_slices, tm, mat.flop_per_wave_row,
                                      mat.attainable_flop_per_s, split_k_partial_s(m, mat.n, abw))
        else:  # the full-wave count, in the arithmetic of the plans that split nothing
            waves = gemm_waves(x, tiles_in_flight)
            waves *= tm
            waves *= mat.flop_per_s
        if cublas_tiles and bool(np.any(mat.cublas)):  # cuBLASLt's tile per shape (rules._matrix_gemm)
            picked = cublas_tile_compute_s(m, mat.n, mat.k, mat.k_slices, tiles_in_flight, mat.attainable_flop_per_s,
                                           split_k_partial_s(m, mat.n, abw), cublas_tiles)
            waves = np.where(mat.cublas, picked, waves)
        if np.any(mat.plateau_s > 0.0):  # the kernel's plateau on the useful FLOP (rules._matrix_gemm)
            waves = np.maximum(waves, m * mat.plateau_s)
        m *= mat.row_s
        m += mat.weight_s
        gemm_s = np.maximum(waves, m, out=m) @ mat.reps
    # Per unit of concurrency, at these lengths: tokens, decode sequences, prompt tokens, KV read, pairs.
    t1, s1, kv1, pr1 = (1.0 + (1.0 / e_o) * i) / pp, 1.0 / pp, mean_ctx / pp, (1.0 / e_o) * mpp / pp
    p1 = max(t1 - s1, 0.0)
    per_unit = const = per_prefill = 0.0
    for rule, c, reps in linear:
        if rule is r.attention_cost:
            kd, pr, w = kv1, pr1, c.get("window", 0.0)
            if w > 0:
                kd, pr = min(kd, s1 * w), min(pr, p1 * w)
            if c.get("chunk", 0.0) > 0:  # linear in the concurrency too (the mean cached length is fixed)
                kd, pr = chunked_reads_scalar(s1, p1, kd, pr, c["chunk"])
            kvb = c["kv_bytes_per_token"]
            comp = (c["decode_flop_per_kv_token"] * kd / c["decode_attainable_flop_per_s"]
                    + c["prefill_flop_per_pair"] * pr / c["prefill_attainable_flop_per_s"])
            mem = (kd * kvb + s1 * kvb + p1 * c["prefill_bytes_per_token"]) / abw
            per_unit += max(comp, mem) * reps
            const += kov * reps  # the decode kernel (every grid point decodes)
            per_prefill += kov * reps  # the prefill kernel, where a prompt is prefilled
        elif rule is r.host_cost:
            const += c["overhead_s"] * reps
            per_unit += c["seq_overhead_s"] * s1 * reps  # host time per running sequence
        else:  # elementwise, embedding: bytes per token
            per_unit += t1 * c["bytes_per_token"] / abw * reps
            const += c["overhead_s"] * reps
    if mat is not None:  # the constants summed first (another order of the same sums)
        const += mat.overhead_s
    if per_prefill and prefill.all():  # every grid point prefills where there is a prompt
        const, per_prefill = const + per_prefill, 0.0
    total: FloatArray = gemm_s + grid * per_unit
    total += const
    if per_prefill:
        total = total + prefill * per_prefill
    if other:
        total = _plus_other_kernels(total, other, plan, step_points(1, t, s, grid * mean_ctx / pp, new * mpp / pp))
    return total * pp if pp != 1 else total


PRIME_BLOCK = 2048
"""Questions primed at once (:func:`prime`): enough to spread numpy's per-call cost over thousands of points, few
enough that the steps held (two tuples of a few dozen floats a question, ~2 kB) stay within a few MB."""


def prime(fast: Primable, points: Iterable[tuple[float, float, float]]) -> int:
    """Price the steps of the static batches ``points`` ((batch, input tokens, output tokens) per replica, as
    ``FastLayout.static`` takes them) at once, held in ``fast.primed`` (those of an earlier call dropped) for
    ``static`` to find; :func:`release` drops them. Points that do not fit, or where the float path does not apply
    (attention data parallelism), are left to ``static``. Returns the steps priced."""
    steps: dict[tuple[float, ...], None] = {}
    for b, i, o in points:
        got = fast.static_steps(b, i, o)
        if isinstance(got, tuple):
            steps[got[0]] = steps[got[1]] = None
    fast.primed.clear()
    if steps:
        rows = step_rows(fast.plan, list(zip(*steps, strict=True))).tolist()
        fast.primed.update(zip(steps, map(tuple, rows), strict=True))
    return len(steps)


def release(fast: Primable) -> None:
    """Drop the steps :func:`prime` held: questions asked after a sweep price their steps on the scalar path, as
    they would have without it (the same figures to the last bit)."""
    fast.primed.clear()


class GridTerms(NamedTuple):
    """A block of concurrency grids' decode step (:func:`grid_terms`) but the GEMMs' tile and wave times: each
    GEMM's rows (``m``), memory time and plateau at each grid point (GEMMs x grid), and what the step adds to the
    GEMMs' sum, per point and in order (then x ``pp``)."""

    m: FloatArray  # (GEMMs x grid) rows of each weight GEMM (no GEMMs: no rows)
    memory_s: FloatArray  # (GEMMs x grid) weight bytes + rows x bytes per row, at the attainable bandwidth
    plateau_s: FloatArray | None  # (GEMMs x grid) rows x the plateau's seconds per row, where a GEMM has one
    adds: tuple[FloatArray | float, ...]  # per grid point (an array) or for all of them (a float), in order
    pp: int


def grid_terms(parts: SweepParts, plan: StepPlan, pp: int, grid: FloatArray, i: FloatArray, o: FloatArray,
               starts: npt.NDArray[np.intp]) -> GridTerms:
    """:func:`decode_times` of many questions at once but the GEMMs' tile and wave times (:func:`tile_waves`):
    ``grid`` their concurrency grids end to end, ``i`` and ``o`` each grid point's lengths, ``starts`` where each
    question's grid begins. Element by element the operations of :func:`decode_times` in its order (its scalars of
    the lengths as arrays; its branch on whether every point of a grid prefills taken per question); only sums of
    products may round differently (other shapes, the GEMMs summed in a loop). Every term is a function of its own
    grid point alone (the prefill branch: of its question's), so the terms of a subset of the points are the subset
    of the terms (:func:`terms_at`)."""
    mat, linear, other, abw, kov = parts[:5]
    e_o = np.maximum(o, 1.0)
    new = grid / e_o
    mean_ctx = i + o * o / (2.0 * e_o)
    mpp = i * (0.0 + (i + 1.0) / 2.0)
    t = grid + new * i
    s = grid
    if pp != 1:
        t, s = t / pp, grid / pp
    prefill = t > s
    m = memory = np.empty((0, len(grid)))
    plateau = None
    if mat is not None:  # (GEMMs x grid): each operator's figures broadcast along a row, a long inner loop
        m = np.where(mat.rows[:, None], (s + prefill)[None, :], t[None, :])
        memory = m * mat.row_s[:, None]
        memory += mat.weight_s[:, None]
        if np.any(mat.plateau_s > 0.0):
            plateau = m * mat.plateau_s[:, None]
    t1, s1, kv1, pr1 = (1.0 + (1.0 / e_o) * i) / pp, 1.0 / pp, mean_ctx / pp, (1.0 / e_o) * mpp / pp
    p1 = np.maximum(t1 - s1, 0.0)
    per_unit: FloatArray | float = 0.0
    const = per_prefill = 0.0
    for rule, c, reps in linear:
        if rule is r.attention_cost:
            kd, pr, w = kv1, pr1, c.get("window", 0.0)
            if w > 0:
                kd, pr = np.minimum(kd, s1 * w), np.minimum(pr, p1 * w)
            if c.get("chunk", 0.0) > 0:  # chunked_reads_scalar's operations (s1 = 1 / pp > 0)
                kd = kd - s1 * np.floor(kd / s1 / c["chunk"]) * c["chunk"]
                cap = p1 * (c["chunk"] + 1.0) / 2.0
                pr = np.where(pr < cap, pr, cap)
            kvb = c["kv_bytes_per_token"]
            comp = (c["decode_flop_per_kv_token"] * kd / c["decode_attainable_flop_per_s"]
                    + c["prefill_flop_per_pair"] * pr / c["prefill_attainable_flop_per_s"])
            mem = (kd * kvb + s1 * kvb + p1 * c["prefill_bytes_per_token"]) / abw
            per_unit = per_unit + np.where(mem > comp, mem, comp) * reps
            const += kov * reps
            per_prefill += kov * reps
        elif rule is r.host_cost:
            const += c["overhead_s"] * reps
            per_unit = per_unit + c["seq_overhead_s"] * s1 * reps
        else:
            per_unit = per_unit + t1 * c["bytes_per_token"] / abw * reps
            const += c["overhead_s"] * reps
    if mat is not None:
        const += mat.overhead_s
    adds: list[FloatArray | float] = [grid * per_unit]
    if per_prefill:  # a question whose every grid point prefills: its constant takes the prefill kernel
        every = np.repeat(np.logical_and.reduceat(prefill, starts), np.diff(np.append(starts, len(grid))))
        adds += [np.where(every, const + per_prefill, const), np.where(every, 0.0, prefill * per_prefill)]
    else:
        adds.append(const)
    if other:
        adds += _other_kernels(other, plan, step_points(1, t, s, grid * mean_ctx / pp, new * mpp / pp), len(grid))
    return GridTerms(m, memory, plateau, tuple(adds), pp)


def terms_at(terms: GridTerms, at: npt.NDArray[np.intp]) -> GridTerms:
    """The terms of the grid points ``at`` (indices): each array's columns (or elements) there."""
    plateau = None if terms.plateau_s is None else terms.plateau_s[:, at]
    adds = tuple(a if isinstance(a, float) else a[at] for a in terms.adds)
    return GridTerms(terms.m[:, at], terms.memory_s[:, at], plateau, adds, terms.pp)


def tile_waves(parts: SweepParts, mat: GemmColumns, m: FloatArray) -> FloatArray:
    """The weight GEMMs' (``mat``: ``parts.gemms``) tile and wave times (s, GEMMs x points) at ``m`` rows
    (:func:`grid_terms`' ``m``), as
    ``rules._matrix_gemm`` counts them (``gemm.m_tile``, ``gemm.split_k_compute_s``,
    ``gemm.cublas_tile_compute_s``): element by element, each point's figure a function of its own rows alone."""
    abw, tiles_in_flight, cublas_tiles = parts.attainable_bytes_per_s, parts.tiles_in_flight, parts.cublas_tiles
    n, k, k_slices, flop_s = (x[:, None] for x in (mat.n, mat.k, mat.k_slices, mat.attainable_flop_per_s))
    if cublas_tiles and bool(np.all(mat.cublas)):  # every GEMM's tile picked per shape (the rule's waves unread)
        waves: FloatArray = cublas_tile_compute_s(m, n, k, k_slices, tiles_in_flight, flop_s,
                                                  split_k_partial_s(m, n, abw), cublas_tiles)
        return waves
    x = np.maximum(m, 1.0)
    tm = m_tile(x, parts.tile_m)
    x = np.ceil(x / tm, out=x)
    x *= mat.n_tiles[:, None]
    if mat.splits:
        waves = split_k_compute_s(x, tiles_in_flight, k_slices, tm, mat.flop_per_wave_row[:, None], flop_s,
                                  split_k_partial_s(m, n, abw))
    else:
        waves = gemm_waves(x, tiles_in_flight)
        waves *= tm
        waves *= mat.flop_per_s[:, None]
    if cublas_tiles and bool(np.any(mat.cublas)):
        picked = cublas_tile_compute_s(m, n, k, k_slices, tiles_in_flight, flop_s, split_k_partial_s(m, n, abw),
                                       cublas_tiles)
        waves = np.where(mat.cublas[:, None], picked, waves)
    return waves


def step_times(parts: SweepParts, terms: GridTerms, waves: FloatArray | None) -> FloatArray:
    """The replica time of the decode step at each point of ``terms`` whose GEMMs' tile and wave times are ``waves``
    (:func:`tile_waves`; None: no GEMMs): each GEMM the larger of its waves (its plateau's at least) and its memory
    time, summed GEMM by GEMM times its runs (a point's sum its own: no other point's shape in it), then the
    step's other terms in order. A non-decreasing function of each element of ``waves`` where the runs are >= 0:
    each operation is (a float's rounding keeps order)."""
    total: FloatArray = np.zeros(terms.m.shape[1])
    if parts.gemms is not None and waves is not None:
        if terms.plateau_s is not None:
            waves = np.maximum(waves, terms.plateau_s)
        waves = np.maximum(waves, terms.memory_s)
        for row, reps in zip(waves, parts.gemms.reps.tolist(), strict=True):
            total += row * reps
    for a in terms.adds:
        total = total + a
    return total * terms.pp if terms.pp != 1 else total


def decode_times_points(parts: SweepParts, plan: StepPlan, pp: int, grid: FloatArray, i: FloatArray, o: FloatArray,
                        starts: npt.NDArray[np.intp]) -> FloatArray:
    """:func:`decode_times` of many questions at once (:func:`grid_terms`, :func:`tile_waves`,
    :func:`step_times`): ``grid`` their concurrency grids end to end, ``i`` and ``o`` each grid point's lengths,
    ``starts`` where each question's grid begins."""
    terms = grid_terms(parts, plan, pp, grid, i, o, starts)
    return step_times(parts, terms, None if parts.gemms is None else tile_waves(parts, parts.gemms, terms.m))


def _other_kernels(other: tuple[KindGroup, ...], plan: StepPlan, pts: StepPoints, n: int) -> list[FloatArray]:
    """The kernel groups priced by their own rule at the grid's step points (``pts``), one addend a group: its body
    (the larger of compute and memory, plus overhead and network) times its repetitions."""
    adds = []
    for g in other:
        kc = g.rule.cost(g.table, plan.ctx, pts)
        body = np.maximum(kc.compute_s, kc.memory_s) + kc.overhead_s + kc.network_s
        reps_g = plan.reps[g.start:g.stop]
        adds.append(np.broadcast_to(body, (n, len(reps_g))) @ reps_g)
    return adds


def _plus_other_kernels(total: FloatArray, other: tuple[KindGroup, ...], plan: StepPlan, pts: StepPoints) -> FloatArray:
    """``total`` plus the kernel groups priced by their own rule (:func:`_other_kernels`), group by group: the
    operations :func:`decode_times` and :func:`grid_terms` share."""
    for add in _other_kernels(other, plan, pts, len(total)):
        total = total + add
    return total
