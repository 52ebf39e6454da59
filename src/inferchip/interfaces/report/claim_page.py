"""The review report's first screen and the claim's details: the claim quoted with its source
and date, each part's verdict and probability, the choices made (the ledger); then the cost
views, the named corners and the claim-boundary map (a plotly heatmap with the published
range drawn on it). The in-car section is :mod:`inferchip.interfaces.report.in_car_page`.
"""

from __future__ import annotations

from typing import Any

from inferchip.interfaces.report.charts import _base_layout
from inferchip.interfaces.report.deciding import (
    PART_NAMES,
    central_html,
    chip_name,
    chip_short_name,
    headline_html,
    model_errors,
)
from inferchip.interfaces.report.silicon_note import VERDICT_CLASS, deployment_cell, deployment_note
from inferchip.interfaces.report.tables import cell, esc, html_table
from inferchip.review.claim_file import RULE_TEXT, pct
from inferchip.review.deploy.sizing import system_text
from inferchip.review.review import ReviewResult

MARKET_NOTE = (
    "Why these $ per million tokens are far below market API prices (often 20-100x): they are the owner's cost "
    "of running the chip flat out at the modelled operating point around the clock (amortised capital over the "
    "assumptions' lifetime, electricity, colocation), with no vendor or cloud margin, no software, staff or "
    "network costs, and full utilisation. Real fleets run well below full load (diurnal demand, headroom for "
    "latency), and API prices carry the provider's margin and the cost of idle capacity. Compare chips with "
    "each other, on one basis, not with price lists.")

CLAIM_CSS = (".no{color:#b42318;font-weight:700}.und{color:#8a4b00;font-weight:700}"
             ".quote{font-size:16px;border-left:4px solid var(--accent);padding:4px 14px;margin:4px 0 8px;"
             "font-style:italic}.src2{color:var(--muted);font-size:12px;margin:0 0 10px}"
             ".first-screen{display:grid;grid-template-columns:minmax(0,1fr);gap:12px;"
             "align-items:start}.first-screen .choices{columns:2;column-gap:28px}.first-screen h3{margin:0 0 6px}"
             ".choices{font-size:12.5px;padding-left:18px}"
             ".choices li{margin:2px 0}.first-screen table{font-size:13px}.first-screen td span{white-space:nowrap}"
             ".first-screen td,.first-screen th{padding:5px 7px}"
             ".first-screen th,.first-screen td div{white-space:normal}"
             ".first-screen table.wrap td:first-child{white-space:normal;min-width:180px}"
             "#corners th{white-space:normal;vertical-align:bottom}#corners td:nth-child(3){min-width:200px}"
             ".headline{font-size:15px;margin:4px 0 10px}.first-screen td .src{min-width:0}"
             ".first-screen td div.err{white-space:nowrap}"
             "@media(max-width:900px){.first-screen .choices{columns:1}"
             ".first-screen table.wrap,.first-screen table.wrap tbody,.first-screen table.wrap tr,"
             ".first-screen table.wrap td{display:block;width:auto;min-width:0}"
             ".first-screen table.wrap thead{display:none}"
             ".first-screen table.wrap tr{border-bottom:1px solid #d8dee8;padding:6px 0}"
             ".first-screen table.wrap td{border:0;padding:2px 7px;text-align:left}"
             ".first-screen table.wrap td[data-h]::before{content:attr(data-h) ': ';color:var(--muted);"
             "font-size:12px}}")


def _prob(p: float | None) -> str:
    return pct(p)


# The validated errors each part's Monte Carlo samples (review.uncertainty.monte_carlo: throughput and board
# power on every tokens/s, per-joule and per-dollar figure, TTFT and TPOT for the latency limits; the in-car
# rig's vision latency error, review.in_car); lowest-cost silicon is the silicon model's, with no validated error.
PART_ERRORS = {"per_chip": ("throughput",), "per_system": ("throughput",), "equal_power": ("throughput", "power"),
               "equal_money": ("throughput", "power"), "performance_per_watt": ("throughput", "power"),
               "latency_interactive": ("throughput", "ttft", "tpot"), "lowest_cost_silicon": (),
               "frame_deadlines": ("vision latency",)}


