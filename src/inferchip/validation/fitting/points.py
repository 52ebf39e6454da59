"""The calibration fit's points and rows: a calibration with its MLPerf data-set lengths (:class:`FitPoint`),
the rows the fit uses with their layouts fixed by a first pass (:func:`prepare`, :class:`FitRow`), the fitted
parameters' names and bounds, and each row's log residual (:func:`row_residuals`). Moved out of
``validation/calibrate.py`` (stop 41) when the identifiability rule made that module too long; calibrate re-exports
every name, so ``from inferchip.validation.calibrate import ...`` keeps working."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
from annotated_types import Ge, Gt, Le

from inferchip.errors import InferchipError
from inferchip.mapping.layout import Layout
from inferchip.performance.mapped import MappedModel
from inferchip.spec.calibration import Calibration, DatasetLengths
from inferchip.validation.cases import DATASETS, Case
from inferchip.validation.validate import (
    CaseResult,
    NotPredictable,
    Validator,
    case_formats,
    evaluate_fixed,
    plan_for,
)
from inferchip.workload.datasets import stated_means

FAIL_RESIDUAL = 3.0  # residual of a row the current parameters cannot predict (~20x off)
LOWER_IF_OPEN = {"step_overhead_s": 1e-5, "sequence_overhead_s": 1e-7}  # a log-scale fit needs a positive lower bound
FRACTION_FLOOR = 0.02  # lower bound of parameters bounded only by "> 0"
MIN_MEAN_INPUT_TOKENS = 16.0
DS_PREFIX = "mlperf_mean_input_tokens:"


class FitPoint(NamedTuple):
    """A calibration and the MLPerf data-set lengths fitted with it (stored in one file)."""

    calibration: Calibration
    lengths: DatasetLengths

    def validator(self, **kw: Any) -> Validator:
        return Validator(self.calibration, lengths=self.lengths, **kw)


def as_point(start: Calibration | FitPoint | None) -> FitPoint:
    """``start`` as a fit point: a bare Calibration pairs with the default data-set lengths. Data sets with a
    stated mean input (``Dataset.mean_input_tokens``) carry it, so a written calibration shows the value its rows
    were predicted with (:func:`~inferchip.workload.datasets.mean_input_of` reads the stated one first anyway)."""
    point = start if isinstance(start, FitPoint) else FitPoint(Calibration() if start is None else start,
                                                               DatasetLengths())
    means = {**point.lengths.mean_input_tokens, **stated_means()}
    if means == point.lengths.mean_input_tokens:
        return point
    return FitPoint(point.calibration, point.lengths.model_copy(update={"mean_input_tokens": means}))


@dataclass
class FitRow:
    """A row the fit uses, with its layout and mapped model fixed by the first pass."""

    case: Case
    layout: Layout
    mm: MappedModel
    dataset: str | None


def parameter_bounds(name: str, cal: Calibration | FitPoint) -> tuple[float, float]:
    """Bounds of a fitted parameter: the pydantic field's, or the data set's input limit."""
    if name.startswith(DS_PREFIX):
        ds = DATASETS[name[len(DS_PREFIX):]]
        return MIN_MEAN_INPUT_TOKENS, float(ds.max_input_tokens)
    lo, hi = 0.0, math.inf
    open_low = False
    for meta in Calibration.model_fields[name].metadata:
        if isinstance(meta, Gt):
            lo, open_low = _bound(meta.gt), True
        elif isinstance(meta, Ge):
            lo = _bound(meta.ge)
        elif isinstance(meta, Le):
            hi = _bound(meta.le)
    if lo <= 0:
        lo = LOWER_IF_OPEN.get(name, FRACTION_FLOOR if open_low or lo == 0 else lo)
    return lo, hi


def _bound(value: object) -> float:
    """A Calibration field's bound as a float (annotated_types types it as any comparable; ours are numbers)."""
    if isinstance(value, int | float):
        return float(value)
    raise TypeError(f"Calibration field bound {value!r}: allowed: a number")


def with_values(point: Calibration | FitPoint, names: Sequence[str], values: Sequence[float],
                **extra: Any) -> FitPoint:
    """A copy of ``point`` with the named parameters (data-set means included) set."""
    point = as_point(point)
    upd: dict[str, Any] = {}
    means = dict(point.lengths.mean_input_tokens)
    for n, v in zip(names, values, strict=False):
        if n.startswith(DS_PREFIX):
            means[n[len(DS_PREFIX):]] = float(v)
        else:
            upd[n] = float(v)
    upd.update(extra)
    return FitPoint(point.calibration.model_copy(update=upd),
                    point.lengths.model_copy(update={"mean_input_tokens": means}))


def current_values(point: Calibration | FitPoint, names: Sequence[str]) -> np.ndarray:
    cal, lengths = as_point(point)
    return np.array([lengths.mean_input_tokens[n[len(DS_PREFIX):]] if n.startswith(DS_PREFIX) else getattr(cal, n)
                     for n in names], float)


def prepare(cases: Sequence[Case], start: Calibration | FitPoint) -> tuple[list[FitRow], list[CaseResult]]:
    """First pass: predict every case with ``start``; the rows it predicts become fit rows."""
    start = as_point(start)
    v = start.validator()
    rows, results = [], []
    for c in cases:
        r = v.predict_case(c)
        results.append(r)
        if r.status == "ok" and r.layout is not None:
            fmt = case_formats(c)[0]
            rows.append(FitRow(c, r.layout, v.mapped(c, r.layout, fmt), plan_for(c, start.lengths).dataset))
    return rows, results


def row_residuals(rows: Sequence[FitRow], point: FitPoint) -> np.ndarray:
    """log(predicted / measured) of every row on its fixed layout; FAIL_RESIDUAL where none."""
    out = np.empty(len(rows))
    for k, r in enumerate(rows):
        try:
            pred = evaluate_fixed(r.case, r.layout, r.mm, point.calibration, point.lengths)
        except (InferchipError, NotPredictable):
            pred = math.nan
        out[k] = math.log(pred / r.case.value) if pred > 0 and math.isfinite(pred) else FAIL_RESIDUAL
    return out


def fit_parameter_names(rows: Sequence[FitRow], physical: Sequence[str] | None = None) -> list[str]:
    """Physical parameters (``physical``, default :meth:`Calibration.physical_parameter_names`), then
    one mean input length per MLPerf data set present in ``rows`` that states none (``Dataset.mean_input_tokens``:
    a stated mean is data, held, never fitted)."""
    ds = sorted({r.dataset for r in rows if r.dataset is not None and DATASETS[r.dataset].mean_input_tokens is None})
    names = list(Calibration.physical_parameter_names() if physical is None else physical)
    allowed = [n for n, f in Calibration.model_fields.items() if f.annotation is float]
    unknown = [n for n in names if n not in allowed]
    if unknown:
        raise InferchipError(f"calibrate: unknown calibration parameter(s) {unknown}; allowed: {allowed}")
    return names + [DS_PREFIX + d for d in ds]
