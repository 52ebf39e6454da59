"""Paired chips in the MLPerf-style rows (validation_cases.csv): the measured and the predicted speed-up of one chip
over another on rows of the same benchmark (source kind, model, scenario, metric, lengths), in sample and held out,
from the rows file of ``tools/calibration/calibration_variants.py --rows`` (the fit behind ``inferchip calibrate
--cv``). The MLPerf analogue of ``tools/closed_loop/chip_pairs.py`` (closed-loop JSONs): there the runs differ only
in the chip; here a pair may also differ in the submitter's software release and parallel layout, which the table
prints so the reader can judge a pair.

Speed-up of the ``--fast`` chip (:func:`speedup`): per accelerator for a rate (``value / num_accelerators``; the
``_per_accelerator`` metrics as they are), ``slow / fast`` for a time. ``excess`` = predicted / measured speed-up - 1:
above 0 the model gives the fast chip too much of an edge.

    python tools/calibration/row_pairs.py rows.json [--slow nvidia-h100-sxm-80gb] [--fast nvidia-h200-sxm-141gb]
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
from collections import defaultdict
from pathlib import Path

CASES = Path(__file__).resolve().parents[2] / "src" / "inferchip" / "catalog" / "validation_cases.csv"
_KEY = ("source_kind", "model", "scenario", "metric")


def per_accelerator(row: dict) -> float:
    """A row's value per accelerator for a rate; a time (``_ms``) or a ``_per_accelerator`` rate as it is."""
    metric, n = row["metric"], max(int(row["num_accelerators"]), 1)
    if metric.endswith("_ms") or metric.endswith("_per_accelerator"):
        return 1.0
    return float(n)


def speedup(metric: str, slow: float, fast: float) -> float:
    """How many times faster the fast chip is: a rate's fast / slow, a time's (``_ms``) slow / fast."""
    if slow <= 0 or fast <= 0:
        raise ValueError(f"need positive values, got {slow} and {fast}")
    return slow / fast if metric.endswith("_ms") else fast / slow


def pair_table(in_sample: list[dict], held_out: list[dict], slow: str, fast: str) -> list[dict]:
    """One line per group of rows run on both chips: measured, in-sample and held-out speed-ups (medians of the
    rows' per-accelerator values on each chip), with the layouts and case ids of both sides."""
    held = {r["case_id"]: r for r in held_out}
    groups: dict[tuple, dict[str, list[dict]]] = defaultdict(lambda: {slow: [], fast: []})
    for r in in_sample:
        if r["accelerator"] in (slow, fast) and r.get("predicted") and r["case_id"] in held \
                and held[r["case_id"]].get("predicted"):
            groups[tuple(str(r[k]) for k in _KEY) + (_lengths(r),)][r["accelerator"]].append(r)
    out = []
    for key, by_chip in sorted(groups.items()):
        if not by_chip[slow] or not by_chip[fast]:
            continue

        def med(rows: list[dict], field: str, source: dict | None = None) -> float:
            return statistics.median((source or {}).get(r["case_id"], r)[field] / per_accelerator(r) for r in rows)

        metric = key[3]
        m = speedup(metric, med(by_chip[slow], "measured"), med(by_chip[fast], "measured"))
        p_in = speedup(metric, med(by_chip[slow], "predicted"), med(by_chip[fast], "predicted"))
        p_out = speedup(metric, med(by_chip[slow], "predicted", held), med(by_chip[fast], "predicted", held))
        out.append({"key": key, "measured": m, "in_sample": p_in, "held_out": p_out,
                    "excess_in_sample_pct": 100.0 * (p_in / m - 1.0), "excess_held_out_pct": 100.0 * (p_out / m - 1.0),
                    "slow": [r["case_id"] for r in by_chip[slow]], "fast": [r["case_id"] for r in by_chip[fast]]})
    return out


def _lengths(row: dict) -> str:
    """The fixed lengths and tensor parallelism of a row that states its input length (a fixed-length sweep: each
    point its own group); an MLPerf data-set row (input blank, output the run's measured mean) pairs on the data set."""
    if not row.get("input_tokens"):
        return "data set"
    return f"{row['input_tokens']}/{row.get('output_tokens') or '-'} tp{row.get('tp') or '-'}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("rows", type=Path, help="calibration_variants.py --rows output")
    ap.add_argument("--cases", type=Path, default=CASES, help="the case CSV (lengths: input_tokens, output_tokens)")
    ap.add_argument("--slow", default="nvidia-h100-sxm-80gb")
    ap.add_argument("--fast", default="nvidia-h200-sxm-141gb")
    a = ap.parse_args()
    d = json.loads(a.rows.read_text())
    with a.cases.open(newline="") as f:
        lengths = {r["case_id"]: {"input_tokens": r["input_tokens"], "output_tokens": r["output_tokens"], "tp": r["tp"]}
                   for r in csv.DictReader(f)}
    rows = [{**r, **lengths.get(r["case_id"], {})} for r in d["in_sample"]]
    table = pair_table(rows, d["held_out"], a.slow, a.fast)
    print(f"| {a.fast} over {a.slow}: rows ({a.slow} / {a.fast}) | metric | measured | in sample (excess) | "
          f"held out (excess) |")
    print("|---|---|---|---|---|")
    for t in table:
        print(f"| {', '.join(t['slow'])} / {', '.join(t['fast'])} | {t['key'][3]} | {t['measured']:.3f} | "
              f"{t['in_sample']:.3f} ({t['excess_in_sample_pct']:+.1f} %) | {t['held_out']:.3f} "
              f"({t['excess_held_out_pct']:+.1f} %) |")
    if table:
        print(f"median excess: in sample {statistics.median(t['excess_in_sample_pct'] for t in table):+.1f} %, "
              f"held out {statistics.median(t['excess_held_out_pct'] for t in table):+.1f} % ({len(table)} groups)")


if __name__ == "__main__":
    main()
