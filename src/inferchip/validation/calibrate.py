"""Fit the few physical calibration parameters on published measurements, with honest errors.

What is fitted: the physical parameters of :meth:`Calibration.physical_parameter_names`
(attainable fractions of peak compute, memory and link bandwidth, kernel and host overheads,
MoE imbalance) plus the mean input length of each MLPerf data set present in the rows (one
unknown per data set, as the validation README says; never a parameter per row; they live in
a :class:`~inferchip.spec.calibration.DatasetLengths` next to the calibration: a :class:`FitPoint`). Every
parameter stays within its pydantic field bounds (data-set means within the data set's
input limit); positive parameters are fitted on a log scale.

Loss: the residual of a row is ``log(predicted / measured)``; ``scipy.optimize.least_squares`` minimises the
soft-L1 robust loss of the residuals (``f_scale`` ``F_SCALE``: quadratic below about 10% error, linear above), so a
few rows the physics cannot explain do not drag the fit; it restarts from any single-coordinate move, or move along
one of the flattest directions of its Jacobian, that lowers the loss (:mod:`~inferchip.validation.fitting.search`: a
saturated row's plateau can stall it short of the minimum; stop 42: so can a basin only a combined move leaves).

Only what the rows identify is fitted (:func:`identified_fit`, issue 12: no parameter that only compensates another):
after the fit, the scaled Jacobian's directions (:func:`~inferchip.validation.fitting.search.directions`) give each the
rows' log standard error; along a direction flatter than ``FLAT_LOG_SE`` (a factor 2) one physical parameter is held
and the fit redone from the start: one that other rows pin (:meth:`Calibration.pinned_elsewhere`, at the shipped
calibration's value), else the direction's largest, at the start's value. The folds fit the parameters the full
fit fits, with its held values (``calibrate(fold_rule=True)``: each fold applies the rule to its own rows).

Speed: one pass with the starting calibration fixes each row's parallel layout and mapped
model; the optimiser then re-evaluates only the step costs with ``dataclasses.replace(mm,
cal=...)`` on a coarse concurrency grid. The Jacobian is by forward differences, and all
data-set means move together in one evaluation (each touches only its own rows).

Honest errors: the in-sample figures are those of ``inferchip validate`` with the fitted
calibration (full layout search, full grid, and the same server model per row: ``SCORE_SERVER_MODEL``,
``validate``'s default). Leave-one-accelerator-out cross-validation fits again on the rows of every
accelerator but one, from the same start, and predicts the held-out accelerator's rows with that
fit, so each row is predicted by a calibration that never saw its accelerator. The fit's residuals
are the analytic model's (the fast path); the scores are not: a server row is scored by the model
``validate`` reports for it, and both server models' held-out errors are kept, per metric kind, with
the one of lower held-out median APE named (:func:`~inferchip.validation.stats.server_models_by_kind`):
the leave-one-accelerator-out choice ``SERVER_MODEL_BY_METRIC`` is to follow.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from inferchip.errors import InvalidSettingError
from inferchip.pools import stopping_pool
from inferchip.spec.calibration import Calibration, DatasetLengths
from inferchip.validation.cases import Case
from inferchip.validation.fitting.points import (
    DS_PREFIX,
    FAIL_RESIDUAL,
    FRACTION_FLOOR,
    LOWER_IF_OPEN,
    MIN_MEAN_INPUT_TOKENS,
    FitPoint,
    FitRow,
    as_point,
    current_values,
    fit_parameter_names,
    parameter_bounds,
    prepare,
    row_residuals,
    with_values,
)
from inferchip.validation.fitting.search import (
    MAX_RESTARTS,
    Direction,
    flat_hold,
    forward_jacobian,
    identifiability,
    search,
)
from inferchip.validation.stats import server_models_by_kind
from inferchip.validation.validate import (
    CaseResult,
    Validator,
    error_stats,
)

# the fit's points, rows and bounds (validation/fitting/points.py) are re-exported with this module's own names
__all__ = [
    "DS_PREFIX",
    "FAIL_RESIDUAL",
    "FRACTION_FLOOR",
    "LOWER_IF_OPEN",
    "MIN_MEAN_INPUT_TOKENS",
    "FitPoint",
    "FitRow",
    "as_point",
    "current_values",
    "fit_parameter_names",
    "parameter_bounds",
    "prepare",
    "row_residuals",
    "with_values",
    "F_SCALE",
    "MAX_EVALUATIONS",
    "XTOL",
    "FTOL",
    "SCORE_SERVER_MODEL",
    "FitResult",
    "fit",
    "identified_fit",
    "shipped_anchors",
    "scorer",
    "NothingToFit",
    "not_predicted",
    "CalibrationReport",
    "calibrate",
]

F_SCALE = 0.1  # soft-L1 scale of log residuals: ~10% error
# Residual evaluations least_squares may spend (max_nfev; its Jacobian's forward differences are not counted).
# Measured (tools/calibration/fit_convergence.py --fold all, 2026-12-06): on validation_cases.csv the full fit
# and all 11 folds stop on xtol after 8-14 evaluations, so 60 is a guard, not a stop; a fit that reaches it is
# reported as not converged (CalibrationReport.convergence_text, fit_summary fit_converged / cv_folds_converged).
MAX_EVALUATIONS = 60
# least_squares' stops: log-step 1e-3 (0.1 %), relative cost change 1e-4. inferchip's choice, not a sourced value:
# at 1e-8 both (tools/calibration/fit_convergence.py --shift, 2026-12-06) no parameter moves more than 0.8 % and the
# folds' held-out medians and p90s by about 0.2 points, well inside what the data resolve.
XTOL, FTOL = 1e-3, 1e-4
# The server model that scores a server row, in sample and held out: validate's default ("auto": per
# metric kind, SERVER_MODEL_BY_METRIC; closed loops simulated), so calibrate's figures are validate's.
SCORE_SERVER_MODEL = "auto"


@dataclass
class FitResult:
    calibration: Calibration
    lengths: DatasetLengths
    names: list[str]
    values: list[float]
    rows: int
    cost: float
    iterations: int  # residual evaluations (least_squares' nfev)
    status: int = 1  # least_squares' status: 0 = stopped at max_nfev, 1-4 = a tolerance was met
    message: str = ""
    restarts: int = 0  # least_squares runs restarted from a better compass probe (fitting.search.search)
    probes: int = 0  # residual evaluations the compass probes spent (not in ``iterations``)
    held: dict[str, float] = field(default_factory=dict)  # held by identified_fit: a flat direction's parameter
    held_why: dict[str, str] = field(default_factory=dict)
    directions: list[Direction] = field(default_factory=list)  # at the returned point, flattest first
    log_se: dict[str, float] = field(default_factory=dict)  # each fitted parameter's marginal log standard error

    @property
    def converged(self) -> bool:
        """The optimiser stopped on a tolerance (gtol, ftol or xtol), not on the evaluation limit."""
        return self.status > 0

    def stop_text(self) -> str:
        how = "converged" if self.converged else "stopped at the evaluation limit (not converged)"
        again = f", {self.restarts} restart(s) from a better probe" if self.restarts else ""
        return f"{how} after {self.iterations} residual evaluations{again} (status {self.status}: {self.message})"


def fit(rows: Sequence[FitRow], start: Calibration | FitPoint, names: Sequence[str] | None = None, *,
        max_evaluations: int = MAX_EVALUATIONS, xtol: float = XTOL, ftol: float = FTOL,
        restarts: int = MAX_RESTARTS) -> FitResult:
    """Least-squares fit of ``names`` (default: physical parameters + the data sets of ``rows``), restarted from a
    better compass or flat-direction probe up to ``restarts`` times (:mod:`~inferchip.validation.fitting.search`; 0: one
    run)."""
    start = as_point(start)
    if names is None:
        names = fit_parameter_names(rows)
    names = list(names)
    bounds = [parameter_bounds(n, start) for n in names]
    lo = np.log([b[0] for b in bounds])
    hi = np.log([b[1] for b in bounds])
    x0 = np.clip(np.log(current_values(start, names)), lo + 1e-9, hi - 1e-9)
    ds_cols = [j for j, n in enumerate(names) if n.startswith(DS_PREFIX)]
    ds_of_row = [r.dataset for r in rows]
    cache: dict[bytes, np.ndarray] = {}

    def resid(x: np.ndarray) -> np.ndarray:
        key = x.tobytes()
        if key not in cache:
            if len(cache) > 64:
                cache.clear()
            cache[key] = row_residuals(rows, with_values(start, names, np.exp(x)))
        return cache[key]

    separable = [(j, np.array([d == names[j][len(DS_PREFIX):] for d in ds_of_row])) for j in ds_cols]
    jac = forward_jacobian(resid, hi, separable)
    res = search(resid, jac, x0, lo, hi, f_scale=F_SCALE, max_evaluations=max_evaluations, xtol=xtol, ftol=ftol,
                 separable=separable, restarts=restarts)
    values = [float(v) for v in np.exp(res.x)]
    cal, lengths = with_values(start, names, values)
    return FitResult(cal, lengths, names, values, len(rows), res.cost, res.evaluations, res.status, res.message,
                     res.restarts, res.probes)


def identified_fit(rows: Sequence[FitRow], start: Calibration | FitPoint, names: Sequence[str], *,
                   anchors: Mapping[str, float], max_evaluations: int = MAX_EVALUATIONS) -> FitResult:
    """:func:`fit`, then while a direction is flat (:func:`~inferchip.validation.fitting.search.flat_hold`) hold its
    parameter (at ``anchors``' value if pinned there, else ``start``'s) and fit again from ``start``; the result
    names what it held and why, and carries the identifiability at its point. ``iterations`` counts every fit's
    evaluations; a fit that stopped at ``max_evaluations`` is not a minimum, so nothing is held after it."""
    start, spent = as_point(start), 0
    held: dict[str, float] = {}
    why: dict[str, str] = {}
    while True:
        res = fit(rows, with_values(start, list(held), list(held.values())), [n for n in names if n not in held],
                  max_evaluations=max_evaluations)
        at = FitPoint(res.calibration, res.lengths)

        def resid(y: np.ndarray, at: FitPoint = at, fitted: Sequence[str] = res.names) -> np.ndarray:
            return row_residuals(rows, with_values(at, fitted, np.exp(y)))

        res.directions, res.log_se = identifiability(resid, np.log(current_values(at, res.names)), res.names, F_SCALE)
        spent += res.iterations
        # a fit stopped at its evaluation limit is no minimum: its flatness says nothing (reported as not converged)
        pick = flat_hold(res.directions, [n for n in res.names if not n.startswith(DS_PREFIX)],
                         anchors) if res.converged else None
        if pick is None:
            break
        name, d = pick
        held[name] = float(anchors[name]) if name in anchors else float(current_values(start, [name])[0])
        why[name] = (Calibration.pinned_elsewhere().get(name, "pinned elsewhere") if name in anchors
                     else "held at the start's value") + f"; the fit's flat direction: {d.text()}"
    res.iterations, res.held, res.held_why = spent, held, why
    return res


def shipped_anchors() -> dict[str, float]:
    """The shipped calibration's value of each parameter :meth:`Calibration.pinned_elsewhere` names."""
    from inferchip.catalog.calibration_file import load_calibration
    shipped = load_calibration(None)
    return {n: float(getattr(shipped, n)) for n in Calibration.pinned_elsewhere()}


