"""On-chip SRAM of the chips that stated none until stop 45 (branch sram45): each figure is the level the vision
model keeps a layer's tensors in between layers (a GPU's L2, a TPU's VMEM + CMEM), converted from the source's MiB to
the field's decimal MB by hand here, with its source named in the chip's file."""

import pytest

from inferchip.catalog.chips import get_chip_params, load_chip

MIB = 2**20

# chip id -> (bytes by hand, a word the chip's source citation must carry)
SOURCED = {
    "nvidia-b200-180gb": (126 * MIB, "Chips and Cheese"),  # L2 126 MiB, measured
    "nvidia-gb200-186gb": (126 * MIB, "Chips and Cheese"),  # the B200's L2 (an inferchip estimate)
    "nvidia-gh200-144gb": (50 * MIB, "Hopper Architecture In-Depth"),  # GH100 L2 50 MiB
    "amd-mi250x": (16 * MIB, "ROCm"),  # L2 8 MiB per GCD x 2
    "nvidia-drive-agx-thor": (32 * MIB, "Jetson AGX Thor"),  # the Jetson AGX Thor's L2 (an inferchip estimate)
    "google-tpu-v4": (2 * 16 * MIB + 134_000_000, "tpu_info.py"),  # VMEM 16 MiB x 2 cores + CMEM 134,000,000 B
    "google-tpu-v5e": (128 * MIB, "tpu_info.py"),  # VMEM 128 MiB x 1 core
    "google-tpu-v5p": (2 * 64 * MIB, "tpu_info.py"),  # VMEM 64 MiB x 2 cores
    "google-tpu-v6e-trillium": (128 * MIB, "tpu_info.py"),  # VMEM 128 MiB x 1 core
    "google-tpu7x-ironwood": (2 * 64 * MIB, "tpu_info.py"),  # VMEM 64 MiB x 2 cores
}

# no primary or clearly attributed figure found (docs/serving_journal.md, branch sram45); catalog46 (stop 46) gave L40S,
# Jetson Orin NX / Nano, B300 / GB300 a figure (tests/test_catalog_sram46.py), sram47 (stop 47) the last five, Rubin,
# MI455X and Tesla AI4 / AI5 / AI6, each an inferchip estimate (tests/test_catalog_sram47.py): none is left


@pytest.mark.parametrize("chip", sorted(SOURCED))
def test_sourced_sram_in_bytes_and_cited(chip):
    want, cited = SOURCED[chip]
    # the YAML keeps 2 decimals of MB: within 0.005 MB
    assert get_chip_params(chip).sram_bytes == pytest.approx(want, abs=5_000)
    spec = load_chip(chip)
    assert any(cited in s.citation for s in spec.sources), chip
    assert "SRAM:" in (spec.notes or "")


def test_every_catalogue_chip_states_its_sram():
    from inferchip.catalog.chips import chip_ids

    assert [c for c in chip_ids() if load_chip(c).sram.capacity_mb is None] == []


def test_estimates_say_so():
    # GB200 and DRIVE Thor carry a sibling's figure: a Range whose derivation names it an inferchip estimate
    for chip in ("nvidia-gb200-186gb", "nvidia-drive-agx-thor"):
        fig = load_chip(chip).sram.capacity_mb
        assert hasattr(fig, "derivation") and "inferchip estimate" in fig.derivation


def test_b200_keeps_yolov8n_on_chip_as_the_h100_does():
    """Before: B200 stated no SRAM and YOLOv8n's every activation crossed HBM. With its 132 MB L2 (half usable),
    only the input frame does, as on the H100: 640 x 640 x 3 int8 bytes."""
    from inferchip.performance.vision import frame_cost

    f = frame_cost("nvidia-b200-180gb", "yolov8n-640", 1)
    assert f.bytes_per_frame == 1_228_800
    assert not any("states no on-chip SRAM" in n for n in f.notes)
