"""The review report: one self-contained HTML file (plotly.js inline once), plus CSV and JSON.

Charts are plain plotly figure dictionaries drawn by ``Plotly.newPlot`` in the page, so
the page works offline and the Python side needs plotly only for its bundled plotly.js.
Files are written into a staging folder beside ``--out`` and renamed into place at the
end (:func:`prepare_output`, :func:`commit_output`): a failed or interrupted run leaves
no half-written report.
"""

from __future__ import annotations

import html
import json
import math
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from inferchip.analysis.ranking import METRICS
from inferchip.analysis.review import SIZE_CLASSES, ReviewResult
from inferchip.errors import InvalidSettingError
from inferchip.interfaces import fmt

PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
           "#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173", "#3182bd", "#e6550d", "#31a354", "#756bb1")
CLAIM_COLOUR = "#d62728"
FILES = ("report.html", "results.csv", "results.json")


# ------------------------------------------------------------------ output folder, atomically
def prepare_output(out: Path) -> Path:
    """Refuse an unwritable ``out`` before any work, and make the staging folder beside it."""
    out = out.expanduser()
    for p in (out.absolute(), *out.absolute().parents):
        if p.exists() and not p.is_dir():
            raise InvalidSettingError(f"--out {out}: {p} is a file, not a folder")
    parent = out.absolute().parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=parent))
        umask = os.umask(0)
        os.umask(umask)
        staging.chmod(0o777 & ~umask)  # mkdtemp makes it private; the report is an ordinary folder
    except OSError as exc:
        raise InvalidSettingError(f"--out {out}: cannot write in {parent} ({exc.strerror})") from None
    if out.exists() and not os.access(out, os.W_OK | os.X_OK):
        shutil.rmtree(staging, ignore_errors=True)
        raise InvalidSettingError(f"--out {out}: the existing folder cannot be replaced (no write permission)")
    return staging


def commit_output(staging: Path, out: Path) -> None:
    """Move the finished report into ``out``, replacing an earlier one as a whole."""
    out = out.expanduser()
    old = None
    if out.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.absolute().parent))
        os.replace(out, old / "previous")
    try:
        os.replace(staging, out)
    except OSError:
        if old is not None:
            os.replace(old / "previous", out)
        raise
    finally:
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)


def discard_output(staging: Path) -> None:
    shutil.rmtree(staging, ignore_errors=True)


# ------------------------------------------------------------------ files
def write_report(res: ReviewResult, folder: Path) -> None:
    """report.html, results.csv and results.json into ``folder``."""
    import pandas as pd

    assumptions = collect_assumptions(res)
    pd.DataFrame(res.rows).to_csv(folder / "results.csv", index=False)
    (folder / "results.json").write_text(fmt.to_json(results_json(res, assumptions)), encoding="utf-8")
    (folder / "report.html").write_text(render_html(res, assumptions), encoding="utf-8")


def _case_key(case: tuple[str, str]) -> str:
    return f"{case[0]}|{case[1]}"


def results_json(res: ReviewResult, assumptions: list[dict[str, Any]]) -> dict[str, Any]:
    cfg = res.config
    return {
        "settings": {"chips": [c.id for c in res.chips], "claim": res.claim.id if res.claim else None,
                     "models": [m.id for m in res.models], "service_levels": list(cfg.slos), "metric": res.metric,
                     "weights": cfg.weights, "input_tokens": cfg.input_tokens, "output_tokens": cfg.output_tokens,
                     "domain_cap": cfg.domain_cap},
        "verdict": res.verdict,
        "chips": [{"id": c.id, "name": c.name, "vendor": c.vendor, "chips_in_domain": c.domain,
                   "is_estimate": c.estimate, "is_claim": c.is_claim, "estimated_fields": c.estimated_fields}
                  for c in res.chips],
        "models": [{"id": m.id, "total_params": m.total_params, "active_params": m.active_params,
                    "size_class": m.size_class} for m in res.models],
        "rows": res.rows,
        "rankings": {name: {_case_key(case): vals for case, vals in t.items()} for name, t in res.tables.items()},
        "suite": res.suite,
        "pareto": {_case_key(case): v for case, v in res.pareto.items()},
        "throughput_interactivity": res.curves,
        "roofline": res.roofline,
        "memory_fit": res.memory,
        "assumptions": assumptions,
    }


# ------------------------------------------------------------------ charts (plotly figure dicts)
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


