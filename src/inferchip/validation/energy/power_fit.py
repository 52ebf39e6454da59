"""Fit the few power parameters on measured energy rows, and the leave-one-accelerator-out report.

What is fitted (each physical, each bounded):

* ``energy.busy_power_fraction`` (:func:`inferchip.cost.energy.busy_static_power_w`): the share
  of the idle-to-power-limit range a chip draws whenever its kernels run;
* ``energy.gemm_peak_fraction_at_limit`` (:func:`inferchip.cost.energy.rated_energy_per_flop_j`):
  the fraction of the datasheet dense peak at which a GEMM draws the power limit, the rating
  point of each chip's per-FLOP energy;
* ``host.host_j_per_sequence`` (:func:`inferchip.cost.energy.host_sequence_power_w`): host
  energy per completed request, wall scope only;
* the mean input length of each serving data set the rows name (``dataset`` column, e.g. the
  ML.ENERGY tasks): one unknown per data set, as for MLPerf (``DatasetLengths``), bounded by
  ``MIN_MEAN_INPUT_TOKENS`` and the data set's longest prompt, unless the data set's mean is
  published (``Dataset.mean_input_tokens``: GPQA-Diamond's). MLPerf data-set means stay as the
  performance calibration fitted them (on throughput rows); the serving data sets' are fitted the
  same way, on the output tokens/s each run's notes state (the performance half of the run).

Loss: ``log(predicted / measured)`` per row, soft-L1 with scale 0.1 (about 10 %), summed, plus
weak priors (``PRIORS``); the two board parameters are fitted together on the power rows (board
and wall; a bounded Powell search, no derivatives: the power cap makes the loss kinked), the host
cost on the wall rows, the data-set means on the throughput of their runs, each with a bounded
scalar search; two sweeps. Predictions never read a row's measured throughput: only the fit does,
on calibration rows.

:func:`loao` refits without each accelerator's rows and predicts that accelerator's rows with the
fold's values; every fit starts from ``NEUTRAL_START``, and a fold with no row of a data set
predicts with that data set's default mean (never one fitted on the rows it holds out).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from inferchip.sources import Source
from inferchip.spec.assumptions import Assumptions, Constant
from inferchip.spec.calibration import Calibration, DatasetLengths
from inferchip.validation.fitting.search import soft_l1_losses

F_SCALE = 0.1
MIN_MEAN_INPUT_TOKENS = 16.0
BUSY = "energy.busy_power_fraction"
GEMM = "energy.gemm_peak_fraction_at_limit"
ONCHIP = "energy.onchip_pj_per_dram_bit"
HOST = "host.host_j_per_sequence"
BOUNDS = {BUSY: (0.0, 0.9), GEMM: (0.6, 1.0), ONCHIP: (0.0, 20.0), HOST: (0.0, 20.0)}
# Weak priors (centre, pseudo-rows): a pseudo-row's residual is log(value / centre). They decide only
# where the rows do not (a fold whose power rows all sit near a power cap). The busy floor: the
# middle of the physical range (idle 0 to the rating point 1). The GEMM rate at the power limit:
# NVIDIA rated A100 HPL at the clock it holds at its power limit, 1305 of 1410 MHz
# (glennklockwood.com/garden/peak-FLOPS), about 0.9. The on-chip energy per DRAM bit has none.
PRIORS = {BUSY: (0.5, 3.0), GEMM: (0.9, 3.0)}
UNITS = {BUSY: "fraction of (power limit - idle)", GEMM: "fraction of the datasheet dense peak",
         ONCHIP: "pJ/bit", HOST: "J per completed request"}
FIT_SOURCE = "fitted by inferchip.validation.energy.power_fit on the energy case rows"


def with_power(a: Assumptions, values: dict[str, float]) -> Assumptions:
    """``a`` with the named power parameters set (keys of ``BOUNDS``)."""
    energy, host = a.energy, a.host
    src = Source(citation=FIT_SOURCE, kind="estimate")
    field = {BUSY: "busy_power_fraction", GEMM: "gemm_peak_fraction_at_limit", ONCHIP: "onchip_pj_per_dram_bit"}
    upd = {field[k]: Constant(value=v, unit=UNITS[k], source=src) for k, v in values.items() if k in field}
    if upd:
        energy = energy.model_copy(update=upd)
    if HOST in values:
        host = host.model_copy(update={"host_j_per_sequence": Constant(value=values[HOST], unit=UNITS[HOST],
                                                                       source=src)})
    return a.model_copy(update={"energy": energy, "host": host})


def _soft_l1(r: np.ndarray) -> float:
    """The summed soft-L1 loss ``rho`` of log residuals ``r`` (``fitting.search.soft_l1_losses`` at scale 1)."""
    return float(np.sum(soft_l1_losses(r, F_SCALE, scale=1.0)))


@dataclass
class PowerFit:
    values: dict[str, float]  # the power parameters
    means: dict[str, float]  # mean input tokens of the serving data sets fitted
    rows: int

    def point(self, a: Assumptions, lengths: DatasetLengths) -> tuple[Assumptions, DatasetLengths]:
        means = {**lengths.mean_input_tokens, **self.means}
        return with_power(a, self.values), lengths.model_copy(update={"mean_input_tokens": means})


_MEASURED_TPUT = re.compile(r"measured throughput\s+([0-9.]+)\s*(\w+)?")


def measured_throughput(row: dict[str, str]) -> float | None:
    """Output tokens/s of the run, as the row's notes state it ("measured throughput N output_tokens/s");
    a throughput stated in total (input + output) tokens/s is scaled by the row's output share
    ``output / (input + output)``; None if the notes state none (or a total without both lengths)."""
    m = _MEASURED_TPUT.search(row.get("notes", "") or "")
    if not m or not float(m.group(1)) > 0:
        return None
    value = float(m.group(1))
    if (m.group(2) or "").startswith("total"):
        try:
            inp, out = float(row.get("input_tokens") or "nan"), float(row.get("output_tokens") or "nan")
        except ValueError:
            return None
        if not (inp >= 0 and out > 0):
            return None
        value *= out / (inp + out)
    return value


def residuals(rows: Sequence[dict[str, str]], cal: Calibration, a: Assumptions, lengths: DatasetLengths,
              throughput: bool = False) -> np.ndarray:
    """log(predicted / measured) of each row's metric (``throughput``: of the run's output tokens/s
    that its notes state); NaN where a row is not predicted or states no throughput."""
    from inferchip.validation.energy.rows import predict_energy_run

    out = np.full(len(rows), math.nan)
    for k, row in enumerate(rows):
        measured = measured_throughput(row) if throughput else float(row["value"])
        if measured is None:
            continue
        run, _ = predict_energy_run(row, cal, a, lengths)
        pred = None if run is None else (run.output_tokens_per_s if throughput else run.value(row["metric"]))
        if pred is not None and pred > 0 and math.isfinite(pred):
            out[k] = math.log(pred / measured)
    return out


def _search(loss: Callable[[float], float], lo: float, hi: float, log_scale: bool = False) -> float:
    from scipy.optimize import minimize_scalar  # type: ignore[import-untyped]  # scipy has no stubs here

    if log_scale:
        res = minimize_scalar(lambda x: loss(math.exp(x)), bounds=(math.log(lo), math.log(hi)), method="bounded",
                              options={"xatol": 0.02, "maxiter": 14})
        return float(math.exp(res.x))
    res = minimize_scalar(loss, bounds=(lo, hi), method="bounded",
                          options={"xatol": 0.005 * max(1.0, hi - lo), "maxiter": 14})
    return float(res.x)


# Fitted together (they trade off against each other). The on-chip energy per DRAM bit is not
# fitted: the board rows put it at ~2 pJ/bit with no gain, and without them (the LOAO fold of the
# only chip with board rows) the wall rows, near their power limits, run it to its bound.
BOARD = (BUSY, GEMM)


def _fit_board(rows: Sequence[dict[str, str]], cal: Calibration, a: Assumptions, lengths: DatasetLengths,
               fit: PowerFit, max_evaluations: int = 60) -> dict[str, float]:
    """The busy floor and GEMM rate fitted jointly: bounded Powell search (no
    derivatives: the cap makes the loss kinked) of the soft-L1 loss of log(pred/meas) of the power
    ``rows``, each prior adding its pseudo-rows."""
    from scipy.optimize import minimize

    lo, hi = np.array([BOUNDS[k][0] for k in BOARD]), np.array([BOUNDS[k][1] for k in BOARD])

    def loss(z: np.ndarray) -> float:  # z in [0, 1]^3: each parameter scaled to its bounds
        x = lo + np.clip(z, 0.0, 1.0) * (hi - lo)
        trial = PowerFit({**fit.values, **dict(zip(BOARD, map(float, x), strict=True))}, fit.means, 0)
        r = residuals(rows, cal, *trial.point(a, lengths))
        prior = sum(PRIORS[k][1] * _soft_l1(np.array([math.log(max(float(v), 1e-6) / PRIORS[k][0])]))
                    for k, v in zip(BOARD, x, strict=True) if k in PRIORS)
        return _soft_l1(r[~np.isnan(r)]) + prior

    z0 = np.clip((np.array([fit.values[k] for k in BOARD]) - lo) / (hi - lo), 0.0, 1.0)
    out = minimize(loss, z0, method="Powell", bounds=[(0.0, 1.0)] * len(BOARD),
                   options={"xtol": 0.01, "ftol": 1e-4, "maxfev": max_evaluations})
    return dict(zip(BOARD, map(float, lo + np.clip(out.x, 0.0, 1.0) * (hi - lo)), strict=True))


def fit_power(rows: Sequence[dict[str, str]], cal: Calibration, a: Assumptions, lengths: DatasetLengths,
              *, sweeps: int = 2) -> PowerFit:
    """Fit the power parameters and the serving data-set means on energy ``rows`` (dicts of a case file)."""
    from inferchip.validation.cases import DATASETS, MLPERF_DATASETS

    power_rows = [r for r in rows if r["metric"].startswith("power_w")]
    wall_rows = [r for r in power_rows if r["metric"] == "power_w_wall_total"]
    sets = sorted(d for d in {r.get("dataset", "") for r in rows} - {""} - set(MLPERF_DATASETS)
                  if DATASETS[d].mean_input_tokens is None)  # a published mean is used, not fitted
    e = a.energy
    values = {BUSY: e.busy_fraction, GEMM: e.gemm_fraction, ONCHIP: e.onchip_pj_per_bit, HOST: a.host.j_per_sequence}
    means = {d: float(lengths.mean_input_tokens.get(d, 256.0)) for d in sets}
    fit = PowerFit(dict(values), dict(means), len(rows))

    def loss_on(subset: Sequence[dict[str, str]], name: str, throughput: bool = False) -> Callable[[float], float]:
        def f(x: float) -> float:
            trial = PowerFit({**fit.values, name: x} if name in BOUNDS else fit.values,
                             {**fit.means, name: x} if name not in BOUNDS else fit.means, 0)
            r = residuals(subset, cal, *trial.point(a, lengths), throughput=throughput)
            prior = 0.0
            if name in PRIORS:
                centre, weight = PRIORS[name]
                prior = weight * _soft_l1(np.array([math.log(max(x, 1e-6) / centre)]))
            return _soft_l1(r[~np.isnan(r)]) + prior
        return f

    for _ in range(sweeps):
        if power_rows:
            fit.values.update(_fit_board(power_rows, cal, a, lengths, fit))
        if wall_rows:
            fit.values[HOST] = _search(loss_on(wall_rows, HOST), *BOUNDS[HOST])
        for d in sets:
            # one row per run (the power row): its notes state the run's throughput
            mine = [r for r in rows if r.get("dataset") == d and r["metric"].startswith("power_w")
                    and measured_throughput(r) is not None]
            if mine:
                fit.means[d] = _search(loss_on(mine, d, throughput=True), MIN_MEAN_INPUT_TOKENS,
                                       float(DATASETS[d].max_input_tokens), log_scale=True)
    return fit


# Where each fit starts (the priors' centres, no on-chip or host cost): a fold's fit never starts
# from values fitted on the rows it holds out.
NEUTRAL_START = {BUSY: PRIORS[BUSY][0], GEMM: PRIORS[GEMM][0], ONCHIP: 0.0, HOST: 0.0}


def loao(rows: Sequence[dict[str, str]], cal: Calibration, a: Assumptions, lengths: DatasetLengths,
         progress: Callable[[str], None] | None = None) -> tuple[PowerFit, dict[str, PowerFit], np.ndarray]:
    """(fit on all rows, fit of each accelerator's fold, held-out signed error % of every row).

    Every fit starts from ``NEUTRAL_START``; a fold holding no row of a serving data set predicts
    with that data set's default mean (``DatasetLengths()``), not with a mean fitted on the rows it
    holds out."""
    from inferchip.validation.cases import DATASETS, MLPERF_DATASETS

    say = progress or (lambda _m: None)
    a = with_power(a, NEUTRAL_START)
    full = fit_power(rows, cal, a, lengths)
    say(f"all rows: {full.values} {full.means}")
    serving = {d for d in {r.get("dataset", "") for r in rows} - {""} - set(MLPERF_DATASETS)
               if DATASETS[d].mean_input_tokens is None}
    defaults = DatasetLengths().mean_input_tokens
    folds: dict[str, PowerFit] = {}
    held = np.full(len(rows), math.nan)
    for acc in sorted({r["accelerator"] for r in rows}):
        rest = [r for r in rows if r["accelerator"] != acc]
        mine = [k for k, r in enumerate(rows) if r["accelerator"] == acc]
        unseen = serving - {r.get("dataset", "") for r in rest}
        fold_lengths = lengths.model_copy(update={"mean_input_tokens": {
            **lengths.mean_input_tokens, **{d: defaults[d] for d in unseen if d in defaults}}})
        fold = fit_power(rest, cal, a, fold_lengths) if rest else PowerFit({}, {}, 0)
        folds[acc] = fold
        r = residuals([rows[k] for k in mine], cal, *fold.point(a, fold_lengths))
        held[mine] = 100.0 * (np.exp(r) - 1.0)
        say(f"fold without {acc}: {fold.values} {fold.means}")
    return full, folds, held


def error_table(rows: Sequence[dict[str, str]], signed_pct: np.ndarray, by: Sequence[str] = ("metric",)
                ) -> list[dict[str, Any]]:
    """Median and p90 APE and the median signed error per group of ``by`` columns."""
    groups: dict[tuple[str, ...], list[float]] = {}
    for row, e in zip(rows, signed_pct, strict=True):
        if math.isfinite(e):
            groups.setdefault(tuple(row.get(k, "") or "-" for k in by), []).append(float(e))
    out = []
    for key in sorted(groups):
        v = np.array(groups[key])
        out.append({**dict(zip(by, key, strict=True)), "rows": len(v), "median_ape": float(np.median(np.abs(v))),
                    "p90_ape": float(np.percentile(np.abs(v), 90)), "median_signed": float(np.median(v))})
    return out
