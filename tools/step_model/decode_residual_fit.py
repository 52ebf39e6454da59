"""The closed-loop TPOT residual (measured - simulated) as a line in the client count, per chip x engine x weights x
TP x lengths group of a closed-loop ``inferchip validate --format json`` run: the intercept says how much step time
the simulation misses whatever the batch, the slope how much per extra client it over- (negative) or under-prices.

For each group (the ``--match`` regex on the case ids, e.g. ``sglang-fp8-tp8ep1``): per client count the mean
measured and simulated TPOT over the runs, their difference, then the least-squares line
``residual = a + b C`` (:func:`line_fit`) and the measured and simulated lines ``TPOT = a + b C`` themselves. The
1k/8k rows carry the cleanest decode step (a new prompt joins every ~OSL / C steps, so the prefills that share the
steps weigh least). With ``--pair SLOW,FAST`` (chip ids) the measured and simulated TPOT ratio slow / fast per
group and client count of the runs both chips ran with the same engine, weights, TP and lengths
(docs/serving_journal.md, "the MI300X decode step", branch ``mi300x41``). With ``--ratio-to REF.json`` (another
run of the same rows) the geometric mean over the matching configurations (case id less run and metric) of the simulated
TPOT of X.json over REF.json's (:func:`geomean_ratio`): predictions only, no measurement.

    python tools/step_model/decode_residual_fit.py X.json [--match REGEX] [--pair mi300x,mi355x] [--ratio-to REF.json]
"""

from __future__ import annotations

import argparse
import json
import math
import re
import statistics
from collections import defaultdict
from collections.abc import Sequence

_ID = re.compile(r"-(?P<chip>[a-z0-9]+)-(?P<engine>[a-z]+)-(?P<w>fp8|fp4|mxfp4|bf16)-(?P<tp>tp\d+ep\d+)-"
                 r"(?P<isl>\d+)-(?P<osl>\d+)-c(?P<c>\d+)-")


def line_fit(xs: Sequence[float], ys: Sequence[float]) -> tuple[float, float]:
    """Least-squares ``y = a + b x`` (returns ``(a, b)``); ValueError for fewer than two distinct x."""
    if len(xs) != len(ys):
        raise ValueError(f"need as many x as y, got {len(xs)} and {len(ys)}")
    if len(set(xs)) < 2:
        raise ValueError(f"need at least two distinct x, got {sorted(set(xs))}")
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    b = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx
    return my - b * mx, b


def tpot_table(cases: list[dict], match: str) -> dict[tuple[str, ...], dict[int, tuple[float, float]]]:
    """(chip, engine, weights, tp, ISL, OSL) -> clients -> (mean measured, mean simulated TPOT ms) over the runs of
    the TPOT rows whose id matches ``match`` and whose id parses (aggregated layouts; others are skipped)."""
    pat = re.compile(match)
    acc: dict[tuple[str, ...], dict[int, list[tuple[float, float]]]] = defaultdict(lambda: defaultdict(list))
    for c in cases:
        if c.get("metric") != "tpot_ms" or c.get("status") != "ok" or not pat.search(c["case_id"]):
            continue
        m = _ID.search(c["case_id"])
        if m is None or c.get("measured") is None or c.get("predicted") is None:
            continue
        key = (m["chip"], m["engine"], m["w"], m["tp"], m["isl"], m["osl"])
        acc[key][int(m["c"])].append((float(c["measured"]), float(c["predicted"])))
    return {k: {cl: (statistics.fmean(v[0] for v in vals), statistics.fmean(v[1] for v in vals))
                for cl, vals in sorted(by_c.items())} for k, by_c in sorted(acc.items())}


def config_tpot(cases: list[dict], match: str) -> dict[str, float]:
    """Simulated TPOT (ms) by configuration (case id less its ``-rRUN-tpot`` tail) of the matching TPOT rows."""
    pat = re.compile(match)
    return {re.sub(r"(-r\d+)?-tpot$", "", c["case_id"]): float(c["predicted"]) for c in cases
            if c.get("metric") == "tpot_ms" and c.get("status") == "ok" and pat.search(c["case_id"])}