def part_error_html(part: str, errors: dict[str, tuple[float, float]]) -> str:
    """The validated model error that qualifies a part's figures, one figure a line ("-" for none)."""
    names = PART_ERRORS.get(part)
    if names is None:
        return "-"
    if not names:
        return '<div class="src">none validated (silicon model; estimate ranges only)</div>'
    return "".join(f'<div class="err">{esc(n.upper() if n in ("ttft", "tpot") else n)} '
                   f'{errors[n][0]:.1f} / {errors[n][1]:.1f} %</div>' for n in names if n in errors)


def part_name(key: str) -> str:
    """A part key as the results name it ("equal_money (street)") in words ("equal money (street)")."""
    part, _, view = key.partition(" ")
    return PART_NAMES.get(part, part.replace("_", " ")) + (f" {view}" if view else "")


# An estimated figure of the corners table in words with its unit (catalogue spec paths; the review's price names).
FIGURE_WORDS = {"memory.bandwidth_tb_per_s": ("memory bandwidth", "TB/s"), "memory.capacity": ("memory", "GB"),
                "power.tdp_w": ("TDP", "W"), "interconnect.scaleup_bw_gb_per_s_per_direction":
                    ("scale-up link", "GB/s per direction"), "street price": ("street price", "USD"),
                "modelled price": ("modelled cost", "USD")}
TFLOPS = "compute.dense_tflops."


def corner_figures(figures: dict[str, float]) -> str:
    """A corner's figures in words with units: "dense TFLOPS int8 2,000, fp8 2,000"; "memory bandwidth 0.82 TB/s"."""
    tflops = [f"{k[len(TFLOPS):]} {v:,.4g}" for k, v in figures.items() if k.startswith(TFLOPS)]
    out = [f"dense TFLOPS {', '.join(tflops)}"] if tflops else []
    for k, v in figures.items():
        if k.startswith(TFLOPS):
            continue
        words, unit = FIGURE_WORDS.get(k, (k.split(".")[-1].replace("_", " "), ""))
        out.append(f"{words} {v:,.0f} USD" if unit == "USD" else f"{words} {v:,.4g}{' ' + unit if unit else ''}")
    return "; ".join(out)


def chip_text(chip_id: str | None, res: ReviewResult) -> str:
    """A chip by its name (id on hover) and the system it is judged on: chips per system, or sized per case."""
    if not chip_id:
        return "-"
    entry = next((c for c in res.chips if c.id == chip_id), None)
    if entry is None:
        return f'<div title="{esc(chip_id)}">{esc(chip_name(chip_id, res))}</div>'
    system = system_text(entry.id, entry.domain, res.rows)
    words = (f"sized per case: {system.split(': ', 1)[1]} chips" if system.startswith("sized: ")
             and system[7:8].isdigit() else system if system.startswith("sized")
             else "1 chip" if system == "1" else f"{system} chips a system")
    return f'<div title="{esc(entry.id)}">{esc(entry.name)}</div><div class="src">{esc(words)}</div>'


