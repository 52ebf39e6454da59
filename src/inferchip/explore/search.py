"""Which designs to evaluate: every one (a grid, for spaces within the budget) or NSGA-II.

NSGA-II (pymoo) runs on the designs' index vectors as integers: simulated binary crossover
and polynomial mutation with rounding, duplicates eliminated, its first population a Latin
hypercube sample (scipy's ``qmc.LatinHypercube``). Objectives (all minimised) are the suite
objectives of :data:`inferchip.explore.evaluate.ALL_OBJECTIVES` the suite has, in log form. The search reads
nothing but the objective values and its seed, so the same seed gives the same designs
whatever runs the evaluations.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from inferchip.errors import InvalidSettingError
from inferchip.explore.evaluate import ALL_OBJECTIVES
from inferchip.spec.design_space import DesignSpace

Evaluator = Callable[[np.ndarray], np.ndarray]  # index vectors (n x params) -> objectives (n x k), minimised
GRID_BATCH = 4096  # designs per committed batch of a grid run
MIN_POP = 8


def check_budget(budget: int) -> None:
    if budget < 1:
        raise InvalidSettingError(f"--budget: must be at least 1 design, got {budget}")


def to_minimise(obj: dict[str, np.ndarray]) -> np.ndarray:
    """Suite objectives -> a (n x k) matrix to minimise: -log of what is maximised, log of what is not."""
    cols = []
    for name, (_, direction) in ALL_OBJECTIVES.items():
        if name not in obj:
            continue
        v = np.log(np.asarray(obj[name], float))
        cols.append(-v if direction == "max" else v)
    return np.stack(cols, axis=1)


def grid(space: DesignSpace, evaluate: Evaluator, batch: int = GRID_BATCH) -> np.ndarray:
    """Evaluate every design in batches; returns every index vector."""
    idx = space.grid()
    for s in range(0, len(idx), batch):
        evaluate(idx[s:s + batch])
    return idx


def lhs(space: DesignSpace, n: int, seed: int) -> np.ndarray:
    """``n`` designs from a Latin hypercube over the index ranges."""
    from scipy.stats import qmc

    u = qmc.LatinHypercube(d=len(space.shape), seed=np.random.default_rng(seed)).random(n)
    return np.minimum((u * np.array(space.shape)).astype(np.int64), np.array(space.shape) - 1)


MAX_REQUESTS_PER_DESIGN = 5  # a search that keeps proposing designs it has seen stops at 5 x budget requests
REFINE_SHARE = 0.4  # of the budget kept for the Pareto local search after NSGA-II
MAX_ROUNDS = 8
CROSSOVER_ETA = 5.0  # wide offspring: a parameter has few values, small steps round back to the parent
MUTATION_ETA = 5.0


def search(space: DesignSpace, budget: int, seed: int, evaluate: Evaluator) -> np.ndarray:
    """Rounds of NSGA-II on (1 - REFINE_SHARE) of the budget left, each followed by a Pareto local
    search (the front's unseen neighbours, one parameter one step away) on half of REFINE_SHARE of it,
    until the budget is spent or a round finds nothing new; round ``r`` seeds NSGA-II with ``seed + r``."""
    check_budget(budget)
    seen = np.zeros((0, len(space.shape)), np.int64)
    for r in range(MAX_ROUNDS):
        left = budget - len(seen)
        if left <= 0:
            break
        if left < 4 * MIN_POP and len(seen):  # too little for a population: neighbours only
            seen = refine(space, seen, budget, evaluate)
            break
        got = nsga2(space, max(1, int(left * (1 - REFINE_SHARE))), seed + r, evaluate)
        merged = np.unique(np.concatenate([seen, got]), axis=0)
        merged = refine(space, merged, min(budget, len(merged) + max(1, int(left * REFINE_SHARE / 2))), evaluate)
        if len(merged) == len(seen):
            break
        seen = merged
    return seen


def refine(space: DesignSpace, idx: np.ndarray, budget: int, evaluate: Evaluator) -> np.ndarray:
    """Evaluate unseen neighbours of the current front until ``budget`` distinct designs are done."""
    seen = np.unique(idx, axis=0)
    f = evaluate(seen)
    hi = np.array(space.shape) - 1
    while len(seen) < budget:
        front = seen[pareto_mask(f)]
        steps = np.concatenate([np.eye(len(hi), dtype=np.int64), -np.eye(len(hi), dtype=np.int64)])
        cand = (front[:, None, :] + steps[None, :, :]).reshape(-1, len(hi))
        cand = cand[np.all((cand >= 0) & (cand <= hi), axis=1)]
        cand = np.unique(cand, axis=0)
        known = {r.tobytes() for r in seen}
        new = np.array([r for r in cand if r.tobytes() not in known], dtype=np.int64).reshape(-1, len(hi))
        if not len(new):
            break
        new = new[: budget - len(seen)]
        seen = np.concatenate([seen, new])
        f = np.concatenate([f, evaluate(new)])
    return seen


def nsga2(space: DesignSpace, budget: int, seed: int, evaluate: Evaluator, pop_size: int | None = None) -> np.ndarray:
    """NSGA-II over the space until ``budget`` distinct designs are evaluated (or the search
    has asked for :data:`MAX_REQUESTS_PER_DESIGN` x budget); returns every index vector asked for."""
    from pymoo.algorithms.moo.nsga2 import NSGA2
    from pymoo.core.problem import Problem
    from pymoo.core.termination import Termination
    from pymoo.operators.crossover.sbx import SBX
    from pymoo.operators.mutation.pm import PM
    from pymoo.operators.repair.rounding import RoundingRepair
    from pymoo.optimize import minimize

    check_budget(budget)
    hi = np.array(space.shape, dtype=float) - 1.0
    pop = pop_size or int(min(200, max(MIN_POP, budget // 15)))
    pop = min(pop, budget)
    seen: list[np.ndarray] = []
    distinct: set[bytes] = set()
    start = lhs(space, pop, seed)
    n_obj = evaluate(start[:1]).shape[1]  # the suite's objectives (the driving one where it has the rig)

    class _Budget(Termination):  # type: ignore[misc]
        def _update(self, algorithm: object) -> float:
            asked = sum(len(x) for x in seen)
            return max(len(distinct) / budget, asked / (MAX_REQUESTS_PER_DESIGN * budget))

    class _Problem(Problem):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__(n_var=len(hi), n_obj=n_obj, xl=np.zeros(len(hi)), xu=hi, vtype=int)

        def _evaluate(self, x: np.ndarray, out: dict, *args: object, **kwargs: object) -> None:
            idx = np.clip(np.rint(x), 0, hi).astype(np.int64)
            seen.append(idx)
            distinct.update(row.tobytes() for row in idx)
            out["F"] = evaluate(idx)

    algo = NSGA2(pop_size=pop, sampling=start.astype(float),
                 crossover=SBX(prob=0.9, eta=CROSSOVER_ETA, vtype=float, repair=RoundingRepair()),
                 mutation=PM(eta=MUTATION_ETA, vtype=float, repair=RoundingRepair()), eliminate_duplicates=True)
    minimize(_Problem(), algo, _Budget(), seed=seed, verbose=False)
    return np.concatenate(seen) if seen else np.zeros((0, len(hi)), np.int64)


def pareto_mask(f: np.ndarray) -> np.ndarray:
    """Non-dominated rows of a minimisation matrix (pymoo's non-dominated sorting)."""
    from pymoo.util.nds.non_dominated_sorting import NonDominatedSorting

    mask = np.zeros(len(f), bool)
    if len(f):
        mask[NonDominatedSorting().do(f, only_non_dominated_front=True)] = True
    return mask


def hypervolume(f: np.ndarray, ref: np.ndarray) -> float:
    """Hypervolume of the points ``f`` (minimised) up to the reference point ``ref`` (pymoo's HV)."""
    from pymoo.indicators.hv import HV

    inside = f[np.all(f < ref, axis=1)]
    return float(HV(ref_point=ref)(inside)) if len(inside) else 0.0
