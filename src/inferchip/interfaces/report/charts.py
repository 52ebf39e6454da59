"""The review report's charts, as plain plotly figure dictionaries (drawn by ``Plotly.newPlot``
in the page): the figure-of-merit bars, throughput vs interactivity, rooflines, memory
fit, the Pareto front and the sensitivity tornado. Each returns None when it has nothing to draw.
"""

from __future__ import annotations

import math
from typing import Any

from inferchip.interfaces import fmt
from inferchip.review.ranking import METRICS
from inferchip.review.review import ReviewResult

PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
           "#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173", "#3182bd", "#e6550d", "#31a354", "#756bb1")


CLAIM_COLOUR = "#d62728"


def colours(res: ReviewResult) -> dict[str, str]:
    out, i = {}, 0
    for c in res.chips:
        if c.is_claim:
            out[c.id] = CLAIM_COLOUR
        else:
            out[c.id] = PALETTE[i % len(PALETTE)]
            i += 1
    return out


def _short(model_id: str) -> str:
    return model_id.split("/")[-1]


def _num(v: Any) -> float | None:
    return float(v) if isinstance(v, (int, float)) and math.isfinite(v) else None


def _dropdown(groups: dict[str, list[dict[str, Any]]], layout: dict[str, Any]
              ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Traces in groups; a dropdown shows one group at a time (the first at start)."""
    data: list[dict[str, Any]] = []
    spans = []
    for traces in groups.values():
        spans.append((len(data), len(data) + len(traces)))
        data.extend(traces)
    for i, t in enumerate(data):
        t["visible"] = spans[0][0] <= i < spans[0][1]
    if len(groups) > 1:
        buttons = [{"label": label, "method": "update",
                    "args": [{"visible": [a <= i < b for i in range(len(data))]}]}
                   for label, (a, b) in zip(groups, spans, strict=False)]
        layout["updatemenus"] = [{"buttons": buttons, "x": 1.0, "xanchor": "right", "y": 1.02, "yanchor": "bottom",
                                  "direction": "down", "showactive": True}]
    return data, layout


def _base_layout(title: str, **kw: Any) -> dict[str, Any]:
    lay = {"title": {"text": title, "x": 0.0, "xanchor": "left", "xref": "paper", "font": {"size": 15}},
           "margin": {"l": 70, "r": 20, "t": 80, "b": 60},
           "paper_bgcolor": "white", "plot_bgcolor": "#fafbfc", "font": {"family": "system-ui, sans-serif", "size": 12},
           "legend": {"font": {"size": 11}}, "hovermode": "closest"}
    lay.update(kw)
    return lay


def bars_figure(res: ReviewResult, metric: str) -> dict[str, Any] | None:
    """Grouped bars: one group per model, one bar per chip (domain setting), a dropdown per service level."""
    met = METRICS[metric]
    col = colours(res)
    groups: dict[str, list[dict[str, Any]]] = {}
    any_value = False
    for slo in res.config.slos:
        traces = []
        for chip in res.chips:
            ys = [_num(res.tables[metric][(m.id, slo)].get(chip.id)) for m in res.models]
            any_value |= any(y is not None for y in ys)
            traces.append({"type": "bar", "name": chip.id, "x": [_short(m.id) for m in res.models], "y": ys,
                           "marker": {"color": col[chip.id]},
                           "hovertemplate": f"{chip.id}<br>%{{x}}: %{{y:,.4g}} {met.unit}<extra></extra>"})
        groups[f"service level: {slo}"] = traces
    if not any_value:
        return None
    data, layout = _dropdown(groups, _base_layout(
        f"{met.label} ({met.unit}; {'higher' if met.higher_is_better else 'lower'} is better)", barmode="group",
        yaxis={"type": "log", "title": {"text": met.unit}}, height=430))
    return {"data": data, "layout": layout}


def curves_figure(res: ReviewResult) -> dict[str, Any] | None:
    col = colours(res)
    groups: dict[str, list[dict[str, Any]]] = {}
    for m in res.models:
        traces = []
        for chip in res.chips:
            c = res.curves.get(m.id, {}).get(chip.id)
            if not c:
                continue
            chips = c.get("deployment_chips")  # a sized deployment: its chips in the legend
            name = chip.id if not chips else f"{chip.id} ({'/'.join(f'{n:,}' for n in chips)} chips)"
            traces.append({"type": "scatter", "mode": "lines+markers", "name": name, "x": c["tokens_per_s_per_user"],
                           "y": c["tokens_per_s_per_chip"], "marker": {"size": 4, "color": col[chip.id]},
                           "line": {"width": 3 if chip.is_claim else 1.6, "color": col[chip.id]},
                           "hovertemplate": f"{name}<br>%{{x:,.1f}} tok/s per user<br>"
                                            "%{y:,.0f} tok/s per chip<extra></extra>"})
        if traces:
            groups[_short(m.id)] = traces
    if not groups:
        return None
    data, layout = _dropdown(groups, _base_layout(
        "Throughput vs interactivity (continuous batching, best layouts)",
        xaxis={"type": "log", "title": {"text": "output tokens/s per user (1 / TPOT)"}},
        yaxis={"type": "log", "title": {"text": "output tokens/s per chip"}}, height=480))
    return {"data": data, "layout": layout}


def roofline_figure(res: ReviewResult, chip_id: str) -> dict[str, Any] | None:
    import numpy as np

    from inferchip.cost.peaks import peak_flop_per_s
    from inferchip.performance.setting import resolve_formats
    from inferchip.spec.formats import compute_format

    pts = res.roofline.get(chip_id) or []
    if not pts:
        return None
    chip = next(c for c in res.chips if c.id == chip_id)
    f = resolve_formats(chip.weights_in(res.config), None, None)  # the formats its points were costed in
    gemm = compute_format(f.weights, f.activations)
    ai = np.geomspace(0.1, 1e5, 120)
    data: list[dict[str, Any]] = []
    for name, dash in ((gemm, "solid"), ("bf16", "dot"))[:1 if gemm == "bf16" else 2]:  # one roof for bf16
        peak = float(peak_flop_per_s(chip.params, name))
        data.append({"type": "scatter", "mode": "lines", "name": f"roof, {name} peak", "x": ai.tolist(),
                     "y": np.minimum(peak, ai * chip.params.memory_bytes_per_s).tolist(),
                     "line": {"color": "#444", "dash": dash, "width": 2}, "hoverinfo": "skip"})
    symbols = {"decode": "circle", "prefill": "diamond"}
    col = {m.id: PALETTE[i % len(PALETTE)] for i, m in enumerate(res.models)}
    for m in res.models:
        for phase, sym in symbols.items():
            sel = [p for p in pts if p["model_id"] == m.id and p["phase"] == phase]
            if not sel:
                continue
            data.append({"type": "scatter", "mode": "markers", "name": _short(m.id), "showlegend": phase == "decode",
                         "legendgroup": m.id, "x": [p["arithmetic_intensity_flop_per_byte"] for p in sel],
                         "y": [p["attained_flop_per_s"] for p in sel], "text": [p["op_class"] for p in sel],
                         "marker": {"symbol": sym, "size": [11 if p["op_class"] == "whole step" else 7 for p in sel],
                                    "color": col[m.id], "line": {"width": 1, "color": "white"}},
                         "hovertemplate": f"{_short(m.id)} {phase}: %{{text}}<br>%{{x:,.3g}} FLOP/B<br>"
                                          "%{y:.3s}FLOP/s<extra></extra>"})
    return {"data": data, "layout": _base_layout(
        f"{chip_id}{' (estimate)' if chip.estimate else ''}",
        xaxis={"type": "log", "title": {"text": "arithmetic intensity (FLOP per DRAM byte)"}},
        yaxis={"type": "log", "title": {"text": "attained FLOP/s"}}, height=470,
        margin={"l": 70, "r": 10, "t": 50, "b": 40},
        showlegend=True, legend={"font": {"size": 10}, "orientation": "h", "y": -0.22, "x": 0})}


def memory_figure(res: ReviewResult) -> dict[str, Any]:
    chips = [c.id for c in res.chips]
    models = [m.id for m in res.models]
    cell = {(r["chip_id"], r["model_id"]): r for r in res.memory}
    z, text = [], []
    for c in chips:
        zr, tr = [], []
        for m in models:
            r = cell.get((c, m))
            frac = r["weights_fraction_of_one_chip"] if r else None
            zr.append(math.log2(frac) if frac and math.isfinite(frac) and frac > 0 else None)
            short = "✗ no fit" if r and r["chips_per_replica"] is None else (
                "1 chip" if r and r["chips_per_replica"] == 1 else f"{r['chips_per_replica']} chips" if r else "")
            share = ((f"{frac:.0%}" if frac < 10 else f"{frac:,.0f}x") if frac is not None and math.isfinite(frac)
                     else "")
            tr.append(f"{share}<br>{short}" if share else short)
        z.append(zr)
        text.append(tr)
    ticks = [-3, -2, -1, 0, 1, 2, 3, 4]
    data = [{"type": "heatmap", "x": [_short(m) for m in models], "y": chips, "z": z, "text": text,
             "texttemplate": "%{text}", "textfont": {"size": 10}, "zmin": -3, "zmax": 4, "xgap": 2, "ygap": 2,
             "colorscale": [[0, "#1a9850"], [3 / 7, "#d9ef8b"], [0.5, "#fee08b"], [1, "#d73027"]],
             "colorbar": {"title": {"text": "weights ÷ one chip"}, "tickvals": ticks,
                          "ticktext": [f"{2.0 ** t:g}x" for t in ticks]},
             "hovertemplate": "%{y}<br>%{x}<br>%{text}<extra></extra>"}]
    return {"data": data, "layout": _base_layout("Memory fit: model weights as a share of one chip's usable memory",
                                                 height=max(360, 34 * len(chips) + 140),
                                                 yaxis={"autorange": "reversed"},
                                                 xaxis={"title": {"text": f"model ({res.config.weights} weights)",
                                                                  "standoff": 12},
                                                        "tickangle": -25, "automargin": True},
                                                 margin={"l": 190, "r": 20, "t": 60, "b": 110})}


def pareto_figure(res: ReviewResult) -> dict[str, Any] | None:
    col = colours(res)
    groups: dict[str, list[dict[str, Any]]] = {}
    have_money = any(r["usd_per_million_tokens"] is not None for r in res.rows)
    xcol, ycol = (("usd_per_million_tokens", "output_tokens_per_j") if have_money
                  else ("tpot_s", "output_tokens_per_s_per_chip"))
    xtitle, ytitle = (("$ per million output tokens (TCO)", "output tokens per joule") if have_money
                      else ("TPOT (s)", "output tokens/s per chip"))
    for m in res.models:
        for slo in res.config.slos:
            rs = [r for r in res.rows if r["setting"] == "domain" and r["model_id"] == m.id and r["slo"] == slo
                  and r["status"] == "ok" and _num(r[xcol]) and _num(r[ycol])]
            traces = [{"type": "scatter", "mode": "markers+text", "name": r["chip_id"], "x": [r[xcol]], "y": [r[ycol]],
                       "text": [r["chip_id"] + (" ★" if r.get("pareto") else "")], "textposition": "top center",
                       "textfont": {"size": 10},
                       "marker": {"size": 15 if r.get("pareto") else 9, "color": col[r["chip_id"]],
                                  "line": {"width": 2 if r.get("pareto") else 0, "color": "black"}},
                       "hovertemplate": f"{r['chip_id']}<br>TPOT {fmt.ms(r['tpot_s'])}<br>TTFT {fmt.ms(r['ttft_s'])}"
                                        "<br>x %{x:,.4g}<br>y %{y:,.4g}<extra></extra>"} for r in rs]
            if traces:
                groups[f"{_short(m.id)}, {slo}"] = traces
    if not groups:
        return None
    data, layout = _dropdown(groups, _base_layout(
        "Pareto front: cost, energy and latency (★ = no chip beats it on all three)", showlegend=False,
        xaxis={"type": "log", "title": {"text": xtitle}}, yaxis={"type": "log", "title": {"text": ytitle}}, height=480))
    return {"data": data, "layout": layout}


FRONT_FIGURES = {"usd_per_million_tokens": "$ per million output tokens", "output_tokens_per_j": "tokens per joule",
                 "tpot_s": "TPOT", "output_tokens_per_s_per_chip": "tokens/s per chip"}


def pareto_not_compared(res: ReviewResult) -> str:
    """The chips the fronts leave out because they lack one of its figures (an unpriced chip: no $/Mtok), each with
    the figures it lacks and the cases, in words; "" where every chip that serves a case is compared. Such a chip is
    neither on a front nor off it, and the chart cannot place it."""
    lacks: dict[str, set[str]] = {}
    cases: dict[str, int] = {}
    for front in res.pareto.values():
        for chip, missing in front.get("not_compared", {}).items():
            lacks.setdefault(chip, set()).update(FRONT_FIGURES.get(m, m) for m in missing)
            cases[chip] = cases.get(chip, 0) + 1
    if not lacks:
        return ""
    from inferchip.review.inputs import namer

    name = namer(res.chips)  # a sentence names chips by name; the chart labels its points by id
    said = "; ".join(f"{name(chip)} (no {' or '.join(sorted(lacks[chip]))}; {cases[chip]} of {len(res.pareto)} cases)"
                     for chip in sorted(lacks))
    return ("Not compared, so neither on a front nor beaten, and not on the chart (a figure of the front missing): "
            + said + ".")


def tornado_figure(res: ReviewResult) -> dict[str, Any] | None:
    sens = res.verdict.get("sensitivity") or []
    if not sens:
        return None
    base = next((s["scores"].get("1.0") for s in sens if s["scores"].get("1.0") is not None), None)
    if base is None:
        return None
    rows = sorted(sens, key=lambda s: abs((s["scores"].get("2.0") or 0) - (s["scores"].get("0.5") or 0)))
    data = []
    for key, name, colour in (("0.5", "spec x0.5", "#4393c3"), ("2.0", "spec x2", "#d6604d")):
        data.append({"type": "bar", "orientation": "h", "name": name, "y": [s["label"] for s in rows],
                     "x": [(s["scores"].get(key) or 0.0) - base for s in rows], "base": base,
                     "marker": {"color": colour},
                     "text": [f"rank {s['ranks'].get(key) or '-'}" for s in rows], "textposition": "outside",
                     "hovertemplate": "%{y} " + name.split()[-1] + ": suite score %{x:.3f}, %{text}<extra></extra>"})
    return {"data": data, "layout": _base_layout(
        f"Sensitivity of {res.claim.id if res.claim else ''}: suite score with one spec halved or doubled",
        barmode="overlay", xaxis={"title": {"text": f"suite score on {METRICS[res.metric].label} (base {base:.3f})"}},
        height=120 + 48 * len(rows), margin={"l": 190, "r": 40, "t": 60, "b": 55})}
