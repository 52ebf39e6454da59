"""Refit the calibration with some physical parameters held (not fitted) or a parameter added to
the fitted ones, with leave-one-accelerator-out cross-validation, and print the figures that the
"Refits tried" table of docs/validation.md reports. Writes the fitted calibration to --output
(never over the shipped one unless asked by path).

    python tools/calibration/calibration_variants.py --hold memory_bandwidth_fraction=0.85 \\
        --add sequence_overhead_s=1.0e-5 --output /tmp/variant.yaml

``--hold NAME=VALUE``: set NAME to VALUE and leave it out of the fit. ``--add NAME=START``: fit
NAME too, from START (a log-scale fit cannot leave a start of 0). The other parameters start at
the defaults of ``spec/calibration.py`` (``inferchip calibrate --start none``).
``--max-evaluations N``: each fit's limit
(the convergence line says whether the full fit and each fold stopped on a tolerance or on it).
``--no-hold-flat``: fit every named parameter even where the rows leave a direction flat (calibrate's rule,
``validation/calibrate.py`` ``identified_fit``, holds one parameter of each flat direction by default).
``--fold-rule``: each fold applies that rule to its own rows (by default the folds fit what the full fit fits).
``--rows FILE``: also
write every row's in-sample and held-out prediction and each fold's parameters (JSON), to list the
held-out tail row by row (the folds' data-set means included; with no ``--hold``/``--add`` the fit is
``inferchip calibrate``'s).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from inferchip.catalog.calibration_file import save_calibration
from inferchip.spec.calibration import Calibration
from inferchip.validation.calibrate import DS_PREFIX, MAX_EVALUATIONS, FitPoint, calibrate
from inferchip.validation.cases import read_cases

CASES = Path(__file__).resolve().parents[2] / "src" / "inferchip" / "catalog" / "validation_cases.csv"


def _pairs(items: list[str]) -> dict[str, float]:
    out = {}
    for item in items:
        name, _, value = item.partition("=")
        out[name] = float(value)
    return out


def _fold_values(point: FitPoint, names: list[str]) -> dict[str, float]:
    """A fold's fitted values: its physical parameters and its data-set mean input lengths, by fitted name."""
    means = point.lengths.mean_input_tokens
    out = {}
    for n in names:
        if n.startswith(DS_PREFIX) and n[len(DS_PREFIX):] in means:
            out[n] = float(means[n[len(DS_PREFIX):]])
        elif not n.startswith(DS_PREFIX) and hasattr(point.calibration, n):
            out[n] = float(getattr(point.calibration, n))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", default=str(CASES))
    ap.add_argument("--hold", action="append", default=[], help="NAME=VALUE held fixed")
    ap.add_argument("--add", action="append", default=[], help="NAME=START fitted as well")
    ap.add_argument("--output", required=True, type=Path)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--rows", type=Path, help="also write every row's in-sample and held-out prediction (JSON), "
                    "with each fold's fitted parameters: the rows behind the LOAO figures")
    ap.add_argument("--max-evaluations", type=int, default=MAX_EVALUATIONS,
                    help="residual evaluations each fit may spend (inferchip calibrate --max-evaluations)")
    ap.add_argument("--no-hold-flat", action="store_true",
                    help="do not hold a flat direction's parameter (the fit before stop 41)")
    ap.add_argument("--fold-rule", action="store_true",
                    help="each fold applies the identifiability rule to its own rows (default: the folds fit what "
                    "the full fit fits, with its held values)")
    a = ap.parse_args()
    hold, add = _pairs(a.hold), _pairs(a.add)
    names = [n for n in Calibration.physical_parameter_names() if n not in hold] + [n for n in add if n not in hold]
    start = Calibration(**hold, **add)
    rep = calibrate(read_cases(a.cases), start, workers=a.workers, parameters=names, max_evaluations=a.max_evaluations,
                    progress=lambda m: print(m, flush=True), hold_flat=not a.no_hold_flat,
                    fold_rule=a.fold_rule)
    s = rep.summary()
    save_calibration(rep.fitted.calibration, a.output, rep.fitted.lengths)
    if a.rows is not None:
        names_fitted = rep.fitted.names
        a.rows.write_text(json.dumps({
            "summary": s, "in_sample": [r.to_dict() for r in rep.in_sample],
            "held_out": [r.to_dict() for r in rep.held_out],
            "folds": {acc: _fold_values(fp, names_fitted) for acc, fp in rep.folds.items()},
            "held": s["held"]}, default=str, indent=1))
    ins, cv = s["in_sample"], s["cross_validated"]
    print(f"in sample {ins['median_ape']:.1f} / {ins['p90_ape']:.1f} %; "
          f"leave one accelerator out {cv['median_ape']:.1f} / {cv['p90_ape']:.1f} % (median / p90 APE)")
    print(rep.convergence_text())
    held = s["held"]
    for n, h in held["full"].items():
        print(f"held by the identifiability rule: {n} = {h['value']:.4g} ({h['why']})")
    print("folds that held a parameter: " + (", ".join(f"{a} {sorted(h)}" for a, h in held["folds"].items()) or "none"))
    if held["flattest"] is not None:
        print(f"flattest direction left: {held['flattest']['text']}")
    print("log standard error of each fitted parameter: "
          + ", ".join(f"{n} {v:.2f}" for n, v in held["log_se"].items()))
    print(json.dumps({"held": hold, "parameters": s["parameters"],
                      "cv_median_ape_by_accelerator": {k: round(v["median_ape"], 1)
                                                       for k, v in s["cross_validated_by_accelerator"].items()}},
                     indent=1))


if __name__ == "__main__":
    main()
