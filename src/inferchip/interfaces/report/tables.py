"""The review report's HTML tables: the suite summary, the rankings per case, the estimated
inputs and the assumptions, with the cell formatting and escaping they share.
"""

from __future__ import annotations

import html
import math
from typing import Any

from inferchip.interfaces import fmt
from inferchip.review.ranking import METRICS
from inferchip.review.review import ReviewResult


def esc(s: Any) -> str:
    """``s`` as text safe inside HTML."""
    return html.escape(str(s))


def cell(v: Any, kind: str) -> str:
    """One escaped table cell: ``kind`` "rate" (tokens/s), "ms" (a time in s), "g" (3 significant
    figures) or anything else (the value as text); "-" for a missing or non-finite value."""
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "-"
    if kind == "rate":
        return fmt.rate(v, "")
    if kind == "ms":
        return fmt.ms(v)
    if kind == "g":
        return f"{v:,.3g}" if abs(v) < 1e3 else f"{v:,.0f}"
    return esc(v)


def html_table(headers: list[tuple[str, bool]], rows: list[tuple[list[str], str]], wrap: bool = False) -> str:
    """A scrollable table; ``headers`` are (label, left-aligned), ``rows`` are (HTML cells, row class)."""
    th = "".join(f'<th class="{"l" if left else ""}">{esc(h)}</th>' for h, left in headers)
    heads = [f' data-h="{esc(h)}"' if i else "" for i, (h, _) in enumerate(headers)]  # for a narrow page's stack
    body = "".join(f'<tr class="{cls}">' + "".join(
        f'<td class="{"l" if headers[i][1] else ""}"{heads[i] if i < len(heads) else ""}>{c}</td>'
        for i, c in enumerate(cells)) + "</tr>"
        for cells, cls in rows)
    cls = ' class="wrap"' if wrap else ""
    return f'<div class="scroll"><table{cls}><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table></div>'


SHORT_LABELS = {"throughput": "tok/s per chip", "capex": "tok/s per $ capex", "tco": "TCO $/Mtok",
                "energy": "tok/J"}


def summary_html(res: ReviewResult) -> str:
    names = list(METRICS)
    from inferchip.review.deploy.sizing import system_text

    head = [("chip", True), ("vendor", True), ("chips per system", False)] + [
        (SHORT_LABELS[n], False) for n in names] + [("cases served", False)]
    order = sorted(res.chips, key=lambda c: (res.suite[res.metric][c.id]["rank"] or 10**6, c.id))
    rows = []
    for c in order:
        served = sum(1 for r in res.rows if r["chip_id"] == c.id and r["setting"] == "domain" and r["status"] == "ok")
        cells = [esc(c.id) + ('<span class="badge">estimate</span>' if c.estimate else ""), esc(c.vendor),
                 esc(system_text(c.id, c.domain, res.rows))]
        for n in names:
            s = res.suite[n][c.id]
            rank = s["rank"]
            cells.append("-" if rank is None else
                         f'<span class="{"first" if rank == 1 else ""}">{rank}</span> ({s["score"]:.2f})')
        cells.append(f"{served} / {len(res.cases)}")
        rows.append((cells, "claim" if c.is_claim else ""))
    return html_table(head, rows)


def _system_cell(r: dict[str, Any]) -> str:
    """The chips of the system a row is judged on (its basis on hover); a sized deployment that serves nothing up
    to the bound reads "none ≤ N"."""
    n = int(r["deployment_chips"])
    basis = str(r["deployment_basis"])
    text = f"none ≤ {n:,}" if r["status"] != "ok" and basis.startswith("sized") else f"{n:,}"
    return f'<span title="{esc(basis)}">{esc(text)}</span>'