def scorer(point: FitPoint) -> Validator:
    """The validator that scores rows under ``point``: ``validate``'s server model, both server
    models evaluated (``compare``) so the held-out errors of each are known."""
    return point.validator(server_model=SCORE_SERVER_MODEL, compare=True)


def _fold(args: tuple[list[FitRow], FitPoint, list[str], int, list[Case], dict[str, float] | None]
          ) -> tuple[FitPoint, list[CaseResult], FitResult]:
    """Fit without one accelerator's rows (holding flat directions as the full fit does, unless ``anchors`` is
    None), then predict its ``held`` cases with that fit (and the fit itself, to report whether it converged)."""
    rows, start, names, max_eval, held, anchors = args
    res = (fit(rows, start, names, max_evaluations=max_eval) if anchors is None
           else identified_fit(rows, start, names, anchors=anchors, max_evaluations=max_eval))
    point = FitPoint(res.calibration, res.lengths)
    v = scorer(point)
    return point, [v.predict_case(c) for c in held], res


class NothingToFit(InvalidSettingError):
    """No row of the file could be predicted in the first pass: there is nothing to fit (issue 12: a row
    that cannot be expressed is reported, and a calibration is never written from no data)."""

    def __init__(self, cases: Sequence[Case], results: Sequence[CaseResult]):
        bad = [r for r in results if r.status != "ok"]
        head = (f"; first: {bad[0].case.case_id} (line {bad[0].case.line}): {bad[0].status}: "
                f"{bad[0].reason.splitlines()[0] if bad[0].reason else ''}") if bad else ""
        super().__init__(f"no row to fit: none of the {len(cases)} performance rows could be predicted{head}")