def _dropdown(groups: dict[str, list[dict[str, Any]]], layout: dict[str, Any]) -> tuple[list[dict], dict]:
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
                   for label, (a, b) in zip(groups, spans)]
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
            traces.append({"type": "scatter", "mode": "lines+markers", "name": chip.id, "x": c["tokens_per_s_per_user"],
                           "y": c["tokens_per_s_per_chip"], "marker": {"size": 4, "color": col[chip.id]},
                           "line": {"width": 3 if chip.is_claim else 1.6, "color": col[chip.id]},
                           "hovertemplate": f"{chip.id}<br>%{{x:,.1f}} tok/s per user<br>%{{y:,.0f}} tok/s per chip<extra></extra>"})
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

    from inferchip.analysis.predict import resolve_formats
    from inferchip.cost.peaks import peak_flop_per_s
    from inferchip.spec.formats import compute_format

    pts = res.roofline.get(chip_id) or []
    if not pts:
        return None
    chip = next(c for c in res.chips if c.id == chip_id)
    f = resolve_formats(res.config.weights, None, None)
    gemm = compute_format(f.weights, f.activations)
    ai = np.geomspace(0.1, 1e5, 120)
    data: list[dict[str, Any]] = []
    for name, dash in ((gemm, "solid"), ("bf16", "dot")):
        peak = float(peak_flop_per_s(chip.params, name))
        data.append({"type": "scatter", "mode": "lines", "name": f"roof, {name} peak", "x": ai.tolist(),
                     "y": np.minimum(peak, ai * chip.params.memory_bytes_per_s).tolist(),
                     "line": {"color": "#444", "dash": dash, "width": 2}, "hoverinfo": "skip"})
        if name == "bf16" and gemm == "bf16":
            data.pop()
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
        yaxis={"type": "log", "title": {"text": "attained FLOP/s"}}, height=470, margin={"l": 70, "r": 10, "t": 50, "b": 40},
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
            share = (f"{frac:.0%}" if frac < 10 else f"{frac:,.0f}x") if frac is not None and math.isfinite(frac) else ""
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
                                                 xaxis={"title": {"text": f"model ({res.config.weights} weights)"}},
                                                 margin={"l": 190, "r": 20, "t": 60, "b": 60})}


def pareto_figure(res: ReviewResult) -> dict[str, Any] | None:
    col = colours(res)
    groups: dict[str, list[dict[str, Any]]] = {}
    have_money = any(r["usd_per_million_tokens"] is not None for r in res.rows)
    xcol, ycol = ("usd_per_million_tokens", "output_tokens_per_j") if have_money else ("tpot_s", "output_tokens_per_s_per_chip")
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


# ------------------------------------------------------------------ assumptions
def collect_assumptions(res: ReviewResult) -> list[dict[str, Any]]:
    """Every assumption the review used: its own settings, the service levels, the
    calibration of the performance model and the constants of the energy and money models."""
    cfg = res.config
    out: list[dict[str, Any]] = [
        {"group": "review", "name": "weights format", "value": cfg.weights, "unit": "",
         "source": "FP8 weights and activations with an FP8 KV cache, as MLPerf Hopper and AMD submissions run"},
        {"group": "review", "name": "input / output tokens", "value": f"{cfg.input_tokens} / {cfg.output_tokens}",
         "unit": "tokens", "source": "1k/1k chat workload (InferenceMAX, METHODS.md 4.3)"},
        {"group": "review", "name": "serving", "value": "continuous batching, chunked prefill", "unit": "",
         "source": "analysis.engine.continuous_batch (vLLM / TensorRT-LLM scheduling)"},
        {"group": "review", "name": "scale-up domain evaluated", "value": f"its size up to {cfg.domain_cap}, else 64",
         "unit": "chips", "source": "no suite model has more than 64 attention heads: larger domains (TPU pods) only "
                                    "add data-parallel replicas, which leave per-chip figures unchanged"},
        {"group": "review", "name": "ranking", "value": "domain setting", "unit": "",
         "source": "a chip is ranked in its scale-up domain, whose layout search includes one-chip replicas"},
    ]
    for bound, name, ttft, tpot, basis in SIZE_CLASSES:
        out.append({"group": "service level: interactive", "name": name, "value": f"TTFT {ttft * 1e3:g} ms, TPOT {tpot * 1e3:g} ms",
                    "unit": "", "source": basis + " (p99 limits; compared here with modelled means)"})
    out.append({"group": "service level: batch", "name": "all models", "value": "no latency limit", "unit": "",
                "source": "maximum throughput (MLPerf Offline)"})
    try:
        from inferchip.cost.calibration import load_calibration

        cal = load_calibration(None)
        for k in cal.physical_parameter_names():
            desc = type(cal).model_fields[k].description or ""
            out.append({"group": "performance model calibration" + (" (fitted)" if cal.fitted else " (defaults)"),
                        "name": k, "value": getattr(cal, k), "unit": "", "source": desc})
    except Exception as exc:  # a broken calibration file is reported, not fatal for the report
        out.append({"group": "performance model calibration", "name": "error", "value": str(exc), "unit": "", "source": ""})
    try:
        from inferchip.catalog.assumptions import load_assumptions

        for name, value, unit, citation in load_assumptions().describe():
            out.append({"group": "energy and money: " + name.split(".")[0], "name": name, "value": value,
                        "unit": unit, "source": citation})
    except Exception as exc:
        out.append({"group": "energy and money", "name": "error", "value": str(exc), "unit": "", "source": ""})
    return out


