"""Energy model against the measured energy cases: one row per case, then the median APE per scope.

Reads the copy of the energy cases shipped in the package (``catalog/energy_cases.csv``), or the
CSV given as the first argument (e.g. a newer ``validation/energy_cases.csv``). Every
prediction comes from cited constants (``catalog/assumptions.yaml``) and the shipped
calibration; nothing is fitted to these rows. Throughput and power are both predicted.

Usage: ``python benchmarks/energy_check.py [CSV] [--assumptions FILE]``
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

from inferchip.validation.energy.rows import BUNDLED_CSV, energy_validation_summary


def _num(v: float) -> str:
    return f"{v:,.0f}" if abs(v) >= 100 else f"{v:.4g}"


def main(argv: list[str]) -> int:
    assumptions = None
    if "--assumptions" in argv:
        i = argv.index("--assumptions")
        assumptions = argv[i + 1]
        argv = argv[:i] + argv[i + 2:]
    path = Path(argv[0]) if argv else BUNDLED_CSV
    df = energy_validation_summary(path, assumptions=assumptions)
    pd.set_option("display.width", 200)
    pd.set_option("display.max_rows", 500)
    print(f"energy cases: {path}")
    shown = df.drop(columns=["reason"]).copy()
    shown["case_id"] = shown["case_id"].str.slice(0, 60)
    print(shown.to_string(index=False, float_format=_num))
    for _, r in df[df["reason"] != ""].iterrows():
        print(f"not predicted: {r['case_id']}: {r['reason'].splitlines()[0]}")
    print()
    for scope, g in df.groupby("scope"):
        ok = g["ape %"].dropna()
        print(f"median APE {scope}: {ok.median():.1f}% over {len(ok)} of {len(g)} rows "
              f"(power rows {g[g['metric'].str.startswith('power')]['ape %'].median():.1f}%, "
              f"tokens/J rows {g[g['metric'].str.startswith('output')]['ape %'].median():.1f}%)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
