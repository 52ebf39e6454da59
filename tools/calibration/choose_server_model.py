"""Choose the server model per metric by leave-one-accelerator-out error.

For every accelerator with MLPerf Server/Interactive rows (server rows without a concurrency,
the rows ``validate`` has two models for), the calibration is refitted without that
accelerator's rows (``validation.calibrate``, starting from the shipped calibration) and its
server rows are predicted by both models (``Validator(compare=True)``; ``inferchip calibrate --cv``
reports the same per-kind choice from a fit of its own start: "server models, held out"). Prints the held-out
median APE and median signed error of each model per metric kind; the model with the lower
median APE of a kind is the one ``validation.validate.SERVER_MODEL_BY_METRIC`` should name.

Usage: ``python tools/calibration/choose_server_model.py [max_evaluations]`` (about 10-20 minutes on 2 cores).
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np

from inferchip.catalog.calibration_file import load_calibration, load_dataset_lengths
from inferchip.validation.calibrate import FitPoint, _fold, fit_parameter_names, prepare
from inferchip.validation.cases import read_cases
from inferchip.validation.validate import metric_kind

CASES = Path(__file__).resolve().parents[2] / "src" / "inferchip" / "catalog" / "validation_cases.csv"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("max_evaluations", nargs="?", type=_positive_int, default=30,
                    help="the fit's evaluations per fold (default 30)")
    max_eval = ap.parse_args().max_evaluations
    cases = [c for c in read_cases(CASES) if c.energy_scope is None]
    server = [c for c in cases if c.scenario == "server" and c.concurrency is None]
    start = FitPoint(load_calibration(None), load_dataset_lengths(None))
    rows, _ = prepare(cases, start)
    names = fit_parameter_names(rows)
    accs = sorted({c.accelerator for c in server})
    jobs = [([r for r in rows if r.case.accelerator != a], start, names, max_eval,
             [c for c in server if c.accelerator == a]) for a in accs]
    errors: dict[tuple[str, str], list[float]] = {}
    for acc, job in zip(accs, jobs, strict=True):  # one process: the folds' progress in order
        _, held, _ = _fold(job)  # each held-out row predicted by both server models (compare)
        print("fitted the fold without", acc, flush=True)
        for r in held:
            c = r.case
            for model, value in r.by_model.items():
                if value is not None and math.isfinite(value) and value > 0:
                    errors.setdefault((metric_kind(c.metric), model), []).append(100.0 * (value / c.value - 1.0))
            print(acc, c.case_id, c.metric, c.value, r.by_model, flush=True)
    print("\nheld-out (leave-one-accelerator-out) errors of the server rows, per metric kind and model")
    for (kind, model), e in sorted(errors.items()):
        a = np.array(e)
        print(f"  {kind:10s} {model:8s} n={len(a):3d} median APE {np.median(np.abs(a)):6.1f}% "
              f"p90 {np.percentile(np.abs(a), 90):6.1f}% median signed {np.median(a):+6.1f}%")


def _positive_int(text: str) -> int:
    """An evaluation count: a whole number of at least 1 (argparse names the argument and value when refused)."""
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: allowed: a whole number of at least 1")
    return int(text)


if __name__ == "__main__":
    sys.exit(main())
