"""``inferchip validate`` and ``inferchip calibrate``: predictions against published measurements.

``validate`` prints per case the prediction, the measurement and the error, then the error
statistics overall, per kind and per group; ``--page`` writes the same as a markdown page
(:mod:`inferchip.interfaces.report.validation_page`). ``calibrate`` fits the calibration and
reports in-sample and leave-one-accelerator-out errors. Every file is written atomically.
"""

from __future__ import annotations

import hashlib
import math
import shlex
import sys
from enum import StrEnum
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.table import Table

from inferchip.interfaces import fmt
from inferchip.interfaces.app import app
from inferchip.interfaces.cli_options import engine as eng_opts
from inferchip.interfaces.cli_options import files as out_files
from inferchip.interfaces.cli_options import options as opts
from inferchip.interfaces.cli_options.output import console
from inferchip.interfaces.cmd_predict import OutputFormat

if TYPE_CHECKING:  # the validation machinery is imported by the commands that use it (a faster cold start)
    from inferchip.spec.calibration import Calibration, DatasetLengths
    from inferchip.validation.cases import Case
    from inferchip.validation.validate import CaseResult


class ServerModel(StrEnum):
    auto = "auto"
    sim = "sim"
    analytic = "analytic"


class GroupBy(StrEnum):
    source = "source"
    accelerator = "accelerator"
    model = "model"
    scenario = "scenario"
    metric = "metric"
    kind = "kind"


def _read(cases: Path | list[Path]) -> list[Case]:
    """Read the case file(s); a malformed one raises CaseFileError (line, column, what is allowed),
    which the CLI prints without a traceback and answers with exit status 2."""
    from inferchip.validation.cases import CaseFileError, read_cases

    out: list[Case] = []
    seen: dict[str, str] = {}  # case id -> the file it came from
    for path in [cases] if isinstance(cases, Path) else cases:
        for c in read_cases(path):
            if c.case_id in seen:
                raise CaseFileError(str(path), c.line, 1, "case_id",
                                    f"value {c.case_id!r} repeats a case of {seen[c.case_id]}")
            seen[c.case_id] = str(path)
            out.append(c)
    if not out:
        raise CaseFileError(", ".join(str(p) for p in ([cases] if isinstance(cases, Path) else cases)), 2, 0, None,
                            "no cases: the file has a header and no rows")
    return out


def _calibration(which: str | None) -> tuple[Calibration, str]:
    from inferchip.catalog.calibration_file import load_calibration

    cal = load_calibration(which)
    if which is not None and str(which) == "none":
        return cal, "none (uncalibrated defaults)"
    where = "shipped (catalog/calibration.yaml)" if which is None else str(which)
    return cal, f"{where}, {'fitted on ' + str(cal.fitted_on) if cal.fitted else 'not fitted (defaults)'}"


def _console() -> Console:
    """Wide enough for the case table when the output goes to a file or a pipe."""
    return console()


def _stats_table(title: str, rows: list[list[str]]) -> Table:
    from inferchip.interfaces.report.validation_page import STATS_HEADER

    t = Table(title=title, title_justify="left")
    for k, c in enumerate(STATS_HEADER):
        t.add_column(c, justify="left" if k == 0 else "right")
    for r in rows:
        t.add_row(*r)
    return t


def _cases_table(results: list[CaseResult]) -> Table:
    from inferchip.interfaces.report.validation_page import layout_text, num, pct

    t = Table(title="predictions against measurements (error = predicted / measured - 1)", title_justify="left")
    for c in ("case", "accelerator", "metric", "predicted", "measured", "error", "status / layout"):
        t.add_column(c, justify="right" if c in ("predicted", "measured", "error") else "left", overflow="fold")
    for r in results:
        if r.status != "ok":
            info = f"{r.status}: {r.reason}"
        else:
            info = layout_text(r.layout) if r.layout else f"energy ({r.case.energy_scope} scope)"
        t.add_row(r.case.case_id, r.case.accelerator, r.case.metric, num(r.predicted), num(r.measured),
                  pct(r.signed_error_pct, True), info)
    return t


