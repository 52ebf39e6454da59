"""Most-throughput concurrencies of many questions at once, pricing the tiles of only the grid points that can win.

``FastLayout.max_throughput`` searches each question's concurrency grid for the most tokens/s.
:func:`best_concurrencies` answers a block of questions at once (``fast_sweep.grid_terms``); the GEMMs' tile and wave
times, most of the cost, are priced only at the grid points that a lower bound on the step time cannot rule out.

**The bound.** A weight GEMM's tile and wave time (``fast_sweep.tile_waves``) is at least its useful FLOP at the
rate its waves run, ``max(m, 1) x c`` with ``c`` (:func:`floor_s_per_row`):

* the rule's tiles (``gemm.m_tile``, ``gemm.gemm_waves``, ``gemm.split_k_compute_s``): ``x = ceil(max(m, 1) / tm)
  x n_tiles >= max(m, 1) x n_tiles / tm`` output tiles; the data-parallel kernel's ``ceil(x / T)`` waves and the
  split kernel's ``ceil(x s / T) / s`` are each ``>= x / T`` (T tiles in flight), and the split's partial sums add
  ``s x partial_s >= 0``; a wave costs ``tm x flop_per_wave_row / flop_per_s``, so either kernel takes at least
  ``max(m, 1) x n_tiles x flop_per_wave_row / (T x flop_per_s)``;
* cuBLASLt's tile per shape (``gemm.cublas_tile_compute_s``): each candidate (bm, bn) has ``ceil(rows / tm) x
  ceil(n / bn) >= rows n / (tm bn)`` tiles and wave rows of ``T x 2 bn k`` FLOP, so at least ``rows x 2 n k /
  flop_per_s``: the least of the candidates too.

Floats: the tile time is ~12 roundings from its real value and the bound ~6, each within 2^-53 relative, so the
bound is scaled by ``1 - FLOOR_MARGIN`` (1e-12, over a thousand times those roundings) and is then below the tile
time as computed, element by element. ``fast_sweep.step_times`` is non-decreasing in each GEMM's tile time (each of
its operations is, float rounding included, with runs >= 0), so the step priced with the bounds, ``lower``, is
<= the step priced with the tile times, ``exact``, as computed, and where ``lower > 0``, ``grid / lower >= grid /
exact`` (a point whose ``lower`` is not positive is priced).

**The pick kept.** Each question's grid point of the largest ``grid / lower`` is priced first (``best0`` its
tokens/s, at most the question's best). A point with ``grid / lower < best0 x (1 - BAND)`` has tokens/s below
``best x (1 - BAND)``: it is neither the best nor a runner-up within the near-tie band, so it is not priced. Every
other point is, each from its own terms alone (``fast_sweep.terms_at``: the same floats as on the whole grid), so
the best, the first of equals and the near-tie test are those of pricing every point. The bound holds where its
premises do (:func:`floor_s_per_row` checks them: positive tiles in flight, bandwidth, rates and tiles, runs and
sizes >= 0, all finite; then with finite lengths every tile time is finite); elsewhere every point is priced.
"""

from __future__ import annotations

import math
from typing import Protocol

import numpy as np
import numpy.typing as npt

from inferchip.cost.constants import FLOP_PER_MAC
from inferchip.cost.roofline import FloatArray
from inferchip.cost.step import StepPlan
from inferchip.performance.fast_sweep import (
    GemmColumns,
    GridTerms,
    SweepParts,
    grid_terms,
    step_times,
    terms_at,
    tile_waves,
)

Indices = npt.NDArray[np.intp]

BAND = 1e-8
"""Most-throughput questions whose runner-up concurrency comes within this of the best (relative, on the batched
decode times) are searched one by one (``FastLayout.best_concurrency``, its own near-tie rule at 1e-9): outside it
the batched and the per-question times, equal to the last bits, pick the same concurrency."""

BEST_BLOCK = 512
"""Most-throughput questions searched at once (:func:`best_concurrencies`): ~46,000 grid points. With the tiles priced
at a few per cent of them (the bound), numpy's per-call cost decides (stop 53, 200,000 Llama-3.2-1B points on four
chips: 128 questions 1.3-1.5 s CPU, 512 and 1,024 1.1 s, 2,048 1.2 s; the picked concurrencies do not depend on it).
"""

FLOOR_MARGIN = 1e-12
"""The GEMM time's lower bound is scaled by ``1 - FLOOR_MARGIN`` so that it stays below the tile time as computed
(each ~a dozen roundings of 2^-53 from its real value: ~3e-15)."""

PRUNE = True
"""Rule out grid points by the bound before pricing their tiles (False: price every point; the tests compare)."""


class Searched(Protocol):
    """What :func:`best_concurrencies` reads of a :class:`~inferchip.performance.fast_path.FastLayout`."""

    plan: StepPlan
    pp: int

    def _sweep_parts(self) -> SweepParts:
        ...

    def best_concurrency(self, grid: FloatArray, i: float, o: float) -> int:
        ...


