"""The review report's page: one self-contained HTML file (plotly.js inline once) with the
verdict, the tables of :mod:`inferchip.interfaces.report.tables` and the charts of
:mod:`inferchip.interfaces.report.charts`, each section with a note on how to read it.
"""

from __future__ import annotations

import json
from typing import Any

from inferchip.catalog.chips import spoken_name
from inferchip.interfaces import fmt
from inferchip.interfaces.report.charts import (
    bars_figure,
    curves_figure,
    memory_figure,
    pareto_figure,
    pareto_not_compared,
    roofline_figure,
    tornado_figure,
)
from inferchip.interfaces.report.claim_page import (
    CLAIM_CSS,
    boundary_figure,
    boundary_html,
    claim_first_screen,
    corners_html,
    ledger_html,
    views_html,
)
from inferchip.interfaces.report.deciding import prediction_error_note
from inferchip.interfaces.report.in_car_page import in_car_figure, in_car_html
from inferchip.interfaces.report.log_ticks import label_log_axes
from inferchip.interfaces.report.tables import (
    assumptions_html,
    esc,
    estimates_html,
    html_table,
    rankings_html,
    summary_html,
)
from inferchip.review.ranking import METRICS
from inferchip.review.review import ReviewResult

CSS = """
:root{--ink:#1d2430;--muted:#5b6472;--line:#e3e7ee;--bg:#f4f6f9;--card:#fff;--accent:#d62728;--ok:#1a7f37}
*{box-sizing:border-box}body{margin:0;font:15px/1.5 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;\
color:var(--ink);background:var(--bg)}
header{background:linear-gradient(120deg,#1d2430,#34445c);color:#fff;padding:28px 40px 22px}
header h1{margin:0 0 4px;font-size:26px;font-weight:650}header p{margin:0;color:#c9d3e3;font-size:14px}
main{max-width:1280px;margin:0 auto;padding:24px 28px 60px}
section{background:var(--card);border:1px solid var(--line);border-radius:12px;padding:20px 24px;margin:0 0 22px;\
box-shadow:0 1px 2px rgba(0,0,0,.04)}
h2{font-size:19px;margin:0 0 6px}h3{font-size:15px;margin:18px 0 6px}
.read{color:var(--muted);font-size:13.5px;margin:0 0 12px;max-width:980px}
.verdict{border:2px solid var(--accent);background:#fff7f7}
.verdict .headline{font-size:19px;font-weight:650;margin:2px 0 12px}
.verdict .claim{font-size:15px;color:#6b1f1f;margin:0 0 12px;font-style:italic}
.verdict ul{margin:0;padding-left:20px}.verdict li{margin:3px 0}
.tiles{display:flex;gap:14px;flex-wrap:wrap;margin:0 0 14px}
.tile{background:#fff;border:1px solid var(--line);border-radius:10px;padding:10px 16px;min-width:150px}
.tile b{display:block;font-size:22px}.tile span{color:var(--muted);font-size:12.5px}
table{border-collapse:collapse;width:100%;font-size:13px}\
th,td{padding:5px 8px;border-bottom:1px solid var(--line);text-align:right;white-space:nowrap}
th{background:#f0f3f7;font-weight:600;position:sticky;top:0}td.l,th.l{text-align:left}
tr.claim td{background:#fff0f0;font-weight:600}tr.na td{color:#9aa3af}
.badge{display:inline-block;font-size:11px;padding:1px 7px;border-radius:9px;background:#fde7c8;color:#8a4b00;\
margin-left:5px;font-weight:600}
.first{color:var(--ok);font-weight:700}.scroll{overflow-x:auto}
details{border:1px solid var(--line);border-radius:8px;margin:8px 0;padding:4px 12px}\
summary{cursor:pointer;font-weight:600;padding:4px 0}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(560px,1fr));gap:14px}
.chart{min-height:360px}.note{color:var(--muted);font-size:13px}
.src{display:block;white-space:normal;text-align:left;color:var(--muted);min-width:260px;max-width:620px;font-weight:400}
table.wrap td{white-space:normal;vertical-align:top}table.wrap td:first-child{white-space:nowrap}
footer{color:var(--muted);font-size:12.5px;text-align:center;padding:10px}
.ranking th{white-space:normal;vertical-align:bottom}.ranking th,.ranking td{padding:5px 6px}
#assumptions table{table-layout:fixed}#assumptions td{white-space:normal;overflow-wrap:anywhere}
#assumptions th:nth-child(1){width:15%}#assumptions th:nth-child(2){width:25%}#assumptions th:nth-child(3){width:9%}
#assumptions th:nth-child(4){width:9%}#assumptions .src{min-width:0;max-width:none}
"""


