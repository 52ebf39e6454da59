"""Which fitted parameter moves one accelerator's held-out errors: refit the leave-one-accelerator-out
fold of ``--accelerator`` (the same fit as ``inferchip calibrate --cv``), then score that accelerator's
rows under the fold's parameters with one parameter at a time (a physical parameter or one MLPerf
data set's mean input length) set back to the full fit's value. A parameter whose swap moves the
median signed error a lot is one the held-out rows pinned in the full fit and that the other
accelerators' rows fit elsewhere (a fit degeneracy, not a property of the chip).

    python tools/calibration/fold_swap.py --full /tmp/full.yaml --accelerator nvidia-h200-sxm-141gb \\
        [--json /tmp/swap.json]

``--full``: the calibration file of the full fit (``inferchip calibrate ... -o FILE`` or
``calibration_variants.py --output FILE``), so the full fit is not redone. Prints, per swap, the
median / p90 APE and the median signed error of the accelerator's rows, and each row's signed error.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from inferchip.catalog.calibration_file import load_calibration, load_dataset_lengths
from inferchip.validation.calibrate import (
    DS_PREFIX,
    FitPoint,
    current_values,
    fit,
    fit_parameter_names,
    prepare,
    scorer,
    with_values,
)
from inferchip.validation.cases import read_cases
from inferchip.validation.stats import error_stats

CASES = Path(__file__).resolve().parents[2] / "src" / "inferchip" / "catalog" / "validation_cases.csv"


def swaps(names: list[str], datasets: set[str]) -> list[str]:
    """The parameters worth swapping for an accelerator: every physical one, and the data-set means of
    the data sets its rows use (the others cannot move its rows)."""
    return [n for n in names if not n.startswith(DS_PREFIX) or n[len(DS_PREFIX):] in datasets]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", default=str(CASES))
    ap.add_argument("--full", required=True, type=Path, help="calibration file of the full fit")
    ap.add_argument("--accelerator", required=True)
    ap.add_argument("--json", type=Path)
    a = ap.parse_args()
    cases = [c for c in read_cases(a.cases) if c.energy_scope is None]
    full = FitPoint(load_calibration(a.full), load_dataset_lengths(a.full))
    rows, _ = prepare(cases, FitPoint(load_calibration("none"), load_dataset_lengths("none")))
    names = fit_parameter_names(rows)
    start = FitPoint(load_calibration("none"), load_dataset_lengths("none"))
    fold_fit = fit([r for r in rows if r.case.accelerator != a.accelerator], start, names)
    fold = FitPoint(fold_fit.calibration, fold_fit.lengths)
    held = [c for c in cases if c.accelerator == a.accelerator]
    datasets = {r.dataset for r in rows if r.case.accelerator == a.accelerator and r.dataset is not None}
    full_v = dict(zip(names, current_values(full, names), strict=True))
    fold_v = dict(zip(names, current_values(fold, names), strict=True))
    out: dict = {"accelerator": a.accelerator, "full": full_v, "fold": fold_v, "swaps": {}}
    variants = [("fold", fold), ("full", full)] + [
        (f"fold, {n} = full", with_values(fold, [n], [full_v[n]])) for n in swaps(names, datasets)]
    print(f"{'parameter':44s} {'full':>9s} {'fold':>9s}")
    for n in names:
        print(f"{n:44s} {full_v[n]:9.4g} {fold_v[n]:9.4g}")
    for label, point in variants:
        v = scorer(point)
        results = [v.predict_case(c) for c in held]
        st = error_stats(results)
        out["swaps"][label] = {"stats": st, "rows": {r.case.case_id: r.signed_error_pct for r in results}}
        print(f"{label:52s} median {st['median_ape']:5.1f}  p90 {st['p90_ape']:5.1f}  "
              f"signed {st['median_signed_error_pct']:+6.1f}", flush=True)
    if a.json is not None:
        a.json.write_text(json.dumps(out, default=str, indent=1))


if __name__ == "__main__":
    main()
