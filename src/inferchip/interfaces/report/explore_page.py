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

from inferchip.atomic_io import write_report_file
from inferchip.explore.evaluate import ALL_OBJECTIVES, METRICS, NO_LATENCY_S, ZERO_FLOOR, suite_objectives
from inferchip.explore.search import to_minimise
from inferchip.interfaces.fmt import sig
from inferchip.interfaces.report.log_ticks import label_log_axes
from inferchip.spec.design_space import CATEGORICAL, PARAMETERS
from inferchip.spec.pareto import pareto_mask

PAGE_FILE = "explore.html"
LABELS = {"throughput_per_chip": "output tokens/s per chip", "throughput_per_w": "output tokens/s per W (TDP)",
          "throughput_per_usd": "output tokens/s per $ of modelled chip cost",
          "latency": "time per output token at batch 1, ms",
          "driving_frames_per_j": "camera frames per J on the 8 x 36 fps rig (1e-6: misses)"}
SCALE = {"latency": 1e3}  # an objective drawn in another unit than the store's (latency: s -> ms, as explore prints it)
DESIGN_GREY = "#808080"  # the searched designs: 3.3:1 on plotly's #e5ecf6 plot area (#c8c8c8: 1.4:1, hard to see)
PARAMETER_LABELS = {"matrix_units": "matrix units", "matrix_unit_dim": "matrix unit side, MACs",
                    "clock_ghz": "clock, GHz", "sram_mb": "SRAM, MB", "formats": "formats", "memory_type": "memory",
                    "memory_units": "memory stacks or 32-bit channels", "link_count": "links",
                    "link_gb_per_s": "link, GB/s per direction", "node_nm": "node, nm",
                    "chips_per_board": "chips per board", "cpu_cores": "CPU cores", "soc_other_mm2": "other SoC, mm2"}
"""The parallel-coordinates axes: each parameter of ``spec.design_space`` in words with its unit (docs/explore.md)."""
REAL_CHIPS = ("nvidia-h100-sxm-80gb", "nvidia-h200-sxm-141gb", "nvidia-b200-180gb", "amd-mi300x", "amd-mi355x",
              "intel-gaudi3", "google-tpu-v6e-trillium", "tesla-ai5")


def design_table(frame: Any, workload_ids: list[str]) -> tuple[Any, dict[str, np.ndarray]]:
    """One row per design (parameters and design figures) and its suite objectives."""
    import pandas as pd

    designs = frame.drop_duplicates("design_id").set_index("design_id")
    # each row's design and workload by index lookup, vectorised (a dict per row took 2 s of 64,800 designs' 24)
    r = designs.index.get_indexer(frame["design_id"]).astype(np.intp)
    c = pd.Index(list(workload_ids)).get_indexer(frame["workload_id"]).astype(np.intp)
    if (c < 0).any():
        raise KeyError(f"workload {frame['workload_id'][int(np.argmin(c))]!r} is not in the suite's {workload_ids}")
    metrics = {}
    for m in METRICS:
        a = np.zeros((len(designs), len(workload_ids)))
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


def _value(v: Any) -> str:
    return v if isinstance(v, str) else f"{float(v):,.4g}"