def rankings_html(res: ReviewResult) -> str:
    met = METRICS[res.metric]
    out = []
    head = [("rank", False), ("chip", True), ("chips per system", False), ("tok/s per system", False),
            ("tok/s per chip", False), ("tok/s per user", False), ("TTFT", False), ("TPOT", False), ("layout", True),
            ("batch", False), ("$/Mtok", False), ("tok/J", False), ("tok/s per $", False), ("memory per chip", False),
            ("status", True)]
    for i, case in enumerate(res.cases):
        rs = [r for r in res.rows if r["setting"] == "domain" and (r["model_id"], r["slo"]) == case]
        rs.sort(key=lambda r: (r.get(f"rank_{res.metric}") or 10**6, r["chip_id"]))
        rows = []
        for r in rs:
            rank = r.get(f"rank_{res.metric}")
            ok = r["status"] == "ok"
            layout = (f"tp{r['tp']} pp{r['pp']} ep{r['ep']} x{r['replicas']}" if ok else "")
            mem = (f"{fmt.gb(r['memory_per_chip_bytes']).removesuffix(' GB')} / "
                   f"{fmt.gb(r['memory_capacity_per_chip_bytes'])}" if ok else "")
            rows.append(([f'<span class="{"first" if rank == 1 else ""}">{rank or "-"}</span>', esc(r["chip_id"]),
                          _system_cell(r), cell(r["output_tokens_per_s"], "rate") if ok else "",
                          cell(r["output_tokens_per_s_per_chip"], "rate"),
                          cell(r["output_tokens_per_s_per_user"], "rate"),
                          cell(r["ttft_s"], "ms"), cell(r["tpot_s"], "ms"),
                          esc(layout), cell(r["batch"], "g"),
                          cell(r["usd_per_million_tokens"], "g"), cell(r["output_tokens_per_j"], "g"),
                          cell(r["output_tokens_per_s_per_usd_capex"], "g"), esc(mem),
                          esc(r["status"] + (" ★" if r.get("pareto") else ""))],
                         "claim" if r["is_claim"] else ("" if ok else "na")))
        limits = next((f"TTFT ≤ {r['max_ttft_s'] * 1e3:g} ms, TPOT ≤ {r['max_tpot_s'] * 1e3:g} ms"
                       for r in rs if r["max_ttft_s"] is not None), "no latency limit")
        out.append(f"<details{' open' if i == 0 else ''}><summary>{esc(case[0])} — {esc(case[1])} "
                   f"({esc(limits)}), ranked on {esc(met.label)}</summary>"
                   f'<div class="ranking">{html_table(head, rows)}</div></details>')
    return "".join(out)


def estimates_html(res: ReviewResult) -> str:
    rows = []
    for c in res.chips:
        for name, r in sorted(c.estimated_fields.items()):
            rows.append(([esc(c.id), esc(name), cell(r["low"], "g"), cell(r["central"], "g"), cell(r["high"], "g"),
                          f'<span class="src">{esc(r["derivation"])}</span>'], "claim" if c.is_claim else ""))
    if not rows:
        return ""
    return ('<section id="estimates"><h2>Estimated inputs</h2><p class="read">Figures given as a range (low, central, '
            'high) because no datasheet states them. The review uses the central value; the claimed chip\'s '
            'estimates are each set to their favourable and unfavourable end, one at a time (named corners), '
            'and sampled over their ranges by the Monte Carlo behind each part\'s probability.</p>'
            + html_table([("chip", True), ("figure", True), ("low", False), ("central", False), ("high", False),
                      ("derivation", True)], rows, wrap=True) + "</section>")


def assumptions_html(assumptions: list[dict[str, Any]]) -> str:
    rows = [([esc(a["group"]), esc(a["name"]),
              esc(a["value"] if not isinstance(a["value"], float) else f"{a['value']:g}"),
              esc(a["unit"]), f'<span class="src">{esc(a["source"])}</span>'], "") for a in assumptions]
    return ('<section id="assumptions"><h2>Every assumption used</h2><p class="read">The review\'s own settings, the '
            'service levels, the calibration of the performance model, and every constant of the energy and money '
            'models with its source.</p>'
            + html_table([("group", True), ("name", True), ("value", False), ("unit", True), ("source", True)],
                         rows, wrap=True) + "</section>")
