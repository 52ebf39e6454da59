"""explore --beat's base area for chips design_dies.csv has no row of their own for (catalog46): H200 on the GH100 row,
MI355X's package (8 XCD rows + the Infinity Cache of its two I/O dies), B200/GB200 (an estimate, noted), read from
``catalog/design_packages.csv``; before, each took the catalogue's inter-kernel pool (H200 52.4, MI355X 268.4, B200
132.1 MB) and its base area understated the die's SRAM macros."""

from __future__ import annotations

import numpy as np
import pytest

from inferchip.errors import InvalidSettingError


def test_h200_reads_the_gh100_rows_sram_as_the_h100_does():
    from inferchip.explore.beat import design_sram_mb

    assert design_sram_mb("nvidia-h200-sxm-141gb") == (92.8, None)  # GH100: 60 MB L2 + 144 SMs x 228 KB
    assert design_sram_mb("nvidia-h200-sxm-141gb") == design_sram_mb("nvidia-h100-sxm-80gb")


def test_mi355x_counts_its_eight_xcds_and_the_io_dies_infinity_cache_by_hand():
    from inferchip.explore.beat import design_sram_mb

    mb, note = design_sram_mb("amd-mi355x")
    # 8 x (4 MB L2 + 36 CUs x 160 KB LDS = 9.76, the row writes 9.8) + 256 MB = 334.1 (334.4 with the row)
    assert mb == pytest.approx(8 * 9.8 + 256) and mb == pytest.approx(8 * (4 + 36 * 0.160) + 256, abs=0.5)
    assert note is None


def test_b200_is_an_estimate_that_says_so():
    from inferchip.explore.beat import design_sram_mb

    mb, note = design_sram_mb("nvidia-b200-180gb")
    # per die: half the L2 + 80 SMs x (228 KB shared + 256 KB TMEM)
    assert mb == pytest.approx(2 * (126 / 2 + 80 * (228 + 256) / 1000), rel=1e-9)
    assert note is not None and "an estimate" in note and "design_packages.csv" in note
    assert design_sram_mb("nvidia-gb200-186gb")[0] == mb


def test_the_base_area_grows_by_the_macros_the_pool_left_out_by_hand():
    """H200: k_sram 1.6 x (92.8 - 52.43) MB x 8e6 bit/MB x 0.021 um2 (N4 bitcell) x 1e-6 = 10.85 mm2 more."""
    from inferchip.catalog.assumptions import load_assumptions
    from inferchip.catalog.chips import get_chip_params
    from inferchip.explore.beat import _as_design, design_sram_mb

    one, a = np.ones(1), load_assumptions()
    for chip in ("nvidia-h200-sxm-141gb", "amd-mi355x", "nvidia-b200-180gb"):
        pool = get_chip_params(chip).sram_bytes / 1e6
        die = design_sram_mb(chip)[0]
        assert die > pool
        before = _as_design(chip, one, one, one, a, pool)["area_mm2"][0]
        after = _as_design(chip, one, one, one, a, die)["area_mm2"][0]
        assert after > before
    pool = get_chip_params("nvidia-h200-sxm-141gb").sram_bytes / 1e6
    grow = (_as_design("nvidia-h200-sxm-141gb", one, one, one, a, 92.8)["area_mm2"][0]
            - _as_design("nvidia-h200-sxm-141gb", one, one, one, a, pool)["area_mm2"][0])
    assert grow == pytest.approx(1.6 * (92.8 - pool) * 8e6 * 0.021e-6, rel=1e-9)


def test_beat_on_h200_no_longer_notes_a_pool_base():
    from inferchip.explore.beat import beat

    res = beat("nvidia-h200-sxm-141gb", ["nvidia-h100-sxm-80gb"], parts=["per_chip"])
    assert not any("die-area base" in n for n in res.notes)


def test_every_package_row_names_a_catalogue_chip_and_a_die_or_its_sram():
    from inferchip.catalog.chips import chip_ids
    from inferchip.cost.design.dies import load_packages

    packages = load_packages()
    assert set(packages) <= set(chip_ids())
    assert {"nvidia-h200-sxm-141gb", "amd-mi355x", "nvidia-b200-180gb"} <= set(packages)
    head = "chip_id,die,sram_mb_per_die,off_die_sram_mb,estimate,source\n"
    with pytest.raises(InvalidSettingError, match="die 'GB100' is no row of design_dies.csv"):
        load_packages(head + "nvidia-b200-180gb,GB100,,0,no,x\n")
    with pytest.raises(InvalidSettingError, match="exactly one of them"):
        load_packages(head + "nvidia-b200-180gb,GH100 (H100 SXM),90,0,no,x\n")
    with pytest.raises(InvalidSettingError, match="estimate 'maybe'"):
        load_packages(head + "nvidia-b200-180gb,,90,0,maybe,x\n")