def geomean_ratio(num: dict[str, float], den: dict[str, float]) -> tuple[float, int]:
    """Geometric mean of ``num[k] / den[k]`` over the keys both hold, and their count; ValueError if none."""
    keys = sorted(set(num) & set(den))
    if not keys:
        raise ValueError("no configuration in both runs")
    return math.exp(statistics.fmean(math.log(num[k] / den[k]) for k in keys)), len(keys)


def report(table: dict[tuple[str, ...], dict[int, tuple[float, float]]]) -> list[str]:
    """Markdown: per group the residual by client count and the three lines (measured, simulated, residual)."""
    out = ["| chip | engine | weights | tp | ISL/OSL | residual ms by clients (meas - sim) | measured a + b C | "
           "simulated a + b C | residual a + b C |", "|---" * 9 + "|"]
    for key, by_c in table.items():
        if len(by_c) < 2:
            continue
        cs = list(by_c)
        meas = [by_c[c][0] for c in cs]
        sim = [by_c[c][1] for c in cs]
        res = [m - s for m, s in zip(meas, sim, strict=True)]
        lines = [line_fit(cs, y) for y in (meas, sim, res)]
        cells = ", ".join(f"c{c} {r:+.1f}" for c, r in zip(cs, res, strict=True))
        fits = " | ".join(f"{a:.1f} {b:+.3f} C" for a, b in lines)
        chip, eng, w, tp, isl, osl = key
        out.append(f"| {chip} | {eng} | {w} | {tp} | {isl}/{osl} | {cells} | {fits} |")
    return out


def pair_report(table: dict[tuple[str, ...], dict[int, tuple[float, float]]], slow: str, fast: str) -> list[str]:
    """Markdown: measured and simulated TPOT ratio slow / fast for the groups and clients both chips ran."""
    out = [f"| engine | weights | tp | ISL/OSL | clients | measured {slow} / {fast} | simulated |", "|---" * 7 + "|"]
    for key, by_c in table.items():
        if key[0] != slow:
            continue
        other = table.get((fast, *key[1:]))
        if not other:
            continue
        for c in by_c:
            if c in other:
                (ms, ss), (mf, sf) = by_c[c], other[c]
                out.append(f"| {key[1]} | {key[2]} | {key[3]} | {key[4]}/{key[5]} | {c} | {ms / mf:.2f} | "
                           f"{ss / sf:.2f} |")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("json", help="a closed-loop inferchip validate --format json run")
    ap.add_argument("--match", default="-tp\\d+ep\\d+-", help="regex on the case ids (default: aggregated TP rows)")
    ap.add_argument("--pair", default=None, metavar="SLOW,FAST", help="chip ids as in the case ids, e.g. mi300x,mi355x")
    ap.add_argument("--ratio-to", default=None, metavar="REF.json", help="geometric-mean simulated TPOT ratio to REF")
    a = ap.parse_args()
    with open(a.json) as f:
        cases = json.load(f)["cases"]
    table = tpot_table(cases, a.match)
    if not table:
        raise SystemExit(f"{a.json}: no TPOT row matches {a.match!r}")
    print("\n".join(report(table)))
    if a.pair:
        try:
            slow, fast = a.pair.split(",")
        except ValueError:
            ap.error("--pair takes SLOW,FAST (two chip names as the case ids spell them, e.g. mi300x,mi355x)")
        print()
        print("\n".join(pair_report(table, slow, fast)))
    if a.ratio_to:
        with open(a.ratio_to) as f:
            ref = json.load(f)["cases"]
        g, n = geomean_ratio(config_tpot(cases, a.match), config_tpot(ref, a.match))
        print(f"\nsimulated TPOT / {a.ratio_to}'s: geometric mean {g:.4f} over {n} configurations")


if __name__ == "__main__":
    main()
