"""The held-out tail of the MLPerf-style rows: which rows lie beyond the leave-one-accelerator-out p90, from the
rows file of ``tools/calibration/calibration_variants.py --rows`` (the fit behind ``inferchip calibrate --cv``).
Prints the p90 (numpy's linear percentile, as ``inferchip calibrate`` reports it), every row at or above
``--above`` (default: the p90) with its held-out and in-sample signed error, and how many of those rows each
accelerator, model, scenario and metric holds. A row whose in-sample error is as large as its held-out one is a
model error; one far smaller in sample is a fold effect (the fit without the held-out chip moves elsewhere,
``tools/calibration/fold_swap.py``).

    python tools/calibration/heldout_tail.py rows.json [--above 35] [--top 20]
"""

from __future__ import annotations

import argparse
import json
from collections import Counter

import numpy as np

GROUPS = ("accelerator", "model", "scenario", "metric")


def p90_ape(rows: list[dict]) -> float:
    """The 90th percentile (linear interpolation, numpy's default) of the rows' absolute errors in %."""
    apes = [abs(float(r["signed_error_pct"])) for r in rows]
    if not apes:
        raise ValueError("no predicted rows")
    return float(np.percentile(apes, 90))


def tail(held_out: list[dict], in_sample: list[dict], above: float) -> list[dict]:
    """Rows whose held-out APE is at least ``above`` %, largest first, each with its in-sample signed error
    (None where the row has no in-sample prediction)."""
    ins = {r["case_id"]: r for r in in_sample if r.get("signed_error_pct") is not None}
    out = []
    for r in held_out:
        if r.get("signed_error_pct") is None or abs(float(r["signed_error_pct"])) < above:
            continue
        i = ins.get(r["case_id"])
        out.append({"case_id": r["case_id"], **{g: str(r.get(g, "")) for g in GROUPS},
                    "held_out_pct": float(r["signed_error_pct"]),
                    "in_sample_pct": None if i is None else float(i["signed_error_pct"])})
    return sorted(out, key=lambda t: -abs(t["held_out_pct"]))


def counts(rows: list[dict]) -> dict[str, Counter]:
    """How many of ``rows`` each value of each group (accelerator, model, scenario, metric) holds."""
    return {g: Counter(r[g] for r in rows) for g in GROUPS}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("rows", help="JSON of calibration_variants.py --rows")
    ap.add_argument("--above", type=float, help="APE threshold in %% (default: the held-out p90)")
    ap.add_argument("--top", type=int, default=0, help="print only the largest N rows (0: all)")
    a = ap.parse_args()
    d = json.load(open(a.rows))
    held = [r for r in d["held_out"] if r.get("signed_error_pct") is not None]
    p90 = p90_ape(held)
    above = p90 if a.above is None else a.above
    rows = tail(held, d["in_sample"], above)
    print(f"{len(held)} held-out rows, p90 APE {p90:.1f} %; {len(rows)} at or above {above:.1f} %")
    print("| held out % | in sample % | accelerator | model | scenario | metric | case |")
    print("|---|---|---|---|---|---|---|")
    for t in rows[:a.top or None]:
        ins = "" if t["in_sample_pct"] is None else f"{t['in_sample_pct']:+.1f}"
        print(f"| {t['held_out_pct']:+.1f} | {ins} | {t['accelerator']} | {t['model'].split('/')[-1]} | "
              f"{t['scenario']} | {t['metric']} | {t['case_id']} |")
    for g, c in counts(rows).items():
        print(f"{g}: " + ", ".join(f"{k.split('/')[-1]} {n}" for k, n in c.most_common()))


if __name__ == "__main__":
    main()
