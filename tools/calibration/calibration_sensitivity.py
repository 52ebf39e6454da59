"""Which rows hold a calibration parameter where it is: the fit's loss and median error on groups
of rows (accelerator, model family) as one parameter moves with the others fixed, and the rows
that move most. Used for the calibration section of docs/validation.md (why
attention_compute_fraction and link_bandwidth_fraction fit where they do).

    python tools/calibration/calibration_sensitivity.py [--cases CSV] [--calibration YAML]
        [--scan link_bandwidth_fraction=0.43,0.5,0.6,0.8] [--scan attention_compute_fraction=0.2,0.3,0.55]

The loss is the fit's (``validation.calibrate``: soft-L1 of log(predicted / measured) with
``F_SCALE``), summed over the group's rows; each row keeps the layout the first pass chose.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

import numpy as np

from inferchip.catalog.calibration_file import load_calibration, load_dataset_lengths
from inferchip.validation import calibrate as cb
from inferchip.validation.cases import read_cases
from inferchip.validation.fitting.search import soft_l1_losses

GROUPS: dict[str, Callable[[cb.FitRow], bool]] = {
    "all": lambda r: True,
    "amd-mi300x": lambda r: r.case.accelerator == "amd-mi300x",
    "not mi300x": lambda r: r.case.accelerator != "amd-mi300x",
    "deepseek-r1": lambda r: "deepseek-r1" in r.case.model.lower(),
    "not deepseek-r1": lambda r: "deepseek-r1" not in r.case.model.lower(),
}


def soft_l1(f: np.ndarray) -> float:
    """The fit's loss of residuals ``f`` (scipy's soft_l1 with f_scale, times two: ``soft_l1_losses`` at scale 1)."""
    return float(np.sum(soft_l1_losses(f, cb.F_SCALE, scale=1.0)))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", default="src/inferchip/catalog/validation_cases.csv")
    ap.add_argument("--calibration", default=None, help="calibration YAML (default: the shipped one)")
    ap.add_argument("--scan", action="append", default=[], help="NAME=v1,v2,... (repeatable)")
    ap.add_argument("--rows", type=int, default=12, help="rows that move most, per scan")
    a = ap.parse_args()
    scans = a.scan or ["link_bandwidth_fraction=0.431,0.5,0.6,0.7,0.8",
                       "attention_compute_fraction=0.198,0.3,0.4,0.55"]
    cases = [c for c in read_cases(Path(a.cases)) if c.energy_scope is None]
    start = cb.FitPoint(load_calibration(a.calibration), load_dataset_lengths(a.calibration))
    rows, _ = cb.prepare(cases, start)
    base = cb.row_residuals(rows, start)
    masks = {g: np.array([sel(r) for r in rows]) for g, sel in GROUPS.items()}
    for spec in scans:
        name, values = spec.split("=")
        print(f"\n{name} (others as in the calibration); per group: loss / median APE %")
        print("  value  " + "  ".join(f"{g:>22s}" for g in GROUPS))
        last = base
        for v in (float(x) for x in values.split(",")):
            point = cb.FitPoint(start.calibration.model_copy(update={name: v}), start.lengths)
            f = cb.row_residuals(rows, point)
            cells = [f"{soft_l1(f[m]):9.1f} / {100 * np.median(np.abs(np.expm1(f[m]))):5.1f}%" for m in masks.values()]
            print(f"  {v:5.3f}  " + "  ".join(f"{c:>22s}" for c in cells))
            last = f
        moved = np.argsort(-np.abs(last - base))[:a.rows]
        print(f"  rows moving most from the calibration's value to {values.split(',')[-1]}"
              " (log residual before -> after):")
        for i in moved:
            c = rows[i].case
            print(f"    {c.case_id[:64]:64s} {c.accelerator:22s} {base[i]:+.2f} -> {last[i]:+.2f}")


if __name__ == "__main__":
    main()
