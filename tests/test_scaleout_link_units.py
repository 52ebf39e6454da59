"""A scale-out (NIC) rate typed in the wrong unit (stop 44, cli44).

Before: ``interconnect.scaleout_bw_gb_per_s_per_direction`` was bounded by 0 and 1e6 GB/s alone (newuser43a bounded
the scale-up link only), so an H100 given 400 (its ConnectX-7's 400 Gb/s typed where GB/s is meant) loaded as a NIC
eight times too fast, and 0.05 (50 GB/s typed in TB/s) as one a thousand times too slow. Now the rate per chip and
direction must lie between 1/10,000 of the chip's DRAM bandwidth and 300 GB/s, three 800 GbE NICs per AMD MI450X
(spec/bounds.SCALEOUT_*).
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chip_yaml import catalogue_raw, write_chip
from inferchip.catalog.chips import chip_ids, family_defaults, load_chip
from inferchip.errors import SpecError
from inferchip.spec.bounds import SCALEOUT_GB_PER_S_PER_CHIP_MAX, SCALEOUT_PER_DRAM_BANDWIDTH_MIN, dram_kind, pick

FIELD = "interconnect.scaleout_bw_gb_per_s_per_direction"
H100 = "nvidia-h100-sxm-80gb"  # 3.35 TB/s of HBM3: floor 0.335 GB/s


def test_bounds_by_hand():
    assert SCALEOUT_GB_PER_S_PER_CHIP_MAX == 300.0  # 3 x 800 Gb/s / 8 bits
    assert SCALEOUT_PER_DRAM_BANDWIDTH_MIN * 3.35e3 == pytest.approx(0.335)  # an H100's 3.35 TB/s / 10,000, GB/s


def test_every_catalogue_rate_stated_or_family_default_lies_inside():
    for c in chip_ids():
        s = load_chip(c)
        stated = s.interconnect.scaleout_bw_gb_per_s_per_direction
        fam = family_defaults(s.family).scaleout_bw_gb_per_s_per_direction
        for level in ("low", "high"):
            rate = (pick(stated, level) if stated is not None else None) or fam
            assert rate <= SCALEOUT_GB_PER_S_PER_CHIP_MAX, c
            if dram_kind(s.memory.memory_type):  # at least 4x above the floor (the lowest: a Tesla car's 10 GbE)
                assert rate > 4 * SCALEOUT_PER_DRAM_BANDWIDTH_MIN * pick(s.memory.bandwidth_tb_per_s, "high") * 1e3, c


def _load(tmp_path, rate, chip=H100, name="mine"):
    raw = catalogue_raw(chip)
    raw["interconnect"]["scaleout_bw_gb_per_s_per_direction"] = rate
    path = write_chip(tmp_path, raw, name)
    return path, lambda: load_chip(path)


@pytest.mark.parametrize("gbit", [400, 800, 1600, 3200])  # ConnectX-7, -8, -9 shares typed in Gb/s
def test_a_nic_rate_typed_in_gb_per_s_is_refused_naming_file_field_value_range_and_slip(tmp_path, gbit):
    path, load = _load(tmp_path, gbit)
    with pytest.raises(SpecError) as err:
        load()
    msg = str(err.value)
    assert msg.startswith(f"{path}: {FIELD} = {gbit}"), msg
    assert "per direction per chip is above 300 GB/s" in msg and "allowed: 0.335 to 300 GB/s" in msg, msg
    assert f"is the figure in Gb/s ({gbit:,} Gb/s is {gbit / 8:,.6g} GB/s)?" in msg, msg


@pytest.mark.parametrize("tb", [0.05, 0.1, 0.2, 0.0125])  # 50, 100, 200, 12.5 GB/s typed in TB/s
def test_a_rate_typed_in_tb_per_s_is_refused(tmp_path, tb):
    path, load = _load(tmp_path, tb)
    with pytest.raises(SpecError) as err:
        load()
    msg = str(err.value)
    assert msg.startswith(f"{path}: {FIELD} = "), msg
    assert "is below 0.335 GB/s" in msg and "is the figure in TB/s?" in msg, msg


def test_a_range_is_checked_at_its_ends(tmp_path):
    _, load = _load(tmp_path, {"low": 50, "central": 100, "high": 400, "derivation": "x"})
    with pytest.raises(SpecError, match="400 GB/s per direction per chip is above"):
        load()
    _, load = _load(tmp_path, {"low": 0.05, "central": 50, "high": 100, "derivation": "x"}, name="low")
    with pytest.raises(SpecError, match="0.05 GB/s per direction per chip is below"):
        load()


@settings(max_examples=40, deadline=None)
@given(st.floats(min_value=0.34, max_value=300.0))
def test_any_rate_inside_loads_and_is_priced_as_given(tmp_path_factory, rate):
    _, load = _load(tmp_path_factory.mktemp("in"), rate)
    assert pick(load().interconnect.scaleout_bw_gb_per_s_per_direction, "high") == rate


@settings(max_examples=25, deadline=None)
@given(st.floats(min_value=300.001, max_value=1e6))
def test_any_rate_above_is_refused(tmp_path_factory, rate):
    _, load = _load(tmp_path_factory.mktemp("out"), rate)
    with pytest.raises(SpecError, match="is the figure in Gb/s"):
        load()


def test_not_stated_is_not_checked(tmp_path):
    _, load = _load(tmp_path, 0)  # 0: the family default prices it
    assert load().interconnect.scaleout_bw_gb_per_s_per_direction == 0
