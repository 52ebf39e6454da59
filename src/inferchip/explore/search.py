"""Which designs to evaluate: every one (a grid, for spaces within the budget) or a search.

The search (:func:`search`) evaluates each design at most once, through one record
(:class:`Evaluations`), and hands the evaluator at most ``budget`` designs in all. Rounds of
NSGA-II (pymoo, ask and tell, on the designs' index vectors as integers: simulated binary
crossover and polynomial mutation with rounding, a uniform new value for categorical parameters,
its first population a scipy Latin hypercube, any design already evaluated refused as a
duplicate, survival ranking each design by its rank overall or within its family of designs
sharing a categorical value, whichever is lower) each followed by a Pareto local search (the
unseen neighbours of the front, budget/50 at a time, ranked by a surrogate regression of the
objectives on the designs evaluated so far: :mod:`inferchip.explore.search_surrogate`). After
the first round, directed descents (:func:`extremes`) reach each family's best design on each
objective: the ends of the front. Objectives (all
minimised) are the suite objectives of :data:`inferchip.explore.evaluate.ALL_OBJECTIVES` the
suite has, in log form. The search reads nothing but the objective values and its seed, so the
same seed gives the same designs whatever runs the evaluations. The front is
:func:`inferchip.spec.pareto.pareto_mask` (rows with a non-finite value are never on it).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from inferchip.errors import InvalidSettingError
from inferchip.explore.evaluate import ALL_OBJECTIVES
from inferchip.explore.search_surrogate import rank
from inferchip.spec.design_space import CATEGORICAL, PARAMETERS, DesignSpace
from inferchip.spec.pareto import pareto_mask

# pymoo's Population and Problem: pymoo ships no types (pyproject: ignore_missing_imports), so they are Any here
Population = Any
Problem = Any

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
    from scipy.stats import qmc  # type: ignore[import-untyped]  # scipy has no stubs here

    u = qmc.LatinHypercube(d=len(space.shape), seed=np.random.default_rng(seed)).random(n)
    idx: np.ndarray = np.minimum((u * np.array(space.shape)).astype(np.int64), np.array(space.shape) - 1)
    return idx


NSGA_SHARE = 0.5  # of the budget left for NSGA-II in a round; the rest for the descents and the Pareto local search
EXTREMES_SHARE = 0.6  # of the budget left after the first NSGA-II round, at most, for the descents (extremes)
DESCENT_MISSES = 3  # a descent stops after this many evaluated steps in a row that do not improve
POP_DIVISOR = 30  # population: the round's NSGA-II budget / 30, between MIN_POP and 200
CATEGORICAL_MUTATION = 0.3  # chance an offspring gets a new value (uniform) of one categorical parameter
MAX_ROUNDS = 8
REFINE_DIVISOR = 50  # the Pareto local search evaluates budget / 50 designs (at least 1) per batch
CROSSOVER_ETA = 5.0  # wide offspring: a parameter has few values, small steps round back to the parent
MUTATION_ETA = 5.0


class Evaluations:
    """Every design the search evaluates, each exactly once, at most ``budget`` of them.

    ``new(idx)`` evaluates the rows of ``idx`` not evaluated before (the first ones, up to the
    budget left) in one call of the evaluator; ``count`` is every row the evaluator was given."""

    def __init__(self, evaluate: Evaluator, budget: int, n_var: int):
        self.evaluate, self.budget = evaluate, budget
        self.idx = np.zeros((0, n_var), np.int64)
        self.f = np.zeros((0, 0))
        self.keys: set[bytes] = set()

    @property
    def count(self) -> int:
        return len(self.idx)

    @property
    def left(self) -> int:
        return self.budget - len(self.idx)

    def unseen(self, idx: np.ndarray) -> np.ndarray:
        """Rows of ``idx`` not evaluated, first occurrences in order."""
        idx = np.asarray(idx, np.int64).reshape(-1, self.idx.shape[1])
        keep, mine = [], set()
        for i, r in enumerate(idx):
            k = r.tobytes()
            if k not in self.keys and k not in mine:
                mine.add(k)
                keep.append(i)
        return idx[keep]

    def new(self, idx: np.ndarray) -> np.ndarray:
        """Evaluate the unseen rows of ``idx`` (within the budget left); returns those evaluated."""
        todo = self.unseen(idx)[: max(self.left, 0)]
        if len(todo):
            f = np.asarray(self.evaluate(todo), float)
            self.f = f if not len(self.idx) else np.concatenate([self.f, f])
            self.idx = np.concatenate([self.idx, todo])
            self.keys.update(r.tobytes() for r in todo)
        return todo

    def objectives(self, idx: np.ndarray) -> np.ndarray:
        """Objectives of evaluated designs ``idx`` (no evaluation)."""
        pos = {r.tobytes(): i for i, r in enumerate(self.idx)}
        return self.f[[pos[r.tobytes()] for r in np.asarray(idx, np.int64)]]

    def front(self) -> np.ndarray:
        return self.idx[pareto_mask(self.f)]


def search(space: DesignSpace, budget: int, seed: int, evaluate: Evaluator) -> np.ndarray:
    """Rounds of NSGA-II on NSGA_SHARE of the budget left, each followed by a Pareto local search
    (:func:`refine`: the front's unseen neighbours, ranked by a surrogate) until it converges or
    spends the budget; round ``r`` seeds NSGA-II with ``seed + r``. Between the first round and its
    local search, the descents to the families' extremes (:func:`extremes`) get at most
    EXTREMES_SHARE of the budget left. Every design is evaluated once; returns them in evaluation
    order."""
    check_budget(budget)
    ev = Evaluations(evaluate, budget, len(space.shape))
    for r in range(MAX_ROUNDS):
        if ev.left <= 0:
            break
        before = ev.count
        _nsga2(space, ev, ev.count + max(1, int(ev.left * NSGA_SHARE)), seed + r)
        if r == 0:
            extremes(space, ev, ev.count + int(ev.left * EXTREMES_SHARE))
        refine(space, ev, max(1, budget // REFINE_DIVISOR))
        if ev.count == before:
            break
    return ev.idx


def moves(space: DesignSpace) -> np.ndarray:
    """Steps (one row each) from a design to its neighbours: one value up or down of an ordered
    parameter, to any other value of a categorical one (formats, memory type)."""
    steps = []
    for j, (p, n) in enumerate(zip(PARAMETERS, space.shape, strict=True)):
        for d in (range(-(n - 1), n) if p in CATEGORICAL else (-1, 1)):
            if d:
                e = np.zeros(len(space.shape), np.int64)
                e[j] = d
                steps.append(e)
    return np.array(steps, np.int64).reshape(-1, len(space.shape))


def neighbours(space: DesignSpace, idx: np.ndarray) -> np.ndarray:
    """Designs one parameter away from each row of ``idx`` (:func:`moves`), inside the space."""
    steps = moves(space)
    cand = (idx[:, None, :] + steps[None, :, :]).reshape(-1, len(space.shape))
    inside: np.ndarray = cand[np.all((cand >= 0) & (cand < np.array(space.shape)), axis=1)]
    return inside


def extremes(space: DesignSpace, ev: Evaluations, until: int) -> None:
    """Each family's end of the front on each objective, by a directed descent until ``ev``
    holds ``until`` designs. A family is the designs sharing one value of a categorical parameter
    (every design when none varies); the families NSGA-II evaluated fewest designs of come first
    (ties: the parameter with the most values first). For each family and each
    objective, :func:`descend` starts from the family's best design on that objective. This
    reaches the fronts' ends NSGA-II's crowding and the Pareto local search miss: a family whose
    best designs lie in a corner the rest of the front does not lead to (GDDR6 with few matrix
    units, at the throughput-per-dollar end, behind HBM designs with many)."""
    fams = sorted(family_columns(space), key=lambda j: -space.shape[j])
    groups: list[tuple[int, int] | None] = [(j, v) for j in fams for v in range(space.shape[j])] or [None]
    groups.sort(key=lambda g: 0 if g is None else int(np.sum(ev.idx[:, g[0]] == g[1])))  # stable: ties keep order
    for g in groups:
        for k in range(ev.f.shape[1]):
            if ev.count >= until:
                return
            m = np.ones(ev.count, bool) if g is None else ev.idx[:, g[0]] == g[1]
            if m.any():
                descend(space, ev, ev.idx[m][np.argmin(ev.f[m, k])], k, None if g is None else g[0], until)


def descend(space: DesignSpace, ev: Evaluations, start: np.ndarray, k: int, fixed: int | None, until: int) -> None:
    """First-improvement descent on objective ``k`` from ``start`` over :func:`moves` (parameter
    ``fixed`` kept): a step that improves is repeated while it still does (a line search along
    that parameter); the descent stops when a pass finds no improving step, after
    :data:`DESCENT_MISSES` evaluations in a row that do not improve (a step to a design evaluated
    before costs nothing and counts for nothing), or when ``ev`` holds ``until``."""
    steps = moves(space)
    if fixed is not None:
        steps = steps[steps[:, fixed] == 0]
    hi = np.array(space.shape)
    cur, best = start, ev.objectives(start[None])[0, k]
    misses, improved = 0, True
    while improved:
        improved = False
        for d in steps:
            while misses < DESCENT_MISSES and ev.count < until:
                nxt = cur + d
                if np.any(nxt < 0) or np.any(nxt >= hi):
                    break
                paid = len(ev.new(nxt[None]))
                v = ev.objectives(nxt[None])[0, k]
                if v >= best:
                    misses += paid
                    break
                cur, best, improved, misses = nxt, v, True, 0


def family_columns(space: DesignSpace) -> list[int]:
    """Columns of the categorical parameters that vary: each value of one makes a family of designs."""
    return [j for j, (p, n) in enumerate(zip(PARAMETERS, space.shape, strict=True)) if p in CATEGORICAL and n > 1]


def refine(space: DesignSpace, ev: Evaluations, batch: int) -> None:
    """Pareto local search guided by a surrogate: of the unseen neighbours of the front found so
    far, the ``batch`` that :func:`inferchip.explore.search_surrogate.rank` ranks first are
    evaluated, and again, until there are none or the budget is spent."""
    on = np.flatnonzero(pareto_mask(ev.f))
    while ev.left > 0:
        cand = ev.unseen(neighbours(space, ev.idx[on]))
        if not len(cand):
            break
        before = ev.count
        ev.new(rank(space, ev.idx, ev.f, on, cand, min(batch, ev.left)))
        keep = np.concatenate([on, np.arange(before, ev.count)])  # the front of the front and the new designs
        on = keep[pareto_mask(ev.f[keep])]


def nsga2(space: DesignSpace, budget: int, seed: int, evaluate: Evaluator, pop_size: int | None = None) -> np.ndarray:
    """NSGA-II alone until ``budget`` distinct designs are evaluated, each once; returns them."""
    check_budget(budget)
    ev = Evaluations(evaluate, budget, len(space.shape))
    _nsga2(space, ev, budget, seed, pop_size)
    return ev.idx


def _nsga2(space: DesignSpace, ev: Evaluations, until: int, seed: int, pop_size: int | None = None) -> None:
    """NSGA-II (pymoo, ask and tell) until ``ev`` holds ``until`` designs. Offspring already
    evaluated (in this run, not only in the population) are refused as duplicates, so each
    generation is new designs only. Survival ranks a design by the lower of its non-dominated rank
    overall and within each of its families (designs sharing a categorical value), so each
    family keeps its own front in the population: a memory type whose best designs sit in another
    corner of the space (GDDR6 with few matrix units, against HBM with many) is not lost."""
    from pymoo.algorithms.moo.nsga2 import NSGA2
    from pymoo.core.duplicate import DuplicateElimination
    from pymoo.core.problem import Problem
    from pymoo.operators.crossover.sbx import SBX
    from pymoo.operators.repair.rounding import RoundingRepair
    from pymoo.operators.survival.rank_and_crowding import RankAndCrowding
    from pymoo.util.nds.non_dominated_sorting import NonDominatedSorting

    hi = np.array(space.shape, dtype=float) - 1.0
    budget = until - ev.count
    pop = min(pop_size or int(min(200, max(MIN_POP, budget // POP_DIVISOR))), budget)
    start = ev.unseen(lhs(space, pop, seed))
    if not len(start):
        return
    fams = family_columns(space)

    def rows(p: Population) -> np.ndarray:
        x: np.ndarray = np.clip(np.rint(p.get("X")), 0, hi).astype(np.int64)
        return x

    class _Seen(DuplicateElimination):  # type: ignore[misc]  # (subclasses an untyped pymoo class)
        def _do(self, p: Population, other: Population | None, is_dup: np.ndarray) -> np.ndarray:
            known = ev.keys if other is None else {r.tobytes() for r in rows(other)}
            mine: set[bytes] = set()
            for i, r in enumerate(rows(p)):
                k = r.tobytes()
                is_dup[i] |= k in known or k in mine
                mine.add(k)
            return is_dup

    class _FamilyRanks:
        x = np.zeros((0, len(hi)), np.int64)

        def do(self, f: np.ndarray, **kwargs: object) -> list[np.ndarray]:
            nds = NonDominatedSorting()
            rank = nds.do(f, return_rank=True)[1]
            for j in fams:
                for v in np.unique(self.x[:, j]):
                    m = self.x[:, j] == v
                    rank[m] = np.minimum(rank[m], nds.do(f[m], return_rank=True)[1])
            return [np.flatnonzero(rank == r) for r in np.unique(rank)]

    class _Survival(RankAndCrowding):  # type: ignore[misc]  # (subclasses an untyped pymoo class)
        def _do(self, problem: Problem, p: Population, *args: object, **kwargs: object) -> Population:
            self.nds.x = rows(p)
            return super()._do(problem, p, *args, **kwargs)

    problem = Problem(n_var=len(hi), n_obj=None, xl=np.zeros(len(hi)), xu=hi, vtype=int)
    algo = NSGA2(pop_size=len(start), sampling=start.astype(float), survival=_Survival(nds=_FamilyRanks()),
                 crossover=SBX(prob=0.9, eta=CROSSOVER_ETA, vtype=float, repair=RoundingRepair()),
                 mutation=_mutation(fams), eliminate_duplicates=_Seen())
    algo.setup(problem, seed=seed, verbose=False)
    while ev.count < until:
        off = algo.ask()
        if off is None or not len(off):
            break
        off = off[: until - ev.count]
        x = rows(off)
        ev.new(x)
        f = ev.objectives(x)
        problem.n_obj = f.shape[1]
        off.set("X", x.astype(float), "F", f)
        algo.tell(infills=off)


def _mutation(fams: list[int]) -> object:
    """Polynomial mutation with rounding for every parameter, then, as categorical values have no
    order, a new value drawn uniformly for one of the categorical parameters (``fams``) of an
    offspring with probability :data:`CATEGORICAL_MUTATION`."""
    from pymoo.core.mutation import Mutation
    from pymoo.operators.mutation.pm import PM
    from pymoo.operators.repair.rounding import RoundingRepair

    pm = PM(eta=MUTATION_ETA, vtype=float, repair=RoundingRepair())

    class _Mutation(Mutation):  # type: ignore[misc]  # (subclasses an untyped pymoo class)
        def do(self, problem: Problem, pop: Population, inplace: bool = True,
               random_state: np.random.Generator | None = None, **kwargs: object) -> Population:
            pop = pm.do(problem, pop, inplace=inplace, random_state=random_state, **kwargs)
            rng = random_state
            if not isinstance(rng, np.random.Generator):
                raise TypeError(f"pymoo passes the algorithm's random Generator, not {type(rng).__name__}")
            x = pop.get("X")
            for j in fams:
                hit = rng.random(len(x)) < CATEGORICAL_MUTATION / len(fams)
                x[hit, j] = rng.integers(0, int(problem.xu[j]) + 1, int(hit.sum()))
            pop.set("X", x)
            return pop

    return _Mutation()


def hypervolume(f: np.ndarray, ref: np.ndarray) -> float:
    """Hypervolume of the points ``f`` (minimised) up to the reference point ``ref`` (pymoo's HV)."""
    from pymoo.indicators.hv import HV

    inside = f[np.all(f < ref, axis=1)]
    return float(HV(ref_point=ref)(inside)) if len(inside) else 0.0
