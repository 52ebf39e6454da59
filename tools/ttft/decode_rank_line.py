"""The measured decode step of attention-DP decode workers against the requests a rank holds, pooled over layouts:
for the closed-loop runs whose case id matches ``--match`` (a regular expression) in a validate JSON
(``inferchip validate ... --format json``), each run's requests decoding per attention-DP rank by Little's law
(output tokens/s x TPOT / decode GPUs; every decode GPU is one rank under attention DP), measured and simulated,
beside its TPOT measured and simulated; then one straight line ``TPOT = a + b n`` fitted by least squares to the
measured points with at least ``--min-per-rank`` requests a rank, pooled over every layout, and the same for the
simulated points, with each layout's median residual from the pooled measured line.

Why (docs/serving_journal.md, branch dyn42): stop 41 (branch dyn41) read the GB200 FP4 Dynamo + SGLang 32-rank
decode worker as 1.21-1.26x slower than simulated at 190-245 requests a rank, and the 48-rank one as right at
67-92. If both layouts' measured points lie on one line in ``n``, the gap is the step's growth with the requests a
rank holds, not something of the 32-rank layout; mechanisms that depend on the rank count (DeepEP's per-peer
cost, the busiest of R randomly pinned ranks) would split the layouts instead.

Also printed, per run: the expected busiest rank when each request's decode rank is drawn uniformly and
independently (Dynamo's random ``bootstrap_room`` % dp, sim/engines/rank_pinned.py): ``n + z_R sqrt(n (1 - 1/R))``,
``z_R`` the expected maximum of ``R`` standard normals (Blom's approximation ``Phi^-1((R - 0.375) / (R + 0.25))``).

    python tools/ttft/decode_rank_line.py X.json [--match REGEX] [--min-per-rank 30] [--cases CASES.csv]
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import statistics
from collections import defaultdict
from pathlib import Path
from statistics import NormalDist
from typing import Any

SHIPPED = Path(__file__).resolve().parents[2] / "src" / "inferchip" / "catalog" / "inferencemax_cases.csv"

DEFAULT_MATCH = r"^imax-dsr1-gb200-dynamo-sglang-fp4-disagg-p\d+x1e1dpa-d\d+x1e1dpa-1024-1024-"
_DECODE_GPUS = re.compile(r"\+ (\d+) decode GPUs \((\d+) worker\(s\), [^)]*DP-attention true\)")
_RUN = re.compile(r"^imax-(?P<config>.+)-c(?P<conc>\d+)-r(?P<run>\d+)-(?P<metric>tput|ttft|tpot)$")


def expected_max_normal(n: int) -> float:
    """Blom's approximation of the expected largest of ``n`` standard normal draws (0 for one draw).
    E.g. 32 -> 2.07, 48 -> 2.25."""
    if n < 1:
        raise ValueError(f"need at least one draw, got {n}")
    return 0.0 if n == 1 else NormalDist().inv_cdf((n - 0.375) / (n + 0.25))


def busiest_rank(per_rank: float, ranks: int) -> float:
    """Expected requests on the busiest of ``ranks`` ranks holding ``per_rank`` each on average when every request's
    rank is uniform and independent (binomial counts, normal approximation)."""
    return per_rank + expected_max_normal(ranks) * (per_rank * (1 - 1 / ranks)) ** 0.5


def fit_line(points: list[tuple[float, float]]) -> tuple[float, float]:
    """Least-squares ``(a, b)`` of ``y = a + b x`` (``statistics.linear_regression``). E.g. (0, 1), (1, 3), (2, 5)
    -> (1, 2)."""
    if len(points) < 2:
        raise ValueError("a line needs at least two points")
    if len({x for x, _ in points}) == 1:
        raise ValueError("the points share one x: no slope")
    slope, intercept = statistics.linear_regression([x for x, _ in points], [y for _, y in points])
    return intercept, slope


def case_notes(path: Path) -> dict[str, str]:
    """The ``notes`` column of a cases CSV by case id (the layout's decode GPUs and workers are stated there)."""
    with open(path, newline="") as f:
        return {r["case_id"]: r["notes"] for r in csv.DictReader(f)}


def runs(cases: list[dict[str, Any]], match: str, notes: dict[str, str]) -> list[dict[str, Any]]:
    """One record per matching run with throughput and TPOT both simulated: config, clients, decode GPUs, and the
    measured and simulated requests per rank and TPOT (ms); ``notes``: the cases CSV's notes by case id."""
    pat = re.compile(match)
    grouped: dict[tuple[str, int, str], dict[str, dict[str, Any]]] = defaultdict(dict)
    for c in cases:
        m = _RUN.match(c["case_id"])
        if m is None or not pat.search(c["case_id"]):
            continue
        grouped[(m["config"], int(m["conc"]), m["run"])][m["metric"]] = c
    out = []
    for (config, conc, run), recs in sorted(grouped.items()):
        tput, tpot = recs.get("tput"), recs.get("tpot")
        if tput is None or tpot is None or tput.get("predicted") is None or tpot.get("predicted") is None:
            continue
        g = _DECODE_GPUS.search(notes.get(tput["case_id"], ""))
        if g is None:
            continue
        gpus = int(g.group(1))
        ranks = gpus // int(g.group(2))
        out.append({"config": config, "conc": conc, "run": run, "gpus": gpus, "ranks": ranks,
                    "n_meas": tput["measured"] * tpot["measured"] / 1e3 / gpus,
                    "n_sim": tput["predicted"] * tpot["predicted"] / 1e3 / gpus,
                    "tpot_meas": float(tpot["measured"]), "tpot_sim": float(tpot["predicted"])})
    return out


def report(records: list[dict[str, Any]], min_per_rank: float) -> list[str]:
    """The per-configuration medians, the pooled lines and each layout's residual from the measured line."""
    lines = ["| configuration | clients | runs | ranks a worker | requests a rank meas / sim | busiest of R (random) "
             "meas | TPOT ms meas / sim |", "|---|---|---|---|---|---|---|"]
    by: dict[tuple[str, int], list[dict[str, Any]]] = defaultdict(list)
    for r in records:
        by[(r["config"], r["conc"])].append(r)
    for (config, conc), rs in sorted(by.items(), key=lambda kv: (kv[0][0], kv[0][1])):
        med = {k: statistics.median(r[k] for r in rs) for k in ("n_meas", "n_sim", "tpot_meas", "tpot_sim")}
        busiest = busiest_rank(med["n_meas"], rs[0]["ranks"])
        lines.append(f"| {config} | {conc} | {len(rs)} | {rs[0]['ranks']} | {med['n_meas']:.1f} / {med['n_sim']:.1f} "
                     f"| {busiest:.1f} ({busiest / med['n_meas']:.2f}x) | {med['tpot_meas']:.2f} / "
                     f"{med['tpot_sim']:.2f} |")
    meas = [(r["n_meas"], r["tpot_meas"]) for r in records if r["n_meas"] >= min_per_rank]
    sim = [(r["n_sim"], r["tpot_sim"]) for r in records if r["n_sim"] >= min_per_rank]
    lines.append("")
    for label, pts in (("measured", meas), ("simulated", sim)):
        if len({round(x, 6) for x, _ in pts}) < 2:
            lines.append(f"{label}: fewer than two distinct points at >= {min_per_rank:g} requests a rank")
            continue
        a, b = fit_line(pts)
        lines.append(f"{label} TPOT = {a:.2f} ms + {1e3 * b:.1f} us x requests a rank ({len(pts)} runs at "
                     f">= {min_per_rank:g} a rank, {min(x for x, _ in pts):.0f}-{max(x for x, _ in pts):.0f})")
        if label == "measured":
            res: dict[str, list[float]] = defaultdict(list)
            for r in records:
                if r["n_meas"] >= min_per_rank:
                    res[r["config"]].append(r["tpot_meas"] - (a + b * r["n_meas"]))
            for config, v in sorted(res.items()):
                lines.append(f"  {config}: median residual {statistics.median(v):+.2f} ms over {len(v)} runs")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("json", help="a closed-loop inferchip validate --format json file")
    ap.add_argument("--match", default=DEFAULT_MATCH, help="regular expression on the case ids")
    ap.add_argument("--cases", default=str(SHIPPED), help="the cases CSV the JSON was validated from")
    ap.add_argument("--min-per-rank", type=float, default=30.0, help="points below this many requests a rank are "
                    "listed but not fitted")
    a = ap.parse_args()
    with open(a.json) as f:
        records = runs(json.load(f)["cases"], a.match, case_notes(Path(a.cases)))
    if not records:
        raise SystemExit(f"error: no attention-DP disaggregated run in {a.json} matches {a.match!r}")
    print("\n".join(report(records, a.min_per_rank)))


if __name__ == "__main__":
    main()
