"""How much of a closed-loop run's mean TTFT excess its first wave can hold, read from the run's own record
(diagnostic only; nothing here is a model change), and how many LOAO TTFT tail rows a group of rows carries.

A run of ``C`` clients sends ``N`` prompts (``N / C`` a client, back to back). Its record gives the mean, median and
p99 TTFT, the output throughput and the mean TPOT. The mean's excess over the median is a mass of waiting,
``N (mean - median)`` request-seconds. Where one wait ``K`` falls on the whole first wave (the ``C`` prompts sent at
t = 0) and ``C / N`` is above 1 %, the p99 lies inside that wave and bounds the wave's requests: every first-wave
request but the top 1 % of the run waited at most ``p99 - median`` more than the median one. The top 1 %
(``ceil(0.01 N)`` requests) can wait longer, but no client can wait more than the run's slack: the run lasted
``D = N x 0.9 OSL / throughput`` (lengths uniform in [0.8 L, L]), and a client's own ``N / C`` requests take at
least ``N / C x (median + (0.9 OSL - 1) TPOT)`` of it. So the first wave plus its outliers hold at most

    bound = C (p99 - median) + ceil(0.01 N) x max(0, D - N / C x (median + (0.9 OSL - 1) TPOT))

request-seconds. A run whose excess mass exceeds the bound waited in later rounds too (lock-step echoes of the first
wave, or a wait repeated inside the run); one within it may be a first-wave wait alone. The simulated run is read
the same way (its p99 and mean from the validate JSON), so a shipped first-use wait above the run's own p99 shows as
``sim p99 > meas p99``.

``--group NAME=REGEX`` (repeatable): the LOAO TTFT errors of tools/closed_loop/ttft_tail.py, with the rows whose id
matches each group set to zero error one group at a time: the all-row tail count (beyond ``--threshold``) and p90
that a perfect prediction of that group alone would leave (an upper bound on what fixing the group buys).

    python tools/closed_loop_runs/first_wave_bound.py validate.json [--match REGEX] [--cases CASES.csv]
        [--group NAME=REGEX ...] [--threshold 35]
"""

from __future__ import annotations

import argparse
import math
import re
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "closed_loop"))
from ttft_spread import SHIPPED, notes_spread  # noqa: E402

_RUN = re.compile(r"^(?P<base>.+)-(?P<metric>tput|ttft|tpot)$")
_LEN = re.compile(r"-(\d+)-(\d+)-c(\d+)-")


def excess_mass_s(n_prompts: int, mean_s: float, median_s: float) -> float:
    """The run's waiting mass above its median request, request-seconds: ``N (mean - median)``."""
    return n_prompts * (mean_s - median_s)


def first_wave_bound_s(clients: int, n_prompts: int, median_s: float, p99_s: float, osl: int,
                       throughput_tok_s: float, tpot_s: float) -> float:
    """Request-seconds the first wave and the run's top 1 % can hold (module docstring); ``inf`` where the first
    wave is at most 1 % of the run (the p99 then bounds nothing in it)."""
    if clients < 1 or n_prompts < clients or not throughput_tok_s > 0:
        raise ValueError(f"clients {clients}, prompts {n_prompts}, throughput {throughput_tok_s}: need "
                         "1 <= clients <= prompts and a positive throughput")
    if clients / n_prompts <= 0.01:
        return math.inf
    duration_s = n_prompts * 0.9 * osl / throughput_tok_s
    own_s = n_prompts / clients * (median_s + (0.9 * osl - 1) * tpot_s)
    return clients * max(0.0, p99_s - median_s) + math.ceil(0.01 * n_prompts) * max(0.0, duration_s - own_s)


