"""Silicon cost: dies per wafer, yield models and cost per good die, checked by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from inferchip.catalog.assumptions import load_assumptions
from inferchip.cost.silicon import (
    NoSiliconDataError,
    chip_cost_breakdown,
    defect_density_per_cm2,
    dies_per_wafer,
    good_die_cost_usd,
    wafer_price_usd,
    yield_murphy,
    yield_negative_binomial,
    yield_poisson,
)
from inferchip.errors import InferchipError, InvalidSettingError

A = load_assumptions()  # the bundled constants: cost functions take them as an argument

H100_DIE_MM2 = 814.0


def test_dies_per_wafer_814mm2_by_hand():
    # METHODS.md 2.11: 300 mm wafer, no edge exclusion or scribe.
    gross = math.pi * 150.0**2 / 814.0  # 70,685.8 mm2 / 814 mm2 = 86.84
    edge_loss = math.pi * 300.0 / math.sqrt(2 * 814.0)  # 942.48 / 40.35 = 23.36
    assert gross - edge_loss == pytest.approx(63.48, abs=0.01)
    assert dies_per_wafer(H100_DIE_MM2) == pytest.approx(gross - edge_loss)


def test_edge_exclusion_and_scribe_lose_dies():
    plain = dies_per_wafer(100.0)
    # 3 mm edge: usable diameter 294 mm -> pi 147^2/100 - pi 294/sqrt(200) = 678.87 - 65.31
    assert dies_per_wafer(100.0, edge_exclusion_mm=3.0) == pytest.approx(
        math.pi * 147**2 / 100 - math.pi * 294 / math.sqrt(200)
    )
    # 0.1 mm scribe: a 10 mm die occupies 10.1 x 10.1 mm
    assert dies_per_wafer(100.0, scribe_mm=0.1) == pytest.approx(
        math.pi * 150**2 / 102.01 - math.pi * 300 / math.sqrt(2 * 102.01)
    )
    assert dies_per_wafer(100.0, edge_exclusion_mm=3.0) < plain and dies_per_wafer(100.0, scribe_mm=0.1) < plain


def test_dies_per_wafer_is_vectorised_and_zero_when_too_big():
    out = dies_per_wafer(np.array([100.0, 814.0, 60000.0]))
    assert out.shape == (3,) and out[0] > out[1] > 0 and out[2] == 0.0


def test_yield_models_by_hand():
    ad = 8.14 * 0.1  # 814 mm2 = 8.14 cm2 at D0 0.1/cm2
    assert yield_negative_binomial(H100_DIE_MM2, 0.1) == pytest.approx((1 + ad / 3) ** -3)
    assert yield_negative_binomial(H100_DIE_MM2, 0.1) == pytest.approx(0.4867, abs=1e-4)  # METHODS: 0.49
    assert yield_negative_binomial(H100_DIE_MM2, 0.2) == pytest.approx(0.2724, abs=1e-4)  # METHODS: 0.27
    assert yield_poisson(H100_DIE_MM2, 0.1) == pytest.approx(math.exp(-0.814))  # 0.4431
    assert yield_murphy(H100_DIE_MM2, 0.1) == pytest.approx(((1 - math.exp(-0.814)) / 0.814) ** 2)  # 0.4681
    assert yield_murphy(H100_DIE_MM2, 0.0) == 1.0 and yield_negative_binomial(H100_DIE_MM2, 0.0) == 1.0


@given(
    st.floats(min_value=1.0, max_value=900.0),
    st.floats(min_value=1.0, max_value=900.0),
    st.floats(min_value=0.0, max_value=1.0),
    st.floats(min_value=0.0, max_value=1.0),
)
def test_yield_falls_with_area_and_defect_density(a1, a2, d1, d2):
    small_a, big_a = sorted((a1, a2))
    low_d, high_d = sorted((d1, d2))
    assert yield_negative_binomial(big_a, low_d) <= yield_negative_binomial(small_a, low_d) + 1e-15
    assert yield_negative_binomial(small_a, high_d) <= yield_negative_binomial(small_a, low_d) + 1e-15
    # Clustering (NB) and Murphy's averaging both sit above Poisson (Jensen's inequality).
    assert yield_poisson(big_a, high_d) <= yield_negative_binomial(big_a, high_d) + 1e-15
    assert yield_poisson(big_a, high_d) <= yield_murphy(big_a, high_d) + 1e-15


def test_node_class_lookup():
    assert wafer_price_usd(5.0, A) == 16988 and wafer_price_usd(4.0, A) == 16988  # 4N is an N5-class node
    assert wafer_price_usd(6.0, A) == 9346 and wafer_price_usd(12.0, A) == 3984 and wafer_price_usd(14.0, A) == 3984
    assert wafer_price_usd(8.0, A) == 5992  # Samsung 8 nm -> 10 nm class
    assert defect_density_per_cm2(7.0, A) == 0.09
    with pytest.raises(InvalidSettingError, match="above 90"):
        wafer_price_usd(130.0, A)
    with pytest.raises(InvalidSettingError, match="node_nm"):
        wafer_price_usd(-3.0, A)


def test_good_die_cost_by_hand():
    # 814 mm2 at 5 nm class: $16,988 / (63.48 candidates x NB yield 0.4867 at D0 0.10) = $549.9
    dpw = math.pi * 150**2 / 814 - math.pi * 300 / math.sqrt(1628)
    y = (1 + 8.14 * 0.10 / 3) ** -3
    assert good_die_cost_usd(H100_DIE_MM2, 4.0, A) == pytest.approx(16988 / (dpw * y))
    assert good_die_cost_usd(H100_DIE_MM2, 4.0, A) == pytest.approx(549.9, abs=0.1)


@given(st.floats(min_value=10.0, max_value=850.0), st.floats(min_value=10.0, max_value=850.0))
def test_a_larger_die_never_costs_less(a1, a2):
    small, big = sorted((a1, a2))
    for node in (3.0, 5.0, 7.0, 16.0):
        assert good_die_cost_usd(big, node, A) >= good_die_cost_usd(small, node, A) * (1 - 1e-12)


def test_wafer_scale_dies_need_their_own_model():
    with pytest.raises(InvalidSettingError, match="wafer-scale"):
        good_die_cost_usd(46225.0, 5.0, A)


def test_chip_cost_breakdown_by_hand():
    # H100 SXM-like: one 814 mm2 4N die, 80 GiB HBM3, CoWoS-S.
    out = chip_cost_breakdown(H100_DIE_MM2, 1, 4.0, "HBM3", 80.0, "CoWoS-S", A, chip_id="nvidia-h100-sxm-80gb")
    assert out["logic_dies_usd"] == pytest.approx(549.9, abs=0.1)
    assert out["memory_usd"] == pytest.approx(80 * 17.5)  # $1.4k HBM (SiliconAnalysts bridge)
    assert out["packaging_usd"] == 750 and out["test_assembly_usd"] == 920
    assert out["total_usd"] == pytest.approx(549.9 + 1400 + 750 + 920, abs=0.1)
    # two compute dies cost twice the logic
    two = chip_cost_breakdown(H100_DIE_MM2, 2, 4.0, "HBM3e", 0.0, "cowos_l", A)
    assert two["logic_dies_usd"] == pytest.approx(2 * out["logic_dies_usd"]) and two["memory_usd"] == 0.0


def test_sram_only_chip_has_no_memory_bill():
    out = chip_cost_breakdown(725.0, 1, 14.0, "SRAM-only (no HBM/DRAM)", 0.23, "organic", A)
    assert out["memory_usd"] == 0.0 and out["packaging_usd"] == 20 and out["test_assembly_usd"] == 1


def test_missing_silicon_data_names_the_chip():
    with pytest.raises(NoSiliconDataError, match="no die area or node known for google-tpu-v5e"):
        chip_cost_breakdown(None, 1, 5.0, "HBM2", 16.0, "cowos-s", A, chip_id="google-tpu-v5e")
    with pytest.raises(InferchipError, match="no die area or node known for x"):
        chip_cost_breakdown(600.0, 1, None, "HBM2", 16.0, "cowos-s", A, chip_id="x")
    with pytest.raises(InvalidSettingError, match="package kind 'glass'.*cowos-s"):
        chip_cost_breakdown(600.0, 1, 5.0, "HBM2", 16.0, "glass", A)