# ------------------------------------------------------------------ HTML
CSS = """
:root{--ink:#1d2430;--muted:#5b6472;--line:#e3e7ee;--bg:#f4f6f9;--card:#fff;--accent:#d62728;--ok:#1a7f37}
*{box-sizing:border-box}body{margin:0;font:15px/1.5 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;color:var(--ink);background:var(--bg)}
header{background:linear-gradient(120deg,#1d2430,#34445c);color:#fff;padding:28px 40px 22px}
header h1{margin:0 0 4px;font-size:26px;font-weight:650}header p{margin:0;color:#c9d3e3;font-size:14px}
main{max-width:1280px;margin:0 auto;padding:24px 28px 60px}
section{background:var(--card);border:1px solid var(--line);border-radius:12px;padding:20px 24px;margin:0 0 22px;box-shadow:0 1px 2px rgba(0,0,0,.04)}
h2{font-size:19px;margin:0 0 6px}h3{font-size:15px;margin:18px 0 6px}
.read{color:var(--muted);font-size:13.5px;margin:0 0 12px;max-width:980px}
.verdict{border:2px solid var(--accent);background:#fff7f7}
.verdict .headline{font-size:19px;font-weight:650;margin:2px 0 12px}
.verdict .claim{font-size:15px;color:#6b1f1f;margin:0 0 12px;font-style:italic}
.verdict ul{margin:0;padding-left:20px}.verdict li{margin:3px 0}
.tiles{display:flex;gap:14px;flex-wrap:wrap;margin:0 0 14px}
.tile{background:#fff;border:1px solid var(--line);border-radius:10px;padding:10px 16px;min-width:150px}
.tile b{display:block;font-size:22px}.tile span{color:var(--muted);font-size:12.5px}
table{border-collapse:collapse;width:100%;font-size:13px}th,td{padding:5px 8px;border-bottom:1px solid var(--line);text-align:right;white-space:nowrap}
th{background:#f0f3f7;font-weight:600;position:sticky;top:0}td.l,th.l{text-align:left}
tr.claim td{background:#fff0f0;font-weight:600}tr.na td{color:#9aa3af}
.badge{display:inline-block;font-size:11px;padding:1px 7px;border-radius:9px;background:#fde7c8;color:#8a4b00;margin-left:5px;font-weight:600}
.first{color:var(--ok);font-weight:700}.scroll{overflow-x:auto}
details{border:1px solid var(--line);border-radius:8px;margin:8px 0;padding:4px 12px}summary{cursor:pointer;font-weight:600;padding:4px 0}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(560px,1fr));gap:14px}
.chart{min-height:360px}.note{color:var(--muted);font-size:13px}
.src{display:block;white-space:normal;text-align:left;color:var(--muted);min-width:260px;max-width:620px;font-weight:400}
table.wrap td{white-space:normal;vertical-align:top}table.wrap td:first-child{white-space:nowrap}
footer{color:var(--muted);font-size:12.5px;text-align:center;padding:10px}
"""

