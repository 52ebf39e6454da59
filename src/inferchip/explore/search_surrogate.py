"""The surrogate that ranks the Pareto local search's candidates: a cheap regression of each
objective on the design parameters, fitted on the designs evaluated so far.

The regression (:func:`features`, :class:`Surrogate`) is least squares with a small ridge: per
varying parameter a main effect (an ordered parameter: its position in its list of values and the
square of it; a categorical one: one column per value but the first), and every pairwise product
of the main-effect columns of two different parameters. Objective values above their median over
the designs evaluated are set to that median before the fit (a design that serves no workload
scores a floor value orders of magnitude away: the median keeps "this is bad" without that cliff
bending the fit). Each prediction has a standard error (the residual variance times the design's
leverage), and candidates are scored on the optimistic prediction, the mean less
:data:`OPTIMISM` standard errors, so a design the data say little about is not ranked down for it.

The ranking (:func:`rank`): a candidate's score is the additive margin by which its optimistic
prediction beats the front found so far, objectives normalised to the range evaluated: the least,
over the front's points, of the largest amount by which it is better than that point on some
objective (positive when the prediction is dominated by no front point). Candidates are taken
greedily: the best, then the best against the front plus the predictions already taken, so a batch
spreads along the front rather than piling on one end; when no candidate has a positive margin the
batch is filled in order of margin. The regression is cheap (numpy only) and the ranking reads
nothing but the designs and objectives evaluated, so the search stays deterministic.
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import solve_triangular  # type: ignore[import-untyped]  # scipy has no stubs here

from inferchip.spec.design_space import CATEGORICAL, PARAMETERS, DesignSpace

RIDGE = 1e-3  # ridge weight relative to the mean squared feature per design (stabilises few-sample fits)
OPTIMISM = 1.0  # standard errors subtracted from a prediction when ranking
CLIP_QUANTILE = 0.5  # objective values above this quantile of those evaluated are set to it before the fit
FIT_MAX = 2000  # designs fitted on, at most: the front and those evaluated last (a big budget's search)


def features(space: DesignSpace, idx: np.ndarray) -> np.ndarray:
    """Regression features of designs ``idx`` (index vectors): intercept, main effects, pairwise
    products of the main-effect columns of two different parameters (module docstring)."""
    idx = np.asarray(idx, np.int64)
    mains: list[list[np.ndarray]] = []
    for j, (p, n) in enumerate(zip(PARAMETERS, space.shape, strict=True)):
        if n < 2:
            continue
        if p in CATEGORICAL:
            mains.append([(idx[:, j] == v).astype(float) for v in range(1, n)])
        else:
            x = idx[:, j] / (n - 1) - 0.5
            mains.append([x, x * x - 1 / 12] if n > 2 else [x])
    cols = [np.ones(len(idx))]
    for group in mains:
        cols.extend(group)
    for a in range(len(mains)):
        for b in range(a + 1, len(mains)):
            cols.extend(u * w for u in mains[a] for w in mains[b])
    return np.stack(cols, axis=1)


class Surrogate:
    """Ridge least squares of each objective (columns of ``f``, minimised, finite) on :func:`features`
    of designs ``idx``, values above ``cap`` (default: their :data:`CLIP_QUANTILE`) set to it;
    predictions with standard errors."""

    def __init__(self, space: DesignSpace, idx: np.ndarray, f: np.ndarray, cap: np.ndarray | None = None):
        self.space = space
        x = features(space, idx)
        y = np.minimum(f, np.quantile(f, CLIP_QUANTILE, axis=0) if cap is None else cap)
        reg = np.full(x.shape[1], RIDGE * float(np.mean(x * x)) * len(x))
        reg[0] = 0.0  # the intercept is not shrunk
        self.chol = np.linalg.cholesky(x.T @ x + np.diag(reg))  # positive definite: the ridge, and the intercept
        half = solve_triangular(self.chol, x.T @ y, lower=True)
        self.w = solve_triangular(self.chol.T, half, lower=False)
        resid = y - x @ self.w
        self.sigma = np.sqrt(np.sum(resid * resid, axis=0) / max(len(x) - x.shape[1], 1))

    def predict(self, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Mean and standard error of each objective at designs ``idx``."""
        x = features(self.space, idx)
        lev = np.sum(solve_triangular(self.chol, x.T, lower=True) ** 2, axis=0)  # x A^-1 x^T per row
        return x @ self.w, np.sqrt(np.maximum(lev, 0.0))[:, None] * self.sigma[None, :]


def margins(front: np.ndarray, points: np.ndarray, block: int = 64) -> np.ndarray:
    """Additive margin of each row of ``points`` over ``front`` (both minimised): min over front
    rows of the max over objectives of (front - point); positive when no front row dominates it.
    Vectorised over ``block`` front rows at a time, one objective after another (small temporaries)."""
    out = np.full(len(points), np.inf)
    for s in range(0, len(front), block):
        fr = front[s:s + block]
        d = fr[:, None, 0] - points[None, :, 0]
        for k in range(1, points.shape[1]):
            np.maximum(d, fr[:, None, k] - points[None, :, k], out=d)
        np.minimum(out, d.min(axis=0), out=out)
    return out


def pick(front: np.ndarray, points: np.ndarray, n: int) -> list[int]:
    """Up to ``n`` rows of ``points``, greedily by margin over ``front`` and the rows taken before;
    then, if short, the rows of highest margin over ``front`` alone."""
    m = margins(front, points)
    first = m.copy()
    out: list[int] = []
    while len(out) < min(n, len(points)):
        i = int(np.argmax(m))
        if not m[i] > 0:
            break
        out.append(i)
        m = np.minimum(m, np.max(points[i][None, :] - points, axis=1))
        m[i] = -np.inf
    if len(out) < n:
        first[out] = -np.inf
        out += [int(i) for i in np.argsort(-first, kind="stable")[: min(n, len(points)) - len(out)]]
    return out


def rank(space: DesignSpace, idx: np.ndarray, f: np.ndarray, on: np.ndarray, cand: np.ndarray,
         n: int) -> np.ndarray:
    """The ``n`` rows of ``cand`` (unevaluated designs) to evaluate next, given the designs ``idx``
    evaluated, their objectives ``f`` and the rows ``on`` (positions) that make the front among
    them: :func:`pick` on the surrogate's optimistic predictions (module docstring). With more than
    :data:`FIT_MAX` designs, the fit takes the front and the designs evaluated last (the region the
    search is in), up to FIT_MAX of them. With fewer than two finite rows to fit on, the first ``n``."""
    fin = np.all(np.isfinite(f), axis=1)
    if fin.sum() < 2 or len(cand) <= n:
        return cand[:n]
    cap = np.quantile(f[fin], CLIP_QUANTILE, axis=0)
    y = np.minimum(f[fin], cap)
    lo, hi = y.min(axis=0), y.max(axis=0)
    span = np.where(hi > lo, hi - lo, 1.0)
    ref = (np.minimum(f[on], cap) - lo) / span  # the clipped front dominates every clipped row: same margins
    fit = np.flatnonzero(fin)
    if len(fit) > FIT_MAX:
        fit = np.union1d(np.asarray(on, np.int64), fit[-max(FIT_MAX - len(on), 0):])
    mu, se = Surrogate(space, idx[fit], f[fit], cap).predict(cand)
    return cand[pick(ref, (mu - OPTIMISM * se - lo) / span, n)]
