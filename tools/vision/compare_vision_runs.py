"""Compare two `inferchip validate src/inferchip/catalog/vision/vision_cases.csv --format json` outputs.

    python tools/vision/compare_vision_runs.py BEFORE.json AFTER.json [--accelerator ID ...]

Prints the summary figures of each (in sample and leave-one-accelerator-out median / p90 APE, overall and on the
calibration rows), the per-accelerator median APE of both, and every row whose prediction moved (with its
measurement and both APEs), so a change of chip data can be judged row by row.
"""

from __future__ import annotations

import argparse
import json
import statistics
from collections import defaultdict
from typing import Any


def _load(path: str) -> dict[str, Any]:
    with open(path) as fh:
        data: dict[str, Any] = json.load(fh)["vision"]
    return data


def _by_id(run: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["case_id"]: c for c in run["cases"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("before")
    ap.add_argument("after")
    ap.add_argument("--accelerator", action="append", default=[], help="only rows of this accelerator (repeatable)")
    args = ap.parse_args()
    runs = [_load(args.before), _load(args.after)]
    for name, run in zip(("before", "after"), runs, strict=True):
        s = run["summary"]
        parts = [f"{k}: " + ", ".join(f"{m} {v['median_ape']:.2f}/{v['p90_ape']:.2f} (n={v['cases']})"
                                      for m, v in s[k].items() if isinstance(v, dict) and "median_ape" in v)
                 for k in ("overall", "calibration_rows") if k in s]
        print(f"{name}: " + "; ".join(parts))
    before, after = (_by_id(r) for r in runs)
    per_acc: dict[str, list[list[float]]] = defaultdict(lambda: [[], [], [], []])
    moved = []
    for cid, b in before.items():
        a = after.get(cid)
        if a is None or not all(isinstance(x.get(k), float | int) for x in (a, b)
                                for k in ("signed_error_pct", "loao_signed_error_pct")):
            continue
        acc = str(b.get("accelerator", ""))
        if args.accelerator and acc not in args.accelerator:
            continue
        apes = [abs(float(x[k])) for k in ("signed_error_pct", "loao_signed_error_pct") for x in (b, a)]
        for j, v in enumerate(apes):
            per_acc[acc][j].append(v)
        if b.get("predicted") != a.get("predicted") or b.get("loao_predicted") != a.get("loao_predicted"):
            moved.append((acc, cid, b["measured"], b["predicted"], a["predicted"], *apes))
    print("\nmedian APE per accelerator, in sample (shipped calibration) and held out (LOAO): before -> after")
    for acc, vals in sorted(per_acc.items()):
        m = [statistics.median(v) for v in vals]
        print(f"  {acc:34s} n={len(vals[0]):3d}  in sample {m[0]:6.2f} -> {m[1]:6.2f}   "
              f"LOAO {m[2]:6.2f} -> {m[3]:6.2f}")
    print(f"\n{len(moved)} rows moved (APE in sample, then LOAO, before -> after)")
    for _acc, cid, meas, p0, p1, e0, e1, l0, l1 in sorted(moved):
        print(f"  {cid:80s} measured {meas:>10.5g} predicted {p0:>10.5g} -> {p1:>10.5g}  APE {e0:6.2f} -> {e1:6.2f}"
              f"  LOAO {l0:6.2f} -> {l1:6.2f}")


if __name__ == "__main__":
    main()