HOW_TO_READ = {
    "summary": "Each chip's rank over the whole suite on four figures of merit: output tokens/s per chip, per dollar "
               "of chip price, total cost of ownership per million output tokens (lower is better) and output tokens "
               "per joule; in brackets the suite score. The suite score is the mean, over "
               "every model and service level, of the chip's figure divided by the best chip's (1.00 = best "
               "everywhere; a case the chip cannot serve counts 0). Rank 1 is best; '-' means the chip lacks the "
               "figure (no price or no power).",
    "rankings": "One table per model and service level, best first on the verdict's figure of merit. The layout "
                "is the parallel split one model copy uses (tp tensor, pp pipeline, ep expert) and how many copies "
                "fill the scale-up domain; batch is the number of requests in flight per copy.",
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


def _cell(v: Any, kind: str) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "-"
    if kind == "rate":
        return fmt.rate(v, "")
    if kind == "ms":
        return fmt.ms(v)
    if kind == "g":
        return f"{v:,.3g}" if abs(v) < 1e3 else f"{v:,.0f}"
    return esc(v)


def _table(headers: list[tuple[str, bool]], rows: list[tuple[list[str], str]], wrap: bool = False) -> str:
    th = "".join(f'<th class="{"l" if left else ""}">{esc(h)}</th>' for h, left in headers)
    body = "".join(f'<tr class="{cls}">' + "".join(
        f'<td class="{"l" if headers[i][1] else ""}">{c}</td>' for i, c in enumerate(cells)) + "</tr>"
        for cells, cls in rows)
    cls = ' class="wrap"' if wrap else ""
    return f'<div class="scroll"><table{cls}><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table></div>'


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
                 f'<div class="tile"><b>{esc(rank if rank else "-")}{" / " + esc(v.get("suite_ranked")) if rank else ""}</b>'
                 f'<span>suite rank on {esc(v["metric_label"])}</span></div>'
                 f'<div class="tile"><b>{esc(v.get("first_places"))} / {esc(v.get("cases_total"))}</b>'
                 '<span>cases where it ranks first</span></div>'
                 f'<div class="tile"><b>{len(res.claim.estimated_fields)}</b><span>estimated figures</span></div></div>')
    badge = '<span class="badge">estimate</span>' if res.claim is not None and res.claim.estimate else ""
    items = "".join(f"<li>{esc(line)}</li>" for line in v["lines"][1:])
    cases = "".join(f"<li>{esc(c['sentence'])}</li>" for c in v.get("cases", []))
    case_block = f"<h3>Case by case</h3><ul>{cases}</ul>" if cases else ""
    claim = (f'<p class="claim">Claim reviewed: “{esc(v["claim_text"])}”, judged on {esc(v["judged_on"])}.</p>'
             if v.get("claim_text") else "")
    return (f'<section class="verdict" id="verdict"><h2>Verdict{badge}</h2>{claim}{tiles}'
            f'<p class="headline">{esc(v["headline"])}</p><ul>{items}</ul>{case_block}</section>')


SHORT_LABELS = {"throughput": "tok/s per chip", "capex": "tok/s per $ of price", "tco": "TCO $/Mtok",
                "energy": "tok/J"}


def _summary_html(res: ReviewResult) -> str:
    names = list(METRICS)
    head = [("chip", True), ("vendor", True), ("chips in domain", False)] + [
        (SHORT_LABELS[n], False) for n in names] + [("cases served", False)]
    order = sorted(res.chips, key=lambda c: (res.suite[res.metric][c.id]["rank"] or 10**6, c.id))
    rows = []
    for c in order:
        served = sum(1 for r in res.rows if r["chip_id"] == c.id and r["setting"] == "domain" and r["status"] == "ok")
        cells = [esc(c.id) + ('<span class="badge">estimate</span>' if c.estimate else ""), esc(c.vendor), str(c.domain)]
        for n in names:
            s = res.suite[n][c.id]
            rank = s["rank"]
            cells.append("-" if rank is None else
                         f'<span class="{"first" if rank == 1 else ""}">{rank}</span> ({s["score"]:.2f})')
        cells.append(f"{served} / {len(res.cases)}")
        rows.append((cells, "claim" if c.is_claim else ""))
    return _table(head, rows)


