"""The validation page: a markdown report with a log-log plot of predicted against measured.

A static SVG drawn here from the numbers and a self-contained interactive plotly HTML sit
next to the page (same stem); every file is written atomically. The table formatting
helpers (:func:`num`, :func:`pct`, :func:`stats_row`, :func:`server_rows`) are shared with
the ``validate`` command's terminal tables.
"""

from __future__ import annotations

import math
import shlex
from pathlib import Path
from types import ModuleType
from typing import Any

from inferchip.errors import SpecError
from inferchip.mapping.layout import Layout
from inferchip.spec.calibration import Calibration, DatasetLengths
from inferchip.units import percent
from inferchip.validation.server import SERVER_MODELS
from inferchip.validation.validate import CaseResult


def num(x: float | None) -> str:
    if x is None or not math.isfinite(x):
        return "-"
    return f"{x:,.4g}" if abs(x) < 1000 else f"{x:,.0f}"


def pct(x: float | None, signed: bool = False) -> str:
    if x is None:
        return "-"
    return f"{x:+.1f}%" if signed else f"{x:.1f}%"


def stats_row(name: str, s: dict[str, Any]) -> list[str]:
    return [name, str(s["cases"]), str(s["predicted"]), pct(s["median_ape"]), pct(s["p90_ape"]), pct(s["max_ape"]),
            pct(s["within_10pct"]), pct(s["within_25pct"]), pct(s["median_signed_error_pct"], True)]


STATS_HEADER = ["group", "cases", "predicted", "median APE", "p90 APE", "max APE", "within 10%", "within 25%",
                "median error"]


SERVER_HEADER = ["server rows", "model", "cases", "predicted", "median APE", "p90 APE", "median error"]


def server_rows(comparison: dict[str, dict[str, dict[str, Any]]], chosen: str) -> list[list[str]]:
    """One row per group and server model: the two models' errors on the same server rows."""
    from inferchip.validation.server_choice import SERVER_MODEL_BY_METRIC as BY_KIND

    out = []
    for group, by_model in comparison.items():
        used = chosen
        if chosen == "auto":  # the model of the group's metric kinds, where they agree
            kinds = {"server throughput": ["throughput"], "server latency": ["ttft", "tpot"]}.get(
                group, list(BY_KIND))
            used = BY_KIND[kinds[0]] if len({BY_KIND[k] for k in kinds}) == 1 else ""
        counts = {m: by_model[m].get("used") for m in SERVER_MODELS}
        total = sum(c or 0 for c in counts.values())
        for m in SERVER_MODELS:
            st = by_model[m]
            if counts[m] is None:  # a summary from before the counts: the rule by metric
                label = " (used)" if m == used else ""
            else:  # the rows each model actually gave (closed loops are the simulator's whatever the rule)
                label = "" if not counts[m] else " (used)" if counts[m] == total else f" (used on {counts[m]})"
            out.append([group, m + label, str(st["cases"]), str(st["predicted"]),
                        pct(st["median_ape"]), pct(st["p90_ape"]), pct(st["median_signed_error_pct"], True)])
    return out


PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf",
           "#bcbd22", "#7f7f7f", "#393b79", "#637939", "#8c6d31", "#843c39")


def _write_atomic(files: list[tuple[Path, str]]) -> None:
    """The page's files, each in a temporary sibling fsynced, then renamed in a row with Ctrl-C and SIGTERM held
    (``atomic_io.write_all``): a full device or an interrupt leaves the earlier page and plots, never a mix."""
    from inferchip.atomic_io import write_all

    for path, _ in files:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SpecError(f"{path}: cannot write ({exc.strerror})") from None
    write_all(files)


def _colours(results: list[CaseResult]) -> dict[str, str]:
    accs = sorted({r.case.accelerator for r in results})
    return {a: PALETTE[k % len(PALETTE)] for k, a in enumerate(accs)}


