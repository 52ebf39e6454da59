"""Print the die-area and TDP accuracy of the design model (the figures of docs/explore.md).

Usage: ``PYTHONPATH=src python tools/design/design_area_report.py [--sensitivity]`` (~15 s; with
``--sensitivity`` ~2 min on 2 shared cores). Prints the medians of
:func:`inferchip.cost.design.fit.accuracy` (leave-one-out over every die, GPU / non-GPU, the
declared split), the per-die table, the structure candidates' leave-one-out over the fit dies
(:func:`~inferchip.cost.design.fit.variant_selection`, and for power
:func:`~inferchip.cost.design.fit.power_variant_selection`), the catalogue chips' TDP check, and
with ``--sensitivity`` the same measures under the previous revision's physics (int8 MAC area
factor 0.30, an uncore that shrinks with the node), one change at a time. The TDP sensitivity
table (:func:`tdp_sensitivity`: the TDP medians with one power input or treatment changed back at a
time, and all of them together: the previous revision's power model) is always printed (~5 s).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Callable
from contextlib import contextmanager
from typing import Any

import numpy as np

from inferchip.catalog.assumptions import load_assumptions
from inferchip.cost.design import constants as c
from inferchip.cost.design import dies as dd
from inferchip.cost.design import fit as f
from inferchip.cost.design import power_fit as pf
from inferchip.spec.assumptions import Assumptions

Change = Callable[[dd.Die], dd.Die]


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


def power_measures(a: Assumptions) -> dict[str, Any]:
    """Median TDP APE (%): LOO over the fit dies (the structure rule's measure), LOO over all, the
    declared split, and the split's per-die errors."""
    dies = [d for d in f.load_dies() if d.tdp_w]
    basis, tdp = f.power_basis_of(dies, a), np.array([float(d.tdp_w or 0.0) for d in dies])
    cap, fit = np.array([d.board_cap_w for d in dies]), np.array([d.role == "fit" for d in dies])
    sel = pf.leave_one_out_w(basis[fit], tdp[fit], cap[fit])
    loo = pf.leave_one_out_w(basis, tdp, cap)
    coef = pf.coefficient_vector(pf.fit_power_terms(basis[fit], tdp[fit], cap[fit]))
    split = 100.0 * np.abs(pf.power_w(coef, basis, cap) / tdp - 1.0)
    return {"fit-die LOO": float(np.median(100.0 * np.abs(sel / tdp[fit] - 1.0))),
            "LOO": float(np.median(100.0 * np.abs(loo / tdp - 1.0))), "split": float(np.median(split[~fit])),
            "held out": ", ".join(f"{d.name.split(' (')[0]} {e:.0f}%" for d, e, h in zip(dies, split, fit, strict=True)
                                     if not h)}


def sram_feed_w(d: dd.Die, a: Assumptions) -> float:
    """Candidate (not in the model): SRAM power feeding the matrix units at full rate, W. An n x n array
    (n = sqrt(MACs per unit)) takes n operands in and gives n results out per clock for n^2 MACs: operand
    bytes per FLOP = bytes per operand / n, each at Horowitz's large-SRAM energy scaled to the node."""
    from inferchip.cost import energy as en

    operand_bytes = 1.0 if d.matrix_format == "int8" else 2.0
    per_flop_bytes = operand_bytes / float(np.sqrt(d.macs_per_unit))
    return float(d.matrix_tflops * 1e12 * d.rating_scale * per_flop_bytes * en.sram_energy_j(1.0, d.node_nm, a))


@contextmanager
def changed(change: Change, treatment: str = "") -> Any:
    """Temporarily change every die with ``change``; ``treatment`` 'dram in activity' charges the DRAM
    power inside the activity factor's basis (the previous revision's treatment), 'sram feed' adds
    :func:`sram_feed_w` at its sourced energy; restored on exit."""
    load, basis_of = f.load_dies, f.power_basis_of

    def moved(dies: list[dd.Die], a: Assumptions) -> Any:
        b = basis_of(dies, a).copy()
        if treatment == "dram in activity":
            b[:, 0] += b[:, 4]
            b[:, 4] = 0.0
        else:
            b[:, 4] += [sram_feed_w(d, a) for d in dies]
        return b

    f.load_dies = lambda: [change(d) for d in load()]
    if treatment:
        f.power_basis_of = moved
    try:
        yield
    finally:
        f.load_dies, f.power_basis_of = load, basis_of


def _previous_bandwidth(d: dd.Die) -> dd.Die:
    bw = float(c.memory_unit(d.memory_type, "bytes_per_s")) * d.memory_units
    return dataclasses.replace(d, memory_bytes_per_s=bw, dram_level=d.memory_type if bw else "none")


TDP_CHANGES: dict[str, tuple[Change, str]] = {
    "this model": (lambda d: d, ""),
    "GroqChip at its nominal 0.9 GHz": (lambda d: dataclasses.replace(d, tdp_clock_ghz=0.0), ""),
    "every rated power encloses its DRAM": (lambda d: dataclasses.replace(d, tdp_scope="board"), ""),
    "no TPU's rated power encloses its HBM": (
        lambda d: dataclasses.replace(d, dram_level="none") if d.name.startswith("TPU") else d, ""),
    "vector lanes of the whole die": (
        lambda d: dataclasses.replace(d, vector_lanes=d.vector_lanes / d.enabled_fraction), ""),
    "DRAM inside the activity factor": (lambda d: d, "dram in activity"),
    "bandwidth: PHY count x per-unit peak": (_previous_bandwidth, ""),
    "all of the above but the TPU and SRAM rows (previous model)": (
        lambda d: _previous_bandwidth(dataclasses.replace(d, tdp_clock_ghz=0.0, tdp_scope="board",
                                                          vector_lanes=d.vector_lanes / d.enabled_fraction)),
        "dram in activity"),
    "+ SRAM operand feed at full matrix rate (candidate)": (lambda d: d, "sram feed"),
}


def tdp_sensitivity(a: Assumptions) -> None:
    """Print the TDP medians with one change at a time (:data:`TDP_CHANGES`)."""
    print("| TDP model | fit-die LOO | LOO | split | held out (split) |")
    print("|---|---|---|---|---|")
    for name, (change, treatment) in TDP_CHANGES.items():
        with changed(change, treatment):
            m = power_measures(a)
        print(f"| {name} | {m['fit-die LOO']:.1f}% | {m['LOO']:.1f}% | {m['split']:.1f}% | {m['held out']} |")


def main(argv: list[str]) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sensitivity", action="store_true",
                    help="also the same measures under the previous revision's physics (~2 min)")
    sensitivity = ap.parse_args(argv).sensitivity
    r = f.accuracy(load_assumptions())
    print(f"dies {r['n_dies']}, held out {r['area_holdout_n']} (every {dd.HOLDOUT_EVERY}rd by first disclosure)")
    for k, v in r.items():
        if k.endswith("_pct"):
            print(f"  {k}: {v:.1f}")
    print(f"  power_loo_n {r['power_loo_n']}, power_holdout_n {r['power_holdout_n']}, tdp_n {r['tdp_n']}")
    print("coefficients:", r["coefficients"])
    a = load_assumptions()
    dies = f.load_dies()
    dram = dict(zip([d.name for d in dies], f.dram_w(dies, a), strict=True))
    scope = {d.name: d.tdp_scope for d in dies}
    print("| die | role | published mm2 | LOO model mm2 | LOO | split model mm2 | split | LOO, previous structure |"
          " rated TDP W (scope) | DRAM W in it | LOO W | LOO | split W | split |")
    for x in r["area_rows"]:
        tdp = x["tdp_w"]
        pw = (f"{tdp:.0f} ({scope[x['die']]}) | {dram[x['die']]:.0f} | {x['loo_power_w']:.0f} | "
              f"{x['loo_power_ape_pct']:.0f}% | {x['split_power_w']:.0f} | "
              f"{x['split_power_ape_pct']:.0f}%") if tdp else " | | | | |"
        print(f"| {x['die']} | {x['role']} | {x['area_mm2']:.0f} | {x['loo_area_mm2']:.0f} | "
              f"{x['loo_area_ape_pct']:.0f}% | {x['split_area_mm2']:.0f} | {x['split_area_ape_pct']:.0f}% | "
              f"{x['loo_area_previous_ape_pct']:.0f}% | {pw} |")
    print("structure candidates, median LOO over the fit dies:")
    for name, v in f.variant_selection().items():
        print(f"  {name}: {v:.1f}")
    print("power structure candidates, median TDP LOO over the fit dies with a TDP:")
    for name, v in f.power_variant_selection(a).items():
        print(f"  {name}: {v:.1f}")
    tdp_sensitivity(a)
    print("| chip | rated TDP W | model full-rate W | error vs TDP | same die on a higher-power board |"
          " sustained reference W | error vs it |")
    for t in r["tdp_rows"]:
        name = t["chip_id"] + (" (die in the fit)" if t["in_power_fit"] else "")
        print(f"| {name} | {t['tdp_w']:.0f} | {t['model_w']:.0f} | {t['tdp_ape_pct']:.0f}% | "
              f"{'yes' if t['power_limited'] else 'no'} | {t['sustained_w']:.0f} | {t['sustained_ape_pct']:.0f}% |")
    if sensitivity:
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
