"""Print the die-area and TDP accuracy of the design model (the figures of docs/explore.md).

Usage: ``PYTHONPATH=src python tools/design_area_report.py [--sensitivity]`` (~10 s; with
``--sensitivity`` ~2 min on 2 shared cores). Prints the medians of
:func:`inferchip.cost.design.fit.accuracy` (leave-one-out over every die, GPU / non-GPU, the
declared split), the per-die table, the structure candidates' leave-one-out over the fit dies
(:func:`~inferchip.cost.design.fit.variant_selection`, and for power
:func:`~inferchip.cost.design.fit.power_variant_selection`), the catalogue chips' TDP check, and
with ``--sensitivity`` the same measures under the previous revision's physics (int8 MAC area
factor 0.30, an uncore that shrinks with the node), one change at a time.
"""

from __future__ import annotations

import sys
from contextlib import contextmanager
from typing import Any

import numpy as np

from inferchip.catalog.assumptions import load_assumptions
from inferchip.cost.design import constants as c
from inferchip.cost.design import fit as f


@contextmanager
def int8_area_factor(value: float) -> Any:
    """Temporarily set the int8 MAC area factor (restored on exit)."""
    old = c.FORMAT_AREA_FACTOR["int8"]
    c.FORMAT_AREA_FACTOR["int8"] = c.Sourced(value, "sensitivity")
    try:
        yield
    finally:
        c.FORMAT_AREA_FACTOR["int8"] = old


def measures(terms: tuple[str, ...], uncore_scaled: bool) -> dict[str, float]:
    """Median area APE (%): LOO over the fit dies, LOO over all, non-GPU LOO, the declared split."""
    dies = f.load_dies()
    real = np.array([d.area_mm2 for d in dies])
    train = [d for d in dies if d.role == "fit"]
    hold = [d for d in dies if d.role == "holdout"]
    t_real = np.array([d.area_mm2 for d in train])
    sel = f.leave_one_out(train, None, terms=terms, uncore_scaled=uncore_scaled)[0]
    loo = 100.0 * np.abs(f.leave_one_out(dies, None, terms=terms, uncore_scaled=uncore_scaled)[0] / real - 1.0)
    gpu = np.array([f.is_gpu(d) for d in dies])
    split = f.area_of(f.fit_area(train, terms=terms, uncore_scaled=uncore_scaled), hold)
    return {"fit-die LOO": float(np.median(100.0 * np.abs(sel / t_real - 1.0))), "LOO": float(np.median(loo)),
            "non-GPU LOO": float(np.median(loo[~gpu])),
            "split": float(np.median(100.0 * np.abs(split / np.array([d.area_mm2 for d in hold]) - 1.0)))}


def main(argv: list[str]) -> None:
    r = f.accuracy(load_assumptions())
    print(f"dies {r['n_dies']}, held out {r['area_holdout_n']} (every {f.HOLDOUT_EVERY}rd by first disclosure)")
    for k, v in r.items():
        if k.endswith("_pct"):
            print(f"  {k}: {v:.1f}")
    print(f"  power_loo_n {r['power_loo_n']}, power_holdout_n {r['power_holdout_n']}, tdp_n {r['tdp_n']}")
    print("coefficients:", r["coefficients"])
    print("| die | role | published mm2 | LOO model mm2 | LOO | split model mm2 | split | LOO, previous structure |"
          " rated TDP W | LOO W | LOO | split W | split |")
    for x in r["area_rows"]:
        tdp = x["tdp_w"]
        pw = (f"{tdp:.0f} | {x['loo_power_w']:.0f} | {x['loo_power_ape_pct']:.0f}% | {x['split_power_w']:.0f} | "
              f"{x['split_power_ape_pct']:.0f}%") if tdp else " | | | |"
        print(f"| {x['die']} | {x['role']} | {x['area_mm2']:.0f} | {x['loo_area_mm2']:.0f} | "
              f"{x['loo_area_ape_pct']:.0f}% | {x['split_area_mm2']:.0f} | {x['split_area_ape_pct']:.0f}% | "
              f"{x['loo_area_previous_ape_pct']:.0f}% | {pw} |")
    print("structure candidates, median LOO over the fit dies:")
    for name, v in f.variant_selection().items():
        print(f"  {name}: {v:.1f}")
    print("power structure candidates, median TDP LOO over the fit dies with a TDP:")
    for name, v in f.power_variant_selection(load_assumptions()).items():
        print(f"  {name}: {v:.1f}")
    print("| chip | rated TDP W | model full-rate W | error vs TDP | same die on a higher-power board |"
          " sustained reference W | error vs it |")
    for t in r["tdp_rows"]:
        name = t["chip_id"] + (" (die in the fit)" if t["in_power_fit"] else "")
        print(f"| {name} | {t['tdp_w']:.0f} | {t['model_w']:.0f} | {t['tdp_ape_pct']:.0f}% | "
              f"{'yes' if t['power_limited'] else 'no'} | {t['sustained_w']:.0f} | {t['sustained_ape_pct']:.0f}% |")
    if "--sensitivity" in argv:
        print("| int8 area factor | uncore | structure | fit-die LOO | LOO | non-GPU LOO | split |")
        for factor in (0.10, 0.30):
            with int8_area_factor(factor):
                for scaled in (False, True):
                    for name, terms in (("this model", f.AREA_TERMS), ("previous structure", f.PREVIOUS_TERMS)):
                        m = measures(terms, scaled)
                        print(f"| {factor:.2f} | {'scaled' if scaled else 'fixed'} | {name} | "
                              + " | ".join(f"{v:.1f}%" for v in m.values()) + " |")


if __name__ == "__main__":
    main(sys.argv[1:])
