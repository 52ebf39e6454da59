"""One good die, one rule (stop 50, branch headroom50): ``cost.silicon.good_die`` gives the figures a good die's cost is
made of, and the cost lines of ``inferchip cost`` read it for the compute dies and for each base-die class, so the
lines sum to the total ``cost.silicon.chip_cost_breakdown`` gives (before, the base-die line priced its class again).
Hand figures as tests/test_cost_base_dies.py: 300 mm wafer, no edge exclusion or scribe, negative-binomial yield."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from inferchip.catalog.assumptions import load_assumptions
from inferchip.catalog.chips import chip_ids, load_chip
from inferchip.cost.chip_cost import chip_cost
from inferchip.cost.economics import manufacturing_cost_usd
from inferchip.cost.silicon import base_dies_at, good_die, good_die_cost_usd

A = load_assumptions()
WITH_BASE_DIES = [c for c in chip_ids() if load_chip(c).silicon.base_dies]


@given(area=st.floats(20.0, 858.0), node=st.sampled_from([3.0, 4.0, 5.0, 6.0, 7.0, 12.0, 16.0, 28.0]))
def test_a_good_die_is_its_wafer_over_good_dies_per_wafer(area, node):
    die = good_die(area, node, A)
    dpw = math.pi * 150.0**2 / area - math.pi * 300.0 / math.sqrt(2.0 * area)
    y = (1.0 + area / 100.0 * die.d0_per_cm2 / 3.0) ** -3.0
    assert die.dies_per_wafer == pytest.approx(dpw, rel=1e-12) and die.yield_fraction == pytest.approx(y, rel=1e-12)
    assert die.cost_usd == pytest.approx(die.wafer_usd / (dpw * y), rel=1e-12)
    assert die.cost_usd == float(good_die_cost_usd(area, node, A))  # the vectorised rule, exactly


def test_chips_with_base_dies_are_catalogued():
    assert len(WITH_BASE_DIES) >= 3  # AMD's MI300X, MI325X, MI355X at least: the test below has rows to check


@pytest.mark.parametrize("chip", WITH_BASE_DIES)
@pytest.mark.parametrize("level", ["low", "central", "high"])
def test_the_die_class_lines_sum_to_the_totals_base_dies(chip, level):
    spec = load_chip(chip)
    made = manufacturing_cost_usd(spec, A, level)
    lines = {line.item: line.value for line in chip_cost(spec, A, level).lines}
    classes = base_dies_at(spec, level)
    shown = [lines[f"{d.role}: {d.count} x {mm2:g} mm2, {d.node_nm:g} nm"] for d, mm2 in classes]
    assert sum(shown) == made["base_dies_usd"]  # the same floats, summed in the same order
    assert lines["good-die cost"] * spec.silicon.compute_die_count == made["logic_dies_usd"]
