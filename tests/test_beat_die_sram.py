"""explore's beat reads the target as a design whose SRAM is the die's, as the area model is fitted (serve45).

The design model's area (``cost/design/model.py``) is fitted on ``catalog/design_dies.csv``, whose ``sram_mb`` counts
every SRAM macro on the full die; since sramdef45 the catalogue's ``sram.capacity_mb`` is the chip-wide pool that
survives between kernels (H100: its L2). beat's base design took the pool, so an H100 base lost 40 MB of macros."""

from __future__ import annotations

import numpy as np
import pytest

H100 = "nvidia-h100-sxm-80gb"


def test_the_design_sram_is_the_die_rows_where_design_dies_has_one_and_the_pool_with_a_note_elsewhere():
    from inferchip.explore.beat import design_sram_mb

    assert design_sram_mb(H100) == (92.8, None)  # GH100: 60 MB L2 + 144 SMs x 228 KB = 92.8 MB (design_dies.csv)
    assert design_sram_mb("nvidia-a100-sxm-80gb") == (72.6, None)  # GA100: 48 MB + 128 x 192 KB
    mb, note = design_sram_mb("amd-mi300x")  # 8 XCDs, no row of its own nor in design_packages.csv: the pool, noted
    assert mb == pytest.approx(256 * 2**20 / 1e6, rel=1e-3)
    assert note is not None and "design_dies.csv has no die row for it" in note
    mb, note = design_sram_mb("tesla-ai5")  # no row: its pool (an estimate since sram47), noted
    assert mb == pytest.approx(356.95) and note is not None and "design_dies.csv has no die row for it" in note


def test_a_chip_stating_no_sram_has_none_in_its_base_with_a_note(tmp_path):
    """Every catalogue chip states its SRAM since sram47; a user's chip without the section reads none, noted."""
    from chip_yaml import catalogue_raw, write_chip
    from inferchip.explore.beat import design_sram_mb

    raw = catalogue_raw("tesla-ai5")
    raw.pop("sram")
    mb, note = design_sram_mb(write_chip(tmp_path, raw, "ai5-no-sram"))
    assert mb == 0.0 and note is not None and "states no on-chip SRAM" in note


def test_the_h100_base_area_holds_the_dies_sram_macros_by_hand():
    """The area difference of the die's 92.8 MB over the pool's 52.4 (50 MiB L2): k_sram 1.6 x 40.4 MB x 8e6 bit/MB
    x 0.021 um2 (N4 bitcell) x 1e-6 = 10.86 mm2."""
    from inferchip.catalog.assumptions import load_assumptions
    from inferchip.catalog.chips import get_chip_params
    from inferchip.explore.beat import _as_design

    pool_mb = get_chip_params(H100).sram_bytes / 1e6
    assert pool_mb == pytest.approx(52.43, abs=0.01)
    one, a = np.ones(1), load_assumptions()
    die = _as_design(H100, one, one, one, a, 92.8)["area_mm2"][0]
    pool = _as_design(H100, one, one, one, a, pool_mb)["area_mm2"][0]
    assert die - pool == pytest.approx(1.6 * (92.8 - pool_mb) * 8e6 * 0.021e-6, rel=1e-9)
    assert die - pool == pytest.approx(10.86, abs=0.01)


def test_beat_says_where_its_base_reads_the_pool():
    from inferchip.explore.beat import beat

    res = beat("tesla-ai5", [H100], parts=["per_chip"])
    # AI5's pool, an inferchip estimate since sram47 (was: 'counts no SRAM')
    assert any("tesla-ai5: the die-area base counts the catalogue's on-chip SRAM pool, 356.9 MB" in n
               for n in res.notes)
    res = beat(H100, ["amd-mi355x"], parts=["per_chip"])
    assert not any("die-area base" in n for n in res.notes)
