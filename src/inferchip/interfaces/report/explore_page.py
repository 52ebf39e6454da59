"""``DIR/explore.html``: the Pareto page of an exploration run (self-contained, plotly inlined).

One scatter per pair of suite objectives: every design evaluated (grey), the Pareto front over
all four objectives (coloured) and the catalogue's real chips (black diamonds, scored on the
same model); hovering a design shows its parameters, area, TDP and cost. A parallel-coordinates
view shows the front's parameters beside its objectives.
"""

from __future__ import annotations

import html
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np

from inferchip.atomic_io import write_text
from inferchip.explore.evaluate import METRICS, OBJECTIVES, suite_objectives
from inferchip.explore.search import pareto_mask, to_minimise
from inferchip.spec.design_space import CATEGORICAL, PARAMETERS

PAGE_FILE = "explore.html"
LABELS = {"throughput_per_chip": "output tokens/s per chip", "throughput_per_w": "output tokens/s per W (TDP)",
          "throughput_per_usd": "output tokens/s per $ of chip cost", "latency": "time per output token at batch 1, s"}
REAL_CHIPS = ("nvidia-h100-sxm-80gb", "nvidia-h200-sxm-141gb", "nvidia-b200-180gb", "amd-mi300x", "amd-mi355x",
              "intel-gaudi3", "google-tpu-v6e-trillium", "tesla-ai5")


def design_table(frame: Any, workload_ids: list[str]) -> tuple[Any, dict[str, np.ndarray]]:
    """One row per design (parameters and design figures) and its suite objectives."""
    designs = frame.drop_duplicates("design_id").set_index("design_id")
    w = {wid: j for j, wid in enumerate(workload_ids)}
    pos = {d: i for i, d in enumerate(designs.index)}
    r = np.array([pos[d] for d in frame["design_id"]], dtype=np.intp)
    c = np.array([w[x] for x in frame["workload_id"]], dtype=np.intp)
    metrics = {}
    for m in METRICS:
        a = np.zeros((len(designs), len(w)))
        a[r, c] = frame[m].to_numpy(float)
        metrics[m] = a
    return designs, suite_objectives(metrics)


def real_chip_objectives(chip_ids: tuple[str, ...] = REAL_CHIPS,
                         models: list[str] | None = None) -> dict[str, dict[str, float]]:
    """Suite objectives of catalogue chips on the same model (chips that fail to load are skipped)."""
    from inferchip.catalog.assumptions import load_assumptions
    from inferchip.explore.beat import TILE
    from inferchip.explore.designs import catalogue_chips
    from inferchip.explore.evaluate import default_suite, evaluate

    ch = catalogue_chips(list(chip_ids), load_assumptions(), TILE)
    obj = suite_objectives(evaluate(default_suite(models), ch))
    obj["throughput_per_w"] = np.where(np.isfinite(ch.tdp_w), obj["throughput_per_w"], np.nan)  # no TDP: not placed
    obj["throughput_per_usd"] = np.where(np.isfinite(ch.cost_usd), obj["throughput_per_usd"], np.nan)
    return {str(cid): {k: float(v[i]) for k, v in obj.items()} for i, cid in enumerate(ch.ids)}


def _hover(designs: Any) -> list[str]:
    cols = [p for p in PARAMETERS] + ["area_mm2", "dies", "tdp_w", "cost_usd"]
    out = []
    for did, row in designs[cols].iterrows():
        parts = [f"design {int(did):016x}"]
        for k in cols:
            v = row[k]
            parts.append(f"{k}: {v}" if isinstance(v, str) else f"{k}: {float(v):,.4g}")
        out.append("<br>".join(parts))
    return out


def build_page(frame: Any, workload_ids: list[str], real: dict[str, dict[str, float]], title: str) -> str:
    import plotly.graph_objects as go
    from plotly.io import to_html

    designs, obj = design_table(frame, workload_ids)
    front = pareto_mask(to_minimise(obj)) & designs["feasible"].to_numpy(bool)
    hover = np.array(_hover(designs), dtype=object)
    divs = []
    for k, (xa, ya) in enumerate(combinations(OBJECTIVES, 2)):
        fig = go.Figure()
        # plain lists: the page's data stay readable JSON (plotly would pack numpy arrays as base64)
        fig.add_scattergl(x=obj[xa][~front].tolist(), y=obj[ya][~front].tolist(), mode="markers", name="designs",
                          marker={"color": "#c8c8c8", "size": 4}, hovertext=hover[~front].tolist(), hoverinfo="text")
        fig.add_scatter(x=obj[xa][front].tolist(), y=obj[ya][front].tolist(), mode="markers", name="Pareto front",
                        marker={"color": "#d62728", "size": 7}, hovertext=hover[front].tolist(), hoverinfo="text")
        if real:
            names = list(real)
            fig.add_scatter(x=[real[n][xa] for n in names], y=[real[n][ya] for n in names], mode="markers+text",
                            name="catalogue chips", text=names, textposition="top center",
                            marker={"color": "black", "symbol": "diamond", "size": 9})
        fig.update_layout(title=f"{LABELS[ya]} vs {LABELS[xa]}", xaxis_title=LABELS[xa], yaxis_title=LABELS[ya],
                          xaxis_type="log", yaxis_type="log", height=480, margin={"t": 50, "l": 60, "r": 20, "b": 50})
        divs.append(to_html(fig, include_plotlyjs=(k == 0), full_html=False, div_id=f"pair{k}",
                            config={"displaylogo": False}))
    dims = []
    sel = designs[front]
    for p in PARAMETERS:
        v = sel[p]
        if p in CATEGORICAL:
            cats = sorted(set(v))
            dims.append({"label": p, "values": [cats.index(x) for x in v], "tickvals": list(range(len(cats))),
                         "ticktext": cats})
        else:
            dims.append({"label": p, "values": v.to_numpy(float).tolist()})
    for name in OBJECTIVES:
        dims.append({"label": name, "values": obj[name][front].tolist()})
    par = go.Figure(go.Parcoords(dimensions=dims, line={"color": np.log(obj["throughput_per_chip"][front]).tolist(),
                                                       "colorscale": "Viridis"}))
    par.update_layout(title="Pareto front: parameters and objectives", height=520)
    divs.append(to_html(par, include_plotlyjs=False, full_html=False, div_id="parcoords"))
    body = "\n".join(f'<div class="chart">{d}</div>' for d in divs)
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title></head><body>"
            f"<h1>{html.escape(title)}</h1><p>{len(designs)} designs, {int(front.sum())} on the Pareto front "
            f"over {len(workload_ids)} workloads; objectives are geometric means over the suite.</p>{body}"
            "</body></html>")


def write_page(out_dir: str | Path, frame: Any, workload_ids: list[str], real: dict[str, dict[str, float]],
               title: str = "inferchip explore") -> Path:
    path = Path(out_dir) / PAGE_FILE
    write_text(path, build_page(frame, workload_ids, real, title))
    return path
