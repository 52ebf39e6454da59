"""The report's in-car section: every chip of the review on the same driving rig (``review.in_car``), its frame
latency chart (p99 at the central figures, the Monte Carlo's 5-95 % band, p50, the deadline) and table, and the
frame-deadline part of the claim judged on it."""

from __future__ import annotations

from typing import Any

from inferchip.interfaces.report.charts import _base_layout
from inferchip.interfaces.report.deciding import chip_name, chip_short_name, short_name
from inferchip.interfaces.report.silicon_note import VERDICT_CLASS
from inferchip.interfaces.report.tables import cell, esc, html_table
from inferchip.review.claim_file import pct
from inferchip.review.review import ReviewResult


def in_car_figure(res: ReviewResult) -> dict[str, Any] | None:
    """p99 frame latency per in-car chip at the central figures, the Monte Carlo's 5-95 % band as error
    bars, p50 as markers, the deadline as a line."""
    ic = res.judgement.in_car if res.judgement is not None else None
    rows = [r for r in (ic or {}).get("rows", []) if "error" not in r]
    if not rows or ic is None:  # (rows come from ic)
        return None
    ids = [r["chip"] for r in rows]
    x = [chip_short_name(c, res) for c in ids]
    p99 = [r["latency_p99_ms"] for r in rows]
    bars = {"type": "bar", "x": x, "y": p99, "name": "p99 (central)",
            "marker": {"color": ["#d62728" if res.claim is not None and c == res.claim.id else "#4c78a8"
                                 for c in ids]},
            "error_y": {"type": "data", "symmetric": False,
                        "array": [max(r.get("p99_ms_p95", v) - v, 0.0) for r, v in zip(rows, p99, strict=True)],
                        "arrayminus": [max(v - r.get("p99_ms_p5", v), 0.0) for r, v in zip(rows, p99, strict=True)]},
            "hovertemplate": "%{x}: p99 %{y:.1f} ms<extra></extra>"}
    p50 = {"type": "scatter", "mode": "markers", "x": x, "y": [r["latency_p50_ms"] for r in rows], "name": "p50",
           "marker": {"symbol": "diamond", "size": 10, "color": "#1d2430"},
           "hovertemplate": "%{x}: p50 %{y:.1f} ms<extra></extra>"}
    line = {"type": "line", "xref": "paper", "yref": "y", "x0": 0, "x1": 1, "y0": ic["deadline_ms"],
            "y1": ic["deadline_ms"], "line": {"color": "#b42318", "width": 2, "dash": "dash"}}
    layout = _base_layout(f"Frame latency on the driving rig ({ic['cameras']} cameras at {ic['fps']:g} fps; dashed: "
                          f"deadline {ic['deadline_ms']:.1f} ms; bars: 5-95 % of the Monte Carlo)",
                          xaxis={"title": {"text": "chip"}}, yaxis=_latency_axis(rows, ic["deadline_ms"]),
                          shapes=[line], height=420)
    return {"data": [bars, p50], "layout": layout}


def _latency_axis(rows: list[dict[str, Any]], deadline_ms: float) -> dict[str, Any]:
    """The frame-latency axis: logarithmic where the chips span more than 10x (a chip far past the deadline
    would flatten the others' bars, and the deadline, onto zero), else linear."""
    vals = [v for r in rows for v in (r["latency_p50_ms"], r["latency_p99_ms"], r.get("p99_ms_p95")) if v]
    lo, hi = min([*vals, deadline_ms]), max([*vals, deadline_ms])
    if lo > 0 and hi / lo > 10:
        return {"title": {"text": "frame latency, ms (log scale)"}, "type": "log"}
    return {"title": {"text": "frame latency, ms"}}