def _rankings_html(res: ReviewResult) -> str:
    met = METRICS[res.metric]
    out = []
    head = [("rank", False), ("chip", True), ("tok/s per chip", False), ("tok/s per user", False), ("TTFT", False),
            ("TPOT", False), ("layout", True), ("batch", False), ("$/Mtok", False), ("tok/J", False),
            ("tok/s per $", False), ("memory per chip", False), ("status", True)]
    for i, case in enumerate(res.cases):
        rs = [r for r in res.rows if r["setting"] == "domain" and (r["model_id"], r["slo"]) == case]
        rs.sort(key=lambda r: (r.get(f"rank_{res.metric}") or 10**6, r["chip_id"]))
        rows = []
        for r in rs:
            rank = r.get(f"rank_{res.metric}")
            ok = r["status"] == "ok"
            layout = (f"tp{r['tp']} pp{r['pp']} ep{r['ep']} x{r['replicas']}" if ok else "")
            mem = (f"{fmt.gb(r['memory_per_chip_bytes'])} / {fmt.gb(r['memory_capacity_per_chip_bytes'])}" if ok else "")
            rows.append(([f'<span class="{"first" if rank == 1 else ""}">{rank or "-"}</span>', esc(r["chip_id"]),
                          _cell(r["output_tokens_per_s_per_chip"], "rate"), _cell(r["output_tokens_per_s_per_user"], "rate"),
                          _cell(r["ttft_s"], "ms"), _cell(r["tpot_s"], "ms"), esc(layout), _cell(r["batch"], "g"),
                          _cell(r["usd_per_million_tokens"], "g"), _cell(r["output_tokens_per_j"], "g"),
                          _cell(r["output_tokens_per_s_per_usd_capex"], "g"), esc(mem),
                          esc(r["status"] + (" ★" if r.get("pareto") else ""))],
                         "claim" if r["is_claim"] else ("" if ok else "na")))
        limits = next((f"TTFT ≤ {r['max_ttft_s'] * 1e3:g} ms, TPOT ≤ {r['max_tpot_s'] * 1e3:g} ms"
                       for r in rs if r["max_ttft_s"] is not None), "no latency limit")
        out.append(f"<details{' open' if i == 0 else ''}><summary>{esc(case[0])} — {esc(case[1])} "
                   f"({esc(limits)}), ranked on {esc(met.label)}</summary>{_table(head, rows)}</details>")
    return "".join(out)


def _sensitivity_html(res: ReviewResult, figures: dict[str, dict[str, Any]], fig: dict[str, Any] | None) -> str:
    sens = res.verdict.get("sensitivity") or []
    if not sens:
        return ""
    head = [("spec", True), ("rank at x0.5", False), ("rank at x1", False), ("rank at x2", False), ("finding", True)]
    rows = [([esc(s["label"]), esc(s["ranks"].get("0.5") or "-"), esc(s["ranks"].get("1.0") or "-"),
              esc(s["ranks"].get("2.0") or "-"), esc(s["summary"])], "") for s in sens]
    return (f'<section id="sensitivity"><h2>Sensitivity of the claimed chip</h2><p class="read">{esc(HOW_TO_READ["tornado"])}</p>'
            + _chart(figures, "fig-tornado", fig, "") + _table(head, rows) + "</section>")


def _estimates_html(res: ReviewResult) -> str:
    rows = []
    for c in res.chips:
        for name, r in sorted(c.estimated_fields.items()):
            rows.append(([esc(c.id), esc(name), _cell(r["low"], "g"), _cell(r["central"], "g"), _cell(r["high"], "g"),
                          f'<span class="src">{esc(r["derivation"])}</span>'], "claim" if c.is_claim else ""))
    if not rows:
        return ""
    levels = res.verdict.get("estimates", {}).get("levels") or {}
    lv = "".join(f"<li>{esc(k)}: suite rank {esc(v.get('rank'))}, first in {esc(v.get('first_places'))} cases</li>"
                 for k, v in levels.items())
    return ('<section id="estimates"><h2>Estimated inputs</h2><p class="read">Figures given as a range (low, central, '
            'high) because no datasheet states them. The review uses the central value; the claimed chip is re-run '
            f'with every estimate at its low and at its high end.</p>{"<ul>" + lv + "</ul>" if lv else ""}'
            + _table([("chip", True), ("figure", True), ("low", False), ("central", False), ("high", False),
                      ("derivation", True)], rows, wrap=True) + "</section>")


def _assumptions_html(assumptions: list[dict[str, Any]]) -> str:
    rows = [([esc(a["group"]), esc(a["name"]), esc(a["value"] if not isinstance(a["value"], float) else f"{a['value']:g}"),
              esc(a["unit"]), f'<span class="src">{esc(a["source"])}</span>'], "") for a in assumptions]
    return ('<section id="assumptions"><h2>Every assumption used</h2><p class="read">The review\'s own settings, the '
            'service levels, the calibration of the performance model, and every constant of the energy and money '
            'models with its source.</p>' + _table([("group", True), ("name", True), ("value", False), ("unit", True),
                                                    ("source", True)], rows, wrap=True) + "</section>")


