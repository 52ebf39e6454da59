"""``serve --find-count``: the fewest chips whose simulated run meets the SLO at its percentile, the capacity planner's
question ("how many chips for R requests/s at p99 TTFT <= T and p99 TPOT <= P"), answered by the runs ``serve`` makes.

The search runs ``serve``'s own pipeline at each count (the layout searched at that count unless given, the same
load, seed and engine): from ``--count`` (default 1) it doubles until a run meets the SLO, or halves while one does,
then bisects the gap between the last count that missed and the first that met. A count whose system cannot be built
(the model does not fit, a layout given that does not divide it) counts as missed, with its reason, and so does a
saturated run (``curve_slo.judge_run``: its queue grows, whatever its percentiles). Meeting the SLO
need not be monotonic in the count (another count may choose another layout), so the answer is the fewest chips among
the counts run, and every count run is listed with its figures.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from inferchip.errors import InferchipError, InvalidSettingError
from inferchip.workload.limits import MAX_CHIPS

MAX_DOUBLINGS = 12
"""Doublings (or halvings) tried from ``--count`` before the search gives up: 4,096 times the count, about 13 runs,
so an SLO no count meets ends in bounded time."""


def fleet_help() -> str:
    return ("Search the fewest chips whose run meets --slo-ttft-ms/--slo-tpot-ms at --slo-percentile: from --count "
            f"(default 1) doubling until one meets it (at most {MAX_DOUBLINGS} times) or halving while one does, then "
            "bisecting; the layout is searched at each count unless given. Prints the fewest found and every count "
            "run (JSON sizing).")


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


Run = tuple[Any, int, dict[str, str], Any, Any]  # serve's (step model, replicas, formats, engine host, result)


def smallest_count(run: Callable[[int], Run], start: int, judge: Callable[[Any], dict[str, Any] | None],
                   slo_ttft_ms: float | None, slo_tpot_ms: float | None) -> tuple[int, dict[str, Any]]:
    """(the fewest chips found whose run meets the SLO, the ``sizing`` answer with ``run``: that count's run, for
    the caller to print and pop). ``judge``: a run's result -> ``curve_slo.judge_run``'s verdict. No count meeting
    it within :data:`MAX_DOUBLINGS` doublings is refused, naming the counts run."""
    check_find_count(True, slo_ttft_ms, slo_tpot_ms, rows=False)
    tried: dict[int, dict[str, Any]] = {}
    met: dict[int, Run] = {}

    def meets(n: int) -> bool:
        if n in tried:
            return bool(tried[n]["meets"])
        try:
            out = run(n)
        except InferchipError as exc:  # no system of n chips: missed, with the reason
            tried[n] = {"count": n, "meets": False, "layout": None, "saturated": None, "ttft_s_at_statistic": None,
                        "tpot_s_at_statistic": None, "reason": str(exc)}
            return False
        step, replicas, res = out[0], out[1], out[4]
        verdict = judge(res) or {}
        lay = step.mm.layout
        tried[n] = {"count": n, "meets": bool(verdict.get("meets")),
                    "layout": f"tp={lay.tp} pp={lay.pp} ep={lay.ep}{' attention-DP' if lay.attn_dp else ''}, "
                              f"{replicas} replica(s)",
                    "saturated": bool(res.saturated()), "ttft_s_at_statistic": verdict.get("ttft_s_at_statistic"),
                    "tpot_s_at_statistic": verdict.get("tpot_s_at_statistic"), "reason": None}
        if tried[n]["meets"]:
            met.clear()  # keep only the fewest chips' run
            met[n] = out
        return bool(tried[n]["meets"])

    lo, hi = 0, None  # the most chips known to miss (0: none), the fewest known to meet
    if meets(start):
        hi, n = start, start
        for _ in range(MAX_DOUBLINGS):
            if n == 1:
                break
            n = max(1, n // 2)
            if not meets(n):
                lo = n
                break
            hi = n
    else:
        lo, n = start, start
        for _ in range(MAX_DOUBLINGS):
            n *= 2
            if n > MAX_CHIPS:
                break
            if meets(n):
                hi = n
                break
            lo = n
    if hi is None:
        raise InvalidSettingError(
            f"--find-count: none of {', '.join(f'{c:,}' for c in sorted(tried))} chips meets the SLO at this load "
            f"({_tried_text(tried)}); allowed: looser limits, a lighter load, or another chip, layout or engine")
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if meets(mid):
            hi = mid
        else:
            lo = mid
    best = met[hi] if hi in met else run(hi)
    return hi, {"count": hi, "counts_run": [tried[c] for c in sorted(tried)],
                "rule": "the fewest chips among the counts run whose run meets the SLO (doubling from --count, or "
                        "halving, then bisecting; the layout searched at each count unless given)", "run": best}


def _tried_text(tried: dict[int, dict[str, Any]]) -> str:
    parts = []
    for c in sorted(tried):
        t = tried[c]
        if t["reason"] is not None:
            parts.append(f"{c:,}: no system ({t['reason'][:120]})")
            continue
        figs = [f"{what} {v * 1e3:,.1f} ms" for what, v in (("TTFT", t["ttft_s_at_statistic"]),
                                                             ("TPOT", t["tpot_s_at_statistic"]))
                if v is not None and math.isfinite(v)]
        state = "met" if t["meets"] else "missed" + (", saturated" if t["saturated"] else "")
        parts.append(f"{c:,}: {state}" + (f" ({', '.join(figs)})" if figs else ""))
    return "; ".join(parts)


def sizing_line(sizing: dict[str, Any]) -> str:
    """The text's line: the fewest chips found and every count run with its figures at the SLO's percentile."""
    n = sizing["count"]
    return (f"sizing (--find-count): {n:,} chip{'' if n == 1 else 's'}, the fewest of the counts run that meets the "
            f"SLO; counts run: {_tried_text({t['count']: t for t in sizing['counts_run']})}")
