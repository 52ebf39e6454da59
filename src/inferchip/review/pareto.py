"""Pareto fronts of a review: chips no other chip beats on every objective at once.

The front itself is :func:`inferchip.spec.pareto.pareto_mask` (shared with the design-space
exploration; rows with a non-finite value are never on it and dominate nothing).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from inferchip.spec.pareto import pareto_mask

if TYPE_CHECKING:
    from inferchip.performance.mapped import MappedModel

__all__ = ["case_fronts", "pareto_mask", "throughput_curve", "upper_envelope"]


def upper_envelope(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Points of (x, y) not beaten on both "more x" and "more y", sorted by x.

    Used for throughput-interactivity curves: output tok/s per chip (y) against
    tok/s per user (x), both more-is-better, over several parallel layouts.
    """
    pts = np.column_stack([np.asarray(x, float), np.asarray(y, float)])
    keep = pareto_mask(pts, [False, False])
    order = np.argsort(pts[keep, 0])
    return pts[keep, 0][order], pts[keep, 1][order]


CURVE_POINTS = 40  # concurrencies per layout, geometric from 1 to the most that fits


def throughput_curve(mapped: list[MappedModel], input_tokens: float, output_tokens: float
                     ) -> dict[str, list[float]] | None:
    """Output tok/s per chip against tok/s per user (1/TPOT) under continuous batching.

    ``mapped``: the model mapped onto the chip in each candidate layout
    (:class:`inferchip.performance.mapped.MappedModel`). Each is swept over a geometric grid of
    concurrencies up to the most its memory holds; the points of all layouts are reduced to
    their upper envelope (the best layout at each per-user speed, as InferenceMAX plots).
    """
    from inferchip.performance.phases import continuous_batch

    xs, ys = [], []
    for mm in mapped:
        bmax = float(mm.max_batch(input_tokens, output_tokens))
        if bmax < 1:
            continue
        grid = np.unique(np.round(np.geomspace(1.0, bmax, CURVE_POINTS)))
        met = continuous_batch(mm, grid, input_tokens, output_tokens)
        xs.append(1.0 / np.asarray(met.tpot_s, float))
        ys.append(np.asarray(met.tokens_per_s_replica, float) / mm.layout.chips_per_replica)
    if not xs:
        return None
    x, y = upper_envelope(np.concatenate(xs), np.concatenate(ys))
    return {"tokens_per_s_per_user": x.tolist(), "tokens_per_s_per_chip": y.tolist()}


# (column, less is better) of the fronts of a review, in order of preference
FRONT_OBJECTIVES = (("usd_per_million_tokens", True), ("output_tokens_per_j", False), ("tpot_s", True))
FALLBACK_OBJECTIVES = (("output_tokens_per_s_per_chip", False), ("tpot_s", True))


def case_fronts(rows: list[dict[str, Any]], cases: list[tuple[str, str]]) -> dict[tuple[str, str], dict[str, Any]]:
    """Per case (model, service level), the chips no other chip beats on cost, energy and
    latency at once. An objective nobody has in a case (no price, no TDP) is dropped; with
    fewer than two left, throughput per chip and TPOT are used. Marks ``row["pareto"]``: True or
    False for the chips compared, None for a chip that lacks one of the front's figures (an unpriced
    chip has no $/Mtok): it is not compared, and ``not_compared`` names it with the figures it lacks."""
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for case in cases:
        rs = [r for r in rows if r["setting"] == "domain" and (r["model_id"], r["slo"]) == case and r["status"] == "ok"]
        objs = [o for o in FRONT_OBJECTIVES if any(r[o[0]] is not None for r in rs)]
        if len(objs) < 2:
            objs = list(FALLBACK_OBJECTIVES)
        vals = np.array([[np.nan if r[c] is None else float(r[c]) for c, _ in objs]
                         for r in rs]).reshape(len(rs), len(objs))
        mask = pareto_mask(vals, [m for _, m in objs]) if rs else np.zeros(0, bool)
        complete = np.isfinite(vals).all(axis=1)
        for r, on, full in zip(rs, mask, complete, strict=True):
            r["pareto"] = bool(on) if full else None
        out[case] = {"objectives": [c for c, _ in objs],
                     "front": [r["chip_id"] for r, on in zip(rs, mask, strict=False) if on],
                     "not_compared": {r["chip_id"]: [c for (c, _), v in zip(objs, row, strict=True)
                                                     if not np.isfinite(v)]
                                      for r, row, full in zip(rs, vals, complete, strict=True) if not full}}
    return out