def floor_s_per_row(parts: SweepParts) -> FloatArray | None:
    """Each weight GEMM's lower bound on its tile and wave time per row of ``max(m, 1)`` (the module's proof), scaled
    by ``1 - FLOOR_MARGIN``; None where the proof's premises do not hold (or there are no GEMMs)."""
    mat = parts.gemms
    if mat is None:
        return None
    tiles = np.array(parts.cublas_tiles, dtype=float).reshape(-1, 3)
    scalars = np.array([parts.tiles_in_flight, parts.attainable_bytes_per_s, parts.tile_m])
    sizes = np.concatenate([mat.n_tiles, mat.flop_per_wave_row, mat.n, mat.k, mat.reps, mat.k_slices, mat.plateau_s,
                            mat.row_s, mat.weight_s, tiles[:, 2]])
    positive = np.concatenate([scalars, mat.attainable_flop_per_s, tiles[:, :2].ravel()])
    if not (np.isfinite(sizes).all() and np.isfinite(positive).all() and (sizes >= 0).all() and (positive > 0).all()):
        return None
    rule = mat.n_tiles * mat.flop_per_wave_row / (parts.tiles_in_flight * mat.attainable_flop_per_s)
    cublas = FLOP_PER_MAC * mat.n * mat.k / mat.attainable_flop_per_s
    floor: FloatArray = np.where(mat.cublas & bool(len(tiles)), cublas, rule) * (1.0 - FLOOR_MARGIN)
    return floor


def best_concurrencies(fast: Searched, bmax: FloatArray, i: FloatArray, o: FloatArray) -> FloatArray:
    """:func:`_best_block` of each block of :data:`BEST_BLOCK` questions."""
    return np.concatenate([_best_block(fast, bmax[a:a + BEST_BLOCK], i[a:a + BEST_BLOCK], o[a:a + BEST_BLOCK])
                           for a in range(0, len(bmax), BEST_BLOCK)])


def _best_block(fast: Searched, bmax: FloatArray, i: FloatArray, o: FloatArray) -> FloatArray:
    """``FastLayout.max_throughput``'s concurrency of each question (``bmax`` >= 1 its memory limit): its grid (the
    batch grid below ``bmax``, then ``bmax``), the decode times of all grids at once (:func:`tokens_per_s`), the
    first best of each; a near tie searched one by one."""
    from inferchip.performance.operating import BATCH_GRID

    n = np.searchsorted(BATCH_GRID, bmax, side="left")  # bisect_left
    sizes = n + 1
    ends = np.cumsum(sizes)
    starts = ends - sizes
    seg = np.repeat(np.arange(len(bmax)), sizes)
    pos = np.arange(int(ends[-1])) - starts[seg]
    grid = np.where(pos < n[seg], BATCH_GRID[np.minimum(pos, len(BATCH_GRID) - 1)], bmax[seg])
    tput = tokens_per_s(fast, grid, i[seg], o[seg], seg, starts)
    best = np.maximum.reduceat(tput, starts)
    at = np.flatnonzero(tput == best[seg])
    k = at[np.unique(seg[at], return_index=True)[1]]  # the first of equals
    tput[k] = -math.inf
    runner_up = np.maximum.reduceat(tput, starts)
    out: FloatArray = grid[k]
    for q in np.flatnonzero((sizes > 1) & (runner_up >= best * (1.0 - BAND))).tolist():
        g = grid[starts[q]:ends[q]]
        out[q] = g[fast.best_concurrency(g.copy(), float(i[q]), float(o[q]))]
    return out


def tokens_per_s(fast: Searched, grid: FloatArray, i: FloatArray, o: FloatArray, seg: Indices,
                 starts: Indices) -> FloatArray:
    """Tokens/s (``grid`` / the decode step's replica time) at each point of the questions' grids laid end to end
    (``seg`` each point's question, ``starts`` where each grid begins); -inf at the points the bound rules out (the
    module's proof: below ``BAND`` under the best, so neither the best nor a near tie). Where priced, the figure of
    pricing every point, bit for bit."""
    parts = fast._sweep_parts()
    terms = grid_terms(parts, fast.plan, fast.pp, grid, i, o, starts)
    mat = parts.gemms
    if mat is None:
        return grid / step_times(parts, terms, None)
    floor = floor_s_per_row(parts) if PRUNE else None
    lower = None if floor is None else step_times(parts, terms, np.maximum(terms.m, 1.0) * floor[:, None])
    if lower is None or np.isnan(lower).any():  # (no bound; a NaN: each question's largest bound unfound)
        return grid / step_times(parts, terms, tile_waves(parts, mat, terms.m))
    upper = grid / lower
    first = np.maximum.reduceat(upper, starts)
    at = np.flatnonzero(upper == first[seg])
    top = at[np.unique(seg[at], return_index=True)[1]]  # each question's point of the largest bound
    best0 = _priced(parts, mat, terms, grid, top)
    keep = ~((lower > 0.0) & (upper < best0[seg] * (1.0 - BAND)))  # (a NaN kept)
    keep[top] = False
    out = np.full(len(grid), -math.inf)
    out[top] = best0
    rest = np.flatnonzero(keep)
    out[rest] = _priced(parts, mat, terms, grid, rest)
    return out


def _priced(parts: SweepParts, mat: GemmColumns, terms: GridTerms, grid: FloatArray, at: Indices) -> FloatArray:
    """Tokens/s at the points ``at``, their tiles priced."""
    sub = terms_at(terms, at)
    return grid[at] / step_times(parts, sub, tile_waves(parts, mat, sub.m))
