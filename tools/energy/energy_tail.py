"""Which board-power runs form the tokens-per-joule tail, and whether throughput or power puts them there.

Tokens/J = throughput / power, so each run's tokens/J error splits exactly into its throughput and its
power errors: ``(1 + e_tokens_per_j) = (1 + e_throughput) / (1 + e_power)``. For every run with a
measured board power and a stated throughput (``catalog/energy_cases.csv`` and ``mlenergy_cases.csv``),
predicted with the shipped calibration and power parameters (in sample: ``tools/energy/fit_power.py`` gives the
held-out figures), prints the runs whose tokens/J error exceeds ``--above`` per cent, then the count of
those runs by model, weight format, concurrency band and the MoE kernels the row states.

    PYTHONPATH=src python tools/energy/energy_tail.py [--above 35]
"""

from __future__ import annotations

import argparse
import csv
import math
from collections import Counter
from pathlib import Path

CATALOG = Path(__file__).resolve().parents[2] / "src" / "inferchip" / "catalog"


def runs() -> list[dict]:
    """Per board-power run: its row and the signed errors (fractions) of throughput, power and tokens/J."""
    from inferchip.catalog.assumptions import load_assumptions
    from inferchip.catalog.calibration_file import load_calibration, load_dataset_lengths
    from inferchip.validation.energy.power_fit import measured_throughput
    from inferchip.validation.energy.rows import predict_energy_run

    cal, lengths, a = load_calibration(None), load_dataset_lengths(None), load_assumptions()
    out = []
    for name in ("energy_cases.csv", "mlenergy_cases.csv"):
        with (CATALOG / name).open(encoding="utf-8-sig", newline="") as fh:
            for r in csv.DictReader(fh):
                tput = measured_throughput(r)
                if r["metric"] != "power_w_board_total" or tput is None:
                    continue
                run, _ = predict_energy_run(r, cal, a, lengths)
                if run is None or not (run.output_tokens_per_s > 0 and math.isfinite(run.board_w)):
                    continue
                e_t, e_p = run.output_tokens_per_s / tput - 1.0, run.board_w / float(r["value"]) - 1.0
                out.append({"row": r, "throughput": e_t, "power": e_p, "tokens_per_j": (1 + e_t) / (1 + e_p) - 1})
    return out


def _band(row: dict[str, str]) -> str:
    c = float(row.get("concurrency") or 0)
    return "-" if not c else ("<=32" if c <= 32 else ("33-256" if c <= 256 else ">256"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--above", type=float, default=35.0, help="list runs whose |tokens/J error| exceeds this, %%")
    args = ap.parse_args()
    from inferchip.validation.moe_kernels import states_triton_moe

    xs = runs()
    tail = sorted((x for x in xs if abs(x["tokens_per_j"]) * 100 > args.above), key=lambda x: -abs(x["tokens_per_j"]))
    print(f"{len(tail)} of {len(xs)} runs above {args.above:g} %: tokens/J | throughput | power (signed %) | model | "
          "weights | GPUs | concurrency")
    for x in tail:
        r = x["row"]
        print(f"  {100 * x['tokens_per_j']:+6.1f} | {100 * x['throughput']:+6.1f} | {100 * x['power']:+6.1f} | "
              f"{r['model']} | {r['weight_dtype']} | {r['num_accelerators']} | {r.get('concurrency') or '-'}")
    by = Counter((x["row"]["model"], x["row"]["weight_dtype"], _band(x["row"]),
                  "Triton MoE" if states_triton_moe(x["row"]) else "-") for x in tail)
    print("\nby model | weights | concurrency | stated MoE kernels: runs above")
    for key, n in by.most_common():
        print("  " + " | ".join(key) + f": {n}")


if __name__ == "__main__":
    main()
