"""The vision rows of ``inferchip validate``: files in the columns of ``vision_cases.csv`` are recognised by
their header and predicted by :mod:`inferchip.validation.vision`, beside the LLM rows; the per-case table,
the per-scenario errors (in-sample and leave-one-accelerator-out), the latency-bound pass/fail, and every
row that could not be expressed with its reason."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from rich.table import Table

from inferchip.interfaces.cli_options.output import console


def split_case_files(paths: list[Path]) -> tuple[list[Path], list[Path]]:
    """(LLM case files, vision case files), by each file's header."""
    from inferchip.validation.vision.cases import is_vision_case_file

    vision = [p for p in paths if is_vision_case_file(p)]
    return [p for p in paths if p not in vision], vision


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{v:+.1f}%"


def _num(v: float | None) -> str:
    return "-" if v is None else f"{v:,.4g}"


def _stats(block: dict[str, Any]) -> list[str]:
    out = []
    for k in ("in_sample", "loao"):
        s = block[k]
        out += [str(s["cases"]), "-" if s["median_ape"] is None else f"{s['median_ape']:.1f}%",
                "-" if s["p90_ape"] is None else f"{s['p90_ape']:.1f}%"]
    return out


def run_vision(paths: list[Path], *, json_output: bool, calibration: str | None,
               workers: int = 1) -> dict[str, Any]:
    """Validate the vision rows of ``paths``; print the tables unless ``json_output``; return the JSON body."""
    from inferchip.catalog.vision_networks import load_vision_calibration
    from inferchip.validation.cases import CaseFileError
    from inferchip.validation.vision.cases import read_vision_cases
    from inferchip.validation.vision.summary import summarize_vision
    from inferchip.validation.vision.validate import validate_vision

    cases, seen = [], set()
    for p in paths:
        for c in read_vision_cases(p):
            if c.case_id in seen:
                raise CaseFileError(str(p), c.line, 1, "case_id", f"value {c.case_id!r} repeats an earlier case")
            seen.add(c.case_id)
            cases.append(c)
    if not cases:  # as an LLM case file without rows (validating.command._read)
        raise CaseFileError(", ".join(str(p) for p in paths), 2, 0, None, "no cases: the file has a header and no rows")
    cal = load_vision_calibration(calibration)  # None: the shipped one; "none": the defaults; else the user's file
    where = "shipped catalog/vision/calibration.yaml" if calibration is None else calibration
    cal_text = "none (defaults)" if calibration == "none" else (
        f"{where}, fitted on {cal.fitted_on}" if cal.fitted else f"{where}, not fitted (defaults)")
    err = console(stderr=True)
    results = validate_vision(cases, cal, workers=workers,
                              progress=(lambda m: err.print(f"[dim]{m}[/]")) if sys.stderr.isatty() else None)
    summary = summarize_vision(results)
    body = {"cases": [r.to_dict() for r in results], "summary": summary, "calibration": cal_text,
            "file": ", ".join(str(p) for p in paths)}
    if json_output:
        return body
    con = console()
    t = Table(title="vision rows: predictions against measurements (error = predicted / measured - 1; LOAO = "
                    "parameters fitted without the row's accelerator)", title_justify="left")
    for col in ("case", "accelerator", "scenario", "metric", "predicted", "measured", "error", "LOAO error", "status"):
        t.add_column(col, justify="right" if col in ("predicted", "measured", "error", "LOAO error") else "left",
                     overflow="fold")
    for r in results:
        status = r.status if r.status == "ok" else f"{r.status}: {r.reason}"
        if r.limit_pass is not None:
            status += f"; bound {r.bound_ms:g} ms {'met' if r.limit_pass else 'missed'} at the measured load"
            if r.p99_at_load_ms is not None:
                status += f" (simulated p99 {r.p99_at_load_ms:.4g} ms)"
        if r.flag:
            status += f"; {r.flag}"
        t.add_row(r.case.case_id, r.case.accelerator, r.case.scenario, r.case.metric, _num(r.predicted),
                  _num(r.case.value), _pct(r.error_pct), _pct(r.loao_error_pct), status)
    con.print(t)
    s = Table(title=f"vision summary (APE = |predicted / measured - 1|; calibration: {cal_text})",
              title_justify="left")
    for col in ("rows", "n", "median", "p90", "LOAO n", "LOAO median", "LOAO p90"):
        s.add_column(col, justify="left" if col == "rows" else "right")
    s.add_row("all performance rows", *_stats(summary["overall"]))
    s.add_row("  calibration rows (MLPerf)", *_stats(summary["calibration_rows"]))
    s.add_row("  other rows", *_stats(summary["other_rows"]))
    for scen, block in summary["by_scenario"].items():
        s.add_row(f"  {scen}", *_stats(block))
    s.add_row("power rows (wall)", *_stats(summary["power_rows"]))
    con.print(s)
    lb = summary["latency_bound"]
    if lb["rows"]:
        con.print(f"latency bounds: {lb['predicted_pass']} of {lb['rows']} server rows predicted to pass at their "
                  f"measured load (all passed): {lb['right_fraction']:.0%} right; predicted capacity within the bound "
                  f">= 90% of the measured load on {lb.get('max_load_within_10pct', 0)}")
        if "decided_rows" in lb:
            con.print(f"  outside the +-{lb['capacity_edge_band']:.0%} capacity edge: {lb['decided_right']} of "
                      f"{lb['decided_rows']} right; {lb['on_capacity_edge']} rows on the edge (submitters report the "
                      "highest passing load, so pass/fail there is the sign of a few per cent of capacity error)")
        op = lb.get("operating_point")
        if op and op["rows"]:
            con.print(f"  at the submitter's operating point (the measured load as a fraction of the system's Offline "
                      f"rate: the chip's Offline runs of the round, per accelerator; applied to the predicted Offline "
                      f"rate): {op['predicted_pass']} of {op['rows']} right ({op['right_fraction']:.0%}; rows whose "
                      f"own Offline run is in the pool {op['same_system_right']} of {op['same_system_rows']}); "
                      f"{op['without_offline_counterpart']} rows without an Offline counterpart")
            pm = op["p99_vs_measured"]
            if pm["cases"]:
                con.print(f"  simulated p99 there against the measured p99 the rows state: median |error| "
                          f"{pm['median_ape']:.0f}%, p90 {pm['p90_ape']:.0f}%, median signed "
                          f"{pm['median_signed_pct']:+.0f}% on {pm['cases']} rows; {pm['overloaded']} predicted "
                          "overloaded")
    for cid, why in summary["unexpressible"].items():
        con.print(f"[yellow]not expressible:[/] {cid}: {why}")
    return body
