"""A latency SLO judged on the percentile the user names: ``curve --slo-ttft-ms/--slo-tpot-ms`` marks the points of
the throughput-interactivity curve that meet it and names the best throughput per chip among them (the highest
throughput at the interactivity the service promises); ``serve`` says whether its run meets it.

A run meets the SLO when its TTFT and its TPOT at ``--slo-percentile`` (default p99: MLPerf Inference's Server
scenario bounds the 99th percentile of both, LoadGen's ``mlperf.conf`` ``*.Server.target_latency_percentile = 99``;
vLLM's ``benchmark_serving`` reports the 99th by default) are within the limits given, the percentiles of the same
simulated run's per-request figures (:func:`inferchip.sim.runs.curve.slo_marks`); ``mean`` reads the means instead
(the rule before stop 50). Each curve point gets ``meets_slo``; the answer's ``slo`` key names the limits, the
statistic, the rule and the best point (None where no point meets them); the table marks the points, the plot draws
them. Goodput (``serve``) counts each request against the same limits, whatever the statistic (vLLM's ``--goodput``).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from plotly.graph_objects import Figure
    from rich.console import Console

import typer

from inferchip.interfaces.cli_options import options as opts

_HELP = ("SLO on each point's {what} at --slo-percentile (default p99), ms: the points within every limit given are "
         "marked (table, JSON meets_slo, plot) and the one with the most output tokens/s per chip among them is "
         "named.")
PERCENTILE_HELP = ("The statistic the SLO limits judge: 99, 90 or 50 (that percentile of the run's per-request TTFT "
                   "and TPOT) or mean; default 99, as MLPerf Inference's Server scenario (p99 TTFT and p99 TPOT) and "
                   "vLLM's benchmark_serving (--metric-percentiles 99) read a run. Needs --slo-ttft-ms or "
                   "--slo-tpot-ms.")


def slo_option(name: str) -> Any:
    """``--slo-ttft-ms`` or ``--slo-tpot-ms`` of ``curve``, the bounds of serve's options of that name."""
    return opts.ms_option(name, _HELP.format(what="TTFT" if "ttft" in name else "TPOT"))


def _statistic(value: str | None) -> str | None:
    """``--slo-percentile`` as :data:`~inferchip.sim.runs.curve.SLO_STATISTICS` spells it (``99`` -> ``p99``), read
    as the API reads ``slo_percentile`` (:func:`inferchip.sim.runs.slo.parse_statistic`)."""
    from inferchip.sim.runs.slo import STATISTICS_ALLOWED, parse_statistic

    if value is None:
        return None
    name = parse_statistic(value)
    if name is None:
        shown = value if len(value) <= 60 else value[:57] + "..."
        raise typer.BadParameter(f"{shown!r}; allowed: {STATISTICS_ALLOWED}", param_hint="'--slo-percentile'")
    return name


def percentile_option() -> Any:
    """``--slo-percentile`` of ``serve`` and ``curve`` (None: not given; :func:`statistic` resolves the default)."""
    return typer.Option(None, "--slo-percentile", help=PERCENTILE_HELP, callback=_statistic)


def statistic(given: str | None, slo_ttft_ms: float | None, slo_tpot_ms: float | None) -> str:
    """The statistic the SLO is judged by: ``given`` (``--slo-percentile``), else p99; a percentile given without a
    limit to judge is refused."""
    from inferchip.errors import InvalidSettingError
    from inferchip.sim.runs.curve import DEFAULT_SLO_STATISTIC

    if given is not None and slo_ttft_ms is None and slo_tpot_ms is None:
        raise InvalidSettingError(f"--slo-percentile {given}: no limit to judge; allowed: with --slo-ttft-ms and/or "
                                  "--slo-tpot-ms")
    return given or DEFAULT_SLO_STATISTIC


def _seconds(ms: float | None) -> float | None:
    return None if ms is None else ms / 1e3


def mark_points(points: list[dict[str, Any]], slo_ttft_ms: float | None, slo_tpot_ms: float | None,
                stat: str) -> dict[str, Any] | None:
    """Set each point's ``meets_slo`` and return the answer's ``slo`` key (None, points untouched: no limit given):
    :func:`inferchip.sim.runs.slo.mark_points`, ``ic.curve``'s, on the limits in ms."""
    from inferchip.sim.runs.slo import mark_points as marked

    return marked(points, _seconds(slo_ttft_ms), _seconds(slo_tpot_ms), stat)


def percentile_note(slo: dict[str, Any] | None, requests_per_client: int, warmups_per_client: int = 0) -> str | None:
    """``curve``'s note on what a point's percentile covers (None: no SLO, or the mean)."""
    if slo is None or slo["statistic"] == "mean":
        return None
    if warmups_per_client:
        return (f"SLO at {slo['statistic']}: the percentile of a point's run less its first {warmups_per_client} "
                f"request(s) a client (--warmups-per-user: run, not read; 1 is the first wave, every client sending at "
                f"once), of {requests_per_client} a client: the steady tail, not benchmark_serving's reading of a run")
    return (f"SLO at {slo['statistic']}: the percentile of every request of a point's run, {requests_per_client} a "
            f"client, as benchmark_serving reports it: the first wave (every client sending at once) is 1 in "
            f"{requests_per_client} of them, and at many clients its queue can set the TTFT tail; MLPerf's Server "
            "scenario judges an open loop (Poisson arrivals): `serve --rate R --slo-ttft-ms T` judges one the same way")


