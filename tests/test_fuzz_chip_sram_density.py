"""A user's chip YAML whose on-chip SRAM cannot fit on its dies (stop 38, newuser38).

Before: ``sram.capacity_mb`` was bounded by 1e9 MB (1 PB) alone, so an SRAM size typed in KB for MB (48,000 for an L4's
48 MB) loaded, and `inferchip vision` priced the chip as one that keeps whole networks on chip (ResNet-50 at batch 64:
12,587 frames/s against 9,346 with the stated 48 MB). Now the SRAM per mm2 of compute die is bounded by twice the
densest SRAM array announced (spec/bounds.SRAM_MB_PER_MM2_MAX, 9.5 MB/mm2) where the file states a die area.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chip_yaml import catalogue_raw, write_chip
from inferchip.catalog.chips import chip_ids, load_chip
from inferchip.errors import SpecError
from inferchip.spec.bounds import SRAM_MB_PER_MM2_MAX, pick

SIZED = [c for c in chip_ids()
         if load_chip(c).sram.capacity_mb is not None and load_chip(c).silicon.die_area_mm2 is not None]


def test_every_catalogue_chip_with_sram_and_die_area_is_within_the_bound():
    assert len(SIZED) >= 15
    for c in SIZED:
        s = load_chip(c)
        dies = s.silicon.compute_die_count
        assert pick(s.sram.capacity_mb, "high") / (pick(s.silicon.die_area_mm2, "low") * dies) < SRAM_MB_PER_MM2_MAX / 5


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(chip=st.sampled_from(SIZED), unit=st.sampled_from([1e3, 1024.0, 1e6]))
def test_sram_in_the_wrong_unit_is_refused_naming_field_value_and_allowed(tmp_path, chip, unit):
    raw = catalogue_raw(chip)
    sram = raw["sram"]["capacity_mb"]
    raw["sram"]["capacity_mb"] = (sram["value"] if isinstance(sram, dict) and "value" in sram else
                                  sram if not isinstance(sram, dict) else sram["high"]) * unit
    path = write_chip(tmp_path, raw, "kb")
    with pytest.raises(SpecError) as err:
        load_chip(str(path))
    msg = str(err.value)
    assert msg.startswith(f"{path}: sram.capacity_mb = "), msg
    # above 1 PB the field's own bound answers first (spec/bounds.SRAM_MB); below it, the density check
    assert ("MB/mm2" in msg and "allowed: at most" in msg) or "between 0 and 1e+09 (MB)" in msg, msg


def test_sram_up_to_the_bound_loads(tmp_path):
    """Control: an L4 with just under the bound's SRAM, and one with no die area (nothing to check against), load."""
    raw = catalogue_raw("nvidia-l4")
    raw["sram"]["capacity_mb"] = 0.999 * SRAM_MB_PER_MM2_MAX * raw["silicon"]["die_area_mm2"]
    load_chip(str(write_chip(tmp_path, raw, "dense")))
    raw = catalogue_raw("nvidia-l4")
    raw["sram"]["capacity_mb"] = 48_000
    del raw["silicon"]["die_area_mm2"]
    load_chip(str(write_chip(tmp_path, raw, "no-area")))


# ---------------------------------------------------------------- off-chip DRAM bandwidth (stop 40, newuser40)
# Before: memory.bandwidth_tb_per_s was bounded by 1e6 TB/s (WSE-3's on-wafer SRAM) whatever the memory, so an LPDDR5X
# chip given 273 (DGX Spark's 273 GB/s typed in the TB/s key) loaded and decoded Llama-3.1-8B at 7.6 ms a token instead
# of ~45 ms at 0.5 TB/s. Now off-chip DRAM is bounded by its pins x the fastest JEDEC rate of its kind
# (spec/bounds.DRAM_TB_PER_S_MAX).

from inferchip.spec.bounds import DRAM_TB_PER_S_MAX, dram_kind  # noqa: E402

DRAM = [c for c in chip_ids() if dram_kind(load_chip(c).memory.memory_type) is not None]


def test_every_catalogue_dram_chip_is_well_inside_its_bandwidth_bound():
    assert len(DRAM) >= 40
    for c in DRAM:
        m = load_chip(c).memory
        assert pick(m.bandwidth_tb_per_s, "high") < DRAM_TB_PER_S_MAX[dram_kind(m.memory_type)] / 3, c


def test_dram_bounds_by_hand():
    """64 stacks x 2,048 pins x 16 Gb/s; 4,096 pins x 48 Gb/s (GDDR7); 4,096 pins x 14.4 Gb/s (LPDDR6)."""
    assert DRAM_TB_PER_S_MAX["hbm"] == pytest.approx(262.144)
    assert DRAM_TB_PER_S_MAX["gddr"] == pytest.approx(24.576)
    assert DRAM_TB_PER_S_MAX["lpddr"] == DRAM_TB_PER_S_MAX["ddr"] == pytest.approx(7.3728)
    assert [dram_kind(t) for t in ("hbm3e", "gddr6x", "lpddr5x", "ddr5", "sram", None)] == [
        "hbm", "gddr", "lpddr", "ddr", None, None]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(chip=st.sampled_from(DRAM), unit=st.sampled_from([1e3, 1024.0, 1e4]), ranged=st.booleans())
def test_dram_bandwidth_in_gb_per_s_is_refused_naming_field_value_and_allowed(tmp_path, chip, unit, ranged):
    raw = catalogue_raw(chip)
    bw = pick(load_chip(chip).memory.bandwidth_tb_per_s, "high") * unit
    raw["memory"]["bandwidth_tb_per_s"] = ({"low": bw / 2, "central": bw / 2, "high": bw, "derivation": "typed"}
                                           if ranged else bw)
    raw["memory"].pop("measured_bandwidth", None)
    path = write_chip(tmp_path, raw, "gbps")
    with pytest.raises(SpecError) as err:
        load_chip(str(path))
    msg = str(err.value)
    assert msg.startswith(f"{path}: memory.bandwidth_tb_per_s = "), msg
    assert "TB/s one package of it can stream" in msg and "allowed: up to that" in msg and "GB/s" in msg, msg


def test_dram_bandwidth_up_to_the_bound_and_sram_above_it_load(tmp_path):
    """Controls: an LPDDR5X chip just under its bound, and an SRAM-only part at WSE-3's 21,000 TB/s, load."""
    raw = catalogue_raw("nvidia-jetson-agx-thor-t5000")
    raw["memory"]["bandwidth_tb_per_s"] = 0.999 * DRAM_TB_PER_S_MAX["lpddr"]
    raw["memory"].pop("measured_bandwidth", None)
    load_chip(str(write_chip(tmp_path, raw, "wide")))
    load_chip("cerebras-wse-3")
