"""``inferchip cost``: a CoWoS package's compute dies and HBM stacks against the largest interposer TSMC offers in the
chip's year (stop 45, branch product45; cost.constants.COWOS_INTERPOSER_RETICLES). Areas by hand: reticle 26 x 33 =
858 mm2; HBM3/3E stack 11 x 11 = 121 mm2, HBM2E 7.75 x 11.87 = 91.99 mm2."""

from __future__ import annotations

import json

import pytest

from cli_in_process import run_main
from inferchip.catalog.assumptions import load_assumptions
from inferchip.catalog.chips import load_chip
from inferchip.cost.chip_cost import chip_cost, hbm_stacks, interposer_check

A = load_assumptions()


def _b200(**changes):
    spec = load_chip("nvidia-b200-180gb")  # 2 x 800 mm2, 8 HBM3e stacks (silicon.memory_stacks), 2024
    silicon = {k: v for k, v in changes.items() if k in ("compute_die_count", "memory_stacks")}
    top = {k: v for k, v in changes.items() if k not in silicon}
    return spec.model_copy(update={"silicon": spec.silicon.model_copy(update=silicon), **top})


def test_b200_fits_cowos_l_of_2024():
    c = interposer_check(_b200(), 800.0)
    assert c is not None and c.kind == "cowos-l" and c.stacks == 8 and c.stacks_stated
    assert c.area_mm2 == pytest.approx(2 * 800 + 8 * 121)  # 2,568 mm2
    assert c.limit_mm2 == pytest.approx(3.5 * 858)  # 3,003 mm2
    assert c.fits


@pytest.mark.parametrize("year, reticles, fits", [(2024, 3.5, False), (2025, 3.5, False), (2026, 5.5, True),
                                                  (2027, 9.5, True), (None, 9.5, True)])
def test_four_b200_dies_need_the_2026_interposer(year, reticles, fits):
    c = interposer_check(_b200(compute_die_count=4, year=year), 800.0)
    assert c is not None
    assert c.area_mm2 == pytest.approx(4 * 800 + 8 * 121)  # 4,168 mm2: over 3,003, under 4,719
    assert c.limit_mm2 == pytest.approx(reticles * 858) and c.fits is fits


def test_stacks_stated_in_the_memory_text_or_the_fewest_that_hold_the_capacity():
    c = hbm_stacks(load_chip("amd-mi300x"))  # 'HBM3 (8 stacks)'
    assert (c.stacks, c.stated) == (8, True)
    mi355x = hbm_stacks(load_chip("amd-mi355x"))  # 'HBM3E', 288 GiB, no count: 288 / 36 GiB (HBM3E 12-high) -> 8
    assert (mi355x.stacks, mi355x.set_by, mi355x.by_bandwidth) == (8, "capacity", 7)  # 8 TB/s / 1.28 -> 7


def test_an_organic_package_has_no_interposer():
    assert interposer_check(load_chip("groq-lpu-v1"), 725.0) is None


def test_a_package_over_the_interposer_is_flagged_and_its_cost_kept():
    over = chip_cost(_b200(compute_die_count=4), A)
    assert over.interposer is not None and not over.interposer.fits
    assert "exceed the largest cowos-l interposer in 2024 (3,003 mm2)" in over.message
    assert any("package over the interposer: 4,168 mm2" in n for n in over.notes)
    base = chip_cost(_b200(), A)
    assert base.interposer is not None and base.interposer.fits and "exceed" not in base.message
    line = {x.item: x for x in base.lines}["interposer area (dies + HBM stacks)"]
    assert line.value == 2568.0 and line.unit == "mm2"
    assert over.manufacturing_cost_usd is not None and over.manufacturing_cost_usd > base.manufacturing_cost_usd


def test_cli_flags_the_dojo_tile_and_every_catalogue_cowos_chip_else_fits():
    code, out = run_main(["cost", "--chip", "tesla-dojo-training-tile"])
    assert code == 0 and "exceed the largest cowos-l interposer in 2021" in " ".join(out.split())
    code, out = run_main(["cost", "--all", "--format", "json"])
    over = [c["chip_id"] for c in json.loads(out) if c["interposer"] and not c["interposer"]["fits"]]
    assert over == ["tesla-dojo-training-tile"]  # 25 x 645 mm2 D1 dies: TSMC InFO-SoW, not CoWoS
