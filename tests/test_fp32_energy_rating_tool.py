"""tools/energy/fp32_energy_rating.py: the rating bound is (TDP - static) / FP32 peak (hand calculation on the
A100), the table figure is the A100's own rating point (the assumptions' derivation), and the implied power at the
FP32 peak is table x peak + static for every row."""

from __future__ import annotations

import pytest

from conftest import load_tool


@pytest.fixture(scope="module")
def rows():
    return {r["chip"]: r for r in load_tool("fp32_energy_rating").rating_rows()}


def test_a100_bound_by_hand(rows):
    r = rows["nvidia-a100-sxm-80gb"]
    # A100 SXM: 400 W TDP, 19.5 TFLOP/s FP32; static power = its idle (or 0.12 x TDP).
    assert r["bound_j"] == pytest.approx((400.0 - r["static_w"]) / 19.5e12, rel=1e-9)


def test_table_is_the_a100_rating_point(rows):
    # flop_pj_at_reference_node.fp32 = 400 W x 0.88 / 19.5e12 at the A100's own node: within the static-power
    # difference of the A100's bound (its idle against 12 % of TDP).
    r = rows["nvidia-a100-sxm-80gb"]
    assert r["table_j"] == pytest.approx(400.0 * 0.88 / 19.5e12, rel=1e-3)
    assert r["table_j"] / r["bound_j"] == pytest.approx(1.0, abs=0.05)


def test_power_at_peak_consistent(rows):
    assert rows
    for r in rows.values():
        assert r["power_at_peak_w"] == pytest.approx(r["table_j"] * r["fp32_flop_per_s"] + r["static_w"], rel=1e-12)
        assert r["bound_j"] > 0