def claim_first_screen(res: ReviewResult) -> str:
    """Claim, parts, verdicts with probabilities, choices made."""
    j = res.judgement
    if j is None:
        return ""
    c = j.claim
    rows = []
    errors = model_errors()
    for p in j.parts:
        v = p["verdict"] if p["probability"] is not None else "not judged"  # "undecided" is a probability
        basis = f'<span title="{esc(p["basis"])}">{esc(p["view"])}</span>' if p["view"] else "-"
        figure = (f'<div class="src">figure: {esc(p["metric"])}'
                  f'{" (" + esc(p["unit"]) + ")" if p.get("unit") else ""}</div>' if p.get("metric") else "")
        rows.append(([esc(p["label"]) + figure, basis,
                      f'<span class="{VERDICT_CLASS.get(v, "und")}">{esc(v)}</span>' + deployment_cell(p),
                      esc(_prob(p["probability"])), chip_text(p.get("rival"), res),
                      central_html(p, res),
                      part_error_html(p["part"], errors)], ""))
    parts = html_table([("part of the claim", True), ("price basis", True), ("verdict", True), ("probability", False),
                        ("main rival (its system)", True),
                        ("at the central figures: deciding numbers", True),
                        ("model error (median / p90)", True)], rows, wrap=True)
    why = "".join(f"<li><b>{esc(p['label'])}</b>{' (' + esc(p['view']) + ')' if p['view'] else ''}: "
                  f"{esc(p['decided_by'])}</li>" for p in j.parts)
    firsts = {e["choice"]: e["default"] for e in reversed(j.ledger)}  # one line per choice
    choices = "".join(f"<li><b>{esc(k)}</b>: {esc(firsts[k])}</li>"
                      for k in dict.fromkeys(e["choice"] for e in j.ledger))
    year = f"the competitors of {j.year}" if j.year else "the chips chosen for this review (no year-matched set)"
    other = (f'<p class="note">The claim names {esc(c.chip)}; this review judges {esc(j.judged_chip)} against its '
             "words.</p>" if j.judged_chip != c.chip else "")
    return (f'<section class="verdict" id="claim"><h2>The claim, part by part</h2>'
            f'<p class="quote">\u201c{esc(" ".join(c.text.split()))}\u201d</p>'
            f'<p class="src2">{esc(c.source)}; posted {esc(c.date)}. {esc(c.note)}</p>{other}'
            f'<div class="first-screen"><div>{headline_html(j.parts)}{parts}'
            f'<p class="note">Judged on {len(j.cases)} cases (models within {c.max_total_params / 1e9:.0f}B '
            f'parameters x service levels), against {esc(year)}. A part {esc(RULE_TEXT)}; its probability is the '
            f'share of {j.samples:,} Monte Carlo samples (seed {j.seed}) in which it holds, over every estimate '
            f'range, price range and the model\'s validated error (throughput, power, TTFT and TPOT; the vision '
            f'model\'s frame latency on the rig). The deciding numbers are at the central figures, against the best '
            f'other chip there: the median over the cases both serve of the claimed chip\'s figure / that chip\'s, and '
            f'each one\'s suite score (its figure / the best chip\'s, averaged over the cases, 0 where it does not '
            f'serve; 1.00 = best in every case).</p>{deployment_note(j.parts)}'
            f'<details><summary>What decides each part</summary><ul class="choices">{why}</ul></details></div>'
            f'<div><h3>Choices made</h3><ul class="choices">{choices}</ul>'
            '<p class="note">Each with its alternative and the verdicts it flips in the ledger below.</p></div></div>'
            '</section>')


def views_html(res: ReviewResult) -> str:
    """Each cost view: its basis, every chip's figure with range and source, and the unpriced chips."""
    if not res.views:
        return ""
    out = []
    for v in res.views:
        rows = [([esc(cid), esc(p.basis), cell(p.usd, "g"), f"{cell(p.low_usd, 'g')} - {cell(p.high_usd, 'g')}",
                  esc(p.date or "-"), f'<span class="src">{esc(p.source)}{(" - " + esc(p.note)) if p.note else ""}'
                  '</span>'], "claim" if res.claim is not None and cid == res.claim.id else "")
                for cid, p in sorted(v.prices.items())]
        un = "".join(f"<li>{esc(chip_short_name(cid, res))}: {esc(why)}</li>"
                     for cid, why in sorted(v.unpriced.items()))
        table = html_table([("chip", True), ("basis", True), ("USD", False), ("range USD", False), ("date", True),
                            ("source", True)], rows, wrap=True) if rows else '<p class="note">No chip is priced.</p>'
        out.append(f"<h3>View: {esc(v.label)}</h3>{table}"
                   + (f'<p class="note">Unpriced on this basis, left out of its money comparisons:</p><ul>{un}</ul>'
                      if un else ""))
    return ('<section id="views"><h2>Cost views: one declared basis each</h2><p class="read">Every money figure '
            'uses one basis, named; the two are never mixed. The tables above and the case tables use the street '
            'view; the "equal money" part is judged in each view.</p>'
            f'{"".join(out)}<p class="note">{esc(MARKET_NOTE)}</p></section>')