def sections(res: ReviewResult, assumptions: list[dict[str, Any]], figures: dict[str, dict[str, Any]],
             figs: dict[str, Any]) -> str:
    parts = [_verdict_html(res),
             f'<section id="summary"><h2>Summary</h2><p class="read">{esc(HOW_TO_READ["summary"])}</p>{_summary_html(res)}</section>',
             f'<section id="rankings"><h2>Rankings per model and service level</h2><p class="read">{esc(HOW_TO_READ["rankings"])}</p>'
             f'{_rankings_html(res)}</section>']
    bars = "".join(_chart(figures, f"fig-bars-{m}", figs["bars"][m],
                          f"No chip has a {METRICS[m].label} figure in this run.") for m in ("energy", "capex", "tco", "throughput"))
    parts.append(f'<section id="merit"><h2>Tokens per joule and per dollar</h2><p class="read">{esc(HOW_TO_READ["bars"])}</p>{bars}</section>')
    parts.append(f'<section id="curves"><h2>Throughput vs interactivity</h2><p class="read">{esc(HOW_TO_READ["curves"])}</p>'
                 + _chart(figures, "fig-curves", figs["curves"], "No chip serves any model.") + "</section>")
    parts.append(f'<section id="pareto"><h2>Pareto front</h2><p class="read">{esc(HOW_TO_READ["pareto"])}</p>'
                 + _chart(figures, "fig-pareto", figs["pareto"], "No chip serves any model.") + "</section>")
    parts.append(f'<section id="memory"><h2>Memory fit</h2><p class="read">{esc(HOW_TO_READ["memory"])}</p>'
                 + _chart(figures, "fig-memory", figs["memory"], "") + "</section>")
    roofs = "".join(_chart(figures, f"fig-roof-{i}", figs["roofline"][c.id], "")
                    for i, c in enumerate(res.chips) if figs["roofline"][c.id] is not None)
    parts.append(f'<section id="roofline"><h2>Rooflines</h2><p class="read">{esc(HOW_TO_READ["roofline"])}</p>'
                 f'<div class="grid">{roofs}</div></section>')
    parts.append(_sensitivity_html(res, figures, figs["tornado"]))
    parts.append(_estimates_html(res))
    parts.append(_assumptions_html(assumptions))
    return "\n".join(p for p in parts if p)


def render_html(res: ReviewResult, assumptions: list[dict[str, Any]]) -> str:
    from plotly.offline import get_plotlyjs

    figures: dict[str, dict[str, Any]] = {}
    body = sections(res, assumptions, figures, {
        "bars": {m: bars_figure(res, m) for m in METRICS}, "curves": curves_figure(res),
        "roofline": {c.id: roofline_figure(res, c.id) for c in res.chips}, "memory": memory_figure(res),
        "pareto": pareto_figure(res), "tornado": tornado_figure(res)})
    script = "\n".join(f"Plotly.newPlot({json.dumps(div)}, {_js(f['data'])}, {_js(f['layout'])}, "
                       "{displaylogo: false, responsive: true});" for div, f in figures.items())
    cfg = res.config
    title = f"Design review{': ' + res.claim.name if res.claim else ''}"
    sub = (f"{len(res.chips)} chips x {len(res.models)} models x {len(cfg.slos)} service levels · "
           f"{cfg.weights} weights · {cfg.input_tokens}/{cfg.output_tokens} tokens in/out · ranked on "
           f"{METRICS[res.metric].label}")
    return ("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{esc(title)}</title><style>{CSS}</style>"
            f"<script>{get_plotlyjs()}</script></head><body>"
            f"<header><h1>{esc(title)}</h1><p>{esc(sub)}</p></header><main>{body}</main>"
            "<footer>Generated by inferchip review. Figures are model predictions, not measurements; see the "
            f"assumptions above.</footer><script>{script}</script></body></html>")


def _js(obj: Any) -> str:
    """JSON for a script block: NaN/inf as null, and no '</' that could close the script."""
    return fmt.to_json(obj).replace("</", "<\\/")


def esc(s: Any) -> str:
    return html.escape(str(s))
