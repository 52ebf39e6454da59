"""Pareto fronts: the points no other point beats on every objective at once.

One function (:func:`pareto_mask`) for every front inferchip draws: the review's fronts of chips
per case (``review/pareto.py``) and the design-space exploration's (``explore/search.py``, the
explore page). It lives in the lowest layer so both can import it; it is pure numpy.

A point *dominates* another when it is at least as good on every objective and strictly better
on one. The front is the set of points nobody dominates; equal points do not dominate each
other, so duplicates of a front point are all on the front.

Non-finite rows: a row with any NaN or +-inf value is *not comparable*. It is never on the front
and it dominates no row (a chip without a price has no cost to compare; a design whose objective
could not be computed says nothing about the others). The front of the finite rows is therefore
the same whatever non-finite rows sit beside them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt


def pareto_mask(values: npt.ArrayLike, minimize: Sequence[bool] | npt.ArrayLike | None = None) -> npt.NDArray[np.bool_]:
    """Boolean mask of the non-dominated rows of ``values`` (n points x k objectives).

    ``minimize[j]`` says whether less is better on objective j (default: every objective is
    minimised). Rows with a non-finite value are never on the front and dominate nothing (module
    docstring). Points are taken in lexicographic order, so a point can only be dominated by one
    before it: each point still standing when its turn comes is on the front and removes the
    later points it dominates (vectorised over points; work grows as front size x n x k).
    """
    v = np.asarray(values, dtype=float)
    if v.ndim != 2:
        raise ValueError(f"values must be n x k, got shape {v.shape}")
    n, k = v.shape
    sign = np.ones(k) if minimize is None else np.where(np.asarray(minimize, dtype=bool), 1.0, -1.0)
    if sign.shape != (k,):
        raise ValueError(f"minimize must have one flag per objective ({k}), got {sign.shape[0] if sign.ndim else 1}")
    mask = np.zeros(n, dtype=bool)
    finite = np.flatnonzero(np.all(np.isfinite(v), axis=1))
    if not len(finite) or k == 0:
        mask[finite] = True
        return mask
    x = v[finite] * sign  # every objective now "less is better"
    order = np.lexsort(x.T[::-1])  # by the first objective, ties by the next ...
    x = x[order]
    alive = np.ones(len(x), dtype=bool)
    for i in range(len(x)):
        if not alive[i]:
            continue
        rest = x[i + 1:]
        dominated = np.all(x[i] <= rest, axis=1) & np.any(x[i] < rest, axis=1)
        alive[i + 1:] &= ~dominated
    mask[finite[order[alive]]] = True
    return mask