def corners_html(res: ReviewResult) -> str:
    j = res.judgement
    if j is None or not j.corners:
        return ""
    keys = list(j.corners[0]["holds"])
    rows = []
    for c in j.corners:
        figs = corner_figures(c["figures"])
        end = c["end"] + (f' ({c["side"]})' if c.get("side") else "")
        cells = [esc(c["group"]), esc(end), f'<span class="src">{esc(figs)}</span>']
        cells += ["-" if c["holds"][k] is None else ('<span class="first">holds</span>' if c["holds"][k]
                                                    else '<span class="no">no</span>') for k in keys]
        rows.append((cells, ""))
    skipped = "".join(f"<li>{esc(k)}: {esc(v)}</li>" for k, v in sorted(j.not_varied.items()))
    return ('<section id="corners"><h2>Named corners: each estimate at its favourable and unfavourable end</h2>'
            '<p class="read">Each group of the claimed chip\'s estimated figures at its favourable and at its '
            'unfavourable end (for the claim: more compute, memory and bandwidth; less power, price and cost), one '
            'group at a time, every other figure central, no model error. These are corners, not verdicts: the '
            'verdicts and probabilities come from the Monte Carlo over every range at once.</p>'
            + html_table([("estimate", True), ("end", True), ("figures", True)]
                         + [(part_name(k), False) for k in keys], rows, wrap=True)
            + (f'<p class="note">Estimated figures not varied here:</p><ul>{skipped}</ul>' if skipped else "")
            + ('<p class="note">Lowest-cost silicon is read here as the claim words it, one chip\'s modelled '
               'manufacturing cost (the verdict\'s reading); its reading on the silicon of the deployment that '
               'serves each case is the ledger\'s "silicon basis" entry (and <code>inferchip explore --silicon '
               'deployment</code>).</p>' if "lowest_cost_silicon" in keys else "")
            + "</section>")


def ledger_html(res: ReviewResult) -> str:
    j = res.judgement
    if j is None:
        return ""
    rows = []
    for e in j.ledger:
        flips = ("not computed" if e["flips"] is None else ", ".join(map(part_name, e["flips"])) if e["flips"]
                 else "no flip")
        rows.append(([esc(e["choice"]), esc(e["default"]), esc(e["alternative"]),
                      f'<span class="{"no" if e["flips"] else ""}">{esc(flips)}</span>',
                      f'<span class="src">{esc(e.get("note") or "")}</span>'], ""))
    return ('<section id="ledger"><h2>Ledger of reviewer choices</h2><p class="read">Every choice the verdicts '
            'depend on, its default, the alternative tried (same Monte Carlo samples) and the parts whose verdict '
            'changes under it.</p>' + html_table([("choice", True), ("default", True), ("alternative", True),
                                                   ("verdicts that flip", True), ("note", True)], rows, wrap=True)
            + "</section>")


