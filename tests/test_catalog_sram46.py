"""On-chip SRAM for five of the ten chips that still stated none after stop 45 (catalog46): the chip-wide pool kept
between kernels (a GPU's L2), in decimal MB from the source's bytes, worked out here by hand; two estimates (Orin Nano
from the Orin NX's query, B300 / GB300 from the B200's measured L2) are Ranges that say so. Rubin, MI455X and Tesla
AI4 / AI5 / AI6, which still stated none, gained estimates at sram47 (tests/test_catalog_sram47.py)."""

from __future__ import annotations

import pytest

from inferchip.catalog.chips import get_chip_params, load_chip

MIB = 2**20

# chip id -> (bytes by hand, a word its source citation carries, estimate?)
FIGURES = {
    "nvidia-l40s": (100_663_296, "cuda-device-query", False),  # deviceQuery L2 Cache Size on an L40S: 96 MiB
    "nvidia-jetson-orin-nx-16gb": (2_097_152, "l4t-base-docker", False),  # deviceQuery on an Orin NX 16GB: 2 MiB
    "nvidia-jetson-orin-nano-8gb": (2 * MIB, "l4t-base-docker", True),  # the NX's 2 MiB: same 8-SM, 128-bit Orin
    "nvidia-b300-288gb": (126 * MIB, "Chips and Cheese", True),  # the B200's measured 126 MiB L2
    "nvidia-gb300-288gb": (126 * MIB, "Chips and Cheese", True),
}


@pytest.mark.parametrize("chip", sorted(FIGURES))
def test_the_pool_in_bytes_its_source_and_its_note(chip: str) -> None:
    want, cited, estimate = FIGURES[chip]
    assert get_chip_params(chip).sram_bytes == pytest.approx(want, abs=5_000)  # the YAML keeps 2 decimals of MB
    spec = load_chip(chip)
    assert any(cited in s.citation for s in spec.sources), chip
    assert "SRAM:" in (spec.notes or "")
    fig = spec.sram.capacity_mb
    assert (hasattr(fig, "derivation") and "inferchip estimate" in fig.derivation) is estimate


def test_the_l40s_pool_is_the_full_ad102_l2_not_the_48_mb_copy() -> None:
    """AD102 has 96 MB of L2 (NVIDIA Ada whitepaper); the L40S enables the full 384-bit bus, and the runtime reports
    100,663,296 B, twice the 48 MB of a TechPowerUp-derived spec copy."""
    assert get_chip_params("nvidia-l40s").sram_bytes > 2 * 48 * MIB * 0.99


def test_an_orin_nx_keeps_yolov8n_activations_it_did_not_before() -> None:
    """Before, the Orin NX stated no SRAM and every activation of YOLOv8n crossed LPDDR5, with the all-DRAM note; with
    its 2 MiB L2 (half usable) the small layers stay on chip: less DRAM traffic a frame, and no such note."""
    from inferchip.performance.vision import frame_cost

    f = frame_cost("nvidia-jetson-orin-nx-16gb", "yolov8n-640", 1)
    assert not any("states no on-chip SRAM" in n for n in f.notes)
    assert f.bytes_per_frame < 41.1e6  # 41.1 MB a frame all-DRAM (sram45's measurement on a chip without SRAM)
