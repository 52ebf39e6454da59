"""The claim-boundary map: where each part of the claim holds over the claimed chip's two most
decisive figures -- its memory bandwidth (decode streams weights and KV cache: the figure that
moves the claimed chip's rank most, see the sensitivity section) and its cost (a multiple of
its central figure in each cost view: street price and modelled manufacturing cost together).

Each bandwidth is a re-prediction of the claimed chip's cases; the cost axis is applied to the
money figures only, all of it as one array (:mod:`inferchip.review.judge`). Central figures of
every other chip, no model error: the map shows the boundary, the Monte Carlo its probability.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from inferchip.review.claim_file import Claim
from inferchip.review.inputs import OnProgress, ReviewConfig, no_progress
from inferchip.review.judge import judge_all
from inferchip.review.uncertainty import Base, claim_cases, scaled_params

BANDWIDTH_POINTS = 6
COST_MULTIPLIERS = tuple(float(x) for x in np.geomspace(0.25, 4.0, 9))
BW_PATH = "memory.bandwidth_tb_per_s"


def _key(k: tuple[str, str | None]) -> str:
    return k[0] if k[1] is None else f"{k[0]} ({k[1]})"


def boundary_map(res: Any, cfg: ReviewConfig, claim: Claim, base: Base, views: list[str],
                 on_progress: OnProgress = no_progress) -> dict[str, Any]:
    """``{"x_tb_per_s", "y_cost_multiplier", "parts": {part: [[holds per cost] per bandwidth]}, "range"}``."""
    entry = res.claim
    f = base.fig
    bw0, lo, hi, xs = _bandwidths(entry)
    ys = np.array(COST_MULTIPLIERS)
    n = len(ys)
    price = {v: np.repeat(p, n, axis=1) for v, p in f.price.items()}
    for p in price.values():
        p[f.claim] = p[f.claim] * ys
    cost = None
    if f.cost_usd is not None:
        cost = np.repeat(f.cost_usd, n, axis=1)
        cost[f.claim] = cost[f.claim] * ys
    from inferchip.review.parallel.pool import run_pieces

    grid: dict[str, list[list[bool] | None]] = {}  # part -> per bandwidth, holds at each cost (None: not judged)
    keyed = boundary_pieces(entry, res.models, f.cases, cfg)
    at = run_pieces([p for _, p in keyed], cfg.jobs, keys=[k for k, _ in keyed])
    for x, (tput, board) in zip(xs, at, strict=True):
        t, b = np.repeat(f.tput, n, axis=2), np.repeat(f.board_w, n, axis=2)
        t[f.claim] = tput[:, None]
        b[f.claim] = board[:, None]
        fig = replace(f, tput=t, board_w=b, price=price, cost_usd=cost)
        for k, o in judge_all(fig, claim.part_list(), views).items():
            grid.setdefault(_key(k), []).append(None if o.holds is None else [bool(h) for h in o.holds])
        on_progress(f"boundary map: {entry.id} at {x:.2f} TB/s", 1)
    ranges: dict[str, Any] = {"bandwidth_tb_per_s": [lo, hi], "central_tb_per_s": bw0}
    for v in views:
        pr = base.price_ranges[v][f.claim]
        if np.all(np.isfinite(pr)):
            ranges[f"{v}_cost_multiplier"] = [float(pr[0] / pr[1]), float(pr[2] / pr[1])]
            ranges[f"{v}_central_usd"] = float(pr[1])
    parts = {k: v for k, v in grid.items() if all(row is not None for row in v)}
    return {"x_tb_per_s": xs.tolist(), "y_cost_multiplier": ys.tolist(), "parts": parts, "range": ranges,
            "not_mapped": sorted(k for k in grid if k not in parts)}


def _bandwidths(entry: Any) -> tuple[float, float, float, np.ndarray]:
    """The claimed chip's central bandwidth, its estimate's low and high end (TB/s) and the map's bandwidths."""
    bw0 = entry.params.memory_bytes_per_s / 1e12
    r = entry.estimated_fields.get(BW_PATH)
    lo, hi = (float(r["low"]), float(r["high"])) if r else (bw0, bw0)
    return bw0, lo, hi, np.geomspace(min(lo, bw0) / 2, max(hi, bw0) * 1.5, BANDWIDTH_POINTS)


def boundary_pieces(entry: Any, models: list[Any], cases: list[tuple[str, str]], cfg: ReviewConfig,
                    ) -> list[tuple[Any, Any]]:
    """The map's pieces (the claimed chip's cases at each bandwidth), each with its key
    (``review.parallel.pool.run_pieces``)."""
    from functools import partial

    bw0, _, _, xs = _bandwidths(entry)

    def at_bandwidth(x: float, report: OnProgress) -> tuple[np.ndarray, np.ndarray]:
        return claim_cases(entry, scaled_params(entry.params, BW_PATH, x / bw0), models, cases, cfg)

    return [(("boundary", entry.id, tuple(cases), float(x)), partial(at_bandwidth, float(x))) for x in xs]
