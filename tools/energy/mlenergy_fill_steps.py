"""Which half of an ML.ENERGY run's step the model misses: its decode-only steps or the steps that carry a prompt.

Each ML.ENERGY row's notes state the run's median ITL and its mean running batch ``b``; with the measured
output tokens/s, ``b / throughput`` is the run's mean step. Where few steps admit a prompt (``p``, the share of
steps that do, below one half), the median ITL is a decode-only step, so ``mean step - median ITL`` is what the
prompts add to the mean step. The model gives both halves for the same run (``performance.phases.decode_step``):
the decode-only step ``t(b)`` and the mean over the steps that do and do not carry the arriving prompts.

Per run this prints the predicted decode-only step against the median ITL, the predicted mean step against the
measured one, and the ratio of the two prompt shares (predicted / measured); then the medians for dense and MoE
models. The lm-arena-chat rows are predicted at the data set's default mean input (the held-out fold's).

    PYTHONPATH=src python tools/energy/mlenergy_fill_steps.py [--dataset lm-arena-chat] [--max-share 0.5] [--list]
"""

from __future__ import annotations

import argparse
import csv
import re
from pathlib import Path

import numpy as np

CATALOG = Path(__file__).resolve().parents[2] / "src" / "inferchip" / "catalog"
MOE = ("A3B", "A22B", "gpt-oss", "Scout", "Maverick")
_ITL = re.compile(r"median ITL ([0-9.]+) ms")
_BATCH = re.compile(r"mean running batch[^;]*?([0-9.]+);")
_TPUT = re.compile(r"measured throughput ([0-9.]+)")


def prompt_share_ratio(pred_mean_s: float, pred_decode_s: float, meas_mean_s: float, median_itl_s: float) -> float:
    """(predicted mean step - predicted decode-only step) / (measured mean step - median ITL); NaN where the
    measured share is not positive."""
    measured = meas_mean_s - median_itl_s
    return (pred_mean_s - pred_decode_s) / measured if measured > 0 else float("nan")


def run_halves(dataset: str) -> list[dict]:
    """Per power row of ``dataset``: measured mean step and median ITL, predicted decode-only and mean steps (s)."""
    from inferchip.catalog.assumptions import load_assumptions
    from inferchip.catalog.calibration_file import load_calibration, load_dataset_lengths
    from inferchip.catalog.chips import family_defaults, load_chip
    from inferchip.performance.mapped import DEFAULT_CHUNK_TOKENS
    from inferchip.performance.phases import admit_share
    from inferchip.performance.setting import resolve_setting
    from inferchip.spec.calibration import DatasetLengths
    from inferchip.spec.chip import chip_params
    from inferchip.validation.energy.row_setting import row_activations, row_setting
    from inferchip.validation.moe_kernels import run_calibration

    cal, lengths, a = load_calibration(None), load_dataset_lengths(None), load_assumptions()
    lengths = lengths.model_copy(update={"mean_input_tokens": {**lengths.mean_input_tokens,
                                                               **DatasetLengths().mean_input_tokens}})
    with (CATALOG / "mlenergy_cases.csv").open(encoding="utf-8-sig", newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["metric"] == "power_w_board_total" and r["dataset"] == dataset]
    out = []
    for r in rows:
        itl, batch, tput = _ITL.search(r["notes"]), _BATCH.search(r["notes"]), _TPUT.search(r["notes"])
        if not (itl and batch and tput):
            continue
        kw = row_setting(r, lengths)
        spec = load_chip(r["accelerator"])
        s = resolve_setting(chip_params(spec, family_defaults(spec.family)), r["model"], count=kw.count, tp=kw.tp,
                            pp=kw.pp, ep=kw.ep, calibration=run_calibration(cal, r, True, spec.family), assumptions=a,
                            chip_spec=spec, weights=r["weight_dtype"] or "bf16",
                            activations=row_activations(r["act_dtype"] or None), kv=r["kv_dtype"] or None,
                            chunk_tokens=DEFAULT_CHUNK_TOKENS)  # as the energy rows
        mm = s.mapped(s.layouts[0])
        b = np.array([float(batch.group(1))])
        i, o = kw.question.inputs, kw.question.outputs
        new = b / o.mean
        p = float(admit_share(new)[0])
        kv = b * (i.mean + o.second_moment / (2.0 * o.mean))
        decode, _ = mm.replica_step_s(b, b, kv, 0.0 * b)
        fill, _ = mm.replica_step_s(b + new * i.mean / p, b, kv, new * i.mean_prefill_pairs / p)
        out.append({"model": r["model"].split("/")[-1], "gpus": int(r["num_accelerators"]),
                    "concurrency": int(float(r["concurrency"])), "share": p, "itl_s": float(itl.group(1)) / 1e3,
                    "meas_mean_s": float(b[0]) / float(tput.group(1)), "decode_s": float(decode[0]),
                    "mean_s": float((1.0 - p) * decode[0] + p * fill[0])})
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dataset", default="lm-arena-chat", help="the rows' data set (lm-arena-chat or gpqa)")
    ap.add_argument("--max-share", type=float, default=0.5, help="runs whose steps admit a prompt at most this often")
    ap.add_argument("--list", action="store_true", help="print every run")
    args = ap.parse_args()
    runs = [x for x in run_halves(args.dataset) if x["share"] <= args.max_share]
    for name, pick in (("all", lambda x: True), ("dense", lambda x: not any(k in x["model"] for k in MOE)),
                       ("MoE", lambda x: any(k in x["model"] for k in MOE))):
        sel = [x for x in runs if pick(x)]
        if not sel:
            continue
        dec = [100.0 * (x["decode_s"] / x["itl_s"] - 1.0) for x in sel]
        mean = [100.0 * (x["mean_s"] / x["meas_mean_s"] - 1.0) for x in sel]
        ratio = [prompt_share_ratio(x["mean_s"], x["decode_s"], x["meas_mean_s"], x["itl_s"]) for x in sel]
        print(f"{name}: {len(sel)} runs; decode-only step vs median ITL {np.median(dec):+.1f} % signed; mean step vs "
              f"measured {np.median(mean):+.1f} %; prompt share predicted / measured {np.nanmedian(ratio):.2f}")
    if args.list:
        print("model | GPUs | concurrency | share of steps with a prompt | median ITL / decode-only step ms | "
              "measured / predicted mean step ms")
        for x in sorted(runs, key=lambda x: (x["model"], x["gpus"], x["concurrency"])):
            print(f"{x['model']} | {x['gpus']} | {x['concurrency']} | {x['share']:.2f} | {1e3 * x['itl_s']:.1f} / "
                  f"{1e3 * x['decode_s']:.1f} | {1e3 * x['meas_mean_s']:.1f} / {1e3 * x['mean_s']:.1f}")


if __name__ == "__main__":
    main()