def not_predicted(results: Sequence[CaseResult]) -> list[dict[str, Any]]:
    """Each row ``results`` could not predict: case id, line, status and the reason (first line)."""
    return [{"case_id": r.case.case_id, "line": r.case.line, "status": r.status,
             "reason": r.reason.splitlines()[0] if r.reason else ""} for r in results if r.status != "ok"]


@dataclass
class CalibrationReport:
    fitted: FitResult
    in_sample: list[CaseResult]
    held_out: list[CaseResult]  # each row predicted by the fold that left its accelerator out
    folds: dict[str, FitPoint]
    fold_fits: dict[str, FitResult] | None = None  # each fold's fit (evaluations, status), by held-out accelerator

    def convergence(self) -> dict[str, Any]:
        """Whether the full fit and each fold stopped on a tolerance or on the evaluation limit (and restarts)."""
        ff = self.fold_fits or {}
        return {"full": {"converged": self.fitted.converged, "evaluations": self.fitted.iterations,
                         "status": self.fitted.status, "restarts": self.fitted.restarts},
                "folds": {a: {"converged": f.converged, "evaluations": f.iterations, "status": f.status,
                              "restarts": f.restarts} for a, f in sorted(ff.items())},
                "folds_converged": sum(f.converged for f in ff.values()), "folds_fitted": len(ff)}

    def convergence_text(self) -> str:
        """One line: the full fit's stop, and how many folds converged (naming those that did not)."""
        c = self.convergence()
        line = f"full fit {self.fitted.stop_text()}"
        if c["folds_fitted"]:
            bad = [a for a, f in c["folds"].items() if not f["converged"]]
            evals = [f["evaluations"] for f in c["folds"].values()]
            line += (f"; folds: {c['folds_converged']} of {c['folds_fitted']} converged "
                     f"({min(evals)}-{max(evals)} evaluations)")
            line += f"; stopped at the limit: {', '.join(bad)}" if bad else ""
            moved = [f"{a} ({f['restarts']})" for a, f in c["folds"].items() if f["restarts"]]
            line += f"; restarted from a better probe: {', '.join(moved)}" if moved else ""
        return line

    def summary(self) -> dict[str, Any]:
        cv_by = {}
        for acc in sorted(self.folds):
            cv_by[acc] = error_stats([r for r in self.held_out if r.case.accelerator == acc])
        return {"fitted_parameters": len(self.fitted.names), "rows_used": self.fitted.rows,
                "not_predicted": not_predicted(self.in_sample),
                "parameters": dict(zip(self.fitted.names, self.fitted.values, strict=False)),
                "in_sample": error_stats(self.in_sample), "cross_validated": error_stats(self.held_out),
                "cross_validated_by_accelerator": cv_by, "server_model": SCORE_SERVER_MODEL,
                "server_models_cross_validated": server_models_by_kind(self.held_out),
                "convergence": self.convergence(), "held": self.held()}

    def held(self) -> dict[str, Any]:
        """What the full fit and each fold held (:func:`identified_fit`) and why, with the full fit's identifiability:
        each fitted parameter's log standard error and its flattest direction."""
        ff = self.fold_fits or {}
        flattest = self.fitted.directions[0] if self.fitted.directions else None
        return {"full": {n: {"value": v, "why": self.fitted.held_why[n]} for n, v in self.fitted.held.items()},
                "folds": {a: dict(f.held) for a, f in sorted(ff.items()) if f.held},
                "log_se": dict(self.fitted.log_se),
                "flattest": None if flattest is None else {"text": flattest.text(), "log_se": flattest.log_se,
                                                           "components": flattest.components}}


