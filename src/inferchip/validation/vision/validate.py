"""``inferchip validate`` for vision rows: per-case predictions, leave-one-accelerator-out errors per scenario,
and MLPerf latency-bound pass/fail.

Every row gets a result: ``ok`` with its prediction, or ``unexpressible`` with the reason (unknown chip or
network, a metric without a form). In-sample predictions use the given calibration; the LOAO prediction
of a row uses parameters fitted on the calibration rows of every other accelerator.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from inferchip.cost.vision.host import query_host_s
from inferchip.errors import InferchipError, InvalidSettingError
from inferchip.performance import vision_scenarios as vs
from inferchip.sim.vision.queue import service_table
from inferchip.spec.vision import VisionCalibration
from inferchip.validation.vision.cases import VisionCase
from inferchip.validation.vision.fit import NAMES, fit, is_calibration_row, leave_one_accelerator_out
from inferchip.validation.vision.forked import fork_map
from inferchip.validation.vision.passfail import offline_matches, predicted_offline_per_s
from inferchip.validation.vision.rows import Params, RowModel, Unexpressible, build_row, predict_row
from inferchip.validation.vision.waited import waited_query

SIM_QUERIES = 4000  # Poisson arrivals of the short run that brackets a Server search (seeded)
SERVER_QUERIES = 100_000
"""Poisson arrivals of the run whose p99 decides a Server row (seeded: the same figures every run). A queue that
starts empty needs many service times to settle near capacity, and the 4,000 arrivals used before cover few calls
at the rates of a pooled system (8x H100 ResNet-50 at ~600 k samples/s: 7 ms, about two 256-sample calls per
GPU); M/D/1 at utilisation 0.9 (1 ms) shows a mean wait 17 % and a p99 27 % short of the 100,000-arrival run's.
The capacity the bound allows, searched with 4,000 / 20,000 / 100,000 / 270,336 arrivals (the last an MLPerf
Server run's minimum, :data:`vision_scenarios.SERVER_MIN_QUERIES`), agrees within ~0.5 % from 100,000 on and lies
3-9 % higher with 4,000 on rows whose stated batch does not bind first (docs/vision.md, vision-passfail2 stop 22)."""
SIM_MAX_BATCH = 512  # largest dynamic batch the server simulation tries when the row states none


POOLED_QUEUE_SOURCE = ("NVIDIA's MLPerf LWIS harness (closed/NVIDIA/code/harness/lwis/src/lwis.cpp, inference results "
                       "v4.x-v5.1): Server::IssueQuery puts every sample into one work queue, and the batcher hands "
                       "each batch to the next device with a free stream")
"""Why the Server simulation pools a system's accelerators behind one queue (devices = the row's accelerators,
arrivals at the system's rate) rather than giving each an independent Poisson share of the load: near capacity
a pooled queue waits far less (M/G/n against n x M/G/1)."""


def service_fn(row: RowModel, p: Params, *, pipelined: bool) -> Callable[[np.ndarray], np.ndarray]:
    """Seconds per call of b frames on one chip, interpolated on the row's batch grid: with ``pipelined`` the
    time per call under load (input copies overlapped), else one call of a latency-scenario query (the host's
    staging of its b samples, :func:`query_host_s`, then its copy and its compute)."""
    if pipelined:
        t = row.pipelined_s(p)
        return lambda b: np.interp(np.asarray(b, dtype=float), row.batches, t)
    t = row.query_s(p)
    return lambda b: np.interp(np.asarray(b, dtype=float), row.batches, t) + query_host_s(b, p.sample_host_s)


CALLS_IN_FLIGHT = 2
"""Calls a Server harness keeps in flight per accelerator, the same two that the time per call under load
(:meth:`RowModel.pipelined_s`: one call's memory phases under another's compute, the next copy under this
compute) already assumes. NVIDIA's LWIS Server configs issue each batch on one of ``gpu_copy_streams`` streams
(2 for ResNet-50 in the C245M8 2x H100 NVL config read for docs/vision.md)."""


def loaded_servers(row: RowModel, p: Params) -> tuple[Callable[[np.ndarray], np.ndarray], int]:
    """The Server simulation's servers: each accelerator holds :data:`CALLS_IN_FLIGHT` calls side by side, and
    by Little's law a call that shares its accelerator with the others stays CALLS_IN_FLIGHT x the time per call
    under load (the accelerator still completes one call per time per call, so the capacity is unchanged). The
    simulation therefore runs accelerators x CALLS_IN_FLIGHT servers, each taking CALLS_IN_FLIGHT x
    ``pipelined_s`` per call. A dataflow chip (:mod:`inferchip.cost.vision.dataflow`) is one pipeline: one server
    per accelerator whose entry takes a sample every interval I; the rest of its passage is
    :meth:`RowModel.after_entry_s`. Where the row's harness runs its calls on concurrent inference streams
    (:func:`inferchip.validation.vision.rows.inference_streams`), ``pipelined_s`` already charges each call its
    share of the waves the calls' tiles fill together, not a call's own padded waves.
    A chip that runs several activations of a partial-chip program (:mod:`inferchip.validation.vision.programs`)
    holds that many times the servers, each at one activation's time per call.
    Returns (service time per batch, servers)."""
    k = 1 if row.cpu or row.dataflow else CALLS_IN_FLIGHT
    t = row.pipelined_s(p) * k
    servers = row.case.num_accelerators * k * row.programs
    return (lambda b: np.interp(np.asarray(b, dtype=float), row.batches, t)), servers


def server_cap(row: RowModel) -> int:
    if row.dataflow:  # a pipeline admits one sample per interval: no batching
        return 1
    return int(min(row.case.batch or SIM_MAX_BATCH, row.batches[-1]))


TUNED_BATCH_SOURCE = ("MLPerf Inference rules let a submitter choose the Server batching; NVIDIA's LWIS configs "
                      "set gpu_batch_size per system and scenario (closed/NVIDIA/configs/<network>/Server, "
                      "v4.1-v5.1: RetinaNet 16 on H100 SXM / H200 x1, 8 on their x8 defaults, 2 on L4; ResNet-50 "
                      "256 on H100 SXM x1 / GH200)")


def server_caps(row: RowModel) -> tuple[int, ...]:
    """The Server batch caps the row may have run: its stated batch; one sample on a dataflow chip; for a row
    that states none, every batch of its grid up to :data:`SIM_MAX_BATCH`, since the submitter tuned one
    (:data:`TUNED_BATCH_SOURCE`) and the model's own choice is the best of them, as an Offline row without a batch
    takes the model's best batch."""
    if row.dataflow or row.case.batch:
        return (server_cap(row),)
    return tuple(int(b) for b in row.batches if b <= SIM_MAX_BATCH)


def _capacity_per_s(row: RowModel, p: Params, cap: int) -> float:
    service, servers = loaded_servers(row, p)
    return vs.server_capacity_per_s(service_table(service, cap), servers)


def tuned_cap(row: RowModel, p: Params, bound_s: float) -> tuple[int, float]:
    """The batch cap a submitter would tune the row's Server run to, and its passing rate in a short run
    (:data:`SIM_QUERIES`): of the candidate caps (:func:`server_caps`), the one whose simulated p99 meets
    ``bound_s`` at the highest rate; a cap whose throughput cannot beat the best found is skipped."""
    service, servers = loaded_servers(row, p)
    caps = sorted(server_caps(row), key=lambda c: -_capacity_per_s(row, p, c))
    best: tuple[int, float] | None = None
    for cap in caps:
        if best is not None and _capacity_per_s(row, p, cap) <= best[1]:
            break
        r = vs.server(service, latency_bound_s=bound_s, max_batch=cap, devices=servers, queries=SIM_QUERIES)
        if best is None or r.samples_per_s > best[1]:
            best = (cap, r.samples_per_s)
    if best is None:
        raise InvalidSettingError(f"vision case {row.case.case_id}: no batch <= {SIM_MAX_BATCH} in {row.batches}")
    return best


def _bound_ms(row: RowModel) -> float:
    """The row's Server p99 bound (ms); InvalidSettingError naming the case where its notes state none."""
    if (bound := row.case.latency_bound_ms)[0] is None:
        raise InvalidSettingError(f"vision case {row.case.case_id} (line {row.case.line}): no p99 bound: {bound[1]}")
    return float(bound[0])


def _server_at_rate(row: RowModel, p: Params, rate_per_s: float, bound_s: float) -> tuple[float, bool]:
    """Simulated p99 (ms) at a total rate and whether it meets ``bound_s``, with the pipeline's constant passage
    after entry (:meth:`RowModel.after_entry_s`) added to every sample; a row without a stated batch runs the
    cap its Server run is tuned to (:func:`tuned_cap`), whatever the load asked about."""
    service, servers = loaded_servers(row, p)
    extra = row.after_entry_s(p)
    if extra >= bound_s:
        return math.inf, False
    caps = server_caps(row)
    cap = caps[0] if len(caps) == 1 else tuned_cap(row, p, bound_s - extra)[0]
    r = vs.server_at_rate(service, rate_per_s=rate_per_s, latency_bound_s=bound_s - extra,
                          max_batch=cap, devices=servers, queries=SERVER_QUERIES)
    return r.value + extra * 1e3, bool(r.passed)


def server_capacity_per_s(row: RowModel, p: Params) -> float:
    """The highest total rate (samples/s) whose simulated p99 meets the row's bound: the long run
    (:data:`SERVER_QUERIES`) at the tuned cap (:func:`tuned_cap`), its search started at the short run's answer."""
    service, servers = loaded_servers(row, p)
    bound_s = _bound_ms(row) / 1e3 - row.after_entry_s(p)
    if bound_s <= 0:
        return 0.0
    cap, short = tuned_cap(row, p, bound_s)
    r = vs.server(service, latency_bound_s=bound_s, max_batch=cap, devices=servers, queries=SERVER_QUERIES,
                  rate_hint_per_s=short)
    return r.samples_per_s


def p99_at_load_ms(row: RowModel, p: Params) -> tuple[float, bool] | None:
    """A Server row's simulated p99 latency (ms) at its measured load, and whether it meets the row's bound.

    The system's accelerators serve one pooled queue (:data:`POOLED_QUEUE_SOURCE`); a load at or above the
    predicted capacity is a miss (inf) however short the simulation (:func:`vision_scenarios.server_at_rate`)."""
    c = row.case
    bound = c.latency_bound_ms[0]
    if bound is None or c.metric != "samples_per_s" or c.scenario != "server":
        return None
    return _server_at_rate(row, p, c.value * row.frames(p), bound / 1e3)


def p99_at_fraction_ms(row: RowModel, p: Params, rate_per_s: float) -> tuple[float, bool]:
    """A Server row's simulated p99 latency (ms) at a stated load (samples/s of the system) and whether it meets
    the row's bound; the same pooled queue and batching as :func:`p99_at_load_ms`."""
    return _server_at_rate(row, p, rate_per_s * row.frames(p), _bound_ms(row) / 1e3)


def simulated(row: RowModel, p: Params) -> float | None:
    """The row's metric from the scenario simulator (:mod:`inferchip.performance.vision_scenarios`) for
    Server (Poisson arrivals at the system's rate, one queue pooled over its accelerators, dynamic batching) and
    MultiStream rows; None for the other scenarios."""
    c = row.case
    frames = row.frames(p)
    if c.metric == "samples_per_s" and c.scenario == "server" and c.latency_bound_ms[0] is not None:
        return server_capacity_per_s(row, p) / frames
    if c.scenario == "constant_stream" and c.metric.startswith("latency_") and c.stream_rate_per_s:
        q = {"latency_p90_ms": 90.0, "latency_p99_ms": 99.0}.get(c.metric, 99.9)
        r = vs.constant_stream(service_fn(row, p, pipelined=False), rate_per_s=c.stream_rate_per_s / c.num_accelerators,
                               percentile=q, queries=2000)
        return r.value
    if c.scenario == "multi_stream" and c.metric.startswith("latency_"):
        r = vs.multi_stream(service_fn(row, p, pipelined=False), devices=c.num_accelerators, queries=64,
                            dispatch_s=row.dispatch_s, stage_s=p.sample_host_s, max_batch=int(row.batches[-1]))
        return r.value
    return None


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