HOW_TO_READ = {
    "summary": "Each chip's rank over the whole suite on four figures of merit: output tokens/s per chip, per dollar "
               "of capex (the chip's price with its share of the system, as the TCO counts it), total cost of "
               "ownership per million output tokens (lower is better) and output tokens per joule; in brackets "
               "the suite score. The suite score is the mean, over "
               "every model and service level, of the chip's figure divided by the best chip's (1.00 = best "
               "everywhere; a case the chip cannot serve counts 0). Rank 1 is best; '-' means the chip lacks the "
               "figure (no price or no power).",
    "rankings": "One table per model and service level, best first on the verdict's figure of merit. The layout "
                "is the parallel split one model copy uses (tp tensor, pp pipeline, ep expert) and how many copies "
                "fill the scale-up domain; batch is the number of requests in flight per copy. A chip that does "
                "not serve a case is listed with its status and no rank. $/Mtok and tok/s per $ are on the street "
                "price basis (see Cost views, and its note on why they are far below market prices).",
    "bars": "Taller is better except for $ per million tokens. Each group is a model; each bar a chip in its "
            "scale-up domain. The menu switches service level. A missing bar: the model does not fit, no batch "
            "meets the latency limits, or the chip lacks a price or power figure. Log scale.",
    "curves": "Each line is a chip: moving right serves each user faster (fewer requests in flight), moving up "
              "serves more tokens per chip. The upper-right is better; a chip whose line lies above another's at "
              "the speed you need is the better buy at that speed. The menu switches model.",
    "pareto": "Each point is a chip for one model and service level. Left is cheaper per token, up is more tokens "
              "per joule; a star marks a chip no other chip beats on cost, energy and latency (TPOT) at once. "
              "The menu switches model and service level.",
    "memory": "Model weights as a multiple of one chip's usable memory (green: fits with room for the KV cache; "
              "red: needs several chips). The text says how many chips one copy of the model uses in the best "
              "layout, or that it does not fit in the chip's scale-up domain.",
    "roofline": "Where the time goes, per chip. The sloped roof is memory bandwidth, the flat roof the peak "
                "FLOP/s (solid: the format the weights compute in; dotted: bf16, used by attention). Circles are "
                "the operators of a decode step, diamonds of a prefill step (the large marker is the whole step). "
                "Points far left under the slope are limited by memory, points at the flat roof by compute; "
                "distance below the roof is time lost to overheads, quantisation and communication.",
    "tornado": "How the claimed chip's suite score changes when one of its specs is halved (blue) or doubled "
               "(red), all else fixed; the label is its rank then. Long bars are the specs that matter. The table "
               "gives the multiplier that would make it first (found by bisection between x0.25 and x16).",
}


def _chart(figures: dict[str, dict[str, Any]], div: str, fig: dict[str, Any] | None, missing: str) -> str:
    if fig is None:
        return f'<p class="note">{esc(missing)}</p>'
    figures[div] = fig
    return f'<div id="{div}" class="chart"></div>'


