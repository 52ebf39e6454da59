"""Which fit rows pull a leave-one-accelerator-out fold along a direction: refit the fold of ``--accelerator``
(``inferchip calibrate --cv``'s fit, start ``--start none``), then move the fold's fitted values of ``--probe``
parameters back to a reference fit (``--full``: a calibration file, e.g. the full fit) and list the fold's rows
whose soft-L1 loss (``validation/calibrate.py``: ``F_SCALE``) changes most. A row whose loss rises when the probe
goes back is one that holds the fold where it is; the total change says how flat the direction is (a change of
a few hundredths against a cost of several units is a valley the rows barely resolve).

    python tools/calibration/fold_row_pull.py --accelerator nvidia-h200-sxm-141gb --full F.yaml \\
        --probe mlperf_mean_input_tokens:llama3.1-8b [--probe kernel_overhead_scale] [--drop REGEX]
        [--start-set expert_popularity_log_sd=0] [--top 8]

``--drop REGEX``: also leave the fit rows whose case id matches out of the fold (a diagnostic: which row's
presence sets the fold; never a fix). ``--start-set NAME=VALUE``: a calibration field set on the start and kept
(not fitted), e.g. ``expert_popularity_log_sd=0`` for the uniform expert count. Prints the fold's fitted values
against the reference, the held-out accelerator's rows on the fit's analytic path (``row_residuals``: not
``validate``'s scoring, which simulates closed loops and server rows) at the fold point and with the probes at the
reference, then the pulling rows.
"""

from __future__ import annotations

import argparse
import math
import re
from pathlib import Path

import numpy as np

from inferchip.catalog.calibration_file import load_calibration, load_dataset_lengths
from inferchip.validation.calibrate import (
    F_SCALE,
    FitPoint,
    current_values,
    fit,
    fit_parameter_names,
    prepare,
    row_residuals,
    with_values,
)
from inferchip.validation.cases import read_cases
from inferchip.validation.fitting.search import soft_l1_losses

CASES = Path(__file__).resolve().parents[2] / "src" / "inferchip" / "catalog" / "validation_cases.csv"


def _pct(r: float) -> str:
    return f"{100.0 * math.expm1(r):+7.1f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", default=str(CASES))
    ap.add_argument("--accelerator", required=True)
    ap.add_argument("--full", required=True, type=Path, help="reference calibration file (e.g. the full fit)")
    ap.add_argument("--probe", action="append", default=[], help="fitted parameter moved back to the reference")
    ap.add_argument("--drop", help="regex of case ids also left out of the fold's fit rows (diagnostic)")
    ap.add_argument("--start-set", action="append", default=[], help="NAME=VALUE set on the start, not fitted")
    ap.add_argument("--top", type=int, default=8)
    a = ap.parse_args()
    cases = [c for c in read_cases(a.cases) if c.energy_scope is None]
    extra = {}
    for item in a.start_set:
        name, _, value = item.partition("=")
        extra[name] = float(value)
    base = FitPoint(load_calibration("none"), load_dataset_lengths("none"))
    start = FitPoint(base.calibration.model_copy(update=extra), base.lengths)
    ref = FitPoint(load_calibration(a.full).model_copy(update=extra), load_dataset_lengths(a.full))
    rows, _ = prepare(cases, start)
    names = fit_parameter_names(rows)
    unknown = [p for p in a.probe if p not in names]
    if unknown:
        raise SystemExit(f"--probe {unknown}: not a fitted parameter; allowed: {names}")
    drop = re.compile(a.drop) if a.drop else None
    fold_rows = [r for r in rows if r.case.accelerator != a.accelerator
                 and not (drop and drop.search(r.case.case_id))]
    held_rows = [r for r in rows if r.case.accelerator == a.accelerator]
    print(f"fold without {a.accelerator}: {len(fold_rows)} fit rows"
          + (f" ({sum(1 for r in rows if r.case.accelerator != a.accelerator) - len(fold_rows)} dropped by --drop)"
             if drop else ""), flush=True)
    res = fit(fold_rows, start, names)
    fold = FitPoint(res.calibration, res.lengths)
    ref_v = dict(zip(names, current_values(ref, names), strict=True))
    fold_v = dict(zip(names, current_values(fold, names), strict=True))
    print(f"{res.stop_text()}; cost {res.cost:.4f}")
    print(f"{'parameter':44s} {'reference':>10s} {'fold':>10s}")
    for n in names:
        print(f"{n:44s} {ref_v[n]:10.4g} {fold_v[n]:10.4g}")
    probed = with_values(fold, a.probe, [ref_v[p] for p in a.probe]) if a.probe else fold
    h0, h1 = row_residuals(held_rows, fold), row_residuals(held_rows, probed)
    print(f"\nheld-out {a.accelerator} rows, analytic path, signed % (fold | probes at reference):")
    for r, x0, x1 in zip(held_rows, h0, h1, strict=True):
        print(f"  {r.case.case_id:58s} {_pct(x0)} | {_pct(x1)}")
    ape0 = np.abs(np.expm1(h0)) * 100
    ape1 = np.abs(np.expm1(h1)) * 100
    print(f"  median / p90 APE: {np.median(ape0):.1f} / {np.percentile(ape0, 90):.1f} | "
          f"{np.median(ape1):.1f} / {np.percentile(ape1, 90):.1f}")
    if not a.probe:
        return
    f0, f1 = row_residuals(fold_rows, fold), row_residuals(fold_rows, probed)
    l0, l1 = soft_l1_losses(f0, F_SCALE), soft_l1_losses(f1, F_SCALE)  # each row's share of the fit's cost
    print(f"\nfold rows' soft-L1 cost: {l0.sum():.4f} at the fold point, {l1.sum():.4f} with "
          f"{', '.join(a.probe)} at the reference ({l1.sum() - l0.sum():+.4f})")
    order = np.argsort(-(l1 - l0))
    print("rows whose loss rises most with the probes at the reference (they hold the fold there):")
    for k in order[:a.top]:
        r = fold_rows[k]
        print(f"  {r.case.case_id:58s} {_pct(f0[k])} -> {_pct(f1[k])}  loss {l0[k]:.4f} -> {l1[k]:.4f}")
    print("rows whose loss falls most:")
    for k in order[::-1][:a.top]:
        r = fold_rows[k]
        print(f"  {r.case.case_id:58s} {_pct(f0[k])} -> {_pct(f1[k])}  loss {l0[k]:.4f} -> {l1[k]:.4f}")


if __name__ == "__main__":
    main()
