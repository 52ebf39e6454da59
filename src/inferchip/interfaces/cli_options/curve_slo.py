"""``curve --slo-ttft-ms/--slo-tpot-ms``: the points of the throughput-interactivity curve that meet a latency SLO,
and the best throughput per chip among them, as an MLPerf or vLLM user reads such a curve (the highest throughput at
the interactivity the service promises).

A point meets the SLO when its mean TTFT and mean TPOT are within the limits given
(:func:`inferchip.sim.runs.curve.slo_marks`: the means serve's layout search reads its SLO by, and the curve's own
axis, tokens/s per user = 1 / mean TPOT). Each point gets ``meets_slo``; the answer's ``slo`` key names the limits,
the rule and the best point (None where no point meets them); the table marks the points, the plot draws them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from plotly.graph_objects import Figure
    from rich.console import Console

from inferchip.interfaces.cli_options import options as opts

RULE = "mean TTFT and mean TPOT within the limits given (a TPOT limit: tokens/s per user >= 1000 / limit ms)"
_HELP = ("SLO on each point's mean {what}, ms: the points within every limit given are marked (table, JSON "
         "meets_slo, plot) and the one with the most output tokens/s per chip among them is named.")


def slo_option(name: str) -> Any:
    """``--slo-ttft-ms`` or ``--slo-tpot-ms`` of ``curve``, the bounds of serve's options of that name."""
    return opts.ms_option(name, _HELP.format(what="TTFT" if "ttft" in name else "TPOT"))


def mark_points(points: list[dict[str, Any]], slo_ttft_ms: float | None,
                slo_tpot_ms: float | None) -> dict[str, Any] | None:
    """Set each point's ``meets_slo`` and return the answer's ``slo`` key (None, points untouched: no limit given)."""
    from inferchip.sim.runs.curve import slo_marks

    if slo_ttft_ms is None and slo_tpot_ms is None:
        return None
    ttft_s = None if slo_ttft_ms is None else slo_ttft_ms / 1e3
    tpot_s = None if slo_tpot_ms is None else slo_tpot_ms / 1e3
    marks, best = slo_marks(points, ttft_s, tpot_s)
    for p, ok in zip(points, marks, strict=True):
        p["meets_slo"] = ok
    b = None if best is None else points[best]
    return {"ttft_s": ttft_s, "tpot_s": tpot_s, "rule": RULE, "points_meeting": sum(marks),
            "best_concurrency": None if b is None else b["concurrency"],
            "best_output_tokens_per_s_per_chip": None if b is None else b["output_tokens_per_s_per_chip"],
            "best_output_tokens_per_s_per_user": None if b is None else b["output_tokens_per_s_per_user"]}


def limits_text(slo: dict[str, Any]) -> str:
    parts = [f"{what} <= {slo[key] * 1e3:g} ms" for what, key in (("mean TTFT", "ttft_s"), ("mean TPOT", "tpot_s"))
             if slo[key] is not None]
    return " and ".join(parts)


def slo_line(slo: dict[str, Any], points: int) -> str:
    """The text's line naming the best point within the SLO, or saying none is."""
    if slo["best_concurrency"] is None:
        return (f"SLO ({limits_text(slo)}): none of the {points} points meets it; allowed: looser limits, or "
                "more chips or another layout")
    return (f"SLO ({limits_text(slo)}): {slo['points_meeting']} of {points} points meet it; the best, "
            f"{slo['best_output_tokens_per_s_per_chip']:,.1f} output tokens/s per chip at "
            f"{slo['best_output_tokens_per_s_per_user']:,.1f} tokens/s per user, is concurrency "
            f"{slo['best_concurrency']:,}")


def print_line(con: Console, slo: dict[str, Any] | None, points: int) -> None:
    """Print :func:`slo_line` (nothing where no SLO was given)."""
    if slo is not None:
        con.print(slo_line(slo, points), markup=False)


def cell(point: dict[str, Any], slo: dict[str, Any] | None) -> str | None:
    """The table's SLO cell of a point: ``best``, ``ok`` or ``-`` (None: no SLO given, no column)."""
    if slo is None:
        return None
    if point["concurrency"] == slo["best_concurrency"]:
        return "best"
    return "ok" if point.get("meets_slo") else "-"


def draw(fig: Figure, points: list[dict[str, Any]], slo: dict[str, Any] | None) -> None:
    """On the curve's plot: the points within the SLO ringed, the best one starred, the TPOT limit's vertical line."""
    if slo is None:
        return
    import plotly.graph_objects as go

    ok = [p for p in points if p.get("meets_slo")]
    fig.add_trace(go.Scatter(x=[p["output_tokens_per_s_per_user"] for p in ok],
                             y=[p["output_tokens_per_s_per_chip"] for p in ok], mode="markers",
                             marker={"size": 14, "symbol": "circle-open", "color": "green"},
                             name=f"within SLO ({limits_text(slo)})"))
    if slo["best_concurrency"] is not None:
        fig.add_trace(go.Scatter(x=[slo["best_output_tokens_per_s_per_user"]],
                                 y=[slo["best_output_tokens_per_s_per_chip"]], mode="markers",
                                 marker={"size": 18, "symbol": "star", "color": "green"},
                                 name=f"best within SLO: concurrency {slo['best_concurrency']:,}"))
    if slo["tpot_s"] is not None:
        fig.add_vline(x=1.0 / slo["tpot_s"], line_dash="dash", line_color="green",
                      annotation_text=f"TPOT {slo['tpot_s'] * 1e3:g} ms")
