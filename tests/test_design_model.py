"""The design area, TDP and cost model (inferchip.cost.design): hand calculations, physics, the fit's hold-out."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inferchip.catalog.assumptions import load_assumptions
from inferchip.cost.design import constants as c
from inferchip.cost.design import dies as dies_mod
from inferchip.cost.design import fit as fit_mod
from inferchip.cost.design.model import AreaCoefficients, area_parts_mm2, split_dies, tdp_w

A = load_assumptions()
COEF = AreaCoefficients(k_mac_mm2=1e-3, k_unit_mm2=0.3, eta=1.0, a_fixed_mm2=50.0, k_act=0.8, leak_w_per_mm2=0.05)


def test_area_parts_by_hand_at_7nm():
    # 100 units of 32 x 32 MACs, bf16 only, 7 nm (logic scale 1), 10 MB SRAM, 4 HBM3 stacks, 200 GB/s links
    p = area_parts_mm2(COEF, 100, 1024, "bf16", 7.0, 10.0, "hbm3", 4, 200e9)
    assert float(p["matrix_mm2"]) == pytest.approx(1e-3 * 100 * 1024)
    assert float(p["unit_mm2"]) == pytest.approx(0.3 * 100)
    assert float(p["sram_mm2"]) == pytest.approx(1.6 * 10 * 8e6 * 0.027e-6)
    assert float(p["phy_mm2"]) == pytest.approx(4 * 12.0)
    assert float(p["io_mm2"]) == pytest.approx(2.0 * 2)
    assert float(p["fixed_mm2"]) == pytest.approx(50.0)
    assert float(p["cpu_mm2"]) == 0.0 and float(p["soc_other_mm2"]) == 0.0
    assert float(p["graphics_mm2"]) == 0.0 and float(p["vector_mm2"]) == 0.0 and float(p["fp64_mm2"]) == 0.0


def test_graphics_vector_and_fp64_terms_by_hand():
    coef = dataclasses.replace(COEF, k_gfx_mm2=1.5, k_lane_mm2=0.02, k_fp64_mm2=0.004, k_sram=2.0)
    # 100 units of 32 x 32 MACs, 3200 vector lanes, 60 graphics SMs, 2048 FP64 lanes, 10 MB SRAM
    p = area_parts_mm2(coef, 100, 1024, "bf16", 7.0, 10.0, "none", 0, 0.0, graphics_sms=60, fp64_lanes=2048,
                       vector_lanes=3200)
    assert float(p["vector_mm2"]) == pytest.approx(0.02 * 3200)
    assert float(p["graphics_mm2"]) == pytest.approx(1.5 * 60)
    assert float(p["fp64_mm2"]) == pytest.approx(0.004 * 2048)
    assert float(p["sram_mm2"]) == pytest.approx(2.0 * 10 * 8e6 * 0.027e-6)
    # at 5 nm the logic terms shrink by the density ratio (eta 1), SRAM by the bitcell ratio
    p5 = area_parts_mm2(coef, 100, 1024, "bf16", 5.0, 10.0, "none", 0, 0.0, graphics_sms=60, fp64_lanes=2048,
                        vector_lanes=3200)
    ratio = c.LOGIC_DENSITY_MTR_PER_MM2[7.0].value / c.LOGIC_DENSITY_MTR_PER_MM2[5.0].value
    assert float(p5["graphics_mm2"]) == pytest.approx(1.5 * 60 * ratio)
    assert float(p5["sram_mm2"]) == pytest.approx(2.0 * 10 * 8e6 * 0.021e-6)


def test_soc_blocks_by_hand():
    # 12 CPU cores at 16 nm (the core figure's node: no scaling) and a 30 mm2 GPU/ISP block
    p = area_parts_mm2(COEF, 2, 9216, "int8", 16.0, 0.0, "lpddr5x", 4, 0.0, 12, 30.0)
    assert float(p["cpu_mm2"]) == pytest.approx(12 * c.CPU_CORE_MM2.value)
    assert float(p["soc_other_mm2"]) == pytest.approx(30.0)
    p7 = area_parts_mm2(COEF, 2, 9216, "int8", 7.0, 0.0, "lpddr5x", 4, 0.0, 12, 30.0)
    ratio = c.LOGIC_DENSITY_MTR_PER_MM2[16.0].value / c.LOGIC_DENSITY_MTR_PER_MM2[7.0].value
    assert float(p7["cpu_mm2"]) == pytest.approx(12 * c.CPU_CORE_MM2.value * ratio)


def test_a_design_gets_the_vector_lanes_of_its_vector_rate():
    # a design names no lanes: VECTOR_FRACTION_OF_BF16 of its bf16 MACs (the explore's vector rate)
    coef = dataclasses.replace(COEF, k_lane_mm2=0.02)
    p = area_parts_mm2(coef, 100, 1024, "bf16", 7.0, 0.0, "none", 0, 0.0)
    assert float(p["vector_mm2"]) == pytest.approx(0.02 * 100 * 1024 * c.VECTOR_FRACTION_OF_BF16.value)


def test_host_io_given_overrides_the_design_rule():
    p = area_parts_mm2(COEF, 100, 1024, "bf16", 7.0, 0.0, "hbm3", 4, 0.0, host_io=0)
    assert float(p["fixed_mm2"]) == 0.0
    p = area_parts_mm2(COEF, 100, 1024, "bf16", 7.0, 0.0, "none", 0, 0.0, host_io=1)
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
    base = float(tdp_w(COEF, peak, node, "hbm3e", bw, 1e11, 500.0, A))
    assert float(tdp_w(COEF, 2 * peak, node, "hbm3e", bw, 1e11, 500.0, A)) > base
    assert float(tdp_w(COEF, peak, node, "hbm3e", 2 * bw, 1e11, 500.0, A)) > base
    assert float(tdp_w(COEF, peak, node, "hbm3e", bw, 1e11, 1000.0, A)) == pytest.approx(base + 0.05 * 500.0)


def test_power_is_activity_times_dynamic_plus_dram_plus_leakage_by_hand():
    from inferchip.cost.design.model import dynamic_w

    # the activity multiplies the matrix and link energy only; the DRAM draws its sourced energy (k_mem 1)
    dyn = float(dynamic_w(1e15, 5.0, "none", 0.0, 4e11, A))
    dram = 3e12 * 8 * (4.84 + 0.29) * 1e-12  # HBM3 device 4.84 pJ/bit + PHY 0.29 pJ/bit (assumptions file)
    assert dram == pytest.approx(123.12)
    got = float(tdp_w(COEF, 1e15, 5.0, "hbm3", 3e12, 4e11, 800.0, A))
    assert got == pytest.approx(0.8 * dyn + dram + 0.05 * 800.0)
    # a rated power that does not enclose the DRAM (a chip TDP, LPDDR beside the package) leaves it out
    assert float(tdp_w(COEF, 1e15, 5.0, "hbm3", 3e12, 4e11, 800.0, A, dram_in_tdp=0.0)) == pytest.approx(
        0.8 * dyn + 0.05 * 800.0)


def test_dram_power_by_hand():
    from inferchip.cost.design.model import memory_power_w

    # GDDR6 7.5 pJ/bit (Micron) at the T4's 320 GB/s: 19.2 W; LPDDR5 4.5 pJ/bit at MTIA v2's 204.8 GB/s: 7.37 W;
    # HBM2 (the HBM2E level, 6.0 + 0.29 PHY) at V100's 900 GB/s: 45.3 W; no DRAM: 0
    got = memory_power_w(np.array(["gddr6", "lpddr5", "hbm2e", "none"]), np.array([320e9, 204.8e9, 900e9, 0.0]), A)
    assert got.tolist() == pytest.approx([19.2, 7.3728, 45.288, 0.0])


def test_the_rated_power_encloses_the_dram_on_its_board_or_in_its_package():
    from inferchip.cost.design.model import dram_in_rated_power

    scopes = np.array(["board", "board", "package", "package", "package", "board"])
    types = np.array(["gddr6", "hbm3", "hbm2e", "lpddr5", "ddr4", "none"])
    assert dram_in_rated_power(scopes, types).tolist() == [1.0, 1.0, 1.0, 0.0, 0.0, 1.0]


def test_each_die_states_its_rated_bandwidth_scope_and_clock_with_a_source():
    from inferchip.cost.design.model import TDP_SCOPES

    for d in fit_mod.load_dies():
        assert d.tdp_scope in TDP_SCOPES and ("tdp_scope" in d.source or not d.tdp_w), d.name
        assert (d.memory_bytes_per_s > 0) == (d.dram_level != "none"), d.name
        if d.memory_bytes_per_s:
            assert "memory_gb_per_s" in d.source, d.name
        if d.tdp_clock_ghz:
            assert "tdp_clock_ghz" in d.source and d.tdp_clock_ghz >= d.clock_ghz, d.name


def test_a_die_file_with_an_unknown_scope_is_refused(monkeypatch):
    from importlib import resources

    from inferchip.errors import InferchipError

    text = resources.files("inferchip.catalog").joinpath(dies_mod.DIES_FILE).read_text(encoding="utf-8")
    bad = text.replace(",board,", ",wall,", 1)
    assert bad != text

    class Fake:
        def joinpath(self, name):
            return self

        def read_text(self, encoding):
            return bad

    monkeypatch.setattr(dies_mod.resources, "files", lambda pkg: Fake())
    with pytest.raises(InferchipError, match="tdp_scope 'wall'"):
        dies_mod.load_dies()


def test_a_die_rated_above_its_nominal_clock_is_charged_at_the_rated_clock():
    # a die without links: its whole dynamic basis is matrix work, which scales with the clock
    die = next(d for d in fit_mod.load_dies() if d.tdp_w and not d.tdp_clock_ghz and not d.link_bytes_per_s)
    faster = dataclasses.replace(die, tdp_clock_ghz=die.clock_ghz * 1.5)
    b, b15 = fit_mod.power_basis_of([die], A)[0], fit_mod.power_basis_of([faster], A)[0]
    assert b15[0] == pytest.approx(b[0] * 1.5) and b15[1] == pytest.approx(b[1] * 1.5)
    assert b15[2:].tolist() == pytest.approx(b[2:].tolist())


def test_fused_off_units_draw_no_vector_power():
    dies = {d.name: d for d in fit_mod.load_dies()}
    # A100 enables 108 of GA100's 128 SMs: 312 TFLOP/s / (2 x 512 x 256 x 1.41 GHz) = 0.844 = 108 / 128
    ga100 = dies["GA100 (A100)"]
    assert ga100.enabled_fraction == pytest.approx(108 / 128, rel=2e-3)
    # the vector basis counts the enabled lanes: 8192 x 0.844 lanes x 1.41 GHz x 4.6 pJ x 0.0672 (7 nm)
    v = fit_mod.power_basis_of([ga100], A)[0, 1]
    assert v == pytest.approx(8192 * ga100.enabled_fraction * 1.41e9 * 4.6e-12 * 0.0672)
    # a die whose product enables every unit (A40: all 84 GA102 SMs) keeps all its lanes
    assert dies["GA102 (A40)"].enabled_fraction == pytest.approx(1.0, abs=1e-3)


@settings(max_examples=40, deadline=None)
@given(st.floats(1.0, 2000.0), st.floats(0.3, 3.0), st.floats(0.0, 1e13), st.sampled_from([3.0, 5.0, 7.0, 16.0]),
       st.sampled_from(["hbm3e", "hbm2e", "gddr6", "lpddr5x", "none"]), st.sampled_from([0.0, 1.0]))
def test_fitted_tdp_rises_with_units_clock_and_bandwidth_and_is_never_negative(units, ghz, bw, node, mem, inside):
    coef = fit_mod.fitted(A)

    def p(u: float, g: float, b: float) -> float:
        peak = 2.0 * u * 16384 * g * 1e9
        return float(tdp_w(coef, peak, node, mem, b, 1e11, 400.0, A, "bf16", peak / 16.0, 1.0, inside))

    base = p(units, ghz, bw)
    assert base >= 0.0
    assert p(units * 1.5, ghz, bw) > base and p(units, ghz * 1.5, bw) > base
    assert p(units, ghz, bw * 1.5 + 1e9) >= base
    if mem != "none" and inside > 0:
        assert p(units, ghz, bw * 1.5 + 1e9) > base


def test_leave_one_out_never_sees_the_die_it_predicts():
    dies = fit_mod.load_dies()
    assert len(dies) >= 12 and sum(d.role == "holdout" for d in dies) >= 6
    area, _ = fit_mod.leave_one_out(dies[:8], A)
    # tripling one die's published area changes only the others' predictions, never its own
    moved = [dataclasses.replace(d, area_mm2=d.area_mm2 * 3.0) if i == 0 else d for i, d in enumerate(dies[:8])]
    area_moved, _ = fit_mod.leave_one_out(moved, A)
    assert area_moved[0] == pytest.approx(area[0])
    assert not np.allclose(area_moved[1:], area[1:])


def test_the_declared_split_is_every_third_die_by_disclosure_date():
    dies = fit_mod.load_dies()
    order = sorted(dies, key=lambda d: (d.announced, d.name))
    assert [d.role for d in order] == ["holdout" if (k + 1) % 3 == 0 else "fit" for k in range(len(order))]
    # the rule never looks at areas or errors: scrambling every area leaves the roles as they are
    moved = [dataclasses.replace(d, area_mm2=d.area_mm2 * (1.0 + 0.1 * i), role="") for i, d in enumerate(dies)]
    assert dies_mod.declared_roles(moved) == [d.role for d in dies]
    assert all(len(d.announced) == 7 and d.announced[4] == "-" and "announced" in d.source for d in dies)


def test_the_uncore_does_not_shrink_with_the_node_unless_asked():
    p7 = area_parts_mm2(COEF, 100, 1024, "bf16", 7.0, 0.0, "hbm3", 4, 0.0)
    p16 = area_parts_mm2(COEF, 100, 1024, "bf16", 16.0, 0.0, "hbm3", 4, 0.0)
    assert float(p16["fixed_mm2"]) == pytest.approx(float(p7["fixed_mm2"])) == pytest.approx(50.0)
    scaled = dataclasses.replace(COEF, uncore_scaled=True)
    ratio = c.LOGIC_DENSITY_MTR_PER_MM2[7.0].value / c.LOGIC_DENSITY_MTR_PER_MM2[16.0].value
    assert float(area_parts_mm2(scaled, 100, 1024, "bf16", 16.0, 0.0, "hbm3", 4, 0.0)["fixed_mm2"]) == pytest.approx(
        50.0 * ratio)


def test_an_int8_only_array_costs_the_horowitz_ratio_of_a_bf16_one():
    from inferchip.cost import energy as en
    from inferchip.cost.design.model import dynamic_w

    # area: 0.10 of a bf16 MAC (Horowitz's 0.072 arithmetic ratio raised for registers and wiring)
    p8 = area_parts_mm2(COEF, 1, 65536, "int8", 7.0, 0.0, "none", 0, 0.0)
    assert float(p8["matrix_mm2"]) == pytest.approx(1e-3 * 65536 * 0.10)
    # energy: (0.2 + 0.1) / (1.1 + 0.9) pJ = 0.15 of the energy model's bf16 figure, not its 1/2 int8 one
    e_bf16 = float(en.energy_per_flop_j("bf16", 28.0, A))
    assert float(dynamic_w(92e12, 28.0, "none", 0.0, 0.0, A, "int8")) == pytest.approx(92e12 * e_bf16 * 0.15)
    assert float(dynamic_w(92e12, 28.0, "none", 0.0, 0.0, A, "bf16")) == pytest.approx(92e12 * e_bf16)


@pytest.fixture(scope="module")
def acc():
    return fit_mod.accuracy(A)


def test_non_gpu_and_gpu_medians_split_the_dies(acc):
    r = acc
    rows = r["area_rows"]
    assert any(x["gpu"] for x in rows) and any(not x["gpu"] for x in rows)
    assert r["area_loo_non_gpu_median_ape_pct"] == pytest.approx(
        float(np.median([x["loo_area_ape_pct"] for x in rows if not x["gpu"]])))


def test_the_docs_report_the_computed_medians(acc):
    """docs/explore.md states the area and power medians this code computes (one decimal)."""
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "docs" / "explore.md").read_text(encoding="utf-8")
    r = acc
    line = (f"Summary: area leave-one-out {r['area_loo_median_ape_pct']:.1f}% ({r['n_dies']} dies; non-GPU "
            f"{r['area_loo_non_gpu_median_ape_pct']:.1f}%), declared split {r['area_holdout_median_ape_pct']:.1f}% "
            f"({r['area_holdout_n']} held out); TDP leave-one-out {r['power_loo_median_ape_pct']:.1f}% "
            f"({r['power_loo_n']} dies), declared split {r['power_holdout_median_ape_pct']:.1f}% "
            f"({r['power_holdout_n']} held out).")
    assert line in " ".join(text.split()), line


def test_a_slot_powered_board_caps_the_modelled_power():
    dies = fit_mod.load_dies()
    capped = [d for d in dies if np.isfinite(d.board_cap_w)]
    assert capped, "the bundled dies declare at least one board cap"
    hot = dataclasses.replace(COEF, k_act=50.0)  # full-rate power far above any cap
    assert fit_mod.die_power_w(hot, capped, A).tolist() == [d.board_cap_w for d in capped]
    uncapped = [dataclasses.replace(d, board_cap_w=float("inf")) for d in capped]
    assert np.all(fit_mod.die_power_w(hot, uncapped, A) > [d.board_cap_w for d in capped])


def test_new_die_columns_carry_sources():
    for d in fit_mod.load_dies():
        if d.graphics_sms:
            assert "graphics_sms" in d.source and "RT core" in d.source, d.name
        if d.fp64_lanes:
            assert "fp64_lanes" in d.source, d.name
        if np.isfinite(d.board_cap_w):  # a PCIe CEM power level: slot, slot + one 6-pin, the 300 W card limit
            levels = (c.PCIE_SLOT_POWER_W.value, c.PCIE_SLOT_POWER_W.value + c.PCIE_6PIN_POWER_W.value,
                      c.PCIE_CARD_MAX_POWER_W.value)
            assert "board_cap_w" in d.source and d.board_cap_w in levels, d.name


def test_variant_selection_sees_only_the_fit_dies(monkeypatch):
    dies = fit_mod.load_dies()
    before = fit_mod.variant_selection()
    assert set(before) == set(fit_mod.VARIANTS)
    assert fit_mod.VARIANTS["+ graphics + FP32 vector lanes"] == fit_mod.AREA_TERMS
    moved = [dataclasses.replace(d, area_mm2=d.area_mm2 * 2.0) if d.role == "holdout" else d for d in dies]
    monkeypatch.setattr(fit_mod, "load_dies", lambda: moved)
    assert fit_mod.variant_selection() == pytest.approx(before)


def test_the_declared_split_ignores_held_out_dies():
    dies = fit_mod.load_dies()
    train = [d for d in dies if d.role == "fit"]
    before = fit_mod.fit(train, A)
    assert fit_mod.fit([dataclasses.replace(d, area_mm2=d.area_mm2 * 1.5) for d in train], A) != before


def test_accuracy_reports_the_medians(acc):
    r = acc
    assert r["area_holdout_n"] >= 6 and r["tdp_n"] >= 6 and r["n_dies"] >= 12
    loo = [x["loo_area_ape_pct"] for x in r["area_rows"]]
    assert r["area_loo_median_ape_pct"] == pytest.approx(float(np.median(loo)))
    hold = [x["split_area_ape_pct"] for x in r["area_rows"] if x["role"] == "holdout"]
    assert r["area_holdout_median_ape_pct"] == pytest.approx(float(np.median(hold)))
    hold_pw = [x["split_power_ape_pct"] for x in r["area_rows"] if x["role"] == "holdout" and x["tdp_w"]]
    assert r["power_holdout_n"] == len(hold_pw) and r["power_holdout_median_ape_pct"] == pytest.approx(
        float(np.median(hold_pw)))
    prev = [x["loo_area_previous_ape_pct"] for x in r["area_rows"]]
    assert r["area_loo_previous_median_ape_pct"] == pytest.approx(float(np.median(prev)))
    for row in r["tdp_rows"]:
        assert row["sustained_w"] >= row["tdp_w"]
