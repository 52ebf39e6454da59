"""``inferchip validate`` for vision rows: per-case predictions, leave-one-accelerator-out errors per scenario,
and MLPerf latency-bound pass/fail.

Every row gets a result: ``ok`` with its prediction, or ``unexpressible`` with the reason (unknown chip or
network, a metric without a form). In-sample predictions use the given calibration; the LOAO prediction
of a row uses parameters fitted on the calibration rows of every other accelerator.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from inferchip.errors import InferchipError
from inferchip.spec.vision import VisionCalibration
from inferchip.validation.vision.cases import VisionCase
from inferchip.validation.vision.fit import NAMES, fit, is_calibration_row, leave_one_accelerator_out
from inferchip.validation.vision.forked import fork_map
from inferchip.validation.vision.passfail import offline_matches, predicted_offline_per_s
from inferchip.validation.vision.predict import predict_row
from inferchip.validation.vision.rows import Params, RowModel, Unexpressible, build_row
from inferchip.validation.vision.scenario_sim import p99_at_fraction_ms, p99_at_load_ms, simulated
from inferchip.validation.vision.waited import waited_query


@dataclass
class VisionResult:
    case: VisionCase
    status: str  # "ok" | "unexpressible"
    reason: str = ""
    predicted: float | None = None
    loao_predicted: float | None = None
    calibration_row: bool = False
    point: dict[str, float] = field(default_factory=dict)
    bound_ms: float | None = None
    bound_source: str = ""
    analytic: float | None = None
    loao_analytic: float | None = None
    predicted_max_load: float | None = None
    p99_at_load_ms: float | None = None
    bound_met_at_load: bool | None = None
    offline_match: str = ""  # how the Server row's Offline counterpart was found (validation/vision/passfail.py)
    operating_fraction: float | None = None  # measured load / the system's measured Offline rate (rho)
    max_passing_fraction: float | None = None  # predicted Server capacity / predicted Offline rate (rho*)
    p99_at_operating_point_ms: float | None = None
    bound_met_at_operating_point: bool | None = None
    flag: str = ""  # the measurement contradicts the row's own setting (waited.py); the row stays in every figure

    @staticmethod
    def _err(pred: float | None, meas: float) -> float | None:
        return None if pred is None else (pred / meas - 1.0) * 100.0

    @property
    def error_pct(self) -> float | None:
        return self._err(self.predicted, self.case.value)

    @property
    def loao_error_pct(self) -> float | None:
        return self._err(self.loao_predicted, self.case.value)

    @property
    def limit_pass(self) -> bool | None:
        """Predicted pass of the row's latency bound at its measured load (every published run passed): the
        simulated p99 latency with Poisson arrivals at the row's own QPS (LOAO parameters where the row has them)
        is within the bound."""
        return self.bound_met_at_load

    def to_dict(self) -> dict[str, Any]:
        c = self.case
        return {"case_id": c.case_id, "accelerator": c.accelerator, "num_accelerators": c.num_accelerators,
                "model": c.model, "scenario": c.scenario, "metric": c.metric, "unit": c.unit,
                "precision": c.precision, "measured": c.value, "predicted": self.predicted,
                "signed_error_pct": self.error_pct, "loao_predicted": self.loao_predicted,
                "loao_signed_error_pct": self.loao_error_pct, "status": self.status, "reason": self.reason,
                "calibration_row": self.calibration_row, "operating_point": self.point,
                "analytic_predicted": self.analytic, "loao_analytic_predicted": self.loao_analytic,
                "latency_bound_ms": self.bound_ms, "latency_bound_source": self.bound_source,
                "limit_pass": self.limit_pass, "p99_at_load_ms": self.p99_at_load_ms,
                "predicted_max_load": self.predicted_max_load, "offline_match": self.offline_match,
                "operating_fraction": self.operating_fraction, "max_passing_fraction": self.max_passing_fraction,
                "p99_at_operating_point_ms": self.p99_at_operating_point_ms,
                "bound_met_at_operating_point": self.bound_met_at_operating_point, "flag": self.flag}


def params_of(cal: VisionCalibration) -> Params:
    return Params(cal.matrix_fraction, cal.cpu_matrix_fraction, cal.windows_per_volume,
                  cpu_vector_fraction=cal.cpu_vector_fraction, memory_bandwidth_fraction=cal.memory_bandwidth_fraction,
                  windows_p90_ratio=cal.windows_p90_ratio, cpu_feed_columns=cal.cpu_feed_columns,
                  sample_host_s=cal.sample_host_s)


def fit_reference(cal: VisionCalibration) -> VisionCalibration:
    """``cal`` with the fitted parameters at the spec's stated estimates: the point the fit's row models are
    built at, so that rounding in their rescaling (rows.py ``latency_s``) does not carry the shipped values
    into a fit whose starts are fixed (fit.py :data:`STARTS`)."""
    stated = VisionCalibration()
    return cal.model_copy(update={n: getattr(stated, n) for n in NAMES if n != "memory_bandwidth_fraction"})


def _models(cases: Sequence[VisionCase], cal: VisionCalibration) -> tuple[list[VisionResult], list[RowModel]]:
    results, models = [], []
    for c in cases:
        try:
            m = build_row(c, cal)
        except Unexpressible as exc:
            results.append(VisionResult(c, "unexpressible", str(exc)))
            continue
        models.append(m)
        results.append(VisionResult(c, "ok", calibration_row=is_calibration_row(m)))
    return results, models


def validate_vision(cases: Sequence[VisionCase], cal: VisionCalibration, *, loao: bool = True,
                    simulate: bool = True, workers: int = 1,
                    progress: Callable[[str], None] | None = None) -> list[VisionResult]:
    """Predict every row; with ``loao`` also its leave-one-accelerator-out prediction. With ``simulate``,
    Server and MultiStream rows are predicted by the scenario simulator (the analytic form is kept beside
    it and is what the fit uses). ``progress`` hears each stage as it starts (a long run is not silent)."""
    say = progress or (lambda _m: None)
    say(f"vision rows: costing {len(cases):,} rows")
    results, models = _models(cases, cal)
    for r in results:
        r.flag = waited_query(r.case, cases)
    by_id = {r.case.case_id: r for r in results}
    shipped = params_of(cal)
    held: dict[str, Params] = {}
    if loao:
        fit_models = _models(cases, fit_reference(cal))[1]
        calib = [m for m in fit_models if is_calibration_row(m)]
        say(f"vision rows: fitting the parameters without each of {len({m.case.accelerator for m in models}):,} "
            f"accelerators (leave one out) on {len(calib):,} calibration rows")
        for acc, (p, _) in leave_one_accelerator_out(fit_models, calib, shipped, workers=workers).items():
            held[acc] = p

    def job(k: int) -> dict[str, Any]:
        return _row_prediction(models[k], shipped, held.get(models[k].case.accelerator), simulate=simulate)

    say(f"vision rows: predicting {len(models):,} rows" + (" (scenario simulator)" if simulate else ""))
    for m, out in zip(models, fork_map(job, len(models), workers), strict=True):
        r = by_id[m.case.case_id]
        for name, value in out.items():
            if name != "error":
                setattr(r, name, value)
        if "error" in out:  # a service time the simulator refuses (not finite)
            r.status, r.reason = "unexpressible", f"no prediction: {out['error']}"
    if simulate:
        say("vision rows: operating points of the Server and MultiStream rows")
        _operating_points(results, models, held, shipped, workers=workers)
    return results


def _row_prediction(m: RowModel, shipped: Params, held: Params | None, *, simulate: bool) -> dict[str, Any]:
    """One row's predictions (in-sample, LOAO where ``held`` is given) and, for a Server row with a bound, its
    simulated p99 at its measured load: the :class:`VisionResult` fields by name, or ``error``."""
    out: dict[str, Any] = {}
    try:
        out["analytic"], out["point"] = predict_row(m, shipped)
        sim = simulated(m, shipped) if simulate else None
        out["predicted"] = out["analytic"] if sim is None else sim
        if held is not None:
            out["loao_analytic"] = predict_row(m, held)[0]
            sim = simulated(m, held) if simulate else None
            out["loao_predicted"] = out["loao_analytic"] if sim is None else sim
    except InferchipError as exc:
        return {**out, "error": str(exc)}
    bound, src = m.case.latency_bound_ms
    out["bound_ms"], out["bound_source"] = bound, src
    if bound is not None and m.case.metric == "samples_per_s" and m.case.scenario == "server":
        out["predicted_max_load"] = out.get("loao_predicted", out["predicted"])
        at_load = p99_at_load_ms(m, held or shipped) if simulate else None
        if at_load is not None:
            out["p99_at_load_ms"], out["bound_met_at_load"] = at_load
    return out


def _operating_points(results: Sequence[VisionResult], models: Sequence[RowModel], held: dict[str, Params],
                      shipped: Params, *, workers: int = 1) -> None:
    """Pass/fail of each Server row at the submitter's operating point (:mod:`.passfail`): the simulated p99 at
    the row's measured fraction of its system's Offline rate, applied to the predicted Offline rate (LOAO where
    the row has it), against the bound."""
    by_id = {r.case.case_id: r for r in results}
    predicted = {r.case.case_id: (r.loao_predicted if r.loao_predicted is not None else r.predicted)
                 for r in results}
    matches = offline_matches([r.case for r in results])
    jobs: list[tuple[RowModel, VisionResult, float]] = []
    for m in models:
        r = by_id[m.case.case_id]
        match = matches.get(m.case.case_id)
        if match is None or r.predicted_max_load is None:
            continue
        offline = predicted_offline_per_s(match, predicted)
        if offline is None or offline <= 0:
            continue
        r.offline_match = f"{match.how}: {', '.join(match.case_ids)}"
        r.operating_fraction = match.fraction(m.case.value)
        r.max_passing_fraction = r.predicted_max_load / offline
        jobs.append((m, r, r.operating_fraction * offline))

    def job(k: int) -> tuple[float, bool] | None:
        m, _, rate = jobs[k]
        try:
            return p99_at_fraction_ms(m, held.get(m.case.accelerator, shipped), rate)
        except InferchipError:
            return None

    for (_, r, _), at in zip(jobs, fork_map(job, len(jobs), workers), strict=True):
        if at is None:
            r.offline_match, r.operating_fraction, r.max_passing_fraction = "", None, None
        else:
            r.p99_at_operating_point_ms, r.bound_met_at_operating_point = at


def calibrate_vision(cases: Sequence[VisionCase], start: VisionCalibration) -> tuple[VisionCalibration, int]:
    """The calibration fitted on the calibration rows of ``cases`` (and how many rows it used)."""
    _, models = _models(cases, fit_reference(start))
    calib = [m for m in models if is_calibration_row(m)]
    f = fit(calib, params_of(start))
    p = f.params
    update: dict[str, Any] = {n: getattr(p, n) for n in NAMES}
    return start.model_copy(update={**update, "fitted": True}), f.rows