def _predicted(r: CaseResult) -> float:
    """The prediction of a row that has one (status ok)."""
    if r.predicted is None:
        raise ValueError(f"case {r.case.case_id}: status {r.status} without a prediction")
    return r.predicted


def plot_svg(results: list[CaseResult], width: int = 760, height: int = 560) -> str:
    """Log-log scatter of predicted against measured (one colour per accelerator), with the
    y = x line and the +-25% band; drawn from the numbers, no plotting library needed.
    Circles are throughputs, squares latencies (each in its row's unit). A row predicted or measured at
    zero or below has no place on a log axis: it is left out of the plot (its error stays in the tables)."""
    ok = [r for r in results if r.status == "ok" and (r.predicted or 0.0) > 0 and r.measured > 0]
    col = _colours(ok)
    vals = [v for r in ok for v in (_predicted(r), r.measured)]
    lo = math.floor(math.log10(min(vals))) if vals else 0
    hi = math.ceil(math.log10(max(vals))) if vals else 1
    hi = max(hi, lo + 1)
    left, top, plot_w, plot_h = 70, 20, width - 300, height - 80

    def x(v: float) -> float:
        return left + (math.log10(v) - lo) / (hi - lo) * plot_w

    def y(v: float) -> float:
        return top + plot_h - (math.log10(v) - lo) / (hi - lo) * plot_h

    def label(k: int) -> str:
        v = 10.0**k
        return f"{v:g}" if v < 1e3 else f"{v / 1e3:g}k" if v < 1e6 else f"{v / 1e6:g}M"

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           'font-family="sans-serif" font-size="12">',
           f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="white" stroke="#444"/>']
    for k in range(lo, hi + 1):
        out.append(f'<line x1="{x(10.0**k):.1f}" y1="{top}" x2="{x(10.0**k):.1f}" y2="{top + plot_h}" '
                   'stroke="#ddd"/>')
        out.append(f'<line x1="{left}" y1="{y(10.0**k):.1f}" x2="{left + plot_w}" y2="{y(10.0**k):.1f}" '
                   'stroke="#ddd"/>')
        out.append(f'<text x="{x(10.0**k):.1f}" y="{top + plot_h + 16}" text-anchor="middle">{label(k)}</text>')
        out.append(f'<text x="{left - 6}" y="{y(10.0**k) + 4:.1f}" text-anchor="end">{label(k)}</text>')
    a, b = 10.0**lo, 10.0**hi
    for f, dash in ((1.0, ""), (1.25, ' stroke-dasharray="4 3"'), (0.75, ' stroke-dasharray="4 3"')):
        x0, x1 = max(a, a / f), min(b, b / f)  # the line predicted = f x measured, clipped to the frame
        out.append(f'<line x1="{x(x0):.1f}" y1="{y(f * x0):.1f}" x2="{x(x1):.1f}" y2="{y(f * x1):.1f}" '
                   f'stroke="#888"{dash}/>')
    for r in ok:
        px, py, c = x(r.measured), y(_predicted(r)), col[r.case.accelerator]
        tip = f"<title>{r.case.case_id}: {r.signed_error_pct:+.1f}%</title>"
        if r.case.metric.endswith("_ms"):
            out.append(f'<rect x="{px - 4:.1f}" y="{py - 4:.1f}" width="8" height="8" fill="{c}" '
                       f'fill-opacity="0.8">{tip}</rect>')
        else:
            out.append(f'<circle cx="{px:.1f}" cy="{py:.1f}" r="4.5" fill="{c}" fill-opacity="0.8">{tip}</circle>')
    out.append(f'<text x="{left + plot_w / 2:.0f}" y="{height - 25}" text-anchor="middle">'
               'measured (unit of the row)</text>')
    out.append(f'<text transform="translate(18 {top + plot_h / 2:.0f}) rotate(-90)" text-anchor="middle">'
               'predicted</text>')
    out.append(f'<text x="{left + plot_w / 2:.0f}" y="{height - 8}" text-anchor="middle" fill="#666">'
               'solid: predicted = measured; dashed: +25% / -25%; circles: throughput, squares: latency</text>')
    for k, (acc, c) in enumerate(col.items()):
        yy = top + 14 + 18 * k
        out.append(f'<circle cx="{left + plot_w + 20}" cy="{yy}" r="5" fill="{c}"/>')
        out.append(f'<text x="{left + plot_w + 30}" y="{yy + 4}">{acc}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def plot_html(results: list[CaseResult]) -> str:
    """The same plot as a self-contained interactive plotly page (plotly.js embedded)."""
    import plotly.graph_objects as go

    ok = [r for r in results if r.status == "ok"]
    fig = go.Figure()
    for acc, c in _colours(ok).items():
        rs = [r for r in ok if r.case.accelerator == acc]
        fig.add_trace(go.Scatter(
            x=[r.measured for r in rs], y=[r.predicted for r in rs], mode="markers", name=acc,
            marker=dict(color=c, size=9, symbol=["square" if r.case.metric.endswith("_ms") else "circle" for r in rs]),
            text=[f"{r.case.case_id}<br>{r.case.metric}: {r.signed_error_pct:+.1f}%" for r in rs], hoverinfo="text"))
    vals = [v for r in ok for v in (_predicted(r), r.measured)] or [1.0, 10.0]
    a, b = min(vals) / 2, max(vals) * 2
    fig.add_trace(go.Scatter(x=[a, b], y=[a, b], mode="lines", name="predicted = measured", line=dict(color="#888")))
    fig.update_layout(title="inferchip: predicted against measured (log-log)", xaxis_title="measured (unit of the row)",
                      yaxis_title="predicted", xaxis_type="log", yaxis_type="log", template="plotly_white",
                      width=900, height=700)
    # a fixed div id (plotly draws a random one): the page regenerates byte for byte from the same rows
    page: str = fig.to_html(include_plotlyjs=True, full_html=True, div_id="validation-plot")
    return page


def layout_text(lay: Layout) -> str:
    return f"tp{lay.tp} pp{lay.pp} ep{lay.ep}{' attn-DP' if lay.attn_dp else ''} x{lay.replicas}"


def _md_table(header: list[str], rows: list[list[str]]) -> list[str]:
    esc = [[str(c).replace("|", "\\|").replace("\n", " ") for c in r] for r in rows]
    return ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"] + [
        "| " + " | ".join(r) + " |" for r in esc]


