"""Predict every published measurement in its own setting, and the error statistics.

Each case becomes a plan (:mod:`inferchip.validation.plan`: lengths, load, limits, and the analytic evaluation on one
layout). :class:`Validator` picks the parallel layout (the row's, or ``predict``'s choice among those the row allows:
:func:`~inferchip.performance.layout_choice.choose_layout`), converts to the row's metric and caches repeated settings
(each at the rows' prefill chunk, ``mapped.DEFAULT_CHUNK_TOKENS``, stated: not the engine's on the chip that
``resolve_setting`` defaults to). Errors are percentages: signed ``100 (pred - meas) / meas``, APE its absolute value.

Server rows without a concurrency (MLPerf Server/Interactive, open loops at a stated rate) have two models:
``"analytic"`` (p99 limits scaled to means, Little's law) and ``"sim"`` (the serving simulator on the layout the
analytic search chose, :mod:`inferchip.validation.server`). ``Validator(cal, server_model=...)`` says which one
predicts; with ``compare=True`` both run and each result keeps both values (:func:`server_comparison`).
:class:`Validator` defaults to the analytic model, which ``calibrate`` relies on for speed (its fast path
:func:`evaluate_fixed` is analytic);
:func:`validate_cases` and ``inferchip validate`` default to ``"auto"``: closed-loop rows (a server
row with a concurrency and stated lengths) are simulated as the benchmark ran them, on the row's engine
(:mod:`inferchip.validation.closed_loop`), under ``"sim"`` and ``"auto"``; other server rows take, per metric
kind, the model with the lower leave-one-accelerator-out error (``SERVER_MODEL_BY_METRIC``); static batches
and max-throughput rows stay analytic. Both models run with ``compare``.

Energy rows (``power_w_wall_total``, ``power_w_board_total``, ``output_tokens_per_j_wall``,
``output_tokens_per_j_board``; ``shared/validation/energy_cases.csv``) are predicted by
:func:`inferchip.validation.energy.rows.predict_energy_row` in the row's setting: power from the energy constants of
the assumptions file (the busy power fraction and the host energy per request fitted on energy rows,
:mod:`inferchip.validation.energy.power_fit`), wall power with the stated host model, tokens per joule as predicted
throughput over predicted power. Their statistics are kept apart per scope (:func:`summarize`, ``"kinds"``), never
mixed into the performance figures.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from inferchip.catalog.engines import default_gemm_calibration
from inferchip.errors import InferchipError, InvalidSettingError
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
from inferchip.validation.cases import Case, read_cases
from inferchip.validation.closed_loop_facts import check_row
from inferchip.validation.plan import (  # re-exported: the validation's public names
    E2E_P99_OVER_MEAN,
    LENGTH_POINTS,
    LENGTH_SIGMA,
    QUEUE_WAIT_STEPS,
    TPOT_P99_OVER_MEAN,
    TTFT_P99_OVER_MEAN,
    LengthDist,
    NotPredictable,
    OperatingPoint,
    Plan,
    _needs_ttft,
    case_formats,
    is_closed_loop,
    max_concurrency,
    metric_value,
    offline_by_use,
    operating_point,
    plan_for,
    run_plan,
    uses_simulator,
)
from inferchip.validation.results import CaseResult, error_result, error_text, in_row_terms
from inferchip.validation.server import (
    SERVER_MODELS,
    ReplicaSim,
    SimOutcome,
    reads_at_edge,
    sim_metric_value,
    simulate_row,
    stated_requests,
)
from inferchip.validation.server_choice import (  # re-exported: how the server model is chosen
    SERVER_CHOICES,
    SERVER_MODEL_BY_METRIC,
    metric_kind,
    server_choice_text,
    server_model_for,
)
from inferchip.validation.stated_engine import (
    batcher_ttft_point,
    kv_free_mapped,
    stated_batch,
    stated_kv_free_fraction,
    stated_scheduling,
)
from inferchip.validation.stats import GROUP_KEYS, SERVER_GROUPS, case_kind, error_stats, server_comparison, summarize

if TYPE_CHECKING:
    from inferchip.catalog.models import UserConfig

__all__ = [  # with the statistics' public names above, re-exported
    "E2E_P99_OVER_MEAN", "LENGTH_POINTS", "LENGTH_SIGMA", "QUEUE_WAIT_STEPS", "SERVER_MODELS", "TPOT_P99_OVER_MEAN",
    "TTFT_P99_OVER_MEAN", "CaseResult", "LengthDist", "NotPredictable", "OperatingPoint", "Plan", "Validator",
    "case_formats", "error_stats", "evaluate_fixed", "max_concurrency", "metric_value", "operating_point",
    "plan_for", "server_comparison", "summarize", "uses_simulator", "validate", "validate_cases", "GROUP_KEYS",
    "SERVER_CHOICES", "SERVER_MODEL_BY_METRIC", "metric_kind", "run_plan", "server_choice_text", "server_model_for",
    "SERVER_GROUPS", "case_kind",
]


# ------------------------------------------------------------------ one case


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
            try:  # a refusal of the row's tp/pp/ep names its line and columns, not the CLI's options
                self._resolved[key] = resolve_setting(cp, ms, count=case.num_accelerators, weights=fmt.weights,
                                                      activations=fmt.activations, kv=fmt.kv, tp=case.tp, pp=case.pp,
                                                      ep=case.ep, calibration=cal, within=True,
                                                      attention_weights=fmt.attention_weights,
                                                      attention_out_weights=fmt.attention_out_weights,
                                                      chunk_tokens=DEFAULT_CHUNK_TOKENS)  # the rows' stated chunk
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


def validate_cases(cases: Sequence[Case], cal: Calibration, *, lengths: DatasetLengths | None = None,
                   progress: Callable[[int], None] | None = None,
                   validator: Validator | None = None, server_model: str = "auto", compare: bool = True,
                   workers: int = 1, assumptions: str | None = None, engine: str | None = None) -> list[CaseResult]:
    """Predict every case (server rows by ``server_model``, the other one too with ``compare``);
    ``progress`` is called with the number of cases done. With ``workers > 1`` (and no
    ``validator`` given) the rows of each system (accelerator, count, model) go to one of
    ``workers`` processes; every prediction is the same as in one process."""
    if validator is not None or workers <= 1 or len(cases) < 2:
        v = validator or Validator(cal, lengths=lengths, server_model=server_model, compare=compare,
                                   assumptions=assumptions, engine=engine)
        out = []
        for k, case in enumerate(cases, start=1):
            out.append(v.predict_case(case))
            if progress is not None:
                progress(k)
        return out
    from concurrent.futures import ProcessPoolExecutor, as_completed

    from inferchip.pools import stopping_pool

    groups: dict[tuple[str | int | float | None, ...], list[int]] = {}
    for i, c in enumerate(cases):
        # closed-loop rows also by engine text and lengths: groups of one configuration's runs (they share
        # a simulation), small enough to keep both workers busy and the progress bar moving
        extra = (c.software, c.input_tokens, c.output_tokens) if is_closed_loop(c) else ()
        groups.setdefault((c.accelerator, c.num_accelerators, c.model, *extra), []).append(i)
    # The simulated rows are the costly ones: largest groups first keeps the workers evenly busy.
    order = sorted(groups.values(), key=lambda g: -sum(1 + 20 * (cases[i].scenario == "server") for i in g))
    slots: list[CaseResult | None] = [None] * len(cases)
    done = 0
    # Ctrl-C, SIGTERM (the CLI's Terminated) or a failed group: the groups not started are cancelled and
    # the workers stopped, not waited for (inferchip.pools)
    with stopping_pool(ProcessPoolExecutor(max_workers=workers)) as pool:
        futures = {pool.submit(_predict_group, [cases[i] for i in g], cal, server_model, compare, assumptions,
                               lengths, engine): g
                   for g in order}
        for fut in as_completed(futures):
            for i, r in zip(futures[fut], fut.result(), strict=True):
                slots[i] = r
            done += len(futures[fut])
            if progress is not None:
                progress(done)
    return [r for r in slots if r is not None]


def validate(*paths: str | Path, calibration: Calibration | str | None = None, server_model: str = "auto",
             compare: bool = True, workers: int = 1, assumptions: str | None = None,
             engine: str | None = None) -> list[CaseResult]:
    """Predict every published measurement in the case files ``paths`` (CSV, one argument each; none: the shipped
    ``validation_cases.csv``) in its own setting. ``calibration``: a Calibration, a YAML path, ``"none"`` or None (the
    shipped one; a file also gives the MLPerf mean input lengths). Each :class:`CaseResult` holds the prediction in the
    row's unit (``predicted``), the measurement, the signed error and APE in percent, the layout and why a row was not
    predicted (a table: ``pandas.DataFrame(r.to_dict() for r in results)``); :func:`summarize` gives the statistics."""
    from inferchip.catalog.calibration_file import load_calibration, load_dataset_lengths
    for p in paths:  # a list was pathlib's bare TypeError from deep inside (stop 50)
        if not isinstance(p, str | Path):
            raise InvalidSettingError(f"paths: {p!r} ({type(p).__name__}) is no case file; allowed: CSV paths, one "
                                      "argument each (validate('a.csv', 'b.csv'), validate(*files))")
    files = paths or (str(Path(__file__).resolve().parents[1] / "catalog" / "validation_cases.csv"),)
    cases = [c for p in files for c in read_cases(p)]
    if isinstance(calibration, Calibration):  # the data-set lengths: the defaults, as predict_energy_row
        cal, lengths = calibration, DatasetLengths()
    else:
        cal, lengths = load_calibration(calibration), load_dataset_lengths(calibration)
    return validate_cases(cases, cal, lengths=lengths, server_model=server_model, compare=compare, workers=workers,
                          assumptions=assumptions, engine=engine)


def _predict_group(cases: list[Case], cal: Calibration, server_model: str, compare: bool,
                   assumptions: str | None = None, lengths: DatasetLengths | None = None,
                   engine: str | None = None) -> list[CaseResult]:
    v = Validator(cal, lengths=lengths, server_model=server_model, compare=compare, assumptions=assumptions,
                  engine=engine)
    return [v.predict_case(c) for c in cases]
