"""One case's prediction: :class:`Validator` predicts a published measurement in its own setting (the row's layout,
or ``predict``'s choice among those it allows, the analytic model or the serving simulator, an energy row's power),
caching chips, models, settings, mapped models and simulations across rows; :func:`evaluate_fixed` is the
calibration's fast path on a fixed layout. :mod:`inferchip.validation.validate` runs it over case files and says how
each row is predicted."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from inferchip.catalog.engines import default_gemm_calibration
from inferchip.errors import OPTIONS, InferchipError, InvalidSettingError, spelled
from inferchip.mapping.layout import Layout
from inferchip.mapping.memory_fit import Formats
from inferchip.performance.layout_choice import choose_layout
from inferchip.performance.mapped import DEFAULT_CHUNK_TOKENS, MappedModel
from inferchip.performance.setting import Setting, resolve_setting
from inferchip.spec.calibration import Calibration, DatasetLengths
from inferchip.spec.chip import ChipParams
from inferchip.spec.model import ModelSpec
from inferchip.validation.cache_keys import PlanKey, ReplicaKey, SettingKey, SimKey
from inferchip.validation.case_notes import measured_stall_s, stated_load_per_s
from inferchip.validation.cases import Case
from inferchip.validation.closed_loop_facts import check_row
from inferchip.validation.plan import (
    OperatingPoint,
    Plan,
    _needs_ttft,
    case_formats,
    is_closed_loop,
    metric_value,
    offline_by_use,
    operating_point,
    plan_for,
    run_plan,
    uses_simulator,
)
from inferchip.validation.results import CaseResult, error_result, error_text, in_row_terms
from inferchip.validation.server import (
    ReplicaSim,
    SimOutcome,
    reads_at_edge,
    sim_metric_value,
    simulate_row,
    stated_requests,
)
from inferchip.validation.server_choice import SERVER_CHOICES, server_model_for
from inferchip.validation.stated_engine import (
    batcher_ttft_point,
    kv_free_mapped,
    stated_batch,
    stated_kv_free_fraction,
    stated_scheduling,
)

if TYPE_CHECKING:
    from inferchip.catalog.models import UserConfig


class Validator:
    """Predicts cases under one calibration, caching chips, models, mapped models and settings.

    ``server_model``: "analytic" (default: the fast model ``calibrate`` fits), "sim", or "auto"
    (per metric kind, ``SERVER_MODEL_BY_METRIC``); ``compare``: also evaluate the other server
    model on server rows, into ``by_model``."""

    def __init__(self, cal: Calibration, *, lengths: DatasetLengths | None = None, coarse: bool = False,
                 server_model: str = "analytic", compare: bool = False, assumptions: str | None = None,
                 engine: str | None = None):
        if server_model not in SERVER_CHOICES:
            raise InvalidSettingError(f"server model {server_model!r}: allowed: {', '.join(SERVER_CHOICES)}")
        self.cal = cal
        self.lengths = lengths or DatasetLengths()  # MLPerf mean input lengths (None: the defaults)
        self.coarse = coarse
        self.server_model = server_model
        self.compare = compare
        self.assumptions = assumptions  # energy/host constants file for energy rows (None: the bundled one)
        self._chips: dict[str, ChipParams] = {}
        self._models: dict[str, ModelSpec] = {}
        self._configs: dict[str, UserConfig | None] = {}  # give_model: serve's --model as it was read, once
        self._resolved: dict[SettingKey, Setting] = {}
        self._settings: dict[PlanKey, tuple[Layout, OperatingPoint]] = {}
        self._sims: dict[ReplicaKey, ReplicaSim] = {}
        self._outcomes: dict[SimKey, SimOutcome] = {}
        self.engine = engine  # --engine: overrides the rows' software column (None: read it)
        self.closed_loop_cache: dict[str, Any] = {}  # see validation.closed_loop_rows

    def chip(self, chip_id: str) -> ChipParams:
        if chip_id not in self._chips:
            from inferchip.catalog.chips import get_chip_params

            self._chips[chip_id] = get_chip_params(chip_id, "central")
        return self._chips[chip_id]

    def model(self, model_id: str) -> ModelSpec:
        if model_id not in self._models:
            from inferchip.catalog.models import load_model

            self._models[model_id] = load_model(model_id)
        return self._models[model_id]

    def give_model(self, name: str, spec: ModelSpec, config: UserConfig | None) -> None:
        self._models[name], self._configs[name] = spec, config

    def setting(self, case: Case, fmt: Formats) -> Setting:
        """The row's setting: chip, model, formats, calibration, the layouts its tp/pp/ep allow (``within=True``)."""
        key = SettingKey.of(case, fmt, self.engine)
        if key not in self._resolved:
            ms, cp = self.model(case.model), self.chip(case.accelerator)
            cal = default_gemm_calibration(self.cal, cp.family) if key.no_engine else self.cal  # predict's rule
            try:  # a refusal of the row's tp/pp/ep names its line and columns, not the CLI's options (in_row_terms
                with spelled(OPTIONS):  # reads them in the options' spelling, whichever interface runs the rows)
                    self._resolved[key] = resolve_setting(
                        cp, ms, count=case.num_accelerators, weights=fmt.weights, activations=fmt.activations,
                        kv=fmt.kv, tp=case.tp, pp=case.pp, ep=case.ep, calibration=cal, within=True,
                        attention_weights=fmt.attention_weights, attention_out_weights=fmt.attention_out_weights,
                        chunk_tokens=DEFAULT_CHUNK_TOKENS,  # the rows' stated chunk
                        padding=None)  # unpadded: the module's docstring
            except InferchipError as exc:
                raise in_row_terms(case, exc) from None
        return self._resolved[key]

    def mapped(self, case: Case, layout: Layout, fmt: Formats) -> MappedModel:
        return self.setting(case, fmt).mapped(layout)

    def predict_energy(self, case: Case) -> CaseResult:
        """An energy row: predicted power or tokens per joule in the row's setting and scope."""
        from inferchip.validation.energy.rows import predict_energy_row

        row_notes: list[str] = []
        value, reason = predict_energy_row(case.to_row(), self.cal, self.assumptions, self.lengths, row_notes)
        if value is None:
            return CaseResult(case, "not_predictable", reason or "no prediction")
        what = "wall power = boards + host model" if case.energy_scope == "wall" else "board power (accelerators only)"
        return CaseResult(case, "ok", "", value, notes=row_notes + [
            f"energy row, {case.energy_scope} scope: {what}; energy constants from "
            f"{self.assumptions or 'catalog/assumptions.yaml'} (busy power fraction and host J per request fitted on "
            "the energy rows, tools/energy/fit_power.py); throughput predicted too"])

    def predict_case(self, case: Case) -> CaseResult:
        try:  # one check of the row's engine (and closed-loop facts), whichever model predicts it
            check_row(case, self.engine, is_closed_loop(case))
        except InferchipError as exc:
            return error_result(case, exc)
        if case.energy_scope is not None:
            return self.predict_energy(case)
        if self.server_model in ("sim", "auto") and is_closed_loop(case):
            return self._closed_loop(case)
        return self._predict(case)

    def _closed_loop(self, case: Case) -> CaseResult:
        """A closed-loop row by the simulated benchmark (:mod:`inferchip.validation.closed_loop`); with
        ``compare`` the analytic model's value alongside."""
        from inferchip.validation.closed_loop_rows import predict_closed_loop

        res = predict_closed_loop(self, case, lambda c: case_formats(c, self._configs.get(c.model)))
        if self.compare and res.status == "ok":
            other = self._predict(case)
            res.by_model["analytic"] = other.predicted
            res.notes.append(f"analytic model: {error_text(other.predicted, case.value)}")
        stall_s = measured_stall_s(case)
        if stall_s is not None:
            res.notes.append(f"measured run stalled: its p99 TTFT exceeds its median by {stall_s:.1f} s (a one-off "
                             "wait that no steady-state model predicts; the row is kept in every figure)")
        return res

    def _predict(self, case: Case) -> CaseResult:
        outcome, sim_error, simulated = None, None, False
        try:
            fmt, fmt_notes = case_formats(case, self._configs.get(case.model))
            plan = plan_for(case, self.lengths)
            key = PlanKey(SettingKey.of(case, fmt, self.engine), plan)
            if key not in self._settings:
                # one run, one layout: every metric row of a run (its throughput, and its TTFT/TPOT
                # measured at a stated load) is evaluated on the layout of the run's own plan
                run = run_plan(plan)
                rkey = replace(key, plan=run)
                if rkey not in self._settings:
                    self._settings[rkey] = self._search(case, run, fmt)
                layout, run_point = self._settings[rkey]
                self._settings[key] = (layout, run_point if plan.mode != "open_loop" else operating_point(
                    self.mapped(case, layout, fmt), plan, layout.replicas, coarse=self.coarse,
                    need_ttft=_needs_ttft(case)))
            layout, point = self._settings[key]
            if _needs_ttft(case) and math.isnan(point.ttft_s):
                point = operating_point(self.mapped(case, layout, fmt), plan, layout.replicas, coarse=self.coarse)
                self._settings[key] = (layout, point)
            sim_row, offline = uses_simulator(case, plan), offline_by_use(case, plan)
            chosen = server_model_for(case.metric, self.server_model, offline)
            simulated = sim_row and (chosen == "sim" or self.compare)
            if simulated:
                try:
                    outcome = self._simulate(case, plan, fmt, layout, point, key)
                except InferchipError as exc:
                    if chosen == "sim":
                        raise
                    sim_error = str(exc).splitlines()[0]
        except InferchipError as exc:
            return error_result(case, exc)
        analytic = metric_value(case, plan, _behind_batcher(case, plan, point, self.mapped(case, layout, fmt))
                                if case.metric == "ttft_ms" else point, layout)
        notes = fmt_notes + [n for n in self.setting(case, fmt).format_notes if n not in fmt_notes] + list(plan.notes)
        model = chosen if sim_row else None
        sim_value = None if outcome is None else sim_metric_value(case, plan, outcome, layout)
        by_model: dict[str, float | None] = ({"sim": sim_value, "analytic": analytic}  # both server models evaluated
                                             if simulated and not offline else {})  # Offline rows: no server rows
        if model == "sim" and outcome is not None:
            value, point = sim_value, outcome.point()
            notes += outcome.notes
            if self.compare:
                notes.append(f"analytic model: {error_text(analytic, case.value)}")
        else:
            value = analytic
            if model == "analytic":
                notes.append("server model: analytic")
            notes += list(plan.analytic_notes)
            if not point.limits_met:
                notes.append("no concurrency meets the latency limits: value at concurrency 1")
            if point.saturated:
                notes.append("stated load exceeds the predicted capacity: saturated, queueing delay not modelled")
            if model == "analytic" and self.compare:
                notes.append(f"simulator: {sim_error}" if sim_error else
                             f"simulator: {error_text(sim_value, case.value)}")
        sim = None if outcome is None else outcome.to_dict(layout.replicas)
        if not (value is not None and math.isfinite(value) and value > 0):
            return CaseResult(case, "not_predictable", f"the model gives {value:g} (a chip figure it needs, such as "
                              f"the scale-up link bandwidth for tp={layout.tp}, is missing or zero)", None, layout,
                              point, notes, model, by_model, sim)
        return CaseResult(case, "ok", "", value, layout, point, notes, model, by_model, sim)

    def _simulate(self, case: Case, plan: Plan, fmt: Formats, layout: Layout, point: OperatingPoint,
                  key: PlanKey) -> SimOutcome:
        """The simulator's outcome for a server row, shared by rows of the same setting (a TTFT and
        a TPOT row measured at one load run one simulation)."""
        kv_free, batch = stated_kv_free_fraction(case.case_id, case.notes), stated_batch(case.notes, case.case_id)
        skey = SimKey(key, layout, batch, stated_requests(case.notes), stated_load_per_s(case),
                      stated_scheduling(case.case_id, case.notes), reads_at_edge(case), kv_free)
        if skey not in self._outcomes:
            rkey = ReplicaKey(case.accelerator, case.model, layout.tp, layout.pp, layout.ep, layout.attn_dp, fmt,
                              plan.beams, kv_free, batch[1] if kv_free else None)
            if rkey not in self._sims:
                self._sims[rkey] = ReplicaSim(kv_free_mapped(self.mapped(case, layout, fmt), rkey.kv_free_fraction,
                                                             rkey.kv_step_tokens), plan.beams)
            self._outcomes[skey] = simulate_row(case, plan, layout, point, self._sims[rkey])
        return self._outcomes[skey]

    def _search(self, case: Case, plan: Plan, fmt: Formats) -> tuple[Layout, OperatingPoint]:
        """The row's layout: ``predict``'s choice (:func:`choose_layout`) among those its tp/pp/ep allow."""
        c = choose_layout(self.setting(case, fmt), plan, coarse=self.coarse, need_ttft=_needs_ttft(case))
        return c.layout, c.point


def evaluate_fixed(case: Case, layout: Layout, mm: MappedModel, cal: Calibration, lengths: DatasetLengths, *,
                   coarse: bool = True) -> float:
    """The row's predicted metric on a fixed layout under ``cal`` and ``lengths`` (the
    calibration's fast path, always the analytic model): the mapped model is re-used with the new calibration."""
    plan = plan_for(case, lengths)
    mc = replace(mm, cal=cal)
    pt = operating_point(mc, plan, layout.replicas, coarse=coarse, need_ttft=_needs_ttft(case))
    return metric_value(case, plan, _behind_batcher(case, plan, pt, mc) if case.metric == "ttft_ms" else pt, layout)


def _behind_batcher(case: Case, plan: Plan, point: OperatingPoint, mm: MappedModel) -> OperatingPoint:
    """The analytic point of an open-loop row behind the harness batcher its notes state (unchanged without)."""
    if plan.mode != "open_loop":
        return point
    return batcher_ttft_point(stated_scheduling(case.case_id, case.notes), point, mm, plan.rate_per_s, plan.inputs,
                              plan.outputs)