def judge_run(summary: dict[str, Any], slo_ttft_ms: float | None, slo_tpot_ms: float | None,
              stat: str) -> dict[str, Any] | None:
    """``serve``'s ``slo`` key: :func:`inferchip.sim.runs.slo.judge_run`, ``ic.serve``'s verdict, on the limits in
    ms (None: no limit given)."""
    from inferchip.sim.runs.slo import judge_run as judged

    return judged(summary, _seconds(slo_ttft_ms), _seconds(slo_tpot_ms), stat)


def too_short_text(slo: dict[str, Any]) -> str:
    from inferchip.sim.runs.slo import too_short_text as text

    return text(slo, "--duration")


def run_line(slo: dict[str, Any], goodput: bool = True) -> str:
    """``serve``'s line: whether the run meets the SLO, with its figures at the statistic (``goodput``: the run
    counts each request against the limits too; a ``--mtp``/``--disagg`` case row's benchmark figures do not)."""
    stat = slo["statistic"]
    got = [f"{stat} {what} {slo[key] * 1e3:,.1f} ms" for what, key in (("TTFT", "ttft_s_at_statistic"),
                                                                     ("TPOT", "tpot_s_at_statistic"))
           if slo[key.split("_at_")[0]] is not None and math.isfinite(slo[key])]
    verdict = "met" if slo["meets"] else "missed" + (" (saturated: the queue grows)" if slo.get("saturated") else "")
    if slo.get("too_short"):  # an open loop ended in its ramp: neither verdict holds
        verdict = f"not judged ({too_short_text(slo)})"
    tail = ("goodput and SLO attainment count each request against the same limits" if goodput else
            "the case row's benchmark figures (no goodput)")
    return (f"SLO ({limits_text(slo)}): {verdict}: {', '.join(got) or 'no request has the figure'}"
            + requests_text(slo.get("requests_judged"), slo.get("first_wave_requests"), slo.get("warmup_requests"))
            + f"; {tail}")


def requests_text(judged: int | None, wave: int | None, warmups: int | None = None) -> str:
    """Which requests a percentile read, as serve's and curve's lines say it (nothing where the record has no
    count: a case row's): every finished one, or with warm-ups (``--warmups``) those after the first sent."""
    if judged is None:
        return ""
    first = f", the first wave of {wave:,} (one a client, sent at the start) included" if wave else ""
    if warmups:
        return (f" over the {judged:,} finished requests after the first {warmups:,} sent (run as warm-up, not "
                f"read){first}")
    return f" over all {judged:,} finished requests{first}"


def limits_text(slo: dict[str, Any]) -> str:
    stat = slo.get("statistic", "mean")
    parts = [f"{stat} {what} <= {slo[key] * 1e3:,g} ms" for what, key in (("TTFT", "ttft_s"), ("TPOT", "tpot_s"))
             if slo[key] is not None]
    return " and ".join(parts)


def slo_line(slo: dict[str, Any], points: int) -> str:
    """The text's line naming the best point within the SLO, or saying none is."""
    if slo["best_concurrency"] is None:
        return (f"SLO ({limits_text(slo)}): none of the {points} points meets it; allowed: looser limits, or "
                "more chips or another layout")
    judged = requests_text(slo.get("best_requests_judged"), slo.get("best_first_wave_requests"),
                           slo.get("best_warmup_requests"))
    read = f", its percentiles{judged}" if judged else ""  # a case row (--mtp/--disagg) states no count
    return (f"SLO ({limits_text(slo)}): {slo['points_meeting']} of {points} points meet it; the best, "
            f"{slo['best_output_tokens_per_s_per_chip']:,.1f} output tokens/s per chip at "
            f"{slo['best_output_tokens_per_s_per_user']:,.1f} tokens/s per user, is concurrency "
            f"{slo['best_concurrency']:,}{read}")


def print_line(con: Console, slo: dict[str, Any] | None, points: int) -> None:
    """Print :func:`slo_line` (nothing where no SLO was given)."""
    if slo is not None:
        from inferchip.interfaces.cli_options.output import print_text

        print_text(con, slo_line(slo, points))


def cell(point: dict[str, Any], slo: dict[str, Any] | None) -> str | None:
    """The table's SLO cell of a point: ``best``, ``ok`` or ``-`` (None: no SLO given, no column)."""
    if slo is None:
        return None
    if point["concurrency"] == slo["best_concurrency"]:
        return "best"
    return "ok" if point.get("meets_slo") else "-"


def statistic_cells(point: dict[str, Any] | None, slo: dict[str, Any] | None) -> tuple[Any, ...]:
    """The curve table's columns at the SLO's percentile: their headers (``point`` None) or a point's TTFT and TPOT,
    s (NaN where it has none); none without an SLO or for ``mean`` (the table's mean columns)."""
    if slo is None or slo["statistic"] == "mean":
        return ()
    stat = slo["statistic"]
    if point is None:
        return f"TTFT\n{stat} ms", f"TPOT\n{stat} ms"
    return tuple(float(point.get(f"{what}_s_{stat}", math.nan)) for what in ("ttft", "tpot"))


def draw(fig: Figure, points: list[dict[str, Any]], slo: dict[str, Any] | None) -> None:
    """On the curve's plot: the points within the SLO ringed, the best one starred, and where the SLO reads the mean
    TPOT its limit's vertical line (the x axis is 1 / mean TPOT: a percentile's limit is no line on it)."""
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
    if slo["tpot_s"] is not None and slo.get("statistic") == "mean":
        fig.add_vline(x=1.0 / slo["tpot_s"], line_dash="dash", line_color="green",
                      annotation_text=f"mean TPOT {slo['tpot_s'] * 1e3:g} ms")
