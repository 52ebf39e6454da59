"""How close the search gets to the exhaustive Pareto front: its hypervolume share, per seed.

A 12,960-design space small enough to evaluate whole (:data:`QUALITY_SPACE`); the search gets 2%
of it (259 designs) and every design handed to the evaluator counts, repeats included. The share is
the hypervolume of the front the search found over that of the exhaustive front, objectives
normalised to the space's range (min to max over every design), reference point 1.1 in each.
Used by ``tests/test_explore.py`` (held-out seeds) and ``benchmarks/bench_search_quality.py``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from inferchip.catalog.assumptions import load_assumptions
from inferchip.explore.designs import designs_from_index
from inferchip.explore.evaluate import Suite, evaluate, suite_objectives
from inferchip.explore.search import hypervolume, search, to_minimise
from inferchip.spec.design_space import DesignSpace
from inferchip.spec.pareto import pareto_mask

QUALITY_SPACE = {"parameters": {
    "matrix_units": [32, 64, 128, 256, 512, 1024], "clock_ghz": [1.0, 1.4, 1.8, 2.2], "memory_units": [2, 3, 4, 6, 8],
    "formats": ["bf16", "bf16+fp8", "bf16+fp8+fp4"], "memory_type": ["hbm3e", "hbm3", "gddr6", "lpddr5x"],
    "sram_mb": [16, 64, 256], "node_nm": [3, 5, 7]}}
QUALITY_MODELS = ["meta-llama/Llama-3.1-8B-Instruct", "mistralai/Mixtral-8x7B-Instruct-v0.1"]
BUDGET_SHARE = 0.02
REFERENCE = 1.1


@dataclass(frozen=True)
class SeedQuality:
    seed: int
    share: float  # found front's hypervolume / the exhaustive front's
    evaluated: int  # designs handed to the evaluator, repeats included
    budget: int


def hypervolume_shares(suite: Suite, seeds: Iterable[int], space: DesignSpace | None = None) -> list[SeedQuality]:
    """Evaluate every design of ``space`` once, then run the search per seed on 2% of it. The
    search's evaluator looks the model's values up (the same numbers as evaluating again) and
    counts every row it is given."""
    sp = space or DesignSpace.from_dict(QUALITY_SPACE)
    every = sp.grid()
    f_all = to_minimise(suite_objectives(evaluate(suite, designs_from_index(sp, every, load_assumptions()))))
    if not np.array_equal(np.ravel_multi_index(every.T, sp.shape), np.arange(sp.size)):
        raise AssertionError("the grid is not in C order: the lookup below would be wrong")
    lo, hi = f_all.min(axis=0), f_all.max(axis=0)
    span = np.where(hi > lo, hi - lo, 1.0)
    ref = np.full(f_all.shape[1], REFERENCE)
    hv_all = hypervolume((f_all[pareto_mask(f_all)] - lo) / span, ref)
    budget = int(BUDGET_SHARE * sp.size)
    out = []
    for seed in seeds:
        given: list[int] = []

        def ev(ix: np.ndarray, given: list[int] = given) -> np.ndarray:
            given.append(len(ix))
            f: np.ndarray = f_all[np.ravel_multi_index(np.asarray(ix).T, sp.shape)]
            return f

        found = search(sp, budget, seed, ev)
        f = f_all[np.ravel_multi_index(found.T, sp.shape)]
        share = hypervolume((f[pareto_mask(f)] - lo) / span, ref) / hv_all
        out.append(SeedQuality(seed, share, sum(given), budget))
    return out
