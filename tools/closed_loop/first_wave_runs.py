"""Which closed-loop runs carry a one-off first-wave wait, read from the runs' own records (report only).

Each InferenceMAX row's notes give its run's median and p99 TTFT ("TTFT spread of the run: median X ms, p99 Y ms",
``median_ttft`` and ``p99_ttft`` of the same ``agg_bmk.json`` record as the row's mean). If the first wave of ``C``
requests of a run of ``P C`` (``P`` prompts per client) waits ``W`` once and the rest do not, then
p99 - median = ``W`` (for ``P`` < 100) and mean - median = ``W / P``, so the share

    s = (mean - median) / (p99 - median) = 1 / P

reads the run length the benchmark used (InferenceMAX ``benchmark_serving.py --num-prompts P x C``: 10 by the
recipes, 50 / 20 where the MI355X runner ``runners/launch_mi355x-amd.sh`` sets ``NUM_PROMPTS``; SemiAnalysisAI/
InferenceX @02f181b) and ``W`` the wait. A share well above ``1 / P`` means more than one wave waited (queueing); a
run whose median is itself more than half its excess is saturated (this tool's own threshold, looser than the 0.1 of
inferchip.validation.case_notes.SATURATED_MEDIAN_SHARE, which flags stalled runs) and reads as
``queue``. The table groups the TTFT rows by run, image, weights, layout and lengths, with the run's date bracket
from the notes, so the class of each run can be set against its launch recipe at that date.

    python tools/closed_loop/first_wave_runs.py [--cases inferencemax_cases.csv] [--engine sglang] [--chip mi355x]
"""

from __future__ import annotations

import argparse
import csv
import re
from collections import defaultdict
from pathlib import Path
from statistics import median

CASES = Path(__file__).resolve().parents[2] / "src" / "inferchip" / "catalog" / "inferencemax_cases.csv"
_SPREAD = re.compile(r"TTFT spread of the run: median ([\d.]+) ms, p99 ([\d.]+) ms")
_RUN = re.compile(r"-r(\d+)-")
_DATE = re.compile(r"between (\d{4}-\d{2}-\d{2}) and (\d{4}-\d{2}-\d{2})|date (\d{4}-\d{2}-\d{2})")
LONG_WAIT_S = 10.0  # a wait of ten seconds or more: a first use that compiles or loads for seconds (not a queue)
SHORT_WAIT_S = 1.0  # below a second the first wave's own prefill queue can explain the excess
SATURATED_MEDIAN_SHARE = 0.5  # a median above half the excess is a queue (cases.py flags stalls below 0.1 instead)


def share(mean_s: float, median_s: float, p99_s: float) -> float | None:
    """(mean - median) / (p99 - median): 1 / P where one wave of C of P C requests waited once; None when
    p99 does not exceed the median."""
    if p99_s <= median_s:
        return None
    return (mean_s - median_s) / (p99_s - median_s)


def wave_class(median_s: float, wait_s: float) -> str:
    """``queue`` (saturated: the median is more than half of p99 - median), else by the wait p99 - median:
    ``long`` (>= 10 s), ``short`` (1-10 s), ``none`` (< 1 s)."""
    if median_s > SATURATED_MEDIAN_SHARE * wait_s:
        return "queue"
    if wait_s >= LONG_WAIT_S:
        return "long"
    return "short" if wait_s >= SHORT_WAIT_S else "none"


def run_date(notes: str) -> str:
    """The run's date as the notes state it: "date D" (one day) or "between D1 and D2" (a bracket), else "?"."""
    m = _DATE.search(notes)
    if m is None:
        return "?"
    return m.group(3) if m.group(3) else f"{m.group(1)}..{m.group(2)}"


def run_rows(rows: list[dict], engine: str = "sglang", chip: str = "") -> list[dict]:
    """The TTFT rows of ``engine`` (a fragment of the software text) on chips containing ``chip`` with a stated
    spread, each with its run, image, layout, lengths, date bracket, share and wait (s)."""
    out = []
    for r in rows:
        if r["metric"] != "ttft_ms" or engine not in r["software"].lower() or chip not in r["accelerator"]:
            continue
        m = _SPREAD.search(r["notes"])
        run = _RUN.search(r["case_id"])
        if m is None or run is None:
            continue
        med_s, p99_s, mean_s = float(m.group(1)) / 1e3, float(m.group(2)) / 1e3, float(r["value"]) / 1e3
        out.append({
            "run": run.group(1), "chip": r["accelerator"].replace("amd-", "").replace("nvidia-", ""),
            "image": r["software"].split(";")[-1].strip(), "weights": r["weight_dtype"],
            "layout": "pd" if "disagg" in r["case_id"] else "agg",
            "len": f"{r['input_tokens']}/{r['output_tokens']}", "conc": int(float(r["concurrency"])),
            "date": run_date(r["notes"]),
            "share": share(mean_s, med_s, p99_s), "wait_s": p99_s - med_s, "median_s": med_s,
            "class": wave_class(med_s, p99_s - med_s),
        })
    return out


def table(runs: list[dict]) -> list[str]:
    """One markdown line per (run, image, weights, layout, lengths): rows, median share and its 1 / share, the
    wait's range, and the rows' classes (count each)."""
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for x in runs:
        groups[(x["chip"], x["date"], x["run"], x["image"], x["weights"], x["layout"], x["len"])].append(x)
    lines = ["| chip | run dates | run | image | weights | layout | ISL/OSL | rows | share (median) | 1/share "
             "| wait p99-median (s) | classes |", "|---" * 12 + "|"]
    for key in sorted(groups):
        xs = groups[key]
        shares = [x["share"] for x in xs if x["share"] is not None]
        s = median(shares) if shares else float("nan")
        waits = [x["wait_s"] for x in xs]
        counts: dict[str, int] = defaultdict(int)
        for x in xs:
            counts[x["class"]] += 1
        cls = ", ".join(f"{c} {n}" for c, n in sorted(counts.items()))
        inv = f"{1 / s:.0f}" if s > 0 else "-"
        lines.append(f"| {' | '.join(key)} | {len(xs)} | {s:.3f} | {inv} | {min(waits):.1f}-{max(waits):.1f} "
                     f"| {cls} |")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cases", default=str(CASES))
    ap.add_argument("--engine", default="sglang", help="fragment of the rows' software text (lower case)")
    ap.add_argument("--chip", default="", help="fragment of the accelerator id")
    a = ap.parse_args()
    with open(a.cases, newline="") as f:
        rows = list(csv.DictReader(f))
    print("\n".join(table(run_rows(rows, a.engine, a.chip))))


if __name__ == "__main__":
    main()
