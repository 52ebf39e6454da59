"""A latency SLO judged at the percentile the user names, and the fewest chips whose run meets it: one implementation
for the command line (``serve`` / ``curve --slo-ttft-ms --slo-tpot-ms --slo-percentile``, ``serve --find-count``) and
the Python API (``ic.serve`` / ``ic.curve`` ``slo_ttft_s=``, ``slo_tpot_s=``, ``slo_percentile=``, ``ic.find_count``),
which only spell the limits (milliseconds or seconds) and name the arguments in their errors.

A run (or a curve point) meets the SLO when its TTFT and its TPOT at the statistic are within the limits given: a
percentile of the same run's per-request figures (:func:`inferchip.sim.runs.curve.slo_marks`), p99 by default
(:data:`~inferchip.sim.runs.curve.DEFAULT_SLO_STATISTIC`: MLPerf Inference's Server scenario bounds the 99th percentile
of both, and vLLM's ``benchmark_serving`` reports the 99th by default), or their mean.

The count search (:func:`smallest_count`) runs the caller's system at a count of chips: from the starting count it
doubles until a run meets the SLO, or halves while one does, then bisects the gap between the last count that missed
and the first that met. A count whose system cannot be built (the model does not fit, a layout that does not divide
it) counts as missed, with its reason. Meeting the SLO need not be monotonic in the count (another count may run
another layout), so the answer is the fewest chips among the counts run, each listed with its figures.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from numbers import Integral, Real
from typing import Any, TypeVar

from inferchip.errors import InferchipError, InvalidSettingError, positive
from inferchip.sim.runs.curve import DEFAULT_SLO_STATISTIC, SLO_STATISTICS, slo_marks
from inferchip.workload.limits import MAX_CHIPS, MAX_DOUBLINGS

STATISTICS_ALLOWED = ("99, 90 or 50 (also written p99, p90, p50: that percentile of the run's per-request TTFT and "
                      "TPOT), or mean")
"""What an SLO's statistic may be given as, in the words of every refusal."""

__all__ = ["MAX_DOUBLINGS", "STATISTICS_ALLOWED", "checked_slo", "checked_statistic", "judge_run", "layout_text",
           "mark_points", "parse_statistic", "rule", "smallest_count", "too_short_text", "tried_text"]

T = TypeVar("T")


