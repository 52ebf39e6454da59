"""How far each fitted parameter moves between the leave-one-accelerator-out folds, from the rows file of
``tools/calibration/calibration_variants.py --rows`` (the fit behind ``inferchip calibrate --cv``): per parameter,
the full fit's value, its fit bounds (``validation.calibrate.parameter_bounds``: the field's, or a data set's input
limit), and the folds' least, median and largest value with the folds that give the extremes. A parameter the rows
do not pin wanders between folds (``tools/calibration/fit_flatness.py`` names the directions); a held parameter is
not among the fitted ones and is not listed.

    python tools/calibration/fold_spread.py rows.json
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

from inferchip.spec.calibration import Calibration
from inferchip.validation.calibrate import DS_PREFIX, parameter_bounds


def spread(summary: dict, folds: dict[str, dict[str, float]]) -> list[dict]:
    """One record per fitted parameter of ``summary["parameters"]``: full-fit value, bounds and the folds'
    least / median / largest value (with the folds that give the extremes; None where no fold holds it)."""
    out = []
    for name, value in summary["parameters"].items():
        lo, hi = parameter_bounds(name, Calibration())
        per_fold = {acc: float(p[name]) for acc, p in folds.items() if name in p}
        rec = {"parameter": name, "full": float(value), "low_bound": lo, "high_bound": hi,
               "fold_min": None, "fold_median": None, "fold_max": None, "min_fold": None, "max_fold": None}
        if per_fold:
            lo_acc = min(per_fold, key=per_fold.__getitem__)
            hi_acc = max(per_fold, key=per_fold.__getitem__)
            rec.update(fold_min=per_fold[lo_acc], fold_median=statistics.median(per_fold.values()),
                       fold_max=per_fold[hi_acc], min_fold=lo_acc, max_fold=hi_acc)
        out.append(rec)
    return out


def _fmt(v: float | None) -> str:
    return "-" if v is None else f"{v:.4g}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("rows", type=Path)
    a = ap.parse_args()
    data = json.loads(a.rows.read_text())
    print("parameter | full fit | bounds | folds min / median / max (min fold, max fold)")
    for r in spread(data["summary"], data.get("folds", {})):
        name = r["parameter"].replace(DS_PREFIX, "mean input: ")
        folds = (f"{_fmt(r['fold_min'])} / {_fmt(r['fold_median'])} / {_fmt(r['fold_max'])} "
                 f"({r['min_fold']}, {r['max_fold']})" if r["fold_min"] is not None else "not stored")
        print(f"{name} | {_fmt(r['full'])} | [{_fmt(r['low_bound'])}, {_fmt(r['high_bound'])}] | {folds}")


if __name__ == "__main__":
    main()
