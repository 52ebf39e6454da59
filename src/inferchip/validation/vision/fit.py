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
2 % from 0.45 to 1.0, docs/vision.md), so the shipped calibration keeps the stated 0.9. The host's staging time per
sample of a latency-scenario query (``sample_host_s``, cost/vision/host.py ``query_host_s``) is fitted when latency
rows are present. Every fit, in-sample and in each fold, runs from the same fixed starts (:data:`STARTS`) and keeps
the lowest loss.
"""

from __future__ import annotations

import multiprocessing
import sys
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import numpy as np
from scipy.optimize import least_squares  # type: ignore[import-untyped]  # scipy has no stubs here

from inferchip.cost.roofline import FloatArray
from inferchip.errors import InternalError
from inferchip.pools import stopping_pool
from inferchip.spec.vision import VisionCalibration
from inferchip.validation.vision.rows import WINDOWED, Params, RowModel, predict_row

BOUNDS = {"matrix_fraction": (0.02, 1.0), "cpu_matrix_fraction": (0.02, 1.0), "cpu_vector_fraction": (0.02, 1.0),
          "memory_bandwidth_fraction": (0.3, 1.0), "windows_per_volume": (1.0, 2000.0),
          "windows_p90_ratio": (1.0, 4.0), "cpu_feed_columns": (0.0, 512.0), "sample_host_s": (0.0, 200e-6)}
NAMES = ("matrix_fraction", "cpu_matrix_fraction", "cpu_vector_fraction", "memory_bandwidth_fraction",
         "windows_per_volume", "windows_p90_ratio", "cpu_feed_columns", "sample_host_s")
MIN_FIT_ROWS = 8
"""A leave-one-accelerator-out fold with fewer calibration rows left than this gives no prediction (a fit of
the parameters on a handful of rows would say nothing about unseen chips)."""
START = Params(matrix_fraction=0.5, cpu_matrix_fraction=0.4, windows_per_volume=64.0, cpu_vector_fraction=0.6,
               memory_bandwidth_fraction=VisionCalibration().memory_bandwidth_fraction, cpu_feed_columns=64.0)
STARTS: tuple[Params, ...] = (
    START,
    Params(matrix_fraction=0.3, cpu_matrix_fraction=0.2, windows_per_volume=16.0, cpu_vector_fraction=0.3,
           memory_bandwidth_fraction=0.6, windows_p90_ratio=1.5, cpu_feed_columns=16.0, sample_host_s=2e-6),
    Params(matrix_fraction=0.85, cpu_matrix_fraction=0.7, windows_per_volume=256.0, cpu_vector_fraction=0.85,
           memory_bandwidth_fraction=1.0, windows_p90_ratio=3.0, cpu_feed_columns=256.0, sample_host_s=30e-6),
)
"""The fixed start points of every fit (in-sample and each leave-one-accelerator-out fold alike): the stated
estimates (:data:`START`), a low and a high point inside each parameter's physical range (fractions 0.2-0.3 and
0.7-1.0 of peak, 16 and 256 windows per volume and feed columns). The residuals are piecewise smooth (a batch,
an issuing-chip count or a Server batch is chosen from a grid), so one local fit stops at different points from
different starts; the fit keeps the lowest soft-L1 loss, ties to the earlier start. Nothing shipped is a start,
so a fold's parameters do not depend on the shipped calibration (docs/vision.md, 2026-12-03)."""


def is_calibration_row(row: RowModel) -> bool:
    c = row.case
    return c.source_kind.startswith("mlperf-") and c.kind == "performance"


LOG_RESIDUAL_CAP = 5.0  # an overloaded row (predicted latency unbounded) counts as e^5 = 148x off


