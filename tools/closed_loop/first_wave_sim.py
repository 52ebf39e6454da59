"""Does the simulated first wave weigh in the mean TTFT as the run's own does? (report only)

A closed-loop run of ``P C`` requests (``P`` prompts per client, ``C`` clients) whose first wave of ``C`` requests
waits ``W`` more than the rest has mean - median = ``W / P``; so ``P (mean - median)`` reads the first wave's
extra wait per run, from the measured record (the row's mean and the notes' "TTFT spread of the run: median X ms")
and from the simulation alike (``sim.ttft_median_ms`` of the validate JSON). ``P`` is the row's "benchmark prompts
per client: N" where its notes state one, else the InferenceMAX scripts' 10. A simulation that carries the run's
excess as a time on every request instead shows a simulated median above the measured one and a simulated first
wave smaller than the measured one. Runs whose p99 exceeds their median by 30 s or more (the stalled runs,
``ttft_spread.py``) are left out. Rows are grouped by chip, weights, lengths and clients (medians of the runs).

    python tools/closed_loop/first_wave_sim.py X.json [--cases CASES.csv] [--engine sglang] [--chip b200]
"""

from __future__ import annotations

import argparse
import csv
import json
import re
from collections import defaultdict
from pathlib import Path
from statistics import median

CASES = Path(__file__).resolve().parents[2] / "src" / "inferchip" / "catalog" / "inferencemax_cases.csv"
_SPREAD = re.compile(r"TTFT spread of the run: median ([\d.]+) ms, p99 ([\d.]+) ms")
_PROMPTS = re.compile(r"benchmark prompts per client:\s*(\d+)", re.IGNORECASE)
DEFAULT_PROMPTS_PER_CLIENT = 10  # InferenceMAX benchmark scripts: --num-prompts CONC x 10
STALL_S = 30.0  # p99 - median at or above this: a stalled run (ttft_spread.py's flag)


def first_wave_excess_s(mean_s: float, median_s: float, prompts_per_client: int) -> float:
    """Extra wait of the first wave per run (s): ``P (mean - median)``, where one wave of ``C`` of the run's
    ``P C`` requests waited once and the others waited the median."""
    return prompts_per_client * (mean_s - median_s)


def prompts_per_client(notes: str) -> int:
    """The row's stated prompts per client, else the scripts' 10."""
    m = _PROMPTS.search(notes)
    return int(m.group(1)) if m else DEFAULT_PROMPTS_PER_CLIENT


def groups(results: list[dict], cases: dict[str, dict], engine: str, chip: str) -> dict[tuple, list[tuple]]:
    """(chip, weights, layout, ISL/OSL, C) -> [(measured median, measured excess, simulated median, simulated
    excess) s]."""
    out: dict[tuple, list[tuple]] = defaultdict(list)
    for r in results:
        case = cases.get(r["case_id"])
        sim = r.get("sim") or {}
        if (case is None or r["metric"] != "ttft_ms" or r["status"] != "ok" or sim.get("engine") != engine
                or chip not in r["accelerator"] or "ttft_median_ms" not in sim):
            continue
        m = _SPREAD.search(case["notes"])
        if m is None:
            continue
        med_s, p99_s = float(m.group(1)) / 1e3, float(m.group(2)) / 1e3
        if p99_s - med_s >= STALL_S:
            continue
        p = int(sim.get("prompts_per_client") or prompts_per_client(case["notes"]))  # the simulation's own first
        layout = "pd" if "disagg" in case["software"].lower() else "agg"
        key = (r["accelerator"], case["weight_dtype"], layout, f"{case['input_tokens']}/{case['output_tokens']}",
               int(float(case["concurrency"])))
        out[key].append((med_s, first_wave_excess_s(r["measured"] / 1e3, med_s, p),
                         sim["ttft_median_ms"] / 1e3, first_wave_excess_s(r["predicted"] / 1e3,
                                                                          sim["ttft_median_ms"] / 1e3, p)))
    return out


def table(g: dict[tuple, list[tuple]]) -> list[str]:
    lines = ["| chip | weights | layout | ISL/OSL | C | runs | median meas / sim (ms) "
             "| first wave per run meas / sim (s) |",
             "|---|---|---|---|---|---|---|---|"]
    for key in sorted(g):
        v = g[key]
        mm, me, sm, se = (median(t[i] for t in v) for i in range(4))
        lines.append(f"| {' | '.join(str(k) for k in key)} | {len(v)} | {mm * 1e3:.0f} / {sm * 1e3:.0f} "
                     f"| {me:.2f} / {se:.2f} |")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("validate_json")
    ap.add_argument("--cases", default=str(CASES))
    ap.add_argument("--engine", default="sglang", help="the simulated engine id")
    ap.add_argument("--chip", default="", help="fragment of the accelerator id")
    a = ap.parse_args()
    with open(a.cases, newline="") as fh:
        cases = {c["case_id"]: c for c in csv.DictReader(fh)}
    with open(a.validate_json) as fh:
        results = json.load(fh)["cases"]
    print("\n".join(table(groups(results, cases, a.engine, a.chip))))


if __name__ == "__main__":
    main()
