"""Tick labels for the report's logarithmic axes: whole numbers with an SI suffix ("2k", "1P", "0.05").

Left to itself, plotly labels a log axis that spans a few decades with bare leading digits between the
powers of ten ("1000, 2, 5, 10k, 2, 5"), which read as values, and switches from "100T" to "10^15" on
the roofline's FLOP/s axis. :func:`label_log_axes` sets each log axis's ticks from the figure's own data:
1-2-5 per decade where it spans at most four decades (or where a menu shows one part of the data at a
time), powers of ten only beyond that; an axis whose data span too little of a decade to hold three of the 1-2-5
ticks (an explore objective from 12 to 30 tok/s per W, a 4.9 to 5.3 ms TPOT) gets evenly spaced round values across it
instead, as plotly's linear axis would choose them. An axis that already sets ``tickvals`` is left as it is.
"""

from __future__ import annotations

import math
from typing import Any

SI = ((1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"))
DENSE_DECADES = 4.0  # up to this span every decade gets 1, 2 and 5
MIN_TICKS_IN_DATA = 3  # fewer 1-2-5 ticks than this inside the data's span: evenly spaced round ticks instead
ROUND_STEPS = (1.0, 2.0, 2.5, 5.0, 10.0)  # a linear tick step is one of these times a power of ten


def tick_text(v: float) -> str:
    """A tick value as a short label: 2000 -> "2k", 1e15 -> "1P", 0.05 -> "0.05", 20 -> "20"."""
    for scale, suffix in SI:
        if v >= scale:
            return f"{v / scale:g}{suffix}"
    return f"{v:g}" if v >= 1e-4 else f"{v:.0e}"


def log_ticks(lo: float, hi: float, dense: bool) -> tuple[list[float], list[str]]:
    """Tick values and labels from the last tick at or below ``lo`` to the first at or above ``hi`` (both > 0)."""
    a, b = math.floor(math.log10(lo)), math.ceil(math.log10(hi))
    steps = (1.0, 2.0, 5.0) if dense else (1.0,)
    vals = [float(f"{m * 10.0 ** e:.12g}") for e in range(a, b + 1) for m in steps]
    first = max(i for i, v in enumerate(vals) if v <= lo)
    last = min(i for i, v in enumerate(vals) if v >= hi)
    vals = vals[first:last + 1]
    if dense and hi > lo and sum(lo <= v <= hi for v in vals) < MIN_TICKS_IN_DATA:
        vals = _round_ticks(lo, hi)
    return vals, [tick_text(v) for v in vals]


def _round_ticks(lo: float, hi: float) -> list[float]:
    """About four evenly spaced round values across [lo, hi] (step 1, 2, 2.5 or 5 times a power of ten), from the
    last at or below ``lo`` to the first at or above ``hi``, positive ones only."""
    raw = (hi - lo) / 4
    mag = 10.0 ** math.floor(math.log10(raw))
    step = next(m * mag for m in ROUND_STEPS if m * mag >= raw * (1 - 1e-12))
    first, last = math.floor(lo / step), math.ceil(hi / step)
    return [v for v in (float(f"{i * step:.12g}") for i in range(first, last + 1)) if v > 0]


def _numbers(v: Any) -> list[float]:
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return [float(v)] if math.isfinite(v) and v > 0 else []
    if isinstance(v, (list, tuple)):
        return [x for item in v for x in _numbers(item)]
    return []


def _axis_values(fig: dict[str, Any], key: str) -> list[float]:
    """Every positive value the figure draws on axis ``key`` ("xaxis", "yaxis2"): traces and shapes."""
    letter, suffix = key[0], key[5:]
    ref = letter + suffix
    out: list[float] = []
    for t in fig.get("data", []):
        if t.get(f"{letter}axis", letter) != ref:
            continue
        vals = _numbers(t.get(letter))
        out += vals
        err = t.get(f"error_{letter}") or {}
        for side, sign in (("array", 1.0), ("arrayminus", -1.0)):
            out += [v + sign * e for v, e in zip(vals, _numbers(err.get(side)), strict=False) if v + sign * e > 0]
    for s in fig.get("layout", {}).get("shapes", []):
        if s.get(f"{letter}ref", "") == ref:
            out += _numbers([s.get(f"{letter}0"), s.get(f"{letter}1")])
    return out


def label_log_axes(fig: dict[str, Any]) -> dict[str, Any]:
    """``fig`` with tickvals/ticktext on each log axis that has none (changed in place, and returned)."""
    layout = fig.get("layout", {})
    menus = bool(layout.get("updatemenus"))
    for key, axis in list(layout.items()):
        if not (key.startswith(("xaxis", "yaxis")) and isinstance(axis, dict)) or axis.get("type") != "log":
            continue
        if "tickvals" in axis:
            continue
        vals = _axis_values(fig, key)
        if not vals:
            continue
        lo, hi = min(vals), max(vals)
        dense = menus or math.log10(hi / lo) <= DENSE_DECADES
        axis["tickvals"], axis["ticktext"] = log_ticks(lo, hi, dense)
    return fig