def _depends_on(row: RowModel) -> tuple[str, ...]:
    """The parameters the row's prediction reads (rows.py ``latency_s`` and ``frames``)."""
    names = ["memory_bandwidth_fraction"]
    if not row.cpu:
        names.append("matrix_fraction")
    else:
        if not np.all(row.vector_fma):
            names.append("cpu_matrix_fraction")
        if np.any(row.vector_fma):
            names.append("cpu_vector_fraction")
        if np.any(np.isfinite(row.amx_n)):
            names.append("cpu_feed_columns")
    if row.windowed:
        names += ["windows_per_volume", "windows_p90_ratio"]
    if is_latency_row(row):
        names.append("sample_host_s")
    return tuple(names)


def is_latency_row(row: RowModel) -> bool:
    """A row whose figure is one query's latency (or a batch-1 frame rate): it pays the host's per-sample staging
    (``sample_host_s``, cost/vision/host.py ``query_host_s``); throughput and power rows do not."""
    c = row.case
    return c.scenario in ("single_stream", "multi_stream", "constant_stream") and c.metric != "system_power_avg_w" \
        or c.metric == "fps" and c.scenario not in ("offline", "server")


class ResidualCache:
    """log(predicted / measured) per row, remembered by the values of the parameters the row reads: a
    finite-difference column of the Jacobian then recomputes only the rows its parameter moves, and the folds
    and starts that share rows share their evaluations."""

    def __init__(self) -> None:
        self._rows: dict[int, tuple[RowModel, tuple[str, ...], dict[tuple[float, ...], float]]] = {}

    def residual(self, row: RowModel, p: Params) -> float:
        entry = self._rows.get(id(row))
        if entry is None or entry[0] is not row:
            entry = self._rows[id(row)] = (row, _depends_on(row), {})
        key = tuple(getattr(p, n) for n in entry[1])
        value = entry[2].get(key)
        if value is None:
            value = entry[2][key] = float(np.log(predict_row(row, p)[0] / row.case.value))
        return value


def log_residuals(rows: Sequence[RowModel], p: Params, cache: ResidualCache | None = None) -> FloatArray:
    c = cache or ResidualCache()
    out = np.array([c.residual(r, p) for r in rows], dtype=np.float64)
    capped: FloatArray = np.clip(np.nan_to_num(out, nan=LOG_RESIDUAL_CAP, posinf=LOG_RESIDUAL_CAP), -LOG_RESIDUAL_CAP,
                                 LOG_RESIDUAL_CAP)
    return capped


@dataclass(frozen=True)
class Fit:
    params: Params
    names: tuple[str, ...]
    rows: int
    evaluations: int
    loss: float = 0.0  # the soft-L1 cost at ``params`` (scipy's ``least_squares`` ``cost``)
    start: int = 0  # the index in the starts of the local fit that was kept


def fitted_names(rows: Sequence[RowModel], *, fit_memory: bool = False) -> tuple[str, ...]:
    """The parameters the rows inform."""
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
    if any(is_latency_row(r) for r in rows):
        names.append("sample_host_s")
    return tuple(names)


def fit_from(rows: Sequence[RowModel], start: Params, base: Params = START, *, fit_memory: bool = False,
             cache: ResidualCache | None = None) -> Fit:
    """One local soft-L1 fit from ``start``; parameters the rows do not inform keep ``base``'s values."""
    names = fitted_names(rows, fit_memory=fit_memory)
    scale = {n: 100.0 if n in ("windows_per_volume", "cpu_feed_columns") else 1.0 for n in NAMES}
    scale["sample_host_s"] = 1e-5
    cache = cache or ResidualCache()

    def point(x: FloatArray) -> Params:
        kw = {n: getattr(base, n) for n in NAMES}
        kw.update({n: float(v) * scale[n] for n, v in zip(names, x, strict=True)})
        return Params(**kw)

    x0 = np.array([getattr(start, n) / scale[n] for n in names])
    lo = np.array([BOUNDS[n][0] / scale[n] for n in names])
    hi = np.array([BOUNDS[n][1] / scale[n] for n in names])
    x0 = np.clip(x0, lo + 1e-9, hi - 1e-9)
    res = least_squares(lambda x: log_residuals(rows, point(x), cache), x0, bounds=(lo, hi), loss="soft_l1",
                        f_scale=0.2, xtol=1e-6, ftol=1e-6, max_nfev=200)
    return Fit(point(res.x), names, len(rows), int(res.nfev), float(res.cost))


