"""The most-throughput search prices the tiles of only the grid points a lower bound cannot rule out
(``performance.fast_best``): the bound is below the step time as computed, element by element, and the search
picks, prices and ties exactly as pricing every point does (``fast_best.PRUNE`` off)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import inferchip as ic
import sweep_paths
from inferchip.interfaces.api import sweep_columns
from inferchip.performance import fast_best
from inferchip.performance.fast_path import FastLayout
from inferchip.performance.fast_sweep import SweepParts, grid_terms, step_times, tile_waves
from inferchip.performance.operating import BATCH_GRID

SETTINGS = [s for s in sweep_paths.SETTINGS if not s[2].get("attn_dp")]  # (attention DP: no fast most-throughput)
LENGTHS = st.lists(st.integers(1, 20_000), min_size=1, max_size=12)
PLATEAU = st.sampled_from([0.0, 0.5, 1.0, 1.5, 3.0])  # x a GEMM's FLOP per row at its rate


def _fast(k: int, chip: int) -> FastLayout:
    """The fast layout of drawn setting ``k`` on its ``chip``-th chip (predict asked twice: it is made)."""
    chips, model, kw = SETTINGS[k]
    c = chips[chip % len(chips)]
    for _ in range(2):
        ic.predict(c, model, input_tokens=8, output_tokens=8, **kw)
    fast = sweep_columns.recent_fast_layout(c, model, **kw)
    assert fast is not None
    return fast


def _with_plateau(fast: FastLayout, plateau: float, mp: pytest.MonkeyPatch) -> SweepParts:
    """The fast layout's parts, its GEMMs given a kernel plateau of ``plateau`` x their FLOP per row at their rate
    where ``plateau`` > 0 (none of the drawn settings has one: an engine recipe's cap), ``fast`` made to read them."""
    parts = fast._sweep_parts()
    if plateau > 0 and parts.gemms is not None:
        g = parts.gemms
        parts = parts._replace(gemms=g._replace(plateau_s=plateau * 2.0 * g.n * g.k / g.attainable_flop_per_s))
        mp.setattr(fast, "_sweep_parts", lambda: parts)
    return parts


def _grids(fast: FastLayout, i: list[int], o: list[int]) -> tuple[Any, ...]:
    """``_best_block``'s grids of the questions (every pair of ``i`` and ``o``) that hold a sequence: each
    question's batch grid below its memory limit, then the limit; the lengths, question and start of each point."""
    ii, oo = (np.array(x, dtype=float).ravel() for x in np.meshgrid(i, o))
    bmax = np.array([fast.max_batch(a + b * b / max(b, 1.0)) or 0.0 for a, b in zip(ii, oo, strict=True)])
    fits = bmax >= 1
    ii, oo, bmax = ii[fits], oo[fits], bmax[fits]
    grids = [np.append(BATCH_GRID[:int(np.searchsorted(BATCH_GRID, b, side="left"))], b) for b in bmax]
    sizes = np.array([len(g) for g in grids], dtype=np.intp)
    starts = np.cumsum(sizes) - sizes
    seg = np.repeat(np.arange(len(grids)), sizes)
    grid = np.concatenate(grids) if grids else np.empty(0)
    return grid, ii[seg], oo[seg], seg, starts, bmax, ii, oo


@settings(max_examples=25, deadline=None)
@given(k=st.integers(0, len(SETTINGS) - 1), chip=st.integers(0, 1), i=LENGTHS, o=LENGTHS, plateau=PLATEAU)
def test_the_bound_is_below_the_step_as_computed(k: int, chip: int, i: list[int], o: list[int],
                                                  plateau: float) -> None:
    """Each GEMM's bound is at most its tile and wave time, and the step priced with the bounds at most the step
    priced with the tiles, float for float, at every grid point (a kernel plateau or none)."""
    fast = _fast(k, chip)
    grid, gi, go, _seg, starts, *_ = _grids(fast, i, o)
    if not len(grid):
        return
    with pytest.MonkeyPatch.context() as mp:
        parts = _with_plateau(fast, plateau, mp)
    floor = fast_best.floor_s_per_row(parts)
    assert floor is not None and parts.gemms is not None
    terms = grid_terms(parts, fast.plan, fast.pp, grid, gi, go, starts)
    waves = tile_waves(parts, parts.gemms, terms.m)
    bound = np.maximum(terms.m, 1.0) * floor[:, None]
    assert (bound <= waves).all()
    assert (step_times(parts, terms, bound) <= step_times(parts, terms, waves)).all()


@settings(max_examples=25, deadline=None)
@given(k=st.integers(0, len(SETTINGS) - 1), chip=st.integers(0, 1), i=LENGTHS, o=LENGTHS, plateau=PLATEAU)
def test_pruning_prices_and_picks_as_pricing_every_point(k: int, chip: int, i: list[int], o: list[int],
                                                         plateau: float) -> None:
    """The tokens/s of every point priced equal pricing every point bit for bit; every point left out is below
    its question's best by more than the near-tie band; the concurrencies picked are the same."""
    fast = _fast(k, chip)
    grid, gi, go, seg, starts, bmax, qi, qo = _grids(fast, i, o)
    if not len(grid):
        return
    with pytest.MonkeyPatch.context() as mp:
        _with_plateau(fast, plateau, mp)
        pruned = fast_best.tokens_per_s(fast, grid, gi, go, seg, starts)
        picked = fast_best.best_concurrencies(fast, bmax, qi, qo)
        mp.setattr(fast_best, "PRUNE", False)
        every = fast_best.tokens_per_s(fast, grid, gi, go, seg, starts)
        assert np.array_equal(fast_best.best_concurrencies(fast, bmax, qi, qo), picked)
    priced = pruned > -math.inf
    assert np.array_equal(pruned[priced], every[priced])
    best = np.maximum.reduceat(every, starts)
    assert (every[~priced] < best[seg[~priced]] * (1.0 - fast_best.BAND)).all()


def test_the_bound_rules_out_most_points() -> None:
    """Llama-3.1-8B on an H100, 40 questions: most of the grid's points are not priced (the bound does its work)."""
    fast = _fast(0, 0)
    grid, gi, go, seg, starts, *_ = _grids(fast, [128, 1000, 3000, 8000], list(range(1, 4000, 400)))
    priced = fast_best.tokens_per_s(fast, grid, gi, go, seg, starts) > -math.inf
    assert priced.sum() < 0.25 * len(grid)
    assert priced.sum() >= len(starts)  # each question's point of the largest bound at least


@pytest.mark.parametrize("field, value", [("tiles_in_flight", 0.0), ("attainable_bytes_per_s", math.nan),
                                          ("tile_m", -1.0)])
def test_no_bound_where_its_premises_fail(field: str, value: float) -> None:
    """No tiles in flight, a NaN bandwidth, a negative tile: no bound (every point priced)."""
    parts = _fast(0, 0)._sweep_parts()
    assert fast_best.floor_s_per_row(parts) is not None
    assert fast_best.floor_s_per_row(parts._replace(**{field: value})) is None
    assert parts.gemms is not None
    runs = parts.gemms._replace(reps=-parts.gemms.reps)
    assert fast_best.floor_s_per_row(parts._replace(gemms=runs)) is None
