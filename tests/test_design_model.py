"""The design area, TDP and cost model (inferchip.cost.design): hand calculations, physics, the fit's hold-out."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inferchip.catalog.assumptions import load_assumptions
from inferchip.cost.design import constants as c
from inferchip.cost.design import fit as fit_mod
from inferchip.cost.design.model import AreaCoefficients, area_parts_mm2, split_dies, tdp_w

A = load_assumptions()
COEF = AreaCoefficients(k_mac_mm2=1e-3, k_unit_mm2=0.3, eta=1.0, a_fixed_mm2=50.0, k_tdp=1.0)


def test_area_parts_by_hand_at_7nm():
    # 100 units of 32 x 32 MACs, bf16 only, 7 nm (logic scale 1), 10 MB SRAM, 4 HBM3 stacks, 200 GB/s links
    p = area_parts_mm2(COEF, 100, 1024, "bf16", 7.0, 10.0, "hbm3", 4, 200e9)
    assert float(p["matrix_mm2"]) == pytest.approx(1e-3 * 100 * 1024)
    assert float(p["unit_mm2"]) == pytest.approx(0.3 * 100)
    assert float(p["sram_mm2"]) == pytest.approx(1.6 * 10 * 8e6 * 0.027e-6)
    assert float(p["phy_mm2"]) == pytest.approx(4 * 12.0)
    assert float(p["io_mm2"]) == pytest.approx(2.0 * 2)
    assert float(p["fixed_mm2"]) == pytest.approx(50.0)


def test_a_compute_chiplet_without_io_has_no_uncore():
    p = area_parts_mm2(COEF, 100, 1024, "bf16", 7.0, 10.0, "none", 0, 0.0)
    assert float(p["fixed_mm2"]) == 0.0 and float(p["phy_mm2"]) == 0.0 and float(p["io_mm2"]) == 0.0


def test_a_smaller_node_shrinks_logic_by_the_density_ratio():
    p7 = area_parts_mm2(COEF, 100, 1024, "bf16", 7.0, 0.0, "none", 0, 0.0)
    p5 = area_parts_mm2(COEF, 100, 1024, "bf16", 5.0, 0.0, "none", 0, 0.0)
    ratio = c.LOGIC_DENSITY_MTR_PER_MM2[7.0].value / c.LOGIC_DENSITY_MTR_PER_MM2[5.0].value
    assert float(p5["matrix_mm2"]) == pytest.approx(float(p7["matrix_mm2"]) * ratio)


@given(st.floats(10.0, 5000.0))
def test_split_dies_fit_the_reticle_and_hold_the_area(area):
    n, per, ok = split_dies(np.array([area]), max_dies=16)
    assert per[0] <= c.RETICLE_MM2.value + 1e-9
    grow = 1.0 if n[0] == 1 else 1.0 + c.D2D_AREA_FRACTION.value
    assert per[0] * n[0] == pytest.approx(area * grow)
    assert (n[0] == 1) == (area <= c.RETICLE_MM2.value)
    assert ok[0]


def test_more_dies_than_allowed_is_infeasible():
    _, _, ok = split_dies(np.array([500.0, 1000.0, 2000.0]), max_dies=1)
    assert ok.tolist() == [True, False, False]


@settings(max_examples=30, deadline=None)
@given(st.floats(1e13, 5e15), st.floats(1e11, 1e13), st.sampled_from([3.0, 5.0, 7.0]))
def test_tdp_grows_with_compute_and_bandwidth(peak, bw, node):
    base = float(tdp_w(COEF, peak, node, "hbm3e", bw, 1e11, A))
    assert float(tdp_w(COEF, 2 * peak, node, "hbm3e", bw, 1e11, A)) > base
    assert float(tdp_w(COEF, peak, node, "hbm3e", 2 * bw, 1e11, A)) > base


def test_the_fit_ignores_held_out_dies():
    dies = fit_mod.load_dies()
    assert sum(d.role == "holdout" for d in dies) >= 6
    assert all(d.chip_id for d in dies if d.role == "holdout"), "held-out dies are the catalogue's"
    before = fit_mod.fit(dies, A)
    moved = [dataclasses.replace(d, area_mm2=d.area_mm2 * 3.0) if d.role == "holdout" else d for d in dies]
    assert fit_mod.fit(moved, A) == before
    fitted_again = fit_mod.fit([dataclasses.replace(d, area_mm2=d.area_mm2 * 1.5) if d.role == "fit" else d
                                for d in dies], A)
    assert fitted_again != before


def test_accuracy_reports_both_medians():
    r = fit_mod.accuracy(A)
    assert r["area_holdout_n"] >= 6 and r["tdp_holdout_n"] >= 6
    hold = [x["area_ape_pct"] for x in r["area_rows"] if x["role"] == "holdout"]
    assert r["area_holdout_median_ape_pct"] == pytest.approx(float(np.median(hold)))