def boundary_figure(res: ReviewResult) -> dict[str, Any] | None:
    """Heatmap of where each part holds over bandwidth x cost multiplier; a menu picks the part;
    the published bandwidth range and each view's cost range drawn as rectangles."""
    j = res.judgement
    b = j.boundary if j is not None else {}
    if not b or not b.get("parts"):
        return None
    xs, ys = b["x_tb_per_s"], b["y_cost_multiplier"]
    data: list[dict[str, Any]] = []
    buttons: list[dict[str, Any]] = []
    names = list(b["parts"])
    for i, (part, grid) in enumerate(b["parts"].items()):
        z = [[1 if grid[xi][yi] else 0 for xi in range(len(xs))] for yi in range(len(ys))]
        data.append({"type": "heatmap", "x": xs, "y": ys, "z": z, "zmin": 0, "zmax": 1, "visible": i == 0,
                     "colorscale": [[0, "#f4d6d4"], [1, "#b9e4c4"]], "showscale": False, "name": part_name(part),
                     "hovertemplate": "%{x:.2f} TB/s, cost x%{y:.2f}: " + part_name(part)
                     + " holds: %{z} (1 yes, 0 no)<extra></extra>",
                     "xgap": 1, "ygap": 1})
        buttons.append({"label": part_name(part), "method": "update",
                        "args": [{"visible": [k == i for k in range(len(names))]}]})
    r = b["range"]
    shapes = [{"type": "rect", "xref": "x", "yref": "y", "x0": r["bandwidth_tb_per_s"][0],
               "x1": r["bandwidth_tb_per_s"][1], "y0": r[f"{v}_cost_multiplier"][0],
               "y1": r[f"{v}_cost_multiplier"][1], "line": {"color": col, "width": 2, "dash": dash}}
              for v, col, dash in (("modelled", "#1d2430", "solid"), ("street", "#d62728", "dash"))
              if f"{v}_cost_multiplier" in r]
    if not shapes:
        shapes = [{"type": "line", "xref": "x", "yref": "paper", "x0": x, "x1": x, "y0": 0, "y1": 1,
                   "line": {"color": "#1d2430", "width": 2}} for x in r["bandwidth_tb_per_s"]]
    data.append({"type": "scatter", "mode": "markers", "x": [r["central_tb_per_s"]], "y": [1.0],
                 "marker": {"symbol": "x", "size": 12, "color": "#1d2430"}, "name": "central figures",
                 "hovertemplate": "central: %{x:.2f} TB/s, cost x1<extra></extra>"})
    buttons = [{**bt, "args": [{"visible": [*bt["args"][0]["visible"], True]}]} for bt in buttons]
    layout = _base_layout(f"Where each part holds: {res.claim.id if res.claim else ''} memory bandwidth x cost "
                          "(green: holds; box: published range)",
                          xaxis={"title": {"text": "memory bandwidth, TB/s"}, "type": "log",
                                 "tickvals": xs, "ticktext": [f"{x:.2f}" for x in xs]},
                          yaxis={"title": {"text": "cost, multiple of its central figure in each view"},
                                 "type": "log", "tickvals": ys, "ticktext": [f"x{y:.2g}" for y in ys]},
                          shapes=shapes, height=460,
                          updatemenus=[{"buttons": buttons, "x": 1.0, "xanchor": "right", "y": 1.02,
                                        "yanchor": "bottom", "direction": "down", "showactive": True}])
    return {"data": data, "layout": layout}


def boundary_html(res: ReviewResult, chart: str) -> str:
    j = res.judgement
    if j is None or not j.boundary:
        return ""
    miss = j.boundary.get("not_mapped") or []
    return ('<section id="boundary"><h2>Claim-boundary map</h2><p class="read">Where each part of the claim holds '
            'as the claimed chip\'s memory bandwidth and cost change (menu: the part). Central figures for every '
            'other chip, no model error. The solid box is the published bandwidth range with the modelled-cost '
            'range, the dashed one with the street-price range; x marks the central figures.</p>' + chart
            + (f'<p class="note">Not mapped (no verdict on the claim\'s cases; the frame-deadline part is judged on '
               f'the in-car rig): {esc(", ".join(map(part_name, miss)))}.</p>' if miss else "")
            + "</section>")
