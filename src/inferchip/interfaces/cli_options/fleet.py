"""``serve --find-count``: the fewest chips whose simulated run meets the SLO at its percentile, the capacity planner's
question ("how many chips for R requests/s at p99 TTFT <= T and p99 TPOT <= P"), answered by the runs ``serve`` makes.

The search (:class:`inferchip.performance.fleet.FleetQuestion`, which ``ic.find_count`` runs too) runs ``serve``'s
own pipeline at each count (the layout searched at that count unless given, by the candidates' runs at the SLO's
percentile, the same load, seed and engine): from
``--count`` (default 1) it doubles until a run meets the SLO, or halves while one does,
then bisects the gap between the last count that missed and the first that met. A count whose system cannot be built
(the model does not fit, a layout given that does not divide it) counts as missed, with its reason, and so does a
saturated run (:func:`inferchip.sim.runs.slo.judge_run`: its queue grows, whatever its percentiles). Meeting the SLO
need not be monotonic in the count (another count may choose another layout), so the answer is the fewest chips among
the counts run, and every count run is listed with its figures.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from inferchip.errors import InvalidSettingError
from inferchip.workload.limits import MAX_DOUBLINGS  # (the simulator's modules load on first use: a fast start)

if TYPE_CHECKING:
    from inferchip.performance.fleet import FleetQuestion

__all__ = ["MAX_DOUBLINGS", "check_find_count", "fleet_help", "sizing_line", "smallest_count"]


def fleet_help() -> str:
    return ("Search the fewest chips whose run meets --slo-ttft-ms/--slo-tpot-ms at --slo-percentile: from --count "
            f"(default 1) doubling until one meets it (at most {MAX_DOUBLINGS} times) or halving while one does, then "
            "bisecting (with --tp/--pp given, in whole replicas); unless given, each count's layout is the first of "
            "those that carry the load (by mean end-to-end latency) whose run meets the SLO at --slo-percentile. "
            "Prints the fewest found and every count run (JSON sizing).")


def check_find_count(find_count: bool, slo_ttft_ms: float | None, slo_tpot_ms: float | None, rows: bool) -> None:
    """Refuse ``--find-count`` without an SLO to meet, or with ``--mtp``/``--disagg`` (their case row is not
    searched), before any run."""
    if not find_count:
        return
    if slo_ttft_ms is None and slo_tpot_ms is None:
        raise InvalidSettingError("--find-count: no SLO to meet; allowed: with --slo-ttft-ms and/or --slo-tpot-ms")
    if rows:
        raise InvalidSettingError("--find-count with --mtp/--disagg: the case row's chips are its layout's or pools', "
                                  "not searched; allowed: --find-count without them")


Run = tuple[Any, int, dict[str, str], Any, Any, Any]  # serve's (step model, replicas, formats, engine host, result,
# the open loop's capacity bound)


def smallest_count(question: FleetQuestion[Run], start: int, judge: Callable[[Run], dict[str, Any] | None],
                   slo_ttft_ms: float | None, slo_tpot_ms: float | None) -> tuple[int, dict[str, Any]]:
    """(the fewest chips found whose run meets the SLO, the ``sizing`` answer with ``run``: that count's (run, layout
    rule), for the caller to print and pop): :meth:`inferchip.performance.fleet.FleetQuestion.smallest`, the search
    ``ic.find_count`` runs, over serve's runs. ``judge``: a run -> ``curve_slo.judge_run``'s verdict. No count
    meeting it within :data:`MAX_DOUBLINGS` doublings is refused, naming the counts run."""
    from inferchip.sim.runs import slo

    check_find_count(True, slo_ttft_ms, slo_tpot_ms, rows=False)

    def judged(out: Run) -> dict[str, Any]:
        step, replicas, res = out[0], out[1], out[4]
        verdict = judge(out) or {}
        lay = step.mm.layout
        return {"meets": bool(verdict.get("meets")), "saturated": bool(verdict.get("saturated", res.saturated())),
                "layout": slo.layout_text(lay.tp, lay.pp, lay.ep, bool(lay.attn_dp), replicas),
                "ttft_s_at_statistic": verdict.get("ttft_s_at_statistic"),
                "tpot_s_at_statistic": verdict.get("tpot_s_at_statistic"),
                **{k: verdict.get(k) for k in ("too_short", "ramp_s", "service_s_min", "ramp_s_needed", "e2e_s_p99")}}

    return question.smallest(start, judged, option="--find-count", start_option="--count",
                             duration_option="--duration")


def sizing_line(sizing: dict[str, Any]) -> str:
    """The text's line: the fewest chips found and every count run with its figures at the SLO's percentile, named
    (``p99 TTFT 80.0 ms``: the statistic the search judged each count by, ``sizing['statistic']``)."""
    from inferchip.sim.runs import slo

    n = sizing["count"]
    return (f"sizing (--find-count): {n:,} chip{'' if n == 1 else 's'}, the fewest of the counts run that meets the "
            f"SLO; counts run: "
            f"{slo.tried_text({t['count']: t for t in sizing['counts_run']}, sizing.get('statistic'))}")
