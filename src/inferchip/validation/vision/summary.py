"""Summaries of the vision validation results: errors per scenario and chip class, and the MLPerf
latency-bound pass/fail counts (strict, decided, at the submitter's operating point; the rules are in
:mod:`inferchip.validation.vision.validate` and :mod:`inferchip.validation.vision.passfail`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from inferchip.validation.vision.fit import ape_stats
from inferchip.validation.vision.passfail import OWN_RUN_IN_POOL
from inferchip.validation.vision.validate import VisionResult

NEAR_BOUND = 0.10  # a p99 within 10 % of the bound: a few per cent of capacity flips the pass


def near_bound(r: VisionResult, tolerance: float = NEAR_BOUND) -> bool:
    """The row's predicted p99 at its measured load is within ``tolerance`` of its latency bound (either side):
    submitters run at the highest passing load, so such a row sits on the edge and its pass/fail turns on a few
    per cent of predicted capacity."""
    if r.p99_at_load_ms is None or r.bound_ms is None:
        return False
    return abs(r.p99_at_load_ms / r.bound_ms - 1.0) <= tolerance


CAPACITY_EDGE = 0.05
"""Half-width of the band around a Server row's measured load inside which its pass/fail is a coin toss for any
model: submitters report the highest load that passes, so predicting "pass at the measured load" is predicting
capacity >= that load, and identical systems of different submitters report loads a few per cent apart (8x H100
SXM ResNet-50 Server 620-634 k samples/s, RetinaNet 13.7-13.8 k at batch 16; vision_cases.csv)."""


def capacity_ratio(r: VisionResult) -> float | None:
    """Predicted Server capacity within the bound (LOAO where the row has it) over the row's measured load."""
    if r.predicted_max_load is None or r.limit_pass is None:
        return None
    return r.predicted_max_load / r.case.value


def on_capacity_edge(r: VisionResult, band: float = CAPACITY_EDGE) -> bool:
    """The predicted capacity is within ``band`` of the measured load (either side): its pass/fail is undecided
    within the spread of the measured loads themselves."""
    ratio = capacity_ratio(r)
    return ratio is not None and abs(ratio - 1.0) <= band


def latency_bound_summary(limits: Sequence[VisionResult]) -> dict[str, Any]:
    """Pass/fail of the Server rows at their measured loads (every published run passed), strict and with the
    rows on the capacity edge (:func:`on_capacity_edge`) set apart; the misjudged rows by id."""
    n = len(limits)
    right = [r for r in limits if r.limit_pass]
    edge = [r for r in limits if on_capacity_edge(r)]
    decided = [r for r in limits if not on_capacity_edge(r)]
    return {"rows": n, "predicted_pass": len(right),
            "max_load_within_10pct": sum(1 for r in limits if r.predicted_max_load is not None
                                         and r.predicted_max_load >= 0.9 * r.case.value),
            "right_fraction": len(right) / n if n else None,
            "p99_within_10pct_of_bound": sum(1 for r in limits if near_bound(r)),
            "right_or_within_10pct_fraction": (sum(1 for r in limits if r.limit_pass or near_bound(r)) / n) if n
            else None,
            "capacity_edge_band": CAPACITY_EDGE, "on_capacity_edge": len(edge),
            "on_edge_predicted_pass": sum(1 for r in edge if r.limit_pass),
            "decided_rows": len(decided), "decided_right": sum(1 for r in decided if r.limit_pass),
            "decided_right_fraction": (sum(1 for r in decided if r.limit_pass) / len(decided)) if decided else None,
            "misjudged": {r.case.case_id: round(100.0 * ((capacity_ratio(r) or 0.0) - 1.0), 1)
                          for r in limits if not r.limit_pass},
            "operating_point": operating_point_summary(limits)}


def operating_point_summary(limits: Sequence[VisionResult]) -> dict[str, Any]:
    """Pass/fail at the submitter's operating point (:mod:`.passfail`): rows with an Offline counterpart, how
    many are predicted to pass (every one passed), and each miss as (measured fraction rho, predicted largest
    passing fraction rho*). Two-sided beside it: the simulated p99 there against the p99 the row's notes state
    (errors of the finite predictions; an overloaded prediction is counted apart)."""
    rs = [r for r in limits if r.bound_met_at_operating_point is not None]
    same = [r for r in rs if r.offline_match.startswith(OWN_RUN_IN_POOL)]
    right = [r for r in rs if r.bound_met_at_operating_point]
    p99 = [(r.p99_at_operating_point_ms, r.case.measured_p99_ms) for r in rs if r.case.measured_p99_ms]
    finite = [100.0 * (p / m - 1.0) for p, m in p99 if p is not None and np.isfinite(p)]
    return {"rows": len(rs), "without_offline_counterpart": len(limits) - len(rs),
            "p99_vs_measured": {**ape_stats(finite), "median_signed_pct": float(np.median(finite)) if finite else None,
                                "overloaded": len(p99) - len(finite)},
            "same_system_rows": len(same), "same_system_right": sum(1 for r in same if r.bound_met_at_operating_point),
            "predicted_pass": len(right), "right_fraction": len(right) / len(rs) if rs else None,
            "misjudged": {r.case.case_id: [round(r.operating_fraction or 0.0, 3),
                                           round(r.max_passing_fraction or 0.0, 3)]
                          for r in rs if not r.bound_met_at_operating_point}}


def summarize_vision(results: Sequence[VisionResult]) -> dict[str, Any]:
    """Errors overall and per scenario (in-sample and LOAO), power rows apart, and latency-bound pass/fail."""
    ok = [r for r in results if r.status == "ok"]
    perf = [r for r in ok if r.case.kind == "performance"]

    def block(rs: list[VisionResult]) -> dict[str, Any]:
        return {"in_sample": ape_stats([r.error_pct for r in rs if r.error_pct is not None]),
                "loao": ape_stats([r.loao_error_pct for r in rs if r.loao_error_pct is not None])}

    scenarios = sorted({r.case.scenario for r in perf})
    limits = [r for r in ok if r.limit_pass is not None]
    return {
        "rows": len(results), "predicted": len(ok),
        "unexpressible": {r.case.case_id: r.reason for r in results if r.status != "ok"},
        "overall": block(perf),
        "calibration_rows": block([r for r in perf if r.calibration_row]),
        "other_rows": block([r for r in perf if not r.calibration_row]),
        "by_scenario": {s: block([r for r in perf if r.case.scenario == s]) for s in scenarios},
        "power_rows": block([r for r in ok if r.case.kind == "power"]),
        "by_family_scenario": {f"{f} {s}": block(rs) for (f, s), rs in sorted(_groups(perf).items())},
        "latency_bound": latency_bound_summary(limits),
    }


def chip_class(accelerator: str) -> str:
    """A coarse chip class for reporting residuals: ``cpu`` (``cpu:`` ids), ``gpu`` (NVIDIA/AMD ids), else
    ``accelerator`` (inference cards)."""
    if accelerator.startswith("cpu:"):
        return "cpu"
    return "gpu" if accelerator.startswith(("nvidia-", "amd-")) else "accelerator"


def _groups(rs: Sequence[VisionResult]) -> dict[tuple[str, str], list[VisionResult]]:
    out: dict[tuple[str, str], list[VisionResult]] = {}
    for r in rs:
        out.setdefault((chip_class(r.case.accelerator), r.case.scenario), []).append(r)
    return out