def _refuse_llm_options(vision_files: list[Path], given: dict[str, str | None]) -> None:
    """An option of the LLM case rows given with vision case files only is refused, not silently dropped."""
    from inferchip.errors import InvalidSettingError

    for option, value in given.items():
        if value is not None:
            raise InvalidSettingError(
                f"{option} {value}: applies to LLM case files (the columns of validation_cases.csv); "
                f"{', '.join(str(f) for f in vision_files)} holds vision cases (the columns of vision_cases.csv), "
                f"which it would not change; allowed: leave {option} out, or add an LLM case file")


def _prediction_options(calibration: str | None, server_model: str | None, assumptions: str | None,
                        engine: str | None) -> list[str]:
    """The options of a validate command line that change its predictions, as given (None: left out), for the
    page's "Generated by" line: without them a page written with ``--calibration`` named a command that
    regenerated a different page (review49's note)."""
    given = (("--calibration", calibration), ("--server-model", server_model), ("--assumptions", assumptions),
             ("--engine", engine))
    return [x for option, value in given if value is not None for x in (option, str(value))]


def _refuse_nothing_predicted(files: str, results: list[CaseResult]) -> None:
    """No row predicted: an exit status 0 with no comparison read as a pass in a script (stop 49's tour). The
    error names the file and each row's reason (the first five), before any page or JSON is written."""
    from inferchip.errors import InvalidSettingError

    why = "; ".join(f"{r.case.case_id} (line {r.case.line}): {r.status}: {r.reason}" for r in results[:5])
    more = f"; and {len(results) - 5} more" if len(results) > 5 else ""
    raise InvalidSettingError(
        f"{files}: none of its {len(results)} case{'s' if len(results) != 1 else ''} could be predicted, so there "
        f"is nothing to compare: {why}{more}; allowed: rows whose chip, model and layout inferchip expresses "
        "(`inferchip chips`, `inferchip models`)")