def parse_statistic(value: object) -> str | None:
    """``value`` as :data:`~inferchip.sim.runs.curve.SLO_STATISTICS` spells it (99, 99.0, "99", "p99", "P99" ->
    "p99"; "mean", any case and spaces around), None where it is none of them (a bool, NaN, 95, other text)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, Real):
        try:
            number = float(value)
        except OverflowError:  # an int of 400 digits
            return None
    elif isinstance(value, str):
        text = value.strip().lower()
        if text == "mean":
            return "mean"
        text = text[1:] if text.startswith("p") else text
        try:
            number = float(text)
        except ValueError:
            return None
    else:
        return None
    name = f"p{number:g}" if math.isfinite(number) else ""
    return name if name in SLO_STATISTICS else None


def checked_statistic(value: object, name: str = "slo_percentile") -> str:
    """:func:`parse_statistic`, refusing what it does not read with an InvalidSettingError naming ``name``."""
    stat = parse_statistic(value)
    if stat is None:
        shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "..."
        raise InvalidSettingError(f"{name}: {shown} is no statistic an SLO is judged at; allowed: {STATISTICS_ALLOWED}")
    return stat


def checked_slo(slo_ttft_s: float | None, slo_tpot_s: float | None, slo_percentile: object) -> str:
    """The API's SLO arguments checked (``ic.serve``, ``ic.curve``, ``ic.find_count``), the statistic returned: each
    limit None or a finite number of seconds above 0, ``slo_percentile`` one :func:`parse_statistic` reads. A
    statistic other than the default with no limit to judge is refused, as the CLI refuses ``--slo-percentile``
    without ``--slo-ttft-ms`` / ``--slo-tpot-ms`` (the default cannot be told from one not given)."""
    positive("slo_ttft_s", slo_ttft_s)
    positive("slo_tpot_s", slo_tpot_s)
    stat = checked_statistic(slo_percentile)
    if slo_ttft_s is None and slo_tpot_s is None and stat != DEFAULT_SLO_STATISTIC:
        raise InvalidSettingError(f"slo_percentile: {slo_percentile!r} with no limit to judge; allowed: with "
                                  f"slo_ttft_s and/or slo_tpot_s (without them the default, {DEFAULT_SLO_STATISTIC}, "
                                  "judges nothing)")
    return stat


def rule(stat: str) -> str:
    """The rule in words: what is judged against the limits."""
    what = (f"{'mean' if stat == 'mean' else stat} TTFT and {'mean' if stat == 'mean' else stat} TPOT over all the "
            "run's finished requests (a closed loop's first wave included)")
    return f"{what} within the limits given" + (" (a TPOT limit: tokens/s per user >= 1000 / limit ms)"
                                                 if stat == "mean" else "")


def mark_points(points: list[dict[str, Any]], slo_ttft_s: float | None, slo_tpot_s: float | None,
                stat: str) -> dict[str, Any] | None:
    """Set each point's ``meets_slo`` and return the SLO's record (None, points untouched: no limit given): the
    limits (s), the statistic, the rule, how many points meet it and the best of them (the most output tokens/s per
    chip) with its figures at the statistic and the requests they read (``best_requests_judged``, of them
    ``best_first_wave_requests`` the first wave, after ``best_warmup_requests`` not read)."""
    if slo_ttft_s is None and slo_tpot_s is None:
        return None
    marks, best = slo_marks(points, slo_ttft_s, slo_tpot_s, stat)
    for p, ok in zip(points, marks, strict=True):
        p["meets_slo"] = ok
    b = None if best is None else points[best]
    return {"ttft_s": slo_ttft_s, "tpot_s": slo_tpot_s, "statistic": stat, "rule": rule(stat),
            "points_meeting": sum(marks),
            "best_concurrency": None if b is None else b["concurrency"],
            "best_output_tokens_per_s_per_chip": None if b is None else b["output_tokens_per_s_per_chip"],
            "best_output_tokens_per_s_per_user": None if b is None else b["output_tokens_per_s_per_user"],
            "best_ttft_s_at_statistic": None if b is None else b[f"ttft_s_{stat}"],
            "best_tpot_s_at_statistic": None if b is None else b[f"tpot_s_{stat}"],
            "best_requests_judged": None if b is None else b.get("percentile_requests"),
            "best_first_wave_requests": None if b is None else b.get("first_wave_requests"),
            "best_warmup_requests": None if b is None else b.get("warmup_requests")}


def judge_run(summary: dict[str, Any], slo_ttft_s: float | None, slo_tpot_s: float | None,
              stat: str) -> dict[str, Any] | None:
    """A run's verdict (``serve``'s and ``ic.serve``'s ``slo``): the limits (s), the statistic, the rule, the run's TTFT
    and TPOT at it, whether both are within (None: no limit given), and the requests the statistic read
    (``requests_judged``: every finished request, ``first_wave_requests`` of them a closed loop's first wave, None in an
    open loop, less the ``warmup_requests`` sent first and not read; :class:`~inferchip.sim.results.metrics.SimResult`'s
    ``percentile_requests``); the run is the one point :func:`mark_points` judges. A saturated run
    (``summary['saturated']``: its queue grows without bound, or the time cap stopped it) meets no SLO, whatever its
    figures: they are of the requests that finished and grow with the run's length (a TPOT limit alone was met by a
    queue that never drains); MLPerf's Server scenario holds the offered rate for at least 600 s (LoadGen
    ``mlperf.conf`` ``*.Server.min_duration``), over which such a queue breaks any latency bound. An open loop whose
    ramp (``summary['ramp_s']``, the first half of its arrival period, which the measurement window and the
    saturation test skip) is shorter than its load needs to settle (``summary['ramp_s_needed']``, typical
    end-to-end times at the load from the step model, more the nearer the load is to what the system carries:
    :mod:`inferchip.performance.serving.capacity`, **the ramp**; without that estimate, its fastest request's time
    in the running batch, ``summary['service_s_min']``) is ``too_short`` and meets nothing either: the requests its
    window reads arrived while the batch was still filling towards rate x E2E (Little's law), so its percentiles
    read a running batch not yet full and its queue grows even where the system would carry the load
    (:func:`too_short_text`). A short run whose queue grows where the step model has no steady state for the load
    either (``summary['load_beyond_estimate']``) is saturated, the two agreeing; and no run whose offered rate is
    over the most the system completes (``summary['over_capacity']``) is too short: it is saturated, whatever
    its length."""
    point = {"concurrency": None, **summary}
    slo = mark_points([point], slo_ttft_s, slo_tpot_s, stat)
    if slo is None:
        return None
    saturated = bool(summary.get("saturated", False))
    warm, fastest = summary.get("ramp_s"), summary.get("service_s_min")
    needed = summary.get("ramp_s_needed")
    if needed is None:  # no estimate of the load's E2E (a one-token answer): the fastest request's time
        short = warm is not None and fastest is not None and math.isfinite(fastest) and warm < fastest
    else:  # a queue that grows where the step model has no steady state for the load agrees with it: saturated
        short = warm is not None and warm < needed and not (saturated and summary.get("load_beyond_estimate"))
    short = short and not summary.get("over_capacity")
    return {"ttft_s": slo["ttft_s"], "tpot_s": slo["tpot_s"], "statistic": stat, "rule": slo["rule"],
            "meets": bool(point["meets_slo"]) and not saturated and not short, "saturated": saturated,
            "too_short": short, "ramp_s": warm, "service_s_min": fastest, "ramp_s_needed": needed,
            "e2e_s_p99": summary.get("e2e_s_p99"),
            "ttft_s_at_statistic": summary[f"ttft_s_{stat}"], "tpot_s_at_statistic": summary[f"tpot_s_{stat}"],
            "requests_judged": summary.get("percentile_requests"),
            "first_wave_requests": summary.get("first_wave_requests"),
            "warmup_requests": summary.get("warmup_requests")}


def too_short_text(verdict: dict[str, Any], duration_option: str = "--duration") -> str:
    """Why a ``too_short`` run (:func:`judge_run`) is not judged, and a run length that would be: arrivals for four
    times its p99 end-to-end latency, or twice the ramp it needs (``ramp_s_needed``) if longer, rounded up to 10 s
    (the first half is the ramp, and a short run's latency is its ramp's: the full batch's is longer)."""
    warm, fastest = float(verdict["ramp_s"]), float(verdict["service_s_min"])
    needed = verdict.get("ramp_s_needed")
    advice = 10.0 * math.ceil(max(4.0 * float(verdict["e2e_s_p99"]), 2.0 * float(needed or 0.0)) / 10.0)
    # written as it is given: --duration 1360 on the command line, duration_s=1360 in the API (no thousands comma)
    example = f"{duration_option}{' ' if duration_option.startswith('-') else '='}{advice:.0f}"
    ends = (f"ends before its fastest request could finish ({fastest:,.1f} s from its first step to its last "
            "token)" if needed is None else f"ends before the {float(needed):,.1f} s its load needs to settle "
            "(the step model's estimate: typical end-to-end times at the load, more the nearer the load is to "
            "what the system carries)")
    return (f"the run is too short to judge: its arrivals last {2 * warm:,.1f} s, and the first half, the ramp "
            f"the measurement window and the saturation test skip, {ends}, so its requests in flight were still "
            f"climbing towards rate x E2E (Little's law): its percentiles read a batch not yet full, and its queue "
            f"grows at any count; allowed: {duration_option} of about four times its p99 end-to-end latency "
            f"({float(verdict['e2e_s_p99']):,.1f} s), or twice the ramp its load needs, e.g. {example}, with "
            "requests enough (a default of 1,000 ends the arrivals without a duration)")


def layout_text(tp: int, pp: int, ep: int, attn_dp: bool, replicas: int) -> str:
    """A count's layout as the search lists it."""
    return f"tp={tp} pp={pp} ep={ep}{' attention-DP' if attn_dp else ''}, {replicas} replica(s)"


def smallest_count(run: Callable[[int], T], start: int, judged: Callable[[T], dict[str, Any]], *,
                   option: str = "find_count", start_option: str = "count",
                   layouts: str = "the layout searched at each count unless given",
                   statistic: str | None = None, duration_option: str = "duration_s",
                   step: int = 1) -> tuple[int, dict[str, Any]]:
    """(the fewest chips found whose run meets the SLO, the ``sizing`` record: ``count``, ``counts_run`` (each count
    run: ``count``, ``meets``, ``layout``, ``saturated``, ``ttft_s_at_statistic``, ``tpot_s_at_statistic``,
    ``reason`` where no system was built, and ``layout_rule`` where ``judged`` gives one), ``statistic`` (the one
    the figures are at: ``p99``, ``mean``; None where the caller gave none), ``rule`` and ``run``, that count's run,
    for the caller to report and pop).

    ``run(n)``: the system of ``n`` chips and its run (an InferchipError: no system of ``n`` chips, a miss with its
    reason); ``judged(out)``: a run's ``meets``, ``layout``, ``saturated`` and figures at the statistic. ``option``
    and ``start_option`` name the search and its starting count in the refusal and the rule (the CLI's
    ``--find-count`` and ``--count``); ``layouts``: how each count's layout is chosen, in words. A run too short to
    judge (``judged``'s ``too_short``, :func:`judge_run`) is refused at once, naming ``duration_option``, unless a
    count has met the SLO: a count below it too short to judge (nearer its capacity, its run settles slower) is not
    met (``too_short`` in ``counts_run``), so the answer is the fewest chips judged to meet it. ``step``:
    the chips of one replica where the layout is given (tp x pp): the counts halved, doubled and bisected are its
    multiples, the only counts that build a system (bisecting by single chips, 1,440 to 1,800 GB200s at tp 8 ran 10
    counts that build none and answered 1,800 untried below it). No count
    meeting it within :data:`~inferchip.workload.limits.MAX_DOUBLINGS` doublings is refused, naming the counts run
    and their figures at ``statistic``; where every count run had no system for the same reason (its first line: a
    layout the model refuses, a replica it does not fit), that error is raised as it came, once."""
    if isinstance(start, bool) or not isinstance(start, Integral) or not 1 <= start <= MAX_CHIPS:
        raise InvalidSettingError(f"{start_option}: {start!r}; allowed: a whole number of chips from 1 to "
                                  f"{MAX_CHIPS:,}, the count the search starts from")
    start = int(start)
    tried: dict[int, dict[str, Any]] = {}
    met: dict[int, T] = {}
    refusals: dict[str, InferchipError] = {}  # each distinct reason (its first line) a count had no system

    def meets(n: int) -> bool:
        if n in tried:
            return bool(tried[n]["meets"])
        try:
            out = run(n)
        except InferchipError as exc:  # no system of n chips: missed, with the reason
            tried[n] = {"count": n, "meets": False, "layout": None, "saturated": None, "ttft_s_at_statistic": None,
                        "tpot_s_at_statistic": None, "reason": str(exc), "too_short": False}
            refusals.setdefault(str(exc).split("\n", 1)[0], exc)  # (the advice under it may name the count)
            return False
        j = judged(out)
        if j.get("too_short") and not met:  # no count met yet is judged on a run this short: say how long one must be
            raise InvalidSettingError(f"{option}: at {n:,} chips {too_short_text(j, duration_option)}")
        # below a count that met, a count too short to judge (nearer its capacity, it settles slower) is not met
        tried[n] = {"count": n, "meets": bool(j["meets"]) and not j.get("too_short"), "layout": j["layout"],
                    "saturated": bool(j["saturated"]), "too_short": bool(j.get("too_short")),
                    "ttft_s_at_statistic": j["ttft_s_at_statistic"], "tpot_s_at_statistic": j["tpot_s_at_statistic"],
                    "reason": None, **({"layout_rule": j["layout_rule"]} if "layout_rule" in j else {})}
        if tried[n]["meets"]:
            met.clear()  # keep only the fewest chips' run
            met[n] = out
        return bool(tried[n]["meets"])

    lo, hi = 0, None  # the most chips known to miss (0: none), the fewest known to meet
    if meets(start):
        hi, n = start, start
        for _ in range(MAX_DOUBLINGS):
            if n <= step:
                break
            n = max(step, n // 2 // step * step)
            if not meets(n):
                lo = n
                break
            hi = n
    else:
        lo, n = start, start
        for _ in range(MAX_DOUBLINGS):
            n = -(-2 * n // step) * step
            if n > MAX_CHIPS:
                break
            if meets(n):
                hi = n
                break
            lo = n
    if hi is None and len(refusals) == 1 and all(t["reason"] is not None for t in tried.values()):
        raise next(iter(refusals.values()))  # every count refused alike, a reason no count escapes: --tp 3 on 32 heads
    if hi is None:
        raise InvalidSettingError(
            f"{option}: none of {', '.join(f'{c:,}' for c in sorted(tried))} chips meets the SLO at this load "
            f"({tried_text(tried, statistic)}); allowed: looser limits, a lighter load, or another chip, layout or "
            "engine")
    lo = lo // step * step  # (a start that is no multiple of a replica's chips built no system)
    while hi - lo > step:
        mid = lo + (hi - lo) // (2 * step) * step
        if meets(mid):
            hi = mid
        else:
            lo = mid
    best = met[hi] if hi in met else run(hi)
    return hi, {"count": hi, "counts_run": [tried[c] for c in sorted(tried)], "statistic": statistic,
                "rule": f"the fewest chips among the counts run whose run meets the SLO (doubling from {start_option},"
                        f" or halving, then bisecting; {layouts})", "run": best}


def tried_text(tried: dict[int, dict[str, Any]], statistic: str | None = None) -> str:
    """The counts run, each with its verdict and figures at ``statistic`` (``p99``: "p99 TTFT 80.0 ms"; None: the
    figures unnamed), or why no system was built."""
    at = "" if statistic is None else f"{statistic} "
    parts = []
    for c in sorted(tried):
        t = tried[c]
        if t["reason"] is not None:
            parts.append(f"{c:,}: no system ({t['reason'][:120]})")
            continue
        figs = [f"{at}{what} {v * 1e3:,.1f} ms" for what, v in (("TTFT", t["ttft_s_at_statistic"]),
                                                             ("TPOT", t["tpot_s_at_statistic"]))
                if v is not None and math.isfinite(v)]
        state = ("met" if t["meets"] else "too short to judge" if t.get("too_short") else
                 "missed" + (", saturated" if t["saturated"] else ""))
        parts.append(f"{c:,}: {state}" + (f" ({', '.join(figs)})" if figs else ""))
    return "; ".join(parts)
