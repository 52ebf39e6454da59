"""Time the calibration fit and say whether it converged: the full fit, or one leave-one-accelerator-out
fold, at a given evaluation limit (``inferchip calibrate``'s fit, start ``--start none``, no scoring).

    python tools/calibration/fit_convergence.py --max-evaluations 180 [--fold nvidia-l40s | --fold all]
        [--xtol 1e-6 --ftol 1e-8]

Prints the fit's stop (least_squares' status and message), its residual evaluations, the seconds the fit
took (the first pass, which fixes layouts, is timed apart) and the fitted values (``--fold all``: the full fit
and every fold, one line each, and every fit's values as JSON at the end). One process; a quick check of the
folds' cost and stops before a whole ``calibrate --cv`` run (which also scores every row, the larger part).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from inferchip.spec.calibration import Calibration
from inferchip.validation.calibrate import FTOL, MAX_EVALUATIONS, XTOL, fit, fit_parameter_names, prepare
from inferchip.validation.cases import read_cases

CASES = Path(__file__).resolve().parents[2] / "src" / "inferchip" / "catalog" / "validation_cases.csv"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", default=str(CASES))
    ap.add_argument("--max-evaluations", type=int, default=MAX_EVALUATIONS)
    ap.add_argument("--fold", help="leave this accelerator's rows out (one cross-validation fold); all: every fold")
    ap.add_argument("--xtol", type=float, default=XTOL)
    ap.add_argument("--ftol", type=float, default=FTOL)
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
        res = fit(rows, Calibration(), names, max_evaluations=a.max_evaluations, xtol=a.xtol, ftol=a.ftol)
        label = "full fit" if held is None else f"fold {held}"
        print(f"{label} on {res.rows} rows: {res.stop_text()}; cost {res.cost:.5g}; "
              f"fit {time.perf_counter() - t1:.0f} s", flush=True)
        values[label] = dict(zip(res.names, res.values, strict=True))
    print(json.dumps(values, indent=1))


if __name__ == "__main__":
    main()
