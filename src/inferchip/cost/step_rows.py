"""A plan's step at many points at once, each point's figures as the scalar step's flat tuple.

The scalar step (:class:`~inferchip.cost.scalar_step.ScalarPlan`) prices one point in plain floats, a few
microseconds each; a sweep of thousands of points (``ic.sweep``) spends most of its time there. :func:`step_rows`
prices them all through the plan's array path (:meth:`~inferchip.cost.step.StepPlan.evaluate`, the same rules
operation for operation, sums maybe in another order: equal to float rounding, ``tests/test_step_rows.py``) and
lays each point out as the scalar step does: the step's time, then (time, compute-bound, memory-bound, network,
overhead) of each class present, FLOP per format, DRAM bytes and link bytes. Points are taken in blocks of
:data:`BLOCK_POINTS`, so the work arrays stay small whatever the number of points.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from inferchip.cost.context import StepPoints
from inferchip.cost.roofline import FloatArray
from inferchip.cost.step import StepPlan

BLOCK_POINTS = 8192
"""Points priced per array evaluation: the plan's work arrays (points x operators of a kind, a few of them at once)
stay within a few MB (tens of operators a step), and numpy's per-call cost is spread over thousands of points."""


def step_rows(plan: StepPlan, columns: Sequence[FloatArray | Sequence[float]]) -> FloatArray:
    """The step of ``plan`` at each point, one row per point in the scalar step's layout (module doc).

    ``columns``: the scalar step's seven arguments as equal-length vectors, one element a point: tokens, tokens of
    the whole step, decoding sequences, prefill tokens, KV tokens the decodes read, prefill attention pairs and
    logit rows (per attention data-parallel rank, :func:`~inferchip.cost.step.replica_point`'s form). A plan over
    an array of chips has no such layout (one chip per plan): refused."""
    if plan.ctx.chip_shape != ():
        raise ValueError(f"step_rows: the plan is over an array of chips {plan.ctx.chip_shape}; allowed: one chip")
    cols = [np.asarray(c, dtype=float).reshape(-1) for c in columns]
    if len(cols) != 7 or len({c.size for c in cols}) != 1:
        raise ValueError(f"step_rows: columns of sizes {[c.size for c in cols]}; allowed: 7 of one size")
    n = cols[0].size
    width = 1 + 5 * len(plan.class_names) + len(plan.flop_formats) + 2
    out = np.empty((n, width))
    for a in range(0, n, BLOCK_POINTS):
        b = min(a + BLOCK_POINTS, n)
        part = [c[a:b] for c in cols]
        t, t_all, s_dec, t_pre, kv_dec, pairs, rows_lm = (x[:, None] for x in part)
        sc = plan.evaluate(StepPoints(t, t_all, s_dec, t_pre, kv_dec, pairs, rows_lm, (b - a,)))
        rows = out[a:b]
        rows[:, 0] = sc.time_s
        k = 1
        for name in plan.class_names:
            cc = sc.classes[name]
            for x in (cc.time_s, cc.compute_bound_s, cc.memory_bound_s, cc.network_s, cc.overhead_s):
                rows[:, k] = x
                k += 1
        for f in plan.flop_formats:
            rows[:, k] = sc.flop_by_format[f]
            k += 1
        rows[:, k], rows[:, k + 1] = sc.dram_bytes, sc.link_bytes
    return out