def calibrate(cases: Sequence[Case], start: Calibration | FitPoint | None = None, *, cross_validate: bool = True,
              workers: int = 2, max_evaluations: int = MAX_EVALUATIONS,
              progress: Callable[[str], None] | None = None,
              parameters: Sequence[str] | None = None, hold_flat: bool = True,
              fold_rule: bool = False) -> CalibrationReport:
    """Fit on all cases, then (optionally) leave-one-accelerator-out cross-validation.

    Energy rows (power, tokens per joule) are left out: the calibration holds performance
    parameters only; the few power parameters are fitted apart (:mod:`inferchip.validation.energy.power_fit`).
    ``parameters``: the physical parameters to fit (default :meth:`Calibration.physical_parameter_names`);
    the others keep ``start``'s values (``tools/calibration/calibration_variants.py`` tries variants this way).
    ``hold_flat``: hold a flat direction's parameter (:func:`identified_fit`) in the full fit; every fold then fits
    the parameters the full fit fits, with its held values (``fold_rule``: each fold applies the rule to its own
    rows instead; measured in stop 41, ``calib41``: folds without an accelerator's rows hold parameters only that
    accelerator pins at their unsourced defaults, e.g. the B200 fold's decode attention at 0.55)."""
    cases = [c for c in cases if c.energy_scope is None]
    start = as_point(start)
    say = progress or (lambda _msg: None)
    say("first pass (layouts, mapped models)")
    rows, first = prepare(cases, start)
    if not rows:
        raise NothingToFit(cases, first)
    names = fit_parameter_names(rows) if parameters is None else fit_parameter_names(rows, parameters)
    say(f"fitting {len(names)} parameters on {len(rows)} rows")
    anchors = shipped_anchors() if hold_flat else None
    full = (identified_fit(rows, start, names, anchors=anchors, max_evaluations=max_evaluations) if anchors is not None
            else fit(rows, start, names, max_evaluations=max_evaluations))
    for n, why in full.held_why.items():
        say(f"held {n} = {full.held[n]:.4g}: {why}")
    # the parameters the fit moved (``full.names``): those held on a flat direction are named under held:, and the
    # count was of both (8 where calibrate's table said 4 were fitted)
    summary = dict(fitted_parameters=float(len(full.names)), rows_used=float(len(rows)))
    v = scorer(FitPoint(full.calibration, full.lengths))
    in_sample = [v.predict_case(c) for c in cases]
    folds: dict[str, FitPoint] = {}
    fold_fits: dict[str, FitResult] = {}
    held_out: list[CaseResult] = []
    if cross_validate:
        accs = sorted({c.accelerator for c in cases})
        fold_start = with_values(start, list(full.held), list(full.held.values()))
        fold_names = [n for n in names if n not in full.held]
        jobs = [([r for r in rows if r.case.accelerator != a], fold_start, fold_names, max_evaluations,
                 [c for c in cases if c.accelerator == a], anchors if fold_rule else None) for a in accs]
        say(f"leave-one-accelerator-out: {len(accs)} folds on {workers} worker(s)")
        bare = [a for a, j in zip(accs, jobs, strict=True) if not j[0]]
        if bare:  # such a fold fits nothing: its "held-out" errors were printed as if a fit had made them
            say(f"no row of another accelerator to fit the fold of {', '.join(bare)} on: its held-out errors are "
                "the start point's (the shipped calibration, or --start), not a fit's; add rows of other "
                "accelerators for a held-out figure")
        if workers > 1:
            with stopping_pool(ProcessPoolExecutor(max_workers=workers)) as pool:  # Ctrl-C/SIGTERM: stop at once
                fold_out = list(pool.map(_fold, jobs))
        else:
            fold_out = [_fold(j) for j in jobs]
        by_case = {}
        for a, (fc, predicted, fr) in zip(accs, fold_out, strict=True):
            folds[a], fold_fits[a] = fc, fr
            by_case.update({r.case.case_id: r for r in predicted})
        held_out = [by_case[c.case_id] for c in cases]
    ins, cv = error_stats(in_sample), error_stats(held_out) if held_out else {}
    for key, st in (("in_sample", ins), ("cv", cv)):
        for stat in ("median_ape", "p90_ape"):
            if (figure := st.get(stat)) is not None:
                summary[f"{key}_{stat}"] = round(float(figure), 2)
    summary.update({f"held:{n}": v for n, v in full.held.items()})
    summary.update({f"log_se:{n}": round(v, 3) for n, v in full.log_se.items() if math.isfinite(v)})
    summary.update(fit_converged=float(full.converged), fit_evaluations=float(full.iterations),
                   max_evaluations=float(max_evaluations))
    if cross_validate:  # the folds' stops: 1-2 point moves of a held-out figure may be a fold stopped early
        summary.update(cv_folds=float(len(fold_fits)), cv_folds_converged=float(sum(f.converged for f in
                                                                                      fold_fits.values())))
    fitted_cal = full.calibration.model_copy(update={"fit_summary": summary, "fitted": True})
    full.calibration = fitted_cal
    return CalibrationReport(full, in_sample, held_out, folds, fold_fits)
