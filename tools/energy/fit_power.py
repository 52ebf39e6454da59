"""Fit the power parameters on the shipped energy rows and print the leave-one-accelerator-out errors.

Usage: ``python tools/energy/fit_power.py [--rows-json FILE]`` (about 10-30 minutes on 2 shared cores;
``--rows-json`` also writes each fold's fitted values and every row's held-out signed error to FILE, for
comparing two runs). Prints the fitted values (to copy into ``catalog/assumptions.yaml``), the held-out
median / p90 APE and median signed error per metric, per chip, per data set and per concurrency band, and,
for every run with a stated throughput, whether its tokens-per-joule error comes mostly from the throughput
or from the power.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
from pathlib import Path

import numpy as np

from inferchip.atomic_io import write_text
from inferchip.catalog.assumptions import load_assumptions
from inferchip.catalog.calibration_file import load_calibration, load_dataset_lengths
from inferchip.validation.energy.power_fit import error_table, loao, measured_throughput, residuals

CATALOG = Path(__file__).resolve().parents[2] / "src" / "inferchip" / "catalog"


def concurrency_band(row: dict[str, str]) -> str:
    """"<=32", "33-256", ">256" by the row's concurrency; "-" without one."""
    c = row.get("concurrency") or ""
    if not c:
        return "-"
    n = float(c)
    return "<=32" if n <= 32 else ("33-256" if n <= 256 else ">256")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows-json", type=Path, metavar="FILE",
                    help="also write each fold's fitted values and every row's held-out signed error to FILE")
    out = ap.parse_args().rows_json
    rows = []
    for name in ("energy_cases.csv", "mlenergy_cases.csv"):
        with (CATALOG / name).open(encoding="utf-8-sig", newline="") as fh:
            rows += list(csv.DictReader(fh))
    rows = [{**r, "band": concurrency_band(r)} for r in rows]
    cal, lengths, a = load_calibration(None), load_dataset_lengths(None), load_assumptions()
    full, folds, held = loao(rows, cal, a, lengths, progress=lambda m: print(m, flush=True))
    print("fitted on all rows:", full.values, full.means)
    fa, fl = full.point(a, lengths)
    in_sample = 100.0 * (np.exp(residuals(rows, cal, fa, fl)) - 1.0)
    for title, errs in (("in sample", in_sample), ("held out", held)):
        _table(title, rows, errs)
    print("not predicted:", int(sum(1 for e in held if e != e)), "of", len(rows))
    if out is not None:
        write_text(out, json.dumps({
            "full": {"values": full.values, "means": full.means},
            "folds": {k: {"values": f.values, "means": f.means} for k, f in folds.items()},
            "rows": [{"case_id": r["case_id"], "metric": r["metric"], "accelerator": r["accelerator"],
                      "held_out_pct": None if e != e else float(e), "in_sample_pct": None if i != i else float(i)}
                     for r, e, i in zip(rows, held, in_sample, strict=True)]}, indent=1))
    _split(rows, cal, fa, fl)


def _table(title: str, rows: list[dict[str, str]], errs: np.ndarray) -> None:
    for by in (("metric",), ("metric", "accelerator"), ("metric", "dataset"), ("metric", "dataset", "band")):
        print(f"\n{title} by", ", ".join(by))
        for t in error_table(rows, errs, by):
            print("  " + " | ".join(str(t[k]) for k in by)
                  + f" | n={t['rows']} median {t['median_ape']:.1f}% p90 {t['p90_ape']:.1f}% "
                  f"bias {t['median_signed']:+.1f}%")


def _split(rows: list[dict[str, str]], cal, a, lengths) -> None:
    """Tokens/J = throughput / power: per run (its power row), which of the two errors is larger."""
    runs = [r for r in rows if r["metric"].startswith("power_w") and measured_throughput(r) is not None]
    power = residuals(runs, cal, a, lengths)
    tput = residuals(runs, cal, a, lengths, throughput=True)
    groups: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for r, p, t in zip(runs, power, tput, strict=True):
        if math.isfinite(p) and math.isfinite(t):
            groups.setdefault((r.get("dataset") or r["source_kind"], r["band"]), []).append((t, p))
    print("\ntokens/J error split (fitted values): data set | concurrency | runs | throughput dominates | "
          "median |throughput error| | median |power error|")
    for key in sorted(groups):
        v = np.array(groups[key])
        dom = int(np.sum(np.abs(v[:, 0]) > np.abs(v[:, 1])))
        print(f"  {key[0]} | {key[1]} | {len(v)} | {dom} | {100 * np.median(np.abs(np.expm1(v[:, 0]))):.1f}% | "
              f"{100 * np.median(np.abs(np.expm1(v[:, 1]))):.1f}%")


if __name__ == "__main__":
    sys.exit(main())
