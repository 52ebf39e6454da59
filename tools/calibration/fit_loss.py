"""The calibration fit's training loss at given calibration files: ``inferchip calibrate``'s soft-L1 cost
(``validation/fitting/search.py`` ``soft_l1_losses``, ``F_SCALE``) of the fit rows of a cases CSV, each file's physical
parameters and data-set mean inputs as it holds them, and the rows' median absolute log residual.

    python tools/calibration/fit_loss.py CAL.yaml [CAL2.yaml ...] [--cases src/inferchip/catalog/validation_cases.csv]

The rows are prepared (layouts, mapped models) once, from the defaults (``Calibration()``), as ``calibrate`` prepares
them, so two files are compared on the same rows: which of two fitted points the current code's loss prefers (stop 42,
``calib42``: whether the fit stopped in a worse basin than an earlier fit's point). A file name ``shipped`` reads the
bundled calibration.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from inferchip.catalog.calibration_file import load_calibration, load_dataset_lengths
from inferchip.spec.calibration import Calibration, DatasetLengths
from inferchip.validation.calibrate import F_SCALE, FitPoint
from inferchip.validation.cases import read_cases
from inferchip.validation.fitting.points import prepare, row_residuals
from inferchip.validation.fitting.search import soft_l1_losses

CASES = Path(__file__).resolve().parents[2] / "src" / "inferchip" / "catalog" / "validation_cases.csv"


def losses(files: list[str], cases_csv: Path) -> list[tuple[str, float, float, int]]:
    """Each file's (name, soft-L1 cost, median |log residual|, rows) on the fit rows of ``cases_csv``."""
    cases = [c for c in read_cases(cases_csv) if c.energy_scope is None]
    rows, _ = prepare(cases, FitPoint(Calibration(), DatasetLengths()))
    out = []
    for f in files:
        which = None if f == "shipped" else f
        r = row_residuals(rows, FitPoint(load_calibration(which), load_dataset_lengths(which)))
        out.append((f, float(soft_l1_losses(r, F_SCALE).sum()), float(np.median(np.abs(r))), len(rows)))
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("files", nargs="+", help="calibration yaml files ('shipped': the bundled one)")
    ap.add_argument("--cases", type=Path, default=CASES)
    args = ap.parse_args(argv)
    for name, cost, med, n in losses(args.files, args.cases):
        print(f"{name}: soft-L1 cost {cost:.4f} on {n} rows; median |log residual| {med:.4f}")


if __name__ == "__main__":
    main()
