"""Time the calibration fit and say whether it converged: the full fit, or one leave-one-accelerator-out
fold, at a given evaluation limit (``inferchip calibrate``'s fit, start ``--start none``, no scoring).

    python tools/calibration/fit_convergence.py --max-evaluations 180 [--fold nvidia-l40s | --fold all]
        [--xtol 1e-8 --ftol 1e-8 [--shift]] [--restarts 0]

Prints the fit's stop (least_squares' status and message), its residual evaluations, the seconds the fit
took (the first pass, which fixes layouts, is timed apart) and the fitted values (``--fold all``: the full fit
and every fold, one line each, and every fit's values as JSON at the end). One process; a quick check of the
folds' cost and stops before a whole ``calibrate --cv`` run (which also scores every row, the larger part).
``--shift``: each fold is fitted at the default tolerances too, and its held-out rows' analytic-path errors
(the fit's own residuals, ``row_residuals``; not ``validate``'s scoring, which simulates closed loops) are
printed under both fits, with the largest change of one row: how far the tolerances move held-out errors.
``--restarts N``: restarts from a better compass or flat-direction probe (``validation/fitting/search.py``; default
``MAX_RESTARTS``, ``inferchip calibrate``'s; 0: one ``least_squares`` run, the fit before stop 39); ``--shift``
compares with ``inferchip calibrate``'s own fit (default tolerances and restarts).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from inferchip.spec.calibration import Calibration
from inferchip.validation.calibrate import (
    FTOL,
    MAX_EVALUATIONS,
    XTOL,
    FitPoint,
    fit,
    fit_parameter_names,
    prepare,
    row_residuals,
)
from inferchip.validation.cases import read_cases
from inferchip.validation.fitting.search import MAX_RESTARTS

CASES = Path(__file__).resolve().parents[2] / "src" / "inferchip" / "catalog" / "validation_cases.csv"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", default=str(CASES))
    ap.add_argument("--max-evaluations", type=int, default=MAX_EVALUATIONS)
    ap.add_argument("--fold", help="leave this accelerator's rows out (one cross-validation fold); all: every fold")
    ap.add_argument("--xtol", type=float, default=XTOL)
    ap.add_argument("--ftol", type=float, default=FTOL)
    ap.add_argument("--shift", action="store_true", help="also fit each fold at the default tolerances and compare "
                    "its held-out rows' analytic-path errors")
    ap.add_argument("--restarts", type=int, default=MAX_RESTARTS, help="least_squares restarts from a better "
                    "compass or flat-direction probe (0: one run)")
    a = ap.parse_args()
    cases = [c for c in read_cases(a.cases) if c.energy_scope is None]
    t0 = time.perf_counter()
    all_rows, _ = prepare(cases, Calibration())
    names = fit_parameter_names(all_rows)  # the full fit's names: a fold fits the same ones
    accs = sorted({r.case.accelerator for r in all_rows})
    if a.fold not in (None, "all", *accs):
        raise SystemExit(f"--fold {a.fold!r}: no fitted row has that accelerator; allowed: all, {', '.join(accs)}")
    folds = [None] if a.fold is None else [None, *accs] if a.fold == "all" else [a.fold]
    print(f"first pass {time.perf_counter() - t0:.0f} s; limit {a.max_evaluations}, xtol {a.xtol:g}, ftol {a.ftol:g}")
    values = {}
    for held in folds:
        rows = [r for r in all_rows if r.case.accelerator != held]
        t1 = time.perf_counter()
        res = fit(rows, Calibration(), names, max_evaluations=a.max_evaluations, xtol=a.xtol, ftol=a.ftol,
                  restarts=a.restarts)
        label = "full fit" if held is None else f"fold {held}"
        print(f"{label} on {res.rows} rows: {res.stop_text()}; cost {res.cost:.5g}; probes {res.probes}; "
              f"fit {time.perf_counter() - t1:.0f} s", flush=True)
        values[label] = dict(zip(res.names, res.values, strict=True))
        if a.shift and held is not None:
            base = fit(rows, Calibration(), names, max_evaluations=a.max_evaluations)
            out = [r for r in all_rows if r.case.accelerator == held]
            ape = [100 * np.abs(np.expm1(row_residuals(out, FitPoint(f.calibration, f.lengths)))) for f in (base, res)]
            print(f"  held-out {len(out)} rows, analytic path: defaults {np.median(ape[0]):.2f} / "
                  f"{np.percentile(ape[0], 90):.2f} %, these tolerances {np.median(ape[1]):.2f} / "
                  f"{np.percentile(ape[1], 90):.2f} % (median / p90 APE); largest row change "
                  f"{np.max(np.abs(ape[1] - ape[0])):.2f} points", flush=True)
    print(json.dumps(values, indent=1))


if __name__ == "__main__":
    main()
