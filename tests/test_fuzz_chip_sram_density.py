"""A user's chip YAML whose on-chip SRAM cannot fit on its dies (stop 38, newuser38).

Before: ``sram.capacity_mb`` was bounded by 1e9 MB (1 PB) alone, so an SRAM size typed in KB for MB (48,000 for an L4's
48 MB) loaded, and `inferchip vision` priced the chip as one that keeps whole networks on chip (ResNet-50 at batch 64:
12,587 frames/s against 9,346 with the stated 48 MB). Now the SRAM per mm2 of compute die is bounded by twice the
densest SRAM array announced (spec/bounds.SRAM_MB_PER_MM2_MAX, 9.5 MB/mm2) where the file states a die area.
"""

from __future__ import annotations

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inferchip.catalog.chips import _CHIPS_DIR as CHIPS_DIR
from inferchip.catalog.chips import chip_ids, load_chip
from inferchip.errors import SpecError
from inferchip.spec.bounds import SRAM_MB_PER_MM2_MAX, pick

SIZED = [c for c in chip_ids()
         if load_chip(c).sram.capacity_mb is not None and load_chip(c).silicon.die_area_mm2 is not None]


def _raw(chip: str) -> dict:
    return yaml.safe_load((CHIPS_DIR / f"{chip}.yaml").read_text())


def _write(tmp_path, raw: dict, name: str):
    path = tmp_path / f"{name}.yaml"
    raw["id"] = f"mine-{name}"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_every_catalogue_chip_with_sram_and_die_area_is_within_the_bound():
    assert len(SIZED) >= 15
    for c in SIZED:
        s = load_chip(c)
        dies = s.silicon.compute_die_count
        assert pick(s.sram.capacity_mb, "high") / (pick(s.silicon.die_area_mm2, "low") * dies) < SRAM_MB_PER_MM2_MAX / 5


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(chip=st.sampled_from(SIZED), unit=st.sampled_from([1e3, 1024.0, 1e6]))
def test_sram_in_the_wrong_unit_is_refused_naming_field_value_and_allowed(tmp_path, chip, unit):
    raw = _raw(chip)
    sram = raw["sram"]["capacity_mb"]
    raw["sram"]["capacity_mb"] = (sram["value"] if isinstance(sram, dict) and "value" in sram else
                                  sram if not isinstance(sram, dict) else sram["high"]) * unit
    path = _write(tmp_path, raw, "kb")
    with pytest.raises(SpecError) as err:
        load_chip(str(path))
    msg = str(err.value)
    assert msg.startswith(f"{path}: sram.capacity_mb = "), msg
    # above 1 PB the field's own bound answers first (spec/bounds.SRAM_MB); below it, the density check
    assert ("MB/mm2" in msg and "allowed: at most" in msg) or "between 0 and 1e+09 (MB)" in msg, msg


def test_sram_up_to_the_bound_loads(tmp_path):
    """Control: an L4 with just under the bound's SRAM, and one with no die area (nothing to check against), load."""
    raw = _raw("nvidia-l4")
    raw["sram"]["capacity_mb"] = 0.999 * SRAM_MB_PER_MM2_MAX * raw["silicon"]["die_area_mm2"]
    load_chip(str(_write(tmp_path, raw, "dense")))
    raw = _raw("nvidia-l4")
    raw["sram"]["capacity_mb"] = 48_000
    del raw["silicon"]["die_area_mm2"]
    load_chip(str(_write(tmp_path, raw, "no-area")))