def write_page(page: Path, results: list[CaseResult], overall: dict[str, Any], groups: dict[str, dict[str, Any]],
               cal: Calibration, cal_text: str, cases_file: str, server_models: dict[str, Any] | None = None,
               server_model: str = "sim", lengths: DatasetLengths | None = None,
               vision: dict[str, Any] | None = None) -> None:
    """Markdown page + SVG + HTML plot next to it (same stem), each written atomically. ``cases_file``: the case
    files as the command line gave them and the options that change a prediction, shell-quoted and space-separated,
    so the page's "Generated by" line runs as written.
    ``lengths``: the MLPerf mean input lengths used (None: the defaults); ``vision``: the vision rows'
    JSON body (:func:`inferchip.interfaces.validating.vision_cases.run_vision`), as a section of their own."""
    from inferchip.validation import server as vs
    from inferchip.validation import validate as v

    svg, html = page.with_name(page.stem + "_plot.svg"), page.with_name(page.stem + "_plot.html")
    L = ["# Validation against published measurements", "",
         f"Generated by `inferchip validate {cases_file} --page {shlex.quote(str(page))}`; do not edit by hand. "
         "Every row of the case file is predicted in its own setting (accelerator and count, model, number formats, "
         "parallel layout where the row gives it, else the best the model finds, scenario, lengths, load) and "
         "compared with the published figure. APE = |predicted / measured - 1| in percent; the error column is "
         "signed.", "",
         f"Calibration: {cal_text}."]
    fs = cal.fit_summary
    if fs:
        L += ["", "Fit summary recorded in the calibration: " + ", ".join(
            f"{k} {val:g}" for k, val in fs.items() if ":" not in k) + "."]
        cv_acc = {k.split(":", 1)[1]: val for k, val in fs.items() if k.startswith("cv_median_ape:")}
        if cv_acc:
            L += ["", "Leave-one-accelerator-out median APE (each accelerator predicted by a fit that never "
                  "saw it):", ""]
            L += _md_table(["held-out accelerator", "median APE"],
                           [[a, f"{val:.1f}%"] for a, val in sorted(cv_acc.items())])
    from inferchip.interfaces.report import calibration_table as ct

    L += ["", "Calibration parameters (field descriptions in `inferchip/spec/calibration.py`):", ""]
    L += _md_table(ct.HEADER, ct.parameter_rows(cal, lengths))
    L += ["", "## Summary", ""]
    rows = [stats_row("all cases", overall)]
    if len(groups.get("kind", {})) > 1:  # energy rows: never read the pooled row alone
        rows += [stats_row(k, s) for k, s in groups["kind"].items()]
    L += _md_table(STATS_HEADER, rows)
    if len(groups.get("kind", {})) > 1:
        L += ["", "Energy rows (power in W, tokens per joule) are predicted from the energy constants of "
              "`catalog/assumptions.yaml` (each with its source; the busy power fraction and the host energy per "
              "request are fitted on the energy rows by `tools/energy/fit_power.py`, see the energy section below); "
              "wall power adds the stated host model (`inferchip.cost.energy.wall_power_w`). Read their errors per "
              "scope, above."]
    for key, title in (("accelerator", "Per accelerator"), ("scenario", "Per scenario"), ("source", "Per source"),
                       ("metric", "Per metric")):
        L += ["", f"### {title}", ""]
        L += _md_table([key] + STATS_HEADER[1:], [stats_row(k, s) for k, s in groups[key].items()])
    if server_models:
        from inferchip.validation.server_choice import server_choice_text

        L += ["", "### Server rows: simulator against analytic", "",
              f"The server rows (MLPerf Server/Interactive, open loops at a stated rate) are predicted by the "
              f"`{server_choice_text(server_model)}` model; both models' errors on the same rows:", ""]
        L += _md_table(SERVER_HEADER, server_rows(server_models, server_model))
    L += ["", "## Predicted against measured", "",
          f"![predicted against measured, log-log]({svg.name})", "",
          f"Interactive version (self-contained, hover for the case): [{html.name}]({html.name}).", ""]
    ok = sorted((r for r in results if r.status == "ok"), key=lambda r: -(r.ape or 0))
    L += ["## Worst cases", ""]
    L += _md_table(["case", "metric", "predicted", "measured", "error", "how it was predicted"],
                   [[r.case.case_id, r.case.metric, num(r.predicted), num(r.measured), pct(r.signed_error_pct, True),
                     "; ".join(r.notes) or "-"] for r in ok[:15]])
    bad = [r for r in results if r.status != "ok"]
    L += ["", f"## Rows not predicted ({len(bad)})", ""]
    L += _md_table(["case", "line", "status", "reason"], [[r.case.case_id, str(r.case.line), r.status, r.reason]
                                                          for r in bad]) if bad else ["None."]
    L += ["", "## Every case", ""]
    L += _md_table(["case", "accelerator", "n", "model", "scenario", "metric", "predicted", "measured", "error",
                    "layout"],
                   [[r.case.case_id, r.case.accelerator, str(r.case.num_accelerators), r.case.model, r.case.scenario,
                     r.case.metric, num(r.predicted), num(r.measured), pct(r.signed_error_pct, True),
                     layout_text(r.layout) if r.layout else ("energy" if r.status == "ok" else r.status)]
                    for r in results])
    if vision:
        L += ["", *vision_lines(vision)]
    L += ["", "## How a row is predicted", "", *_method_text(v, vs), ""]
    L += kept_sections(page)
    _write_atomic([(svg, plot_svg(results)), (html, plot_html(results)), (page, "\n".join(L))])  # the three as one