def build_page(frame: Any, workload_ids: list[str], real: dict[str, dict[str, float]], title: str) -> str:
    import plotly.graph_objects as go
    from plotly.io import to_html

    designs, obj = design_table(frame, workload_ids)
    front = pareto_mask(to_minimise(obj)) & designs["feasible"].to_numpy(bool)
    hover = np.array(_hover(designs), dtype=object)
    divs = []
    names = [k for k in ALL_OBJECTIVES if k in obj]
    shown = {k: v * SCALE.get(k, 1.0) for k, v in obj.items()}  # in the unit the labels name
    floor = {k: np.isclose(v, NO_LATENCY_S if k == "latency" else ZERO_FLOOR, rtol=1e-9) for k, v in obj.items()}
    for k, (xa, ya) in enumerate(combinations(names, 2)):
        fig = go.Figure()
        # a design at the floor on either axis serves none of its workloads: drawn, it stretched both log axes over
        # ten decades (1e-06 tok/s, 1,000,000 ms) and pressed every real point into a corner; it is counted instead
        on = ~(floor[xa] | floor[ya])
        grey, red = on & ~front, on & front
        # plain lists: the page's data stay readable JSON (plotly would pack numpy arrays as base64)
        fig.add_scattergl(x=shown[xa][grey].tolist(), y=shown[ya][grey].tolist(), mode="markers", name="designs",
                          marker={"color": DESIGN_GREY, "size": 5}, hovertext=hover[grey].tolist(), hoverinfo="text")
        fig.add_scatter(x=shown[xa][red].tolist(), y=shown[ya][red].tolist(), mode="markers", name="Pareto front",
                        marker={"color": "#d62728", "size": 7}, hovertext=hover[red].tolist(), hoverinfo="text")
        if real:
            chips = list(real)
            fig.add_scatter(x=[real[n].get(xa, np.nan) * SCALE.get(xa, 1.0) for n in chips],
                            y=[real[n].get(ya, np.nan) * SCALE.get(ya, 1.0) for n in chips],
                            mode="markers+text", name="catalogue chips", text=chips, textposition="top center",
                            marker={"color": "black", "symbol": "diamond", "size": 9})
        off = int((~on).sum())
        note = (f"<br><sup>{off:,} design(s) ({int((~on & front).sum()):,} of the front) off the axes: they serve none"
                " of the workloads, at the floor of 1e-06 or 1,000 s</sup>" if off else "")
        fig.update_layout(title=f"{LABELS[ya]} vs {LABELS[xa]}{note}", xaxis_title=LABELS[xa], yaxis_title=LABELS[ya],
                          xaxis_type="log", yaxis_type="log", height=480, margin={"t": 50, "l": 60, "r": 20, "b": 50})
        # whole-value ticks on the log axes, as the review's charts (plotly alone labels "1000, 2, 5, 10k")
        divs.append(to_html(label_log_axes(fig.to_dict()), include_plotlyjs=(k == 0), full_html=False,
                            div_id=f"pair{k}", config={"displaylogo": False}))
    dims, same = [], []
    sel = designs[front]
    for p in PARAMETERS:
        v = sel[p]
        if len(sel) > 1 and v.nunique() == 1:  # one value on the whole front: an axis of one point, which plotly
            same.append(f"{PARAMETER_LABELS[p]}: {_value(v.iloc[0])}")  # spans with made-up ends (CPU cores -1 to 1)
            continue
        if p in CATEGORICAL:
            cats = sorted(set(v))
            dims.append({"label": PARAMETER_LABELS[p], "values": [cats.index(x) for x in v],
                         "tickvals": list(range(len(cats))), "ticktext": cats})
        else:
            dims.append({"label": PARAMETER_LABELS[p], "values": v.to_numpy(float).tolist()})
    for name in names:
        dims.append({"label": LABELS[name], "values": shown[name][front].tolist()})
    par = go.Figure(go.Parcoords(dimensions=dims, line={"color": np.log(obj["throughput_per_chip"][front]).tolist(),
                                                       "colorscale": "Viridis"}))
    par.update_layout(title="Pareto front: parameters and objectives", height=520)
    divs.append(to_html(par, include_plotlyjs=False, full_html=False, div_id="parcoords")
                + (f'<p id="parcoords-same">The same on every design of the front (no axis): '
                   f'{html.escape("; ".join(same))}.</p>' if same else ""))
    body = "\n".join(f'<div class="chart">{d}</div>' for d in divs)
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title></head><body>"
            f"<h1>{html.escape(title)}</h1><p>{len(designs)} designs, {int(front.sum())} on the Pareto front "
            f"over {len(workload_ids)} workloads; objectives are geometric means over the suite.</p>{body}"
            "</body></html>")


def write_page(out_dir: str | Path, frame: Any, workload_ids: list[str], real: dict[str, dict[str, float]],
               title: str = "inferchip explore") -> Path:
    path = Path(out_dir) / PAGE_FILE
    write_report_file(path, build_page(frame, workload_ids, real, title))
    return path


BEAT_PAGE_FILE = "beat.html"


