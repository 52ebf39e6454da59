"""Fit the vision calibration on calibration rows and measure it honestly (leave one accelerator out).

Calibration rows are the MLPerf rows (``source_kind`` starting ``mlperf-``) of performance metrics that
the model can express; third-party and vendor-paper rows are predicted but never fitted on. The fit is
a soft-L1 least-squares fit of log(predicted / measured) over two physical parameters, the attainable
matrix fraction of accelerators and of CPUs (each only when the rows hold such chips), plus one data-set
unknown, the windows per KiTS19 volume (only when 3D-UNet rows are present), and a second, the p90 volume's
windows over the mean (only when 3D-UNet SingleStream latency rows are present). CPUs have two fractions: one for
formats that run on the matrix engine (AMX int8/bf16) and one for formats that run on the vector FMA units (the
fp32 reference runs), each fitted only when the rows hold such runs. The AMX operand-feed width
(``cpu_feed_columns``, cost/vision/layers.py ``operand_feed_factor``) is fitted when the CPU matrix-engine rows hold
more than one network (one network cannot tell it from the AMX fraction). The attainable share of DRAM bandwidth is
fitted only with ``fit_memory`` (bounded to 0.3-1.0): on the shipped rows the fit's cost is flat in it (within
2 % from 0.45 to 1.0, docs/vision.md), so the shipped calibration keeps the stated 0.9.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import least_squares

from inferchip.validation.vision.rows import WINDOWED, Params, RowModel, predict_row

BOUNDS = {"matrix_fraction": (0.02, 1.0), "cpu_matrix_fraction": (0.02, 1.0), "cpu_vector_fraction": (0.02, 1.0),
          "memory_bandwidth_fraction": (0.3, 1.0), "windows_per_volume": (1.0, 2000.0),
          "windows_p90_ratio": (1.0, 4.0), "cpu_feed_columns": (0.0, 512.0)}
NAMES = ("matrix_fraction", "cpu_matrix_fraction", "cpu_vector_fraction", "memory_bandwidth_fraction",
         "windows_per_volume", "windows_p90_ratio", "cpu_feed_columns")
MIN_FIT_ROWS = 8
"""A leave-one-accelerator-out fold with fewer calibration rows left than this gives no prediction (a fit of
the parameters on a handful of rows would say nothing about unseen chips)."""
START = Params(matrix_fraction=0.5, cpu_matrix_fraction=0.4, windows_per_volume=64.0, cpu_vector_fraction=0.6,
               memory_bandwidth_fraction=0.9, cpu_feed_columns=64.0)


def is_calibration_row(row: RowModel) -> bool:
    c = row.case
    return c.source_kind.startswith("mlperf-") and c.kind == "performance"


LOG_RESIDUAL_CAP = 5.0  # an overloaded row (predicted latency unbounded) counts as e^5 = 148x off


def log_residuals(rows: Sequence[RowModel], p: Params) -> np.ndarray:
    out = np.array([np.log(predict_row(r, p)[0] / r.case.value) for r in rows])
    return np.clip(np.nan_to_num(out, nan=LOG_RESIDUAL_CAP, posinf=LOG_RESIDUAL_CAP), -LOG_RESIDUAL_CAP,
                   LOG_RESIDUAL_CAP)


@dataclass(frozen=True)
class Fit:
    params: Params
    names: tuple[str, ...]
    rows: int
    evaluations: int


def fit(rows: Sequence[RowModel], start: Params = START, *, fit_memory: bool = False) -> Fit:
    """Fit the parameters the rows inform on ``rows`` (all must be calibration rows)."""
    if not rows:
        return Fit(start, (), 0, 0)
    names = ["matrix_fraction", *(["memory_bandwidth_fraction"] if fit_memory else [])]
    if any(r.cpu and not np.all(r.vector_fma) for r in rows):
        names.append("cpu_matrix_fraction")
    if len({r.case.model for r in rows if r.cpu and np.any(np.isfinite(r.amx_n))}) > 1:
        names.append("cpu_feed_columns")  # told apart from the AMX fraction only by networks of different widths
    if any(r.cpu and np.any(r.vector_fma) for r in rows):
        names.append("cpu_vector_fraction")
    if any(r.windowed for r in rows):
        names.append("windows_per_volume")
    if any(r.windowed and r.case.scenario == "single_stream" and r.case.metric.startswith("latency_") for r in rows):
        names.append("windows_p90_ratio")
    scale = {n: 100.0 if n in ("windows_per_volume", "cpu_feed_columns") else 1.0 for n in NAMES}

    def point(x: np.ndarray) -> Params:
        kw = {n: getattr(start, n) for n in NAMES}
        kw.update({n: float(v) * scale[n] for n, v in zip(names, x, strict=True)})
        return Params(**kw)

    x0 = np.array([getattr(start, n) / scale[n] for n in names])
    lo = np.array([BOUNDS[n][0] / scale[n] for n in names])
    hi = np.array([BOUNDS[n][1] / scale[n] for n in names])
    x0 = np.clip(x0, lo + 1e-9, hi - 1e-9)
    res = least_squares(lambda x: log_residuals(rows, point(x)), x0, bounds=(lo, hi), loss="soft_l1", f_scale=0.2,
                        xtol=1e-6, ftol=1e-6, max_nfev=200)
    return Fit(point(res.x), tuple(names), len(rows), int(res.nfev))


def leave_one_accelerator_out(rows: Sequence[RowModel], calibration: Sequence[RowModel],
                              start: Params = START) -> dict[str, tuple[Params, list[RowModel]]]:
    """Per accelerator: the parameters fitted without its calibration rows, and its rows to predict (none for
    an accelerator whose fold keeps fewer than :data:`MIN_FIT_ROWS` calibration rows)."""
    out: dict[str, tuple[Params, list[RowModel]]] = {}
    for acc in sorted({r.case.accelerator for r in rows}):
        train = [r for r in calibration if r.case.accelerator != acc]
        if len(train) < MIN_FIT_ROWS:
            continue
        out[acc] = (fit(train, start).params, [r for r in rows if r.case.accelerator == acc])
    return out


def ape_stats(errors_pct: Sequence[float]) -> dict[str, float | int | None]:
    """Count, median and p90 of absolute percentage errors."""
    a = np.abs(np.asarray(list(errors_pct), dtype=float))
    if a.size == 0:
        return {"cases": 0, "median_ape": None, "p90_ape": None}
    return {"cases": int(a.size), "median_ape": float(np.median(a)), "p90_ape": float(np.percentile(a, 90))}


__all__ = ["BOUNDS", "NAMES", "START", "WINDOWED", "Fit", "ape_stats", "fit", "is_calibration_row",
           "leave_one_accelerator_out"]
