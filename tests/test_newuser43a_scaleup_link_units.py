"""A scale-up link rate typed in the wrong unit (stop 42, newuser43a).

Before: ``interconnect.scaleup_bw_gb_per_s_per_direction`` was bounded by 0 and 1e6 GB/s alone, so an H100 given 0.45
(NVLink 4's 450 GB/s typed in TB/s) loaded and every tensor-parallel all-reduce was priced over a link a thousand times
too slow; 450,000 (typed in MB/s) loaded as a link 500 times NVLink 5's. Now the rate per direction must lie between
1/200 of the chip's DRAM bandwidth and ten times NVLink 5's 1.8 TB/s per compute die (spec/bounds.SCALEUP_*).
"""

from __future__ import annotations

import pytest

from chip_yaml import catalogue_raw, scaled, write_chip
from inferchip.catalog.chips import chip_ids, load_chip
from inferchip.errors import SpecError
from inferchip.spec.bounds import SCALEUP_GB_PER_S_PER_DIE_MAX, SCALEUP_PER_DRAM_BANDWIDTH_MIN, dram_kind, pick

FIELD = "interconnect.scaleup_bw_gb_per_s_per_direction"
LINKED = [c for c in chip_ids() if load_chip(c).interconnect.scaleup_bw_gb_per_s_per_direction is not None]
DRAM_LINKED = [c for c in LINKED if dram_kind(load_chip(c).memory.memory_type) is not None]


def test_bounds_by_hand():
    assert SCALEUP_GB_PER_S_PER_DIE_MAX == 18_000.0  # 10 x 1.8 TB/s
    assert SCALEUP_PER_DRAM_BANDWIDTH_MIN * 3.35e3 == pytest.approx(16.75)  # an H100's 3.35 TB/s / 200, GB/s


def test_every_catalogue_link_is_well_inside_the_range():
    assert len(DRAM_LINKED) >= 20
    for c in LINKED:
        s = load_chip(c)
        link = s.interconnect.scaleup_bw_gb_per_s_per_direction
        assert pick(link, "high") < SCALEUP_GB_PER_S_PER_DIE_MAX * s.silicon.compute_die_count / 4, c
        if c in DRAM_LINKED:
            assert pick(link, "low") > 4 * SCALEUP_PER_DRAM_BANDWIDTH_MIN * pick(s.memory.bandwidth_tb_per_s,
                                                                                  "high") * 1e3, c


@pytest.mark.parametrize("chip", DRAM_LINKED)
def test_a_link_typed_in_tb_per_s_is_refused_naming_field_value_and_unit(tmp_path, chip):
    raw = catalogue_raw(chip)
    raw["interconnect"]["scaleup_bw_gb_per_s_per_direction"] = scaled(
        raw["interconnect"]["scaleup_bw_gb_per_s_per_direction"], 1e-3)
    path = write_chip(tmp_path, raw, "tb")
    with pytest.raises(SpecError) as err:
        load_chip(str(path))
    msg = str(err.value)
    assert msg.startswith(f"{path}: {FIELD} = "), msg
    assert "GB/s per direction is below" in msg and "allowed:" in msg and "is the figure in TB/s?" in msg, msg


@pytest.mark.parametrize("chip", LINKED)
def test_a_link_typed_in_mb_per_s_is_refused(tmp_path, chip):
    raw = catalogue_raw(chip)
    raw["interconnect"]["scaleup_bw_gb_per_s_per_direction"] = scaled(
        raw["interconnect"]["scaleup_bw_gb_per_s_per_direction"], 1e3)
    path = write_chip(tmp_path, raw, "mb")
    with pytest.raises(SpecError) as err:
        load_chip(str(path))
    msg = str(err.value)
    assert msg.startswith(f"{path}: {FIELD}"), msg  # a Range's own bound names its part (.low)
    # above 1e6 GB/s the field's own bound answers first (spec/bounds.GB_PER_S); below it, the ceiling per die
    assert ("is above" in msg and "allowed:" in msg) or "between 0 and 1,000,000 (GB/s)" in msg, msg


def test_the_h100_user_slip_and_the_controls(tmp_path):
    """0.45 on an H100 (NVLink 4's 450 GB/s in TB/s) is refused with its allowed range; 20 GB/s (just above the floor,
    3.35 TB/s / 200 = 16.75) and 17,999 (just below the ceiling of one die) load; an SRAM part (no DRAM yardstick)
    keeps the field bound alone."""
    raw = catalogue_raw("nvidia-h100-sxm-80gb")
    raw["interconnect"]["scaleup_bw_gb_per_s_per_direction"] = 0.45
    with pytest.raises(SpecError) as err:
        load_chip(str(write_chip(tmp_path, raw, "slip")))
    assert "0.45 GB/s per direction is below 16.75 GB/s" in str(err.value)
    assert "allowed: 16.75 to 18,000 GB/s per direction here" in str(err.value)
    for ok in (20, 17_999):
        raw["interconnect"]["scaleup_bw_gb_per_s_per_direction"] = ok
        load_chip(str(write_chip(tmp_path, raw, f"ok{ok}")))
    groq = catalogue_raw("groq-lpu-v1")
    groq["interconnect"]["scaleup_bw_gb_per_s_per_direction"] = 0.24
    load_chip(str(write_chip(tmp_path, groq, "sram")))