KEEP_BEGIN, KEEP_END = "<!-- kept: begin", "<!-- kept: end -->"


def kept_sections(page: Path) -> list[str]:
    """Sections of an existing page written by other tools (between ``<!-- kept: begin NAME -->``
    and ``<!-- kept: end -->``): a regenerated page keeps them, at its end."""
    try:
        text = page.read_text(encoding="utf-8")
    except OSError:
        return []
    out: list[str] = []
    while (a := text.find(KEEP_BEGIN)) >= 0 and (b := text.find(KEEP_END, a)) >= 0:
        out += [text[a:b + len(KEEP_END)], ""]
        text = text[b + len(KEEP_END):]
    return out


def _method_text(v: ModuleType, vs: ModuleType) -> list[str]:
    """How a row is predicted, with the figures of ``v`` (validation.validate) and ``vs`` (validation.server)."""
    return [
        "* `fixed_length` without concurrency, `offline`: the highest output throughput of continuous batching "
        "(the concurrency per replica that fits memory and gives the most tokens/s). With a concurrency: a closed "
        "loop of that many sequences; `batch_e2e_latency_ms` and `single_stream`: a static batch of that size.",
        "* `server` with a concurrency: a closed loop (analytic). Without one, two models, both reported: "
        "**simulator** (`inferchip.sim` on the layout the analytic search picks, one replica at rate / replicas, "
        "MLPerf length spread as an empirical distribution, scheduler batch size from the notes else what the KV "
        f"cache holds, seed {vs.SEED}): MLPerf Server/Interactive is the highest Poisson rate whose p99 TTFT and TPOT "
        "(ranked as LoadGen ranks them; GPT-J: p99 end-to-end) meet the limits (from the notes, else the README), "
        f"bracketed from the analytic rate by x{vs.RATE_STEP:g} and bisected to the highest passing point of a rate "
        f"grid {percent(vs.REL_TOL):g}% apart anchored at 1 request/s (the edge does not depend on the start), runs of "
        f"{vs.RUN_LIFETIMES:g} request lifetimes ({vs.MIN_REQUESTS}-{vs.MAX_REQUESTS} requests per replica); a row "
        "measured at a stated load (\"measured at ... N completed samples/s\", \"request rate N\") is a Poisson run at "
        "that rate, read as means (the README's definition), and an MLPerf one whose stated load misses its limits "
        "in the simulation is read at the simulated highest rate that meets them; the mean TTFT row of an MLPerf run "
        "with p99 limits is always read at that highest rate (a valid Server run sits at its own limit, and TTFT "
        "rises steeply near it; `validation/server.py` EDGE_METRICS, docs/serving_journal.md, \"MLPerf Server "
        "TTFT\"), TPOT rows at the stated load; request rate INF is a burst. "
        "**analytic**: the open loop solves Little's law b = rate x E2E(b) per replica; MLPerf Server/Interactive is "
        "the highest throughput whose mean TTFT and TPOT meet the p99 limits divided by "
        f"{v.TTFT_P99_OVER_MEAN:g} (TTFT) and {v.TPOT_P99_OVER_MEAN:g} (TPOT), {v.E2E_P99_OVER_MEAN:g} for an "
        f"end-to-end limit; a Poisson arrival waits {v.QUEUE_WAIT_STEPS:g} iteration on average before its prefill.",
        "* MLPerf rows (no input length): the mean input length of each data set is a calibration parameter (one per "
        f"data set, fitted); lengths are lognormal (sigma {v.LENGTH_SIGMA:g}, {v.LENGTH_POINTS} quantile points), "
        "clipped at the data set's limit; in-flight sequences are length-biased (mean context E[i] + E[o^2]/(2E[o]), "
        "KV held for E[i] + E[o^2]/E[o]). GPT-J: beam search of width 4 (MLCommons reference), 128 output tokens "
        "per sample assumed (the cap; the run's mean is not reported).",
        "* Metrics: system tokens/s = per-replica tokens/s x replicas (num_accelerators / (tp x pp)); per accelerator "
        "divides by num_accelerators; samples/s divides by output tokens x beams; ITL = TPOT.",
        "* 4-bit activations (NVFP4/MXFP4 W4A4) run GEMMs at the 4-bit peak (dense GEMMs on Blackwell at the "
        "block-scaled rate, cost.constants.BLOCK_SCALED_4BIT_GEMM); a row without a weight format is not predicted.",
    ]


