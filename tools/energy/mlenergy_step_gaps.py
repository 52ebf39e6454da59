"""Where the ML.ENERGY throughput error sits: each run's measured median ITL against the predicted
decode step at the running batch the run's notes measured, by operator class.

Tokens per joule is throughput over power; on the ML.ENERGY rows (``catalog/mlenergy_cases.csv``)
the throughput half carries most of the error (docs/validation.md, energy section). Each run's notes
state its mean running batch (vLLM ``num_requests_running``) and its median ITL, so the step can be
checked without the closed-loop question: the steady-state step at that batch
(``performance.predict.predict_setting``, a closed loop held at the batch) against the ITL.

Prints, per run (power row; runs with a running batch of at least ``--min-batch``): the measured ITL,
the predicted step, their gap per running sequence, the measured board power per GPU; then, for all,
dense and MoE runs, the median / p90 / signed error of the step and the non-negative least-squares
weights of each class (1 = the class as predicted; a weight far from 1 says which class the data
disagree with, for the performance calibration to look at).

    PYTHONPATH=src python tools/energy/mlenergy_step_gaps.py [--min-batch 60] [--all-runs]
"""

from __future__ import annotations

import argparse
import csv
import re
from dataclasses import replace
from pathlib import Path

import numpy as np

CATALOG = Path(__file__).resolve().parents[2] / "src" / "inferchip" / "catalog"
_BATCH = re.compile(r"mean running batch[^;]*?([0-9.]+);")
_ITL = re.compile(r"median ITL ([0-9.]+) ms")
MOE = ("A3B", "A22B", "gpt-oss", "Scout", "Maverick")


def run_steps(rows: list[dict[str, str]], as_run: bool = True) -> list[dict]:
    """Per power row: measured running batch and ITL, predicted step (ms) and its classes (ms).
    ``as_run``: with the calibration the energy path predicts the run with (its engine's host time,
    the MoE kernels its notes state: ``validation.moe_kernels.run_calibration``); else the shipped one."""
    from inferchip.catalog.assumptions import load_assumptions
    from inferchip.catalog.calibration_file import load_calibration, load_dataset_lengths
    from inferchip.catalog.chips import family_defaults, load_chip
    from inferchip.errors import InferchipError
    from inferchip.performance.mapped import DEFAULT_CHUNK_TOKENS
    from inferchip.performance.predict import predict_setting
    from inferchip.performance.setting import resolve_setting
    from inferchip.spec.chip import chip_params
    from inferchip.validation.energy import row_setting as rs
    from inferchip.validation.moe_kernels import run_calibration

    cal, lengths, a = load_calibration(None), load_dataset_lengths(None), load_assumptions()
    out = []
    for r in rows:
        b, itl = _BATCH.search(r["notes"]), _ITL.search(r["notes"])
        if not (b and itl):
            continue
        kw = rs.row_setting(r, lengths)
        spec = load_chip(r["accelerator"])
        cp = chip_params(spec, family_defaults(spec.family))
        s = resolve_setting(cp, r["model"], count=kw.count, tp=kw.tp, pp=kw.pp, ep=kw.ep,
                            calibration=run_calibration(cal, r, True, spec.family) if as_run else cal,
                            assumptions=a, chip_spec=spec, weights=r["weight_dtype"] or "bf16",
                            activations=rs.row_activations(r["act_dtype"] or None), kv=r["kv_dtype"] or None,
                            chunk_tokens=DEFAULT_CHUNK_TOKENS)  # as the energy rows
        batch = float(b.group(1))
        try:
            p = predict_setting(s, replace(kw.question, batch=batch, concurrency=None))
        except InferchipError as exc:
            print(f"not predicted: {r['case_id']}: {exc}".splitlines()[0])
            continue
        out.append({"case": r["case_id"], "model": r["model"], "gpus": int(r["num_accelerators"]),
                    "weights": r["weight_dtype"], "batch": batch, "itl_ms": float(itl.group(1)),
                    "step_ms": p.tpot_s * 1e3, "power_w_per_gpu": float(r["value"]) / int(r["num_accelerators"]),
                    "classes_ms": {k: v["time_s"] * 1e3 for k, v in p.breakdown["decode"].items()}})
    return out


def _summary(name: str, runs: list[dict]) -> None:
    from scipy.optimize import nnls

    if not runs:
        return
    classes = sorted({k for x in runs for k in x["classes_ms"]})
    a = np.array([[x["classes_ms"].get(c, 0.0) / x["itl_ms"] for c in classes] for x in runs])
    w, _ = nnls(a, np.ones(len(runs)))
    e = np.array([100.0 * (x["step_ms"] / x["itl_ms"] - 1.0) for x in runs])
    weights = ", ".join(f"{c} {v:.2f}" for c, v in zip(classes, w, strict=True))
    print(f"{name}: {len(runs)} runs, step vs ITL median {np.median(np.abs(e)):.1f}% p90 "
          f"{np.percentile(np.abs(e), 90):.1f}% signed {np.median(e):+.1f}%; class weights: {weights}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--min-batch", type=float, default=60.0, help="list runs with at least this running batch")
    ap.add_argument("--all-runs", action="store_true", help="list every run (else only the summaries)")
    ap.add_argument("--shipped", action="store_true",
                    help="the shipped calibration for every run (else each run's engine and stated MoE kernels)")
    args = ap.parse_args()
    with (CATALOG / "mlenergy_cases.csv").open(encoding="utf-8-sig", newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["metric"].startswith("power_w")]
    runs = run_steps(rows, as_run=not args.shipped)
    if args.all_runs:
        print("model | GPUs | weights | running batch | ITL ms | step ms | gap us per sequence | board W per GPU")
        for x in sorted(runs, key=lambda x: (x["model"], x["gpus"], x["batch"])):
            if x["batch"] >= args.min_batch:
                gap_us = 1e3 * (x["itl_ms"] - x["step_ms"]) / x["batch"]
                print(f"{x['model']} | {x['gpus']} | {x['weights']} | {x['batch']:.0f} | {x['itl_ms']:.1f} | "
                      f"{x['step_ms']:.1f} | {gap_us:+.1f} | {x['power_w_per_gpu']:.0f}")
    moe = [x for x in runs if any(k in x["model"] for k in MOE)]
    _summary("all", runs)
    _summary("dense", [x for x in runs if x not in moe])
    _summary("MoE", moe)


if __name__ == "__main__":
    main()