def _verdict_html(res: ReviewResult) -> str:
    v = res.verdict
    tiles = ""
    if res.claim is not None:
        rank = v.get("suite_rank")
        tiles = ('<div class="tiles">'
                 f'<div class="tile"><b>{esc(rank if rank else "-")}'
                 f'{" / " + esc(v.get("suite_ranked")) if rank else ""}</b>'
                 f'<span>suite rank on {esc(v["metric_label"])}</span></div>'
                 f'<div class="tile"><b>{esc(v.get("first_places"))} / {esc(v.get("cases_total"))}</b>'
                 '<span>cases where it ranks first</span></div>'
                 f'<div class="tile"><b>{len(res.claim.estimated_fields)}</b>'
                 '<span>estimated figures</span></div></div>')
    badge = '<span class="badge">estimate</span>' if res.claim is not None and res.claim.estimate else ""
    items = "".join(f"<li>{esc(line)}</li>" for line in v["lines"][1:])
    cases = "".join(f"<li>{esc(c['sentence'])}</li>" for c in v.get("cases", []))
    case_block = f"<h3>Case by case</h3><ul>{cases}</ul>" if cases else ""
    if res.judgement is not None and v.get("claim_text"):
        who = spoken_name(v.get("claim_name") or v["claim_id"])
        claim = (f'<p class="read">Where {esc(who)} ranks on one figure, {esc(v["judged_on"])} (the '
                 "street-price basis for money); the claim itself is judged part by part above.</p>")
    else:
        claim = (f'<p class="claim">Claim reviewed: “{esc(v["claim_text"])}”, judged on {esc(v["judged_on"])}.</p>'
                 if v.get("claim_text") else "")
    title = "Ranking on one figure of merit" if res.judgement is not None else "Verdict"
    cls = "" if res.judgement is not None else ' class="verdict"'
    return (f'<section{cls} id="verdict"><h2>{title}{badge}</h2>{claim}{tiles}'
            f'<p class="headline">{esc(v["headline"])}</p><ul>{items}</ul>{case_block}</section>')


def _sensitivity_html(res: ReviewResult, figures: dict[str, dict[str, Any]], fig: dict[str, Any] | None) -> str:
    sens = res.verdict.get("sensitivity") or []
    if not sens:
        return ""
    head = [("spec", True), ("rank at x0.5", False), ("rank at x1", False), ("rank at x2", False), ("finding", True)]
    rows = [([esc(s["label"]), esc(s["ranks"].get("0.5") or "-"), esc(s["ranks"].get("1.0") or "-"),
              esc(s["ranks"].get("2.0") or "-"), esc(s["summary"])], "") for s in sens]
    return ('<section id="sensitivity"><h2>Sensitivity of the claimed chip</h2>'
            f'<p class="read">{esc(HOW_TO_READ["tornado"])}</p>'
            + _chart(figures, "fig-tornado", fig, "") + html_table(head, rows) + "</section>")


