"""HBM stacks of a package whose count is not stated: the larger of capacity / stack capacity and bandwidth / stack
bandwidth of its memory generation (stop 46; ``silicon.hbm_stack_gib`` / ``hbm_stack_tb_per_s`` of the assumptions,
each sourced there). On main a 6 TB/s, 144 GiB HBM3E chip came out as 3 stacks (by capacity, of JEDEC HBM4's 64 GiB),
2 TB/s a stack where the fastest HBM3E stack announced delivers 1.28."""

from __future__ import annotations

import json
import math

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from cli_in_process import run_main
from inferchip.catalog.assumptions import load_assumptions
from inferchip.catalog.chips import all_chips, load_chip
from inferchip.cost.chip_cost import STACK_FIGURE_ROUNDING, chip_cost, hbm_stacks, interposer_check
from inferchip.errors import InvalidSettingError

A = load_assumptions()
H100 = "src/inferchip/catalog/chips/nvidia-h100-sxm-80gb.yaml"


def _hbm3e(capacity_gib: float, tb_per_s: float, year: int = 2024):
    """The H100 SXM (one 814 mm2 die, CoWoS-S) with HBM3E of the capacity and rate given, no stack count."""
    spec = load_chip("nvidia-h100-sxm-80gb")
    mem = spec.memory.model_copy(update={"type": "HBM3E", "memory_type": "hbm3e", "capacity": capacity_gib,
                                         "bandwidth_tb_per_s": tb_per_s, "measured_bandwidth": None,
                                         "usable_capacity_gib": None})
    return spec.model_copy(update={"memory": mem, "year": year})


def test_a_6_tb_s_144_gib_hbm3e_chip_needs_5_stacks_set_by_its_bandwidth():
    count = hbm_stacks(_hbm3e(144, 6.0), assumptions=A)
    assert (count.by_capacity, count.by_bandwidth) == (4, 5)  # 144 / 36 GiB; 6 / 1.28 TB/s = 4.7
    assert count.stacks == 5 and count.set_by == "bandwidth" and not count.stated
    assert count.stacks * count.stack_tb_per_s >= 6.0  # main: 3 stacks, 2 TB/s each
    cap = hbm_stacks(_hbm3e(288, 6.0), assumptions=A)
    assert (cap.stacks, cap.set_by) == (8, "capacity")


def test_the_cost_line_says_bandwidth_set_the_count(tmp_path):
    data = yaml.safe_load(open(H100, encoding="utf-8"))
    data["id"] = "my-hbm3e-chip"
    data["memory"] = {"type": "HBM3E", "memory_type": "hbm3e", "capacity": 144, "capacity_unit": "GiB",
                      "bandwidth_tb_per_s": 6.0}
    path = tmp_path / "chip.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    code, out = run_main(["cost", "--chip", str(path), "--format", "json"])  # the table wraps its cells at 100
    assert code == 0, out
    text = next(x["source"] for x in json.loads(out)["lines"] if x["item"].startswith("interposer area"))
    assert "at least 5 HBM stacks (count not stated: set by the bandwidth, not the capacity" in text
    assert "6 TB/s needs 5 HBM3E stacks of 1.28 TB/s, the capacity 4" in text


def test_a_rate_no_interposer_of_its_year_carries_is_refused():
    """One 814 mm2 die on CoWoS-S (3.3 x 858 = 2,831 mm2): room for 16 HBM3E stacks of 121 mm2 beside it;
    30 TB/s needs 24 stacks of 1.28 TB/s."""
    with pytest.raises(InvalidSettingError) as err:
        interposer_check(_hbm3e(144, 30.0), 814.0, assumptions=A)
    msg = str(err.value)
    assert "memory.bandwidth_tb_per_s = 30 TB/s needs at least 24 HBM3E stacks of 1.28 TB/s" in msg
    assert "holds 16 beside its dies" in msg and "allowed: at most 20.48 TB/s" in msg
    with pytest.raises(InvalidSettingError):
        chip_cost(_hbm3e(144, 30.0), A)
    fits = interposer_check(_hbm3e(144, 20.0), 814.0, assumptions=A)  # 16 stacks: fits
    assert fits is not None and fits.stacks == 16 and fits.stack_count.set_by == "bandwidth" and fits.fits


def test_catalogue_chips_with_a_stated_count_keep_it_and_none_is_refused():
    for spec in all_chips():
        count = hbm_stacks(spec, assumptions=A)
        if spec.silicon.memory_stacks is not None:
            assert count.stated and count.stacks == spec.silicon.memory_stacks
        cost = chip_cost(spec, A)  # raises for none
        assert cost.status in ("modelled", "price_only", "unknown")
    assert hbm_stacks(load_chip("amd-mi300x"), assumptions=A).stacks == 8  # 'HBM3 (8 stacks)'
    assert hbm_stacks(load_chip("nvidia-b200-180gb"), assumptions=A).stacks == 8  # silicon.memory_stacks


def test_h100_sxm_gets_its_five_active_stacks_from_its_bandwidth():
    """80 GiB fits 4 stacks of 24 GiB, 3.35 TB/s needs 5 of 0.8192: the H100 SXM runs 5 (NVIDIA H100 whitepaper)."""
    count = hbm_stacks(load_chip("nvidia-h100-sxm-80gb"), assumptions=A)
    assert (count.stacks, count.set_by) == (5, "bandwidth")


@settings(max_examples=60, deadline=None)
@given(st.floats(1.0, 1000.0), st.floats(0.1, 40.0))
def test_the_count_is_the_fewest_stacks_that_hold_the_capacity_and_carry_the_rate(gib, tb_s):
    count = hbm_stacks(_hbm3e(gib, tb_s), assumptions=A)
    per_gib, per_tb = A.table("silicon.hbm_stack_gib")["hbm3e"], A.table("silicon.hbm_stack_tb_per_s")["hbm3e"]
    carries = per_tb * (1.0 + STACK_FIGURE_ROUNDING)
    assert count.stacks * per_gib >= gib * (1 - 1e-9) and count.stacks * carries >= tb_s * (1 - 1e-9)
    assert (count.stacks - 1) * per_gib < gib or (count.stacks - 1) * carries < tb_s
    assert count.stacks == max(math.ceil(gib / per_gib - 1e-9), count.by_bandwidth)
