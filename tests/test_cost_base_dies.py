"""A package's other die classes (``silicon.base_dies``: I/O or base dies) are costed at their own node (stop 49,
branch chiplet49). Hand figures: 300 mm wafer, no edge exclusion or scribe (catalog/assumptions.yaml), so
``DPW = pi 150^2 / A - pi 300 / sqrt(2 A)`` and the negative-binomial yield ``(1 + A D0 / 3)^-3`` (A in cm2)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from inferchip.catalog.assumptions import load_assumptions
from inferchip.catalog.chips import load_chip
from inferchip.cost.chip_cost import chip_cost, interposer_check, package_dies_mm2
from inferchip.cost.economics import manufacturing_cost_usd
from inferchip.cost.silicon import chip_cost_breakdown
from inferchip.errors import SpecError

A = load_assumptions()


def _good_die_by_hand(area_mm2: float, wafer_usd: float, d0_per_cm2: float) -> float:
    dpw = math.pi * 150.0**2 / area_mm2 - math.pi * 300.0 / math.sqrt(2.0 * area_mm2)
    y = (1.0 + area_mm2 / 100.0 * d0_per_cm2 / 3.0) ** -3.0
    return wafer_usd / (dpw * y)


def test_mi355x_die_classes_by_hand():
    # 8 XCDs of 110 mm2 on N3P: 3 nm class, $25,000 wafer, D0 0.10; DPW 579.06, yield 0.8976 -> $48.10 a die
    xcd = _good_die_by_hand(110.0, 25_000.0, 0.10)
    assert xcd == pytest.approx(48.10, abs=0.01)
    # 2 IODs of 700 mm2 (central estimate) on N6: 7 nm class, $9,346 wafer, D0 0.09; DPW 75.79, yield 0.5645
    iod = _good_die_by_hand(700.0, 9_346.0, 0.09)
    assert iod == pytest.approx(218.46, abs=0.01)
    made = manufacturing_cost_usd(load_chip("amd-mi355x"), A)
    assert made["logic_dies_usd"] == pytest.approx(8 * xcd, rel=1e-9)
    assert made["base_dies_usd"] == pytest.approx(2 * iod, rel=1e-9)  # $436.91
    # + 288 GiB HBM3E x $15.1 + CoWoS-S $750 + test $920
    assert made["total_usd"] == pytest.approx(8 * xcd + 2 * iod + 288 * 15.1 + 750 + 920, rel=1e-9)  # $6,840.50


def test_cost_shows_one_line_per_die_class_with_its_source():
    c = chip_cost(load_chip("amd-mi300x"), A)
    iod = [ln for ln in c.lines if ln.item.startswith("I/O die (IOD): 4 x 370 mm2, 6 nm")]
    assert len(iod) == 1
    assert iod[0].value == pytest.approx(4 * _good_die_by_hand(370.0, 9_346.0, 0.09), rel=1e-9)
    assert "servethehome.com" in iod[0].source and "inferchip estimate" in iod[0].source
    assert not any("I/O or base dies, if any, are not in the spec" in n for n in c.notes)
    assert any("only the compute dies are costed" in n for n in chip_cost(load_chip("nvidia-b200-180gb"), A).notes)


def test_stacked_base_dies_share_the_compute_dies_footprint():
    spec = load_chip("amd-mi300x")  # 8 x 115 mm2 XCDs on 4 x 370 mm2 IODs, 8 HBM3 stacks of 121 mm2
    assert package_dies_mm2(spec, 115.0) == pytest.approx(4 * 370.0)  # not 8 x 115 + 4 x 370
    check = interposer_check(spec, 115.0)
    assert check is not None and check.area_mm2 == pytest.approx(1480 + 8 * 121) and check.fits
    beside = spec.silicon.base_dies[0].model_copy(update={"under_compute_dies": False})
    flat = spec.model_copy(update={"silicon": spec.silicon.model_copy(update={"base_dies": (beside,)})})
    assert package_dies_mm2(flat, 115.0) == pytest.approx(8 * 115.0 + 4 * 370.0)


def test_compute_die_readers_still_read_compute_dies_only():
    spec = load_chip("amd-mi355x")
    assert spec.silicon.compute_die_count == 8 and spec.silicon.die_area_mm2 == 110
    assert [d.count for d in spec.silicon.base_dies] == [2]


die_class = st.tuples(st.integers(1, 8), st.floats(1.0, 858.0), st.sampled_from([2.0, 3.0, 5.0, 6.0, 7.0, 16.0, 28.0]))


@given(st.lists(die_class, max_size=3), die_class)
def test_adding_a_die_class_never_lowers_the_cost(classes, extra):
    def total(base):
        return chip_cost_breakdown(110.0, 8, 3.0, "hbm3e", 288.0, "cowos-s", A, base_dies=base)["total_usd"]

    before, after = total(classes), total([*classes, extra])
    assert after >= before
    assert after - before == pytest.approx(
        chip_cost_breakdown(extra[1], extra[0], extra[2], None, None, "organic", A)["logic_dies_usd"], rel=1e-9)


def _chip_doc(base_die: dict) -> dict:
    die = {"role": "I/O die", "count": 2, "die_area_mm2": 300, "node_nm": 6, "source": "my own estimate"}
    die.update(base_die)
    return {
        "id": "my-chiplet", "name": "My chiplet part", "vendor": "Me", "family": "generic",
        "compute": {"dense_tflops": {"bf16": 100.0}},
        "memory": {"type": "HBM3E", "capacity": 96, "capacity_unit": "GiB", "bandwidth_tb_per_s": 3.0},
        "power": {"tdp_w": 500},
        "silicon": {"node_nm": 3, "die_area_mm2": 200, "compute_die_count": 2,
                    "base_dies": [{k: v for k, v in die.items() if v is not None}]},
        "sources": [{"citation": "my own datasheet", "kind": "datasheet"}],
    }


def test_a_good_base_die_entry_loads_and_costs(tmp_path: Path):
    path = tmp_path / "good.yaml"
    path.write_text(yaml.safe_dump(_chip_doc({})), encoding="utf-8")
    made = manufacturing_cost_usd(load_chip(path), A)
    assert made["base_dies_usd"] == pytest.approx(2 * _good_die_by_hand(300.0, 9_346.0, 0.09), rel=1e-9)


@pytest.mark.parametrize(("change", "field", "value"), [
    ({"count": 0}, "count", "0"),
    ({"die_area_mm2": -5}, "die_area_mm2", "-5"),
    ({"die_area_mm2": 900}, "die_area_mm2", "900"),
    ({"node_nm": 0}, "node_nm", "0"),
    ({"source": None}, "source", "source"),
    ({"source": ""}, "source", "''"),
    ({"under_compute_dies": "yes"}, "under_compute_dies", "yes"),
    ({"area_mm2": 100}, "area_mm2", "100"),
])
def test_bad_base_die_entries_are_refused_naming_file_field_and_value(tmp_path: Path, change, field, value):
    path = tmp_path / "bad-chiplet.yaml"
    path.write_text(yaml.safe_dump(_chip_doc(change)), encoding="utf-8")
    with pytest.raises(SpecError) as exc:
        load_chip(path)
    msg = str(exc.value)
    assert str(path) in msg and f"silicon.base_dies.0.{field}" in msg and value in msg