def run_rows(cases: list[dict[str, Any]], spread: dict[str, tuple[float, float]],
             match: str = "") -> list[dict[str, Any]]:
    """One record per run with a TTFT row, a stated spread and its throughput and TPOT rows: clients, prompts,
    measured and simulated mean / median / p99 (s), excess mass and bound (request-seconds), both sides."""
    pat = re.compile(match)
    runs: dict[str, dict[str, dict[str, Any]]] = {}
    for c in cases:
        m = _RUN.match(c["case_id"])
        if m and c.get("status", "ok") == "ok" and c.get("sim") and pat.search(c["case_id"]):
            runs.setdefault(m.group("base"), {})[m.group("metric")] = c
    out = []
    for base, r in sorted(runs.items()):
        if not {"ttft", "tput", "tpot"} <= r.keys() or r["ttft"]["case_id"] not in spread:
            continue
        lm = _LEN.search(base)
        if lm is None:
            raise ValueError(f"run {base}: no -ISL-OSL-cC- in its id")
        osl, clients = int(lm.group(2)), int(lm.group(3))
        sim = r["ttft"]["sim"]
        n = int(sim.get("prompts_per_client") or 10) * clients
        med_ms, p99_ms = spread[r["ttft"]["case_id"]]
        meas = dict(mean=r["ttft"]["measured"] / 1e3, median=med_ms / 1e3, p99=p99_ms / 1e3,
                    tput=r["tput"]["measured"], tpot=r["tpot"]["measured"] / 1e3)
        simv = dict(mean=sim["ttft_ms"] / 1e3, median=sim["ttft_median_ms"] / 1e3, p99=sim["ttft_p99_ms"] / 1e3,
                    tput=sim["output_tokens_per_s"], tpot=sim["tpot_ms"] / 1e3)
        row: dict[str, Any] = dict(run=base, clients=clients, prompts=n, osl=osl)
        for side, v in (("meas", meas), ("sim", simv)):
            row[side] = dict(v, mass=excess_mass_s(n, v["mean"], v["median"]),
                             bound=first_wave_bound_s(clients, n, v["median"], v["p99"], osl, v["tput"], v["tpot"]))
        out.append(row)
    return out


def leverage(errors: list[tuple[str, float]], groups: dict[str, str], threshold_pct: float = 35.0) -> dict[str, dict]:
    """Per group: its rows, its rows beyond the threshold, and the all-row count beyond it and p90 (|error| %) with
    that group's errors set to zero (``errors``: (case id, signed error %) of every row)."""
    ids = [i for i, _ in errors]
    a = np.abs(np.array([e for _, e in errors], float))
    out = {}
    for name, rx in groups.items():
        pat = re.compile(rx)
        m = np.array([bool(pat.search(i)) for i in ids], bool)
        b = a.copy()
        b[m] = 0.0
        out[name] = dict(rows=int(m.sum()), tail=int((a[m] > threshold_pct).sum()),
                         tail_after=int((b > threshold_pct).sum()), p90_after=float(np.percentile(b, 90)))
    out["(none)"] = dict(rows=0, tail=0, tail_after=int((a > threshold_pct).sum()),
                         p90_after=float(np.percentile(a, 90)))
    return out


def _parse_groups(items: list[str]) -> dict[str, str]:
    out = {}
    for it in items:
        name, sep, rx = it.partition("=")
        if not sep or not name or not rx:
            raise ValueError(f"--group {it!r}: NAME=REGEX")
        re.compile(rx)
        out[name] = rx
    return out


def main() -> None:
    import json

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("validate_json")
    ap.add_argument("--cases", default=str(SHIPPED))
    ap.add_argument("--match", default="", help="regular expression on the case id (default: every run)")
    ap.add_argument("--group", action="append", default=[], metavar="NAME=REGEX")
    ap.add_argument("--threshold", type=float, default=35.0)
    a = ap.parse_args()
    try:
        groups = _parse_groups(a.group)
    except (ValueError, re.error) as e:
        ap.error(str(e))
    with open(a.validate_json) as f:
        cases = json.load(f)["cases"]
    spread = notes_spread(a.cases)
    print("run (clients, prompts): TTFT mean / median / p99 s, meas | sim; excess mass / first-wave bound "
          "request-s, meas | sim")
    for r in run_rows(cases, spread, a.match):
        m, s = r["meas"], r["sim"]
        flag = "  beyond the first wave" if m["mass"] > m["bound"] else ""
        flag += "  sim p99 above the run's" if s["p99"] > 1.35 * m["p99"] else ""
        print(f"  {r['run'][-62:]:62s} ({r['clients']}, {r['prompts']}): {m['mean']:.2f} / {m['median']:.2f} / "
              f"{m['p99']:.1f} | {s['mean']:.2f} / {s['median']:.2f} / {s['p99']:.1f}; "
              f"{m['mass']:.0f} / {m['bound']:.0f} | {s['mass']:.0f} / {s['bound']:.0f}{flag}")
    if groups:
        from ttft_tail import loao_errors, rows_with_ids

        loao = loao_errors(rows_with_ids(a.validate_json))
        errs = [(x["case_id"], e) for x, e, _ in loao if x["metric"] == "ttft_ms"]
        print(f"\nLOAO TTFT rows {len(errs)}; a group predicted exactly: its rows, its tail rows (|e| > "
              f"{a.threshold:g} %) -> all-row tail rows, p90 %")
        for name, v in leverage(errs, groups, a.threshold).items():
            print(f"  {name:32s} {v['rows']:5d} {v['tail']:4d} -> {v['tail_after']:4d}, {v['p90_after']:.1f}")


if __name__ == "__main__":
    main()