def sections(res: ReviewResult, assumptions: list[dict[str, Any]], figures: dict[str, dict[str, Any]],
             figs: dict[str, Any]) -> str:
    parts = [claim_first_screen(res), in_car_html(res, _chart(figures, "fig-in-car", figs.get("in_car"), "")),
             _verdict_html(res),
             f'<section id="summary"><h2>Summary</h2><p class="read">{esc(HOW_TO_READ["summary"])}</p>'
             f'{summary_html(res)}</section>',
             views_html(res), ledger_html(res), corners_html(res),
             boundary_html(res, _chart(figures, "fig-boundary", figs["boundary"], "")),
             '<section id="rankings"><h2>Rankings per model and service level</h2>'
             f'<p class="read">{esc(HOW_TO_READ["rankings"])}</p>'
             f'{prediction_error_note()}{rankings_html(res)}</section>']
    bars = "".join(_chart(figures, f"fig-bars-{m}", figs["bars"][m],
                          f"No chip has a {METRICS[m].label} figure in this run.")
                   for m in ("energy", "capex", "tco", "throughput"))
    parts.append('<section id="merit"><h2>Tokens per joule and per dollar</h2>'
                 f'<p class="read">{esc(HOW_TO_READ["bars"])}</p>{prediction_error_note(("throughput", "power"))}{bars}'
                 '</section>')
    parts.append('<section id="curves"><h2>Throughput vs interactivity</h2>'
                 f'<p class="read">{esc(HOW_TO_READ["curves"])}</p>{prediction_error_note(("throughput", "tpot"))}'
                 + _chart(figures, "fig-curves", figs["curves"], "No chip serves any model.") + "</section>")
    left_out = pareto_not_compared(res)
    parts.append(f'<section id="pareto"><h2>Pareto front</h2><p class="read">{esc(HOW_TO_READ["pareto"])}</p>'
                 + (f'<p class="read">{esc(left_out)}</p>' if left_out else "")
                 + prediction_error_note(("throughput", "tpot", "power"))
                 + _chart(figures, "fig-pareto", figs["pareto"], "No chip serves any model.") + "</section>")
    parts.append(f'<section id="memory"><h2>Memory fit</h2><p class="read">{esc(HOW_TO_READ["memory"])}</p>'
                 + _chart(figures, "fig-memory", figs["memory"], "") + "</section>")
    roofs = "".join(_chart(figures, f"fig-roof-{i}", figs["roofline"][c.id], "")
                    for i, c in enumerate(res.chips) if figs["roofline"][c.id] is not None)
    parts.append(f'<section id="roofline"><h2>Rooflines</h2><p class="read">{esc(HOW_TO_READ["roofline"])}</p>'
                 f'<div class="grid">{roofs}</div></section>')
    parts.append(_sensitivity_html(res, figures, figs["tornado"]))
    parts.append(estimates_html(res))
    parts.append(assumptions_html(assumptions))
    return "\n".join(p for p in parts if p)


def render_html(res: ReviewResult, assumptions: list[dict[str, Any]]) -> str:
    from plotly.offline import get_plotlyjs

    figures: dict[str, dict[str, Any]] = {}
    body = sections(res, assumptions, figures, {
        "bars": {m: bars_figure(res, m) for m in METRICS}, "curves": curves_figure(res),
        "roofline": {c.id: roofline_figure(res, c.id) for c in res.chips}, "memory": memory_figure(res),
        "pareto": pareto_figure(res), "tornado": tornado_figure(res), "boundary": boundary_figure(res),
        "in_car": in_car_figure(res)})
    for f in figures.values():
        label_log_axes(f)
    script = "\n".join(f"Plotly.newPlot({json.dumps(div)}, {_js(f['data'])}, {_js(f['layout'])}, "
                       "{displaylogo: false, responsive: true});" for div, f in figures.items())
    cfg = res.config
    title = f"Design review{': ' + res.claim.name if res.claim else ''}"
    year = res.judgement.year if res.judgement is not None else None
    sub = (f"{_count(len(res.chips), 'chip')} x {_count(len(res.models), 'model')} x "
           f"{_count(len(cfg.slos), 'service level')} · "
           + (f"competitors of {year} · " if year else "")
           + f"{cfg.weights} weights · {cfg.input_tokens:,}/{cfg.output_tokens:,} tokens in/out · ranked on "
           f"{METRICS[res.metric].label}")
    return ("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{esc(title)}</title><style>{CSS}{CLAIM_CSS}</style>"
            f"<script>{get_plotlyjs()}</script></head><body>"
            f"<header><h1>{esc(title)}</h1><p>{esc(sub)}</p></header><main>{body}</main>"
            "<footer>Generated by inferchip review. Figures are model predictions, not measurements; see the "
            f"assumptions above.</footer><script>{script}</script></body></html>")


def _js(obj: Any) -> str:
    """JSON for a script block: NaN/inf as null, and no '</' that could close the script."""
    return fmt.to_json(obj).replace("</", "<\\/")


def _count(n: int, noun: str) -> str:
    """``n`` and the noun, plural where ``n`` is not 1 ("1 model", "2 chips")."""
    return f"{n:,} {noun}{'' if n == 1 else 's'}"