VISION_HEADER = ["rows", "n", "median APE", "p90 APE", "LOAO n", "LOAO median", "LOAO p90"]


def _vision_stats(name: str, block: dict[str, Any]) -> list[str]:
    out = [name]
    for k in ("in_sample", "loao"):
        st = block[k]
        out += [str(st["cases"]), pct(st["median_ape"]), pct(st["p90_ape"])]
    return out


def vision_lines(body: dict[str, Any]) -> list[str]:
    """The vision rows as a markdown section: errors per scope and scenario, the latency bounds, the worst
    rows and the rows that could not be expressed (``body``: ``run_vision``'s JSON)."""
    s = body["summary"]
    L = ["## Vision rows", "", f"Files: {body['file']}; calibration: {body['calibration']}. LOAO = each "
         "accelerator's rows predicted with parameters fitted without it.", ""]
    rows = [_vision_stats("all performance rows", s["overall"]),
            _vision_stats("calibration rows (MLPerf)", s["calibration_rows"]),
            _vision_stats("other rows", s["other_rows"])]
    rows += [_vision_stats(scen, block) for scen, block in s["by_scenario"].items()]
    rows.append(_vision_stats("wall-power rows (kept apart)", s["power_rows"]))
    L += _md_table(VISION_HEADER, rows)
    lb = s["latency_bound"]
    if lb["rows"]:
        L += ["", f"Latency bounds: {lb['predicted_pass']} of {lb['rows']} server rows predicted to pass at their "
              f"measured load (every published run passed): {lb['right_fraction']:.0%} right."]
        op = lb.get("operating_point")
        if op and op["rows"]:
            L += ["At the submitter's operating point (load as a fraction of the system's Offline rate, per "
                  "accelerator over the chip's Offline runs of the round): "
                  f"{op['predicted_pass']} of {op['rows']} right ({op['right_fraction']:.0%})."]
    ok = sorted((c for c in body["cases"] if c["status"] == "ok" and c["signed_error_pct"] is not None),
                key=lambda c: -abs(c["signed_error_pct"]))
    L += ["", "### Worst vision rows", ""]
    L += _md_table(["case", "accelerator", "scenario", "metric", "predicted", "measured", "error", "LOAO error"],
                   [[c["case_id"], c["accelerator"], c["scenario"], c["metric"], num(c["predicted"]),
                     num(c["measured"]), pct(c["signed_error_pct"], True), pct(c["loao_signed_error_pct"], True)]
                    for c in ok[:15]])
    bad = s["unexpressible"]
    L += ["", f"### Vision rows not expressed ({len(bad)})", ""]
    L += _md_table(["case", "reason"], [[cid, why] for cid, why in bad.items()]) if bad else ["None."]
    return L


def write_vision_page(page: Path, body: dict[str, Any], case_files: str) -> None:
    """A page of vision rows only (``inferchip validate VISION.csv --page``), written atomically; ``case_files``: the
    command line's case files, shell-quoted and space-separated, as the page's "Generated by" line names them."""
    _write_atomic([(page, "\n".join(["# Validation against published measurements: vision rows", "",
                                     f"Generated by `inferchip validate {case_files} --page "
                                     f"{shlex.quote(str(page))}`; do not edit "
                                     "by hand.", "", *vision_lines(body), ""]))])