def _run(cases: list[Case], cal: Calibration, server_model: str, workers: int,
         assumptions: str | None = None, lengths: DatasetLengths | None = None,
         engine: str | None = None) -> list[CaseResult]:
    from inferchip.validation.validate import validate_cases

    run = partial(validate_cases, cases, cal, server_model=server_model, compare=True, workers=workers,
                  assumptions=assumptions, lengths=lengths, engine=engine)
    # the bar is on stderr: shown with --format json too (its JSON goes to stdout), as vision rows show progress
    if len(cases) < 50 or not sys.stderr.isatty():
        return run()
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    with Progress(TextColumn("predicting cases"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("cases", total=len(cases))
        return run(progress=lambda k: bar.update(task, completed=k))


def _server_table(comparison: dict[str, Any], chosen: str) -> Table:
    from inferchip.interfaces.report.validation_page import SERVER_HEADER, server_rows

    t = Table(title="server rows under both server models (simulator: inferchip.sim; analytic: p99 limits scaled "
                    "to means, Little's law)", title_justify="left")
    for k, c in enumerate(SERVER_HEADER):
        t.add_column(c, justify="left" if k < 2 else "right")
    for r in server_rows(comparison, chosen):
        t.add_row(*r)
    return t


@app.command("validate")
def validate_cmd(
    cases: list[Path] = typer.Argument(..., help="Case CSV(s) in the format of shared/validation/cases.csv; "
                                                 "energy metrics (energy_cases.csv) are predicted too, their errors "
                                                 "kept apart."),
    output: OutputFormat = typer.Option(OutputFormat.table, "--format"),
    by: GroupBy | None = typer.Option(None, "--by", help="Also summarise per source, accelerator, model, scenario, "
                                                            "metric or kind (performance / energy scope)."),
    calibration: str | None = typer.Option(None, "--calibration",
                                           help="none, or a calibration YAML: as catalog/calibration.yaml for LLM "
                                                "case files, as catalog/vision/calibration.yaml for vision ones "
                                                "(default: the shipped ones).",
                                           callback=opts.input_file("--calibration")),
    page: Path | None = typer.Option(None, "--page", help="Also write a markdown page (with SVG and HTML plots) here."),
    server_model: ServerModel = typer.Option(ServerModel.auto, "--server-model",
                                             help="Model of the server rows: the serving simulator, the analytic "
                                                  "approximation, or auto: per metric, the one with the lower "
                                                  "leave-one-accelerator-out error (the other one is reported "
                                                  "alongside)."),
    workers: int = typer.Option(2, "--workers", min=1,
                                help="Processes (simulated server rows, vision LOAO folds)."),
    assumptions: str | None = typer.Option(None, "--assumptions",
                                              help="YAML overriding the energy/host constants of energy rows.",
                                              callback=opts.input_file("--assumptions", ())),
    engine: str | None = eng_opts.engine_option("each closed-loop row's software column", vendor=False),
) -> None:
    """Predict every case of the CSV(s) and compare with its measurement: per-case errors and statistics.
    Vision case files (the columns of vision_cases.csv) are recognised by their header and validated too."""
    from inferchip.interfaces.report.validation_page import stats_row, write_page
    from inferchip.interfaces.validating.vision_cases import run_vision, split_case_files
    from inferchip.validation.validate import server_choice_text, summarize

    # the page names the command that wrote it, as a shell reads it back (a path with a space stays one argument),
    # with every option that changes a prediction, so the line regenerates the page it heads
    command_files = shlex.join([*(str(c) for c in cases), *_prediction_options(
        calibration, None if server_model == ServerModel.auto else server_model.value, assumptions, engine)])
    cases, vision_files = split_case_files(cases)
    if page is not None:
        page = out_files.check_writable(page, "--page", make_folder=True,  # before the predictions, not after them
                                        suffixes=out_files.MARKDOWN_SUFFIXES, streams=False)  # a page + its plots
    if not cases:  # vision case files alone: the LLM rows' options would act on nothing
        _refuse_llm_options(vision_files, {"--engine": engine, "--assumptions": assumptions,
                                           "--server-model": None if server_model == ServerModel.auto else
                                           server_model.value, "--by": by.value if by else None})
    else:  # the LLM case files, the assumptions and the engine are checked before the vision rows' work
        if vision_files and calibration not in (None, "none"):
            from inferchip.errors import InvalidSettingError

            raise InvalidSettingError(
                f"--calibration {calibration}: one file cannot calibrate both the LLM case files "
                f"({', '.join(str(c) for c in cases)}) and the vision case files "
                f"({', '.join(str(v) for v in vision_files)}); allowed: none, the shipped calibrations (leave it "
                "out), or validate the two kinds in separate runs, each with its own calibration YAML")
        rows = _read(cases)
        if assumptions is not None:  # read now: a case file without energy rows would never open it
            from inferchip.catalog.assumptions import load_assumptions

            load_assumptions(assumptions)
        if engine is not None:
            from inferchip.performance.setting.engine import named_engine

            named_engine(engine)  # an unknown engine is refused before any prediction
    vision = run_vision(vision_files, json_output=output == OutputFormat.json, calibration=calibration,
                        workers=opts.workers(workers)) if vision_files else None
    if not cases:
        if page is not None and vision is not None:
            from inferchip.interfaces.report.validation_page import write_vision_page

            write_vision_page(page, vision, command_files)
        if output == OutputFormat.json:
            typer.echo(fmt.to_json({"vision": vision}))
        elif page is not None:
            _console().print(f"wrote {page}")
        return

    cal, cal_text = _calibration(calibration)
    from inferchip.catalog.calibration_file import load_dataset_lengths

    lengths = load_dataset_lengths(calibration)
    workers = opts.workers(workers)
    results = _run(rows, cal, server_model.value, workers, assumptions, lengths, engine)
    files = ", ".join(str(c) for c in cases)
    if results and not vision and not any(r.status == "ok" for r in results):
        _refuse_nothing_predicted(files, results)
    summary = summarize(results, by.value if by else None)
    if page is not None:
        groups = {k: summarize(results, k)["groups"] for k in ("kind", "accelerator", "scenario", "source", "metric")}
        write_page(page, results, summary["overall"], groups, cal, cal_text, command_files,
                   summary.get("server_models"), server_model.value, lengths, vision)
    if output == OutputFormat.json:
        typer.echo(fmt.to_json({"cases": [r.to_dict() for r in results], "summary": summary,
                                "server_model": server_model.value,
                                "server_model_used": server_choice_text(server_model.value),
                                "calibration": cal_text, "file": files,
                                **({"vision": vision} if vision else {})}))
        return
    con = _console()
    con.print(_cases_table(results))
    rows_s = [stats_row("all cases", summary["overall"])]
    if not (by and by.value == "kind"):  # --by kind lists the same rows below
        rows_s += [stats_row(k, v) for k, v in summary.get("kinds", {}).items()]
    if by:
        rows_s += [stats_row(k, v) for k, v in summary["groups"].items()]
    con.print(_stats_table(f"summary (APE = |predicted / measured - 1|; calibration: {cal_text}; "
                           f"server rows: {server_choice_text(server_model.value)})", rows_s))
    if summary.get("server_models"):
        con.print(_server_table(summary["server_models"], server_model.value))
    failed = [r for r in results if r.status != "ok"]
    for r in failed:
        con.print(f"[yellow]not predicted:[/] {r.case.case_id} (line {r.case.line}): {r.status}: {r.reason}")
    if page is not None:
        con.print(f"wrote {page}")


@app.command("calibrate")
def calibrate_cmd(
    cases: Path = typer.Argument(..., help="Case CSV to fit on."),
    out: Path = typer.Option(..., "-o", "--output", help="Calibration YAML to write (atomically)."),
    start: str | None = typer.Option("none", "--start", help="Starting calibration: none (defaults) or a YAML.",
                                        callback=opts.input_file("--start")),
    cross_validate: bool = typer.Option(True, "--cv/--no-cv", help="Leave-one-accelerator-out cross-validation."),
    workers: int = typer.Option(2, "--workers", min=1, help="Processes for the cross-validation folds."),
    max_evaluations: int | None = typer.Option(
        None, "--max-evaluations", min=1, help="Residual evaluations each fit (full and every fold) may spend "
        "(default: MAX_EVALUATIONS of validation/calibrate.py); a fit that reaches it is reported as not converged."),
    output: OutputFormat = typer.Option(OutputFormat.table, "--format"),
) -> None:
    """Fit the physical calibration parameters (and MLPerf mean input lengths) and report honest errors."""
    from inferchip.catalog.calibration_file import load_calibration, load_dataset_lengths, save_calibration
    from inferchip.interfaces.report.validation_page import stats_row
    from inferchip.validation.calibrate import MAX_EVALUATIONS, calibrate, parameter_bounds
    from inferchip.validation.server import SERVER_MODELS
    from inferchip.validation.validate import server_choice_text

    out = out_files.check_writable(out, "--output", suffixes=out_files.YAML_SUFFIXES)  # before the fit, not after it
    rows = _read(cases)
    workers = opts.workers(workers)
    err = Console(stderr=True)
    quiet = output == OutputFormat.json
    from inferchip.errors import InvalidSettingError
    from inferchip.validation.calibrate import FitPoint, NothingToFit

    try:
        rep = calibrate(rows, FitPoint(load_calibration(start), load_dataset_lengths(start)),
                        cross_validate=cross_validate, workers=workers,
                        max_evaluations=MAX_EVALUATIONS if max_evaluations is None else max_evaluations,
                        progress=None if quiet else (lambda m: err.print(f"[dim]{m}[/]")))
    except NothingToFit as exc:  # nothing written: no calibration from no data
        raise InvalidSettingError(f"{cases}: {exc}") from None
    digest = hashlib.sha256(cases.read_bytes()).hexdigest()[:12]
    summary = rep.summary()
    fs = dict(rep.fitted.calibration.fit_summary)
    for acc, st in summary["cross_validated_by_accelerator"].items():
        if st["median_ape"] is not None:
            fs[f"cv_median_ape:{acc}"] = round(st["median_ape"], 2)
    cal = rep.fitted.calibration.model_copy(update={
        "fitted_on": f"{cases.name} ({len(rows)} cases, sha256 {digest}); soft-L1 fit of log(pred/meas)",
        "fit_summary": fs})
    save_calibration(cal, out, rep.fitted.lengths)
    if output == OutputFormat.json:
        typer.echo(fmt.to_json({**summary, "written": str(out)}))
        return
    con = _console()
    t = Table(title=f"{len(rep.fitted.names)} fitted parameters on {rep.fitted.rows} rows "
                    f"({rep.fitted.iterations} residual evaluations of least_squares)", title_justify="left")
    for c in ("parameter", "value", "bounds", "rows pin it to (1 sd)"):
        t.add_column(c, justify="left" if c == "parameter" else "right")
    for n, v in zip(rep.fitted.names, rep.fitted.values, strict=False):
        lo, hi = parameter_bounds(n, cal)
        se = rep.fitted.log_se.get(n)
        t.add_row(n, f"{v:.4g}", f"[{lo:g}, {hi:g}]", f"x/ {math.exp(se):.3g}" if se is not None and se < 20 else "-")
    con.print(t)
    held = summary["held"]
    for n, h in held["full"].items():
        con.print(f"[yellow]held, not fitted:[/] {n} = {h['value']:.4g}: {h['why']}")
    if held["folds"]:
        con.print("folds that held a parameter: " + ", ".join(f"{a} {sorted(h)}" for a, h in held["folds"].items()))
    if held["flattest"] is not None:
        con.print(f"flattest direction fitted: {held['flattest']['text']} "
                  "(one whose log standard error exceeds ln 2 = 0.69 is held)")
    rows_s = [stats_row("in-sample", summary["in_sample"])]
    if cross_validate:
        rows_s.append(stats_row("leave-one-accelerator-out", summary["cross_validated"]))
        rows_s += [stats_row(f"  held out: {a}", s) for a, s in summary["cross_validated_by_accelerator"].items()]
    con.print(_stats_table(f"errors (APE = |predicted / measured - 1|; server rows: "
                           f"{server_choice_text(summary['server_model'])})", rows_s))
    for kind, per in summary["server_models_cross_validated"].items():
        con.print(f"server models, held out, {kind}: " + ", ".join(
            f"{m} {per[m]['median_ape']:.1f}/{per[m]['p90_ape']:.1f}" for m in SERVER_MODELS)
            + f" (median/p90 APE); lower: {per['lower']}; validate uses {per['auto']}"
            + ("" if per["lower"] == per["auto"] else "; they differ: SERVER_MODEL_BY_METRIC should follow"))
    conv, stops = rep.convergence_text(), rep.convergence()
    converged = stops["full"]["converged"] and stops["folds_converged"] == stops["folds_fitted"]
    con.print(conv if converged else f"[yellow]{conv}[/]; raise --max-evaluations")
    for r in summary["not_predicted"]:
        con.print(f"[yellow]not predicted:[/] {r['case_id']} (line {r['line']}): {r['status']}: {r['reason']}")
    con.print(f"wrote {out}")



# ------------------------------------------------------------------ the validation page
