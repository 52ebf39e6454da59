"""Fit the power parameters on the shipped energy rows and print the leave-one-accelerator-out errors.

Usage: ``python tools/fit_power.py [--no-loao]`` (about 5-10 minutes on 2 cores). Prints the fitted
values (to copy into ``catalog/assumptions.yaml`` / ``catalog/calibration.yaml``) and the held-out
median / p90 APE and median signed error per metric, per chip and per data set.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import numpy as np

from inferchip.catalog.assumptions import load_assumptions
from inferchip.catalog.calibration_file import load_calibration, load_dataset_lengths
from inferchip.validation.power_fit import error_table, loao, residuals

CATALOG = Path(__file__).resolve().parents[1] / "src" / "inferchip" / "catalog"


def main() -> None:
    rows = []
    for name in ("energy_cases.csv", "mlenergy_cases.csv"):
        with (CATALOG / name).open(encoding="utf-8-sig", newline="") as fh:
            rows += list(csv.DictReader(fh))
    cal, lengths, a = load_calibration(None), load_dataset_lengths(None), load_assumptions()
    full, folds, held = loao(rows, cal, a, lengths, progress=lambda m: print(m, flush=True))
    print("fitted on all rows:", full.values, full.means)
    fa, fl = full.point(a, lengths)
    in_sample = 100.0 * (np.exp(residuals(rows, cal, fa, fl)) - 1.0)
    for title, errs in (("in sample", in_sample), ("held out", held)):
        _table(title, rows, errs)
    print("not predicted:", int(sum(1 for e in held if e != e)), "of", len(rows))


def _table(title: str, rows: list[dict[str, str]], errs: np.ndarray) -> None:
    for by in (("metric",), ("metric", "accelerator"), ("metric", "dataset")):
        print(f"\n{title} by", ", ".join(by))
        for t in error_table(rows, errs, by):
            print("  " + " | ".join(str(t[k]) for k in by)
                  + f" | n={t['rows']} median {t['median_ape']:.1f}% p90 {t['p90_ape']:.1f}% "
                  f"bias {t['median_signed']:+.1f}%")


if __name__ == "__main__":
    sys.exit(main())