def beat_figure(points: dict[str, dict[str, float]], target: str,
                boundary_map: dict[str, Any] | None = None) -> Any:
    """The beat result's minimal changes on the claim-boundary map's axes (memory bandwidth TB/s x
    cost multiple): one marker per claim part; with a review boundary map, each part's grid of
    where it holds (green) or not (red) as small squares under its point, a menu picking the part."""
    import plotly.graph_objects as go

    fig = go.Figure()
    parts = list(points)
    grids = (boundary_map or {}).get("parts", {})
    keyed = {k.split(" (", 1)[0]: k for k in grids}
    traces_of: dict[str, list[int]] = {}
    for p in parts:
        traces_of[p] = []
        key = keyed.get(p)
        if key is not None:
            xs, ys = boundary_map["x_tb_per_s"], boundary_map["y_cost_multiplier"]  # type: ignore[index]
            grid = grids[key]
            cells = [(x, y, bool(grid[i][j])) for i, x in enumerate(xs) for j, y in enumerate(ys)]
            for holds, colour, name in ((True, "#b9e4c4", "holds"), (False, "#f4d6d4", "does not hold")):
                sel = [c for c in cells if c[2] is holds]
                traces_of[p].append(len(fig.data))
                fig.add_scatter(x=[c[0] for c in sel], y=[c[1] for c in sel], mode="markers",
                                name=f"{key}: {name}", marker={"symbol": "square", "size": 18, "color": colour})
        pt = points[p]
        traces_of[p].append(len(fig.data))
        fig.add_scatter(x=[pt["x_tb_per_s"]], y=[pt["y_cost_multiplier"]], mode="markers+text", name=p, text=[p],
                        textposition="top center", marker={"symbol": "star", "size": 14},
                        hovertext=[f"{p}: compute x{pt['compute_x']:g}, memory x{pt['memory_x']:g}, "
                                   f"links x{pt['link_x']:g}"], hoverinfo="text")
    buttons = [{"label": "all parts", "method": "update", "args": [{"visible": [True] * len(fig.data)}]}]
    for p in parts:
        vis = [i in traces_of[p] for i in range(len(fig.data))]
        buttons.append({"label": p, "method": "update", "args": [{"visible": vis}]})
    fig.update_layout(title=f"{target}: smallest change per claim part, on the claim-boundary map's axes",
                      xaxis_title="memory bandwidth, TB/s", yaxis_title="cost, multiple of its present figure",
                      xaxis_type="log", yaxis_type="log", height=520,
                      updatemenus=[{"buttons": buttons, "x": 1.0, "xanchor": "right", "y": 1.08}])
    return fig


def write_beat_page(out_dir: str | Path, result: Any, boundary_map: dict[str, Any] | None = None) -> Path:
    """``DIR/beat.html``: :func:`beat_figure` of a :class:`~inferchip.explore.beat.BeatResult` and its table."""
    from plotly.io import to_html

    fig = label_log_axes(beat_figure(result.boundary_points(), result.target, boundary_map).to_dict())
    # the figures the terminal prints beside each change: the target's after it, the best rival's, their unit
    rows = "".join(f"<tr><td>{html.escape(c.objective)}</td><td>{c.compute_x:g}</td><td>{c.memory_x:g}</td>"
                   f"<td>{c.link_x:g}</td><td>{sig(c.value, 4)}</td><td>{html.escape(c.best_rival)}</td>"
                   f"<td>{sig(c.rival_value, 4)}</td><td>{html.escape(c.unit)}</td><td>{c.extra_area_mm2:,.0f}</td>"
                   f"<td>{c.tdp_w:,.0f}</td><td>{c.cost_usd:,.0f}</td></tr>" for c in result.changes)
    missing = "".join(f"<li>{html.escape(n)}: no change in the grid makes it first</li>" for n in result.not_reached)
    unscored = "".join(f"<li>{html.escape(k)}: {html.escape(v)}</li>" for k, v in result.not_scored.items())
    body = (f"<h1>{html.escape(result.target)} against {html.escape(', '.join(result.rivals))}</h1>"
            "<table border='1'><tr><th>claim part</th><th>compute x</th><th>memory x</th><th>links x</th>"
            "<th>target after</th><th>best rival</th><th>rival</th><th>unit</th><th>extra area mm2</th><th>TDP W</th>"
            f"<th>cost $</th></tr>{rows}</table>"
            f"<ul>{missing}{unscored}</ul>"
            + to_html(fig, include_plotlyjs=True, full_html=False, div_id="beat", config={"displaylogo": False}))
    path = Path(out_dir) / BEAT_PAGE_FILE
    write_report_file(path, f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>beat</title></head>"
                            f"<body>{body}</body></html>")
    return path