def fit(rows: Sequence[RowModel], base: Params = START, *, fit_memory: bool = False,
        starts: Sequence[Params] = STARTS, cache: ResidualCache | None = None) -> Fit:
    """Fit the parameters the rows inform on ``rows`` (all must be calibration rows): a local fit from each of
    ``starts``, keeping the lowest loss (the earlier start on a tie). ``base`` gives only the parameters the rows
    do not inform (the spec's stated estimates), never a start."""
    if not rows:
        return Fit(base, (), 0, 0)
    cache = cache or ResidualCache()
    fits = [fit_from(rows, s, base, fit_memory=fit_memory, cache=cache) for s in starts]
    k = min(range(len(fits)), key=lambda i: (fits[i].loss, i))
    best = fits[k]
    return Fit(best.params, best.names, best.rows, sum(f.evaluations for f in fits), best.loss, k)


def leave_one_accelerator_out(rows: Sequence[RowModel], calibration: Sequence[RowModel],
                              base: Params = START, *, workers: int = 1) -> dict[str, tuple[Params, list[RowModel]]]:
    """Per accelerator: the parameters fitted (by :func:`fit`, from :data:`STARTS`, as in-sample) without its
    calibration rows, and its rows to predict (none for an accelerator whose fold keeps fewer than
    :data:`MIN_FIT_ROWS` calibration rows). ``base`` gives only the parameters a fold does not inform. With
    ``workers`` > 1 the folds run in that many forked processes (the same fits, so the same parameters)."""
    folds = [acc for acc in sorted({r.case.accelerator for r in rows})
             if sum(r.case.accelerator != acc for r in calibration) >= MIN_FIT_ROWS]
    # forked workers on Linux only, as review/parallel/pool.py: macOS's system libraries are not fork-safe
    if workers > 1 and len(folds) > 1 and sys.platform.startswith("linux"):
        global _FOLD_JOB
        _FOLD_JOB = (calibration, base)  # inherited by the forked workers, never pickled
        try:
            ctx = multiprocessing.get_context("fork")
            with stopping_pool(ProcessPoolExecutor(min(workers, len(folds)), mp_context=ctx)) as pool:  # Ctrl-C: stop
                params = list(pool.map(_fit_fold, folds))
        finally:
            _FOLD_JOB = None
    else:
        cache = ResidualCache()
        params = [fit([r for r in calibration if r.case.accelerator != acc], base, cache=cache).params
                  for acc in folds]
    return {acc: (p, [r for r in rows if r.case.accelerator == acc]) for acc, p in zip(folds, params, strict=True)}


_FOLD_JOB: tuple[Sequence[RowModel], Params] | None = None


def _fit_fold(acc: str) -> Params:
    """One fold in a forked worker: :func:`fit` without ``acc``'s calibration rows (of :data:`_FOLD_JOB`)."""
    if _FOLD_JOB is None:
        raise InternalError("_fit_fold runs only in leave_one_accelerator_out's forked workers")
    calibration, base = _FOLD_JOB
    return fit([r for r in calibration if r.case.accelerator != acc], base).params


def ape_stats(errors_pct: Sequence[float]) -> dict[str, float | int | None]:
    """Count, median and p90 of absolute percentage errors."""
    a = np.abs(np.asarray(list(errors_pct), dtype=float))
    if a.size == 0:
        return {"cases": 0, "median_ape": None, "p90_ape": None}
    return {"cases": int(a.size), "median_ape": float(np.median(a)), "p90_ape": float(np.percentile(a, 90))}


__all__ = ["BOUNDS", "NAMES", "START", "STARTS", "WINDOWED", "Fit", "ResidualCache", "ape_stats", "fit", "fit_from",
           "fitted_names", "is_calibration_row", "leave_one_accelerator_out"]
