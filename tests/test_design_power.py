"""The design model's TDP terms (inferchip.cost.design.power_fit): hand calculations, the fit, the selection."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inferchip.catalog.assumptions import load_assumptions
from inferchip.cost.design import fit as fit_mod
from inferchip.cost.design import power_fit as pf
from inferchip.cost.design.model import AreaCoefficients, dynamic_w, tdp_w

A = load_assumptions()


def test_vector_basis_is_horowitz_fp32_fma_energy_scaled_by_node():
    # 45 nm: 1e12 FMA/s x (3.7 + 0.9) pJ = 4.6 W; 7 nm: x 0.0672 (TSMC chain in the assumptions file)
    assert float(pf.vector_basis_w(1e12, 45.0, A)) == pytest.approx(4.6)
    assert float(pf.vector_basis_w(1e12, 7.0, A)) == pytest.approx(4.6 * 0.0672)
    assert float(pf.vector_basis_w(2e12, 7.0, A)) == pytest.approx(2 * 4.6 * 0.0672)


def test_power_is_the_sum_of_the_terms_capped_by_the_board():
    basis = np.array([[100.0, 10.0, 500.0, 1.0, 0.0], [100.0, 10.0, 500.0, 0.0, 0.0]])
    coef = pf.coefficient_vector({"k_act": 0.5, "k_vec": 2.0, "leak_w_per_mm2": 0.01, "uncore_w": 5.0})
    # 0.5 x 100 + 2 x 10 + 0.01 x 500 + 5 x 1 = 80 W; the second has no host interface: 75 W
    assert pf.power_w(coef, basis).tolist() == pytest.approx([80.0, 75.0])
    assert pf.power_w(coef, basis, [75.0, np.inf]).tolist() == pytest.approx([75.0, 75.0])


def test_tdp_w_adds_the_vector_lanes_and_the_uncore_by_hand():
    coef = AreaCoefficients(k_mac_mm2=1e-3, k_unit_mm2=0.3, eta=1.0, a_fixed_mm2=50.0, k_act=0.8,
                            leak_w_per_mm2=0.05, k_vec=10.0, uncore_w=20.0)
    dyn = float(dynamic_w(1e15, 7.0, "none", 0.0, 4e11, A))
    dram = 3e12 * 8 * (4.84 + 0.29) * 1e-12  # HBM3 device + PHY pJ/bit (assumptions file), k_mem 1
    # 60 TFLOP/s of FP32 vector = 30e12 FMA/s x 4.6 pJ x 0.0672 x k_vec 10 = 92.7 W
    got = float(tdp_w(coef, 1e15, 7.0, "hbm3", 3e12, 4e11, 800.0, A, "bf16", 60e12, 1.0))
    assert got == pytest.approx(0.8 * dyn + dram + 10.0 * 30e12 * 4.6e-12 * 0.0672 + 0.05 * 800.0 + 20.0)


@settings(max_examples=20, deadline=None)
@given(st.floats(0.1, 2.0), st.floats(2.0, 40.0), st.floats(0.01, 0.3), st.floats(1.0, 50.0))
def test_the_fit_recovers_the_coefficients_that_made_the_data(k_act, k_vec, leak, uncore):
    rng = np.random.default_rng(0)
    basis = np.column_stack([rng.uniform(20, 800, 16), rng.uniform(0, 30, 16), rng.uniform(100, 800, 16),
                             rng.integers(0, 2, 16), rng.uniform(0, 100, 16)])
    true = {"k_act": k_act, "k_vec": k_vec, "leak_w_per_mm2": leak, "uncore_w": uncore}
    tdp = pf.power_w(pf.coefficient_vector(true), basis)
    got = pf.fit_power_terms(basis, tdp, np.full(16, np.inf))
    assert pf.power_w(pf.coefficient_vector(got), basis) == pytest.approx(tdp, rel=1e-3)
    assert got["k_act"] == pytest.approx(k_act, rel=0.05)


def test_a_capped_die_is_fitted_at_its_cap_whatever_the_excess():
    # three dies on the line P = 1 x D; a fourth far above its 75 W cap says nothing about k_act
    basis = np.array([[100.0, 0, 0, 0, 0], [200.0, 0, 0, 0, 0], [300.0, 0, 0, 0, 0], [1000.0, 0, 0, 0, 0]])
    got = pf.fit_power_terms(basis, [100.0, 200.0, 300.0, 75.0], [np.inf, np.inf, np.inf, 75.0], ("k_act",))
    assert got["k_act"] == pytest.approx(1.0, rel=1e-4)


def test_leave_one_out_power_never_sees_the_die_it_predicts():
    basis = np.array([[100.0, 0, 0, 0, 0], [200.0, 0, 0, 0, 0], [300.0, 0, 0, 0, 0]])
    loo = pf.leave_one_out_w(basis, [100.0, 200.0, 600.0], [np.inf] * 3, ("k_act",))
    # without the third die the other two say k_act = 1: the third is predicted 300 W, not its 600
    assert loo[2] == pytest.approx(300.0, rel=1e-4)


def test_power_terms_are_the_best_fit_die_variant_and_ignore_held_out_tdps(monkeypatch):
    before = fit_mod.power_variant_selection(A)
    assert set(before) == set(pf.POWER_VARIANTS)
    assert pf.POWER_VARIANTS[min(before, key=before.__getitem__)] == pf.POWER_TERMS
    moved = [dataclasses.replace(d, tdp_w=d.tdp_w * 2.0) if d.role == "holdout" and d.tdp_w else d
             for d in fit_mod.load_dies()]
    monkeypatch.setattr(fit_mod, "load_dies", lambda: moved)
    assert fit_mod.power_variant_selection(A) == pytest.approx(before)


def test_a_gpu_with_more_shader_lanes_draws_more_at_the_same_matrix_rate():
    coef = fit_mod.fitted(A)
    few = float(tdp_w(coef, 300e12, 5.0, "gddr6", 1e12, 0.0, 600.0, A, "bf16", 20e12, 1.0))
    many = float(tdp_w(coef, 300e12, 5.0, "gddr6", 1e12, 0.0, 600.0, A, "bf16", 90e12, 1.0))
    assert coef.k_vec > 1.0 and many > few
