"""Error statistics of validation results: overall, per group, per kind, and the two server models.

Errors are percentages: signed ``100 (pred - meas) / meas``, APE its absolute value, p90 by
linear interpolation. Energy rows are summarised per scope (``case_kind``), never pooled
with the performance rows.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, TypeGuard

import numpy as np

from inferchip.errors import InvalidSettingError
from inferchip.units import percent, percent_error
from inferchip.validation.cases import Case
from inferchip.validation.results import CaseResult
from inferchip.validation.server import SERVER_MODELS
from inferchip.validation.server_choice import SERVER_MODEL_BY_METRIC, metric_kind

GROUP_KEYS: dict[str, Callable[[Case], str]] = {
    "source": lambda c: c.source_kind,
    "accelerator": lambda c: c.accelerator,
    "model": lambda c: c.model,
    "scenario": lambda c: c.scenario,
    "metric": lambda c: c.metric,
    "kind": lambda c: case_kind(c),
}


def case_kind(case: Case) -> str:
    """"performance", or "energy (board)" / "energy (wall)" for an energy row."""
    return "performance" if case.energy_scope is None else f"energy ({case.energy_scope})"


def _stats(cases: int, predicted: Sequence[float], measured: Sequence[float]) -> dict[str, float | int | None]:
    signed = percent_error(np.asarray(predicted, float), np.asarray(measured, float))
    ape = np.abs(signed)
    have = ape.size > 0
    return {
        "cases": cases,
        "predicted": int(ape.size),
        "not_predicted": cases - int(ape.size),
        "median_ape": float(np.median(ape)) if have else None,
        "p90_ape": float(np.percentile(ape, 90)) if have else None,
        "max_ape": float(ape.max()) if have else None,
        "within_10pct": percent(float(np.mean(ape <= 10.0))) if have else None,
        "within_25pct": percent(float(np.mean(ape <= 25.0))) if have else None,
        "median_signed_error_pct": float(np.median(signed)) if have else None,
    }


def error_stats(results: Sequence[CaseResult]) -> dict[str, float | int | None]:
    """Count, median/p90/max APE (percent; p90 by linear interpolation), the percent of
    predicted rows within 10% and 25%, and the median signed error (bias)."""
    ok = [(p, r.measured) for r in results if r.status == "ok" and (p := r.predicted) is not None]  # ok: predicted
    return _stats(len(results), [p for p, _ in ok], [m for _, m in ok])


SERVER_GROUPS: dict[str, Callable[[Case], bool]] = {
    "server rows": lambda c: True,
    "server throughput": lambda c: not c.metric.endswith("_ms"),
    "server latency": lambda c: c.metric.endswith("_ms"),
}


def server_comparison(results: Sequence[CaseResult]) -> dict[str, dict[str, dict[str, float | int | None]]]:
    """Error statistics of the server rows under each server model, side by side:
    ``{group: {model: stats}}`` over the rows that have both models' entries (``by_model``);
    a row a model could not predict counts as not predicted for that model. ``used``: the group's
    predicted rows whose reported value came from that model (closed loops always the simulator)."""
    rows = [r for r in results if r.by_model]
    out: dict[str, dict[str, dict[str, float | int | None]]] = {}
    for group, keep in SERVER_GROUPS.items():
        sel = [r for r in rows if keep(r.case)]
        out[group] = {}
        for m in SERVER_MODELS:
            have = [(v, r.measured) for r in sel if _usable(v := r.by_model.get(m))]
            out[group][m] = _stats(len(sel), [v for v, _ in have], [x for _, x in have])
            out[group][m]["used"] = sum(r.server_model == m and r.status == "ok" for r in sel)
    return out


def server_models_by_kind(results: Sequence[CaseResult]) -> dict[str, dict[str, Any]]:
    """Per metric kind (throughput, ttft, tpot: :func:`metric_kind`), the error statistics of each
    server model over the server rows both models predicted (``by_model`` holds both values), the
    model with the lower median APE (``"lower"``; the ``auto`` choice on a tie) and the model
    ``auto`` uses (``"auto"``, ``SERVER_MODEL_BY_METRIC``). Given held-out results this is the
    choice "per metric, by leave-one-accelerator-out error" that ``SERVER_MODEL_BY_METRIC`` names."""
    rows = [r for r in results if all(_usable(r.by_model.get(m)) for m in SERVER_MODELS)]
    out: dict[str, dict[str, Any]] = {}
    for kind in SERVER_MODEL_BY_METRIC:
        sel = [r for r in rows if metric_kind(r.case.metric) == kind]
        if not sel:
            continue
        per = {m: _stats(len(sel), [float(v) for r in sel if (v := r.by_model[m]) is not None],
                         [r.measured for r in sel]) for m in SERVER_MODELS}
        auto = SERVER_MODEL_BY_METRIC[kind]
        lower = min(SERVER_MODELS, key=lambda m: (per[m]["median_ape"], m != auto))
        out[kind] = {**per, "lower": lower, "auto": auto}
    return out


def _usable(value: float | None) -> TypeGuard[float]:
    return value is not None and math.isfinite(value) and value > 0


def summarize(results: Sequence[CaseResult], by: str | None = None) -> dict[str, Any]:
    """Overall statistics, with ``by`` the same per group (sorted by group name), and where
    server rows were predicted by both server models, :func:`server_comparison`. Where the
    results hold energy rows, ``"kinds"`` gives the statistics of the performance rows and
    of each energy scope apart (a pooled "overall" then mixes units: read "kinds")."""
    out: dict[str, Any] = {"overall": error_stats(results)}
    kinds: dict[str, list[CaseResult]] = {}
    for r in results:
        kinds.setdefault(case_kind(r.case), []).append(r)
    if set(kinds) != {"performance"}:  # energy rows present: statistics per kind, never pooled
        out["kinds"] = {k: error_stats(v) for k, v in sorted(kinds.items())}
    if by is not None:
        if by not in GROUP_KEYS:
            raise InvalidSettingError(f"--by {by}: allowed: {', '.join(GROUP_KEYS)}")
        groups: dict[str, list[CaseResult]] = {}
        for r in results:
            groups.setdefault(GROUP_KEYS[by](r.case), []).append(r)
        out["by"] = by
        out["groups"] = {k: error_stats(v) for k, v in sorted(groups.items())}
    if any(r.by_model for r in results):
        out["server_models"] = server_comparison(results)
    return out