def in_car_html(res: ReviewResult, chart: str) -> str:
    """The in-car table: every chip on the same rig, with the frame-deadline part's figures."""
    ic = res.judgement.in_car if res.judgement is not None else None
    if not ic:
        return ""
    rows = []
    for r in ic["rows"]:
        cls = "claim" if res.claim is not None and r["chip"] == res.claim.id else ""
        if "error" in r:
            rows.append(([esc(chip_name(r["chip"], res)), f'<span class="src">{esc(r["error"])}</span>'] + ["-"] * 8,
                         cls))
            continue
        band = f"{r['p99_ms_p5']:.1f} - {r['p99_ms_p95']:.1f}" if "p99_ms_p5" in r else "-"
        name = chip_name(r["chip"], res)
        rows.append(([f'<span title="{esc(name)} ({esc(r["chip"])})">{esc(short_name(name))}</span>'
                      + (" (estimate)" if r["estimate"] else ""), cell(r["latency_p50_ms"], "g"),
                      cell(r["latency_p99_ms"], "g"), esc(band), f"{r['deadline_miss_rate']:.2%}",
                      f"{r['utilisation']:.0%}", cell(r["average_power_w"], "g"), cell(r["energy_per_frame_j"], "g"),
                      cell(r.get("capacity_frames_per_s"), "g"),
                      esc(pct(r.get("p_fastest")))], cls))
    table = html_table([("chip", True), ("p50 ms", False), ("p99 ms", False), ("p99 5-95 % of samples, ms", False),
                        ("misses", False), ("util.", False), ("power W", False), ("J / frame", False),
                        ("frames / busy s", False), ("P(fastest)", False)], rows, wrap=True)
    notes: dict[str, list[str]] = {}

    for r in ic["rows"]:
        for n in r.get("notes", []):
            notes.setdefault(n, []).append(r["chip"])
    every = len(ic["rows"])
    note_list = "".join(
        f"<li>{esc(n)}{'' if len(c) == every else ' (' + esc(', '.join(chip_short_name(i, res) for i in c)) + ')'}</li>"
        for n, c in notes.items())
    part = ic["frame_deadlines"]
    v = part["verdict"]
    judged = any(p["part"] == "frame_deadlines" for p in res.judgement.parts) if res.judgement else False
    line = (f'<p><b>{esc(part["label"])}</b>: <span class="{VERDICT_CLASS[v]}">{esc(v)}</span> '
            f'({esc(pct(part["probability"]))}). {esc(part["decided_by"])}.</p>' if judged else "")
    watts = ic.get("power_budget_w")
    budget = ("no power budget stated (the part is not judged)" if watts is None else
              f"within the car's {watts:g} W power budget (a chip over it is clocked down; one whose idle power "
              "alone exceeds it cannot run the rig)")
    return ('<section id="in-car"><h2>In the car: frame deadlines on the driving rig</h2>'
            f'<p class="read">{ic["cameras"]} cameras at {ic["fps"]:g} frames/s through '
            f'{esc(", ".join(ic["networks"]))} ({esc(ic["precision"])}, one chip each; {ic["duration_s"]:g} s '
            f'simulated), deadline one frame period ({ic["deadline_ms"]:.1f} ms), {budget}. Figures at the central '
            'estimates; '
            'the 5-95 % band and the last column come from the Monte Carlo over every estimated chip\'s ranges and '
            'the vision model\'s validated latency error. A chip keeps the rig when its p99 is within the deadline.'
            f'</p>{line}{chart}{table}'
            '<p class="note">Misses: frames late (after the deadline or the same camera\'s next frame); util.: '
            'share of time busy; W: average chip power at the rig\'s rate; J / frame: energy per camera frame at '
            'that rate, idle between frames included; frames / busy s: camera frames per busy second, to set '
            'beside Tesla\'s "up to 2,300 frames per second" for the two-chip HW3 computer (Talpes et al., IEEE '
            'Micro 2020), whose networks are not BEVFormer; P(fastest): share of samples in which the chip keeps '
            'the rig with the lowest p99.</p>' + (f'<ul class="note">{note_list}</ul>' if note_list else "")
            + "</section>")
