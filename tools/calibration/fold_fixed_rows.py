"""Held-out rows of a baseline ``calibrate --cv`` re-predicted by this checkout at the baseline folds' own parameters.

A model change that reaches a few rows also moves the refit along its flat directions (docs/serving_journal.md,
`calib-tail33`, `calib35`). Predicting those rows at the baseline's fitted fold parameters, without a refit, shows
what the change itself does. The rows file is what ``calibration_variants.py --rows`` writes. It holds each fold's
physical parameters, and each held-out row's notes name its data-set mean input ("MLPerf NAME: mean input N
tokens").

    python tools/calibration/fold_fixed_rows.py --base-rows R.json --base-calibration F.yaml \\
        --match 'max_num_tokens' [--cases src/inferchip/catalog/validation_cases.csv]

Prints each matching row's held-out signed error in the rows file and with this checkout. It then prints the
held-out median / p90 APE with the re-predicted rows substituted (every other row kept as the rows file has it).
"""

from __future__ import annotations

import argparse
import json
import re
import tempfile
from pathlib import Path

import numpy as np
import yaml

from inferchip.catalog.calibration_file import load_calibration, load_dataset_lengths
from inferchip.validation.cases import read_cases

CASES = Path(__file__).resolve().parents[2] / "src" / "inferchip" / "catalog" / "validation_cases.csv"
_MEAN = re.compile(r"^MLPerf (\S+): mean input (\d+(?:\.\d+)?) tokens")
_SUMMARY_KEYS = ("fit_summary", "fitted_on")


def fold_calibration(base: dict, fold: dict[str, float], notes: list[str]) -> dict:
    """The calibration mapping of one held-out row: ``base`` (a calibration YAML's mapping, its fit summary
    dropped) with the fold's physical parameters and the data-set means the row's notes name."""
    cal = {k: v for k, v in base.items() if k not in _SUMMARY_KEYS}
    cal.update(fold)
    means = dict(cal.get("mlperf_mean_input_tokens") or {})
    for n in notes:
        m = _MEAN.match(n)
        if m:
            means[m.group(1)] = float(m.group(2))
    cal["mlperf_mean_input_tokens"] = means
    return cal


def substituted_stats(held_out: list[dict], new_signed_pct: dict[str, float]) -> tuple[float, float]:
    """(median, p90) APE in percent of the held-out rows with the re-predicted rows' signed errors put in; the
    p90 by linear interpolation, as ``validation.stats``. No predicted row: ValueError."""
    ape = [abs(new_signed_pct.get(r["case_id"], r["signed_error_pct"])) for r in held_out
           if r.get("signed_error_pct") is not None]
    if not ape:
        raise ValueError("no predicted held-out rows")
    return float(np.median(ape)), float(np.percentile(ape, 90))


def main() -> None:
    from inferchip.validation.validate import validate_cases

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base-rows", required=True, type=Path)
    ap.add_argument("--base-calibration", required=True, type=Path)
    ap.add_argument("--match", required=True, help="regular expression searched in the rows' notes")
    ap.add_argument("--cases", type=Path, default=CASES)
    a = ap.parse_args()
    rows = json.loads(a.base_rows.read_text())
    base = yaml.safe_load(a.base_calibration.read_text())
    held = {r["case_id"]: r for r in rows["held_out"]}
    pattern = re.compile(a.match)
    new: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for c in read_cases(str(a.cases)):
            r = held.get(c.case_id)
            if r is None or r.get("signed_error_pct") is None or not pattern.search(c.notes):
                continue
            fold = rows["folds"].get(c.accelerator)
            if fold is None:
                raise SystemExit(f"{a.base_rows}: held-out row {c.case_id} ({c.accelerator}) has no fold in "
                                 f"'folds' (it has {', '.join(sorted(rows['folds'])) or 'none'}); allowed: "
                                 "the rows file of a calibrate --cv run on this cases file")
            path = Path(tmp) / f"{c.case_id}.yaml"
            path.write_text(yaml.safe_dump(fold_calibration(base, fold, r["notes"])))
            res = validate_cases([c], load_calibration(str(path)), lengths=load_dataset_lengths(str(path)),
                                 server_model="auto", compare=False)[0]
            if res.predicted is None:
                print(f"{c.case_id}: not predicted ({res.reason})")
                continue
            new[c.case_id] = 100.0 * (res.predicted / c.value - 1.0)
            print(f"{c.case_id:55s} rows file {r['signed_error_pct']:+7.1f} %  this checkout {new[c.case_id]:+7.1f} %")
    med, p90 = substituted_stats(rows["held_out"], new)
    print(f"held out with these rows substituted: median {med:.1f} %, p90 {p90:.1f} % "
          f"({len(new)} rows re-predicted)")


if __name__ == "__main__":
    main()
