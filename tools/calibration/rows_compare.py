"""Two fits of the MLPerf-style rows side by side, row by row: the rows files of
``tools/calibration/calibration_variants.py --rows`` (the fit behind ``inferchip calibrate --cv``) for a baseline
and a variant. Prints, for every row of the accelerators matching ``--accelerator`` (a substring; all rows without
it), the held-out and in-sample signed error of both fits, and per accelerator the held-out median / p90 APE and
signed median of both, so that a change's effect on one chip's rows (its own fold) can be told from its effect on
the other chips' folds (the shared fit moving).

    python tools/calibration/rows_compare.py base.json variant.json [--accelerator mi300x] [--changed 1.0]

``--changed X``: list only the rows whose held-out signed error moved by at least X points.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict

import numpy as np

Rows = dict[str, dict]


def by_case(rows: list[dict]) -> Rows:
    """Rows keyed by case id."""
    return {r["case_id"]: r for r in rows}


def signed(row: dict | None) -> float | None:
    """A row's signed error in %, None where it has no row or no prediction."""
    if row is None or row.get("signed_error_pct") is None:
        return None
    return float(row["signed_error_pct"])


def chip_figures(held: Rows) -> dict[str, tuple[float, float, float, int]]:
    """Per accelerator: (median APE, p90 APE (numpy's linear percentile, as calibrate reports it), signed
    median, predicted rows) of the held-out rows, in %."""
    errs: dict[str, list[float]] = defaultdict(list)
    for r in held.values():
        e = signed(r)
        if e is not None:
            errs[str(r["accelerator"])].append(e)
    return {acc: (float(np.median(np.abs(v))), float(np.percentile(np.abs(v), 90)), float(np.median(v)), len(v))
            for acc, v in sorted(errs.items())}


def row_table(base: dict, new: dict, accelerator: str = "", changed: float = 0.0) -> list[tuple]:
    """(case, accelerator, base held out, new held out, base in sample, new in sample) for every held-out row
    of ``base`` whose accelerator contains ``accelerator``, and whose held-out error moved by at least
    ``changed`` points (a row predicted in one fit only always counts as moved)."""
    bh, nh = by_case(base["held_out"]), by_case(new["held_out"])
    bi, ni = by_case(base["in_sample"]), by_case(new["in_sample"])
    out = []
    for cid, r in bh.items():
        if accelerator not in str(r["accelerator"]):
            continue
        a, b = signed(r), signed(nh.get(cid))
        if changed > 0 and a is not None and b is not None and abs(b - a) < changed:
            continue
        out.append((cid, str(r["accelerator"]), a, b, signed(bi.get(cid)), signed(ni.get(cid))))
    return out


def _f(x: float | None) -> str:
    return "n/a" if x is None else f"{x:+.1f}"


def _cell(f: tuple[float, float, float, int] | None) -> str:
    return "n/a" if f is None else f"{f[0]:.1f} / {f[1]:.1f} / {f[2]:+.1f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("base", help="rows JSON of calibration_variants.py --rows (baseline)")
    ap.add_argument("new", help="rows JSON of calibration_variants.py --rows (variant)")
    ap.add_argument("--accelerator", default="", help="only rows whose accelerator contains this")
    ap.add_argument("--changed", type=float, default=0.0, help="only rows whose held-out error moved this much")
    a = ap.parse_args()
    base, new = json.load(open(a.base)), json.load(open(a.new))
    print("| case | accelerator | held out base % | held out new % | in sample base % | in sample new % |")
    print("|---|---|---|---|---|---|")
    for cid, acc, hb, hn, ib, i_n in row_table(base, new, a.accelerator, a.changed):
        print(f"| {cid} | {acc} | {_f(hb)} | {_f(hn)} | {_f(ib)} | {_f(i_n)} |")
    fb, fn = chip_figures(by_case(base["held_out"])), chip_figures(by_case(new["held_out"]))
    print("\n| held out | rows | base median / p90 / signed | new median / p90 / signed |")
    print("|---|---|---|---|")
    for acc in sorted(set(fb) | set(fn)):
        b, n = fb.get(acc), fn.get(acc)
        rows = (b or n or (0.0, 0.0, 0.0, 0))[3]
        print(f"| {acc} | {rows} | {_cell(b)} | {_cell(n)} |")


if __name__ == "__main__":
    main()
