"""One meaning for ``sram.capacity_mb`` (branch sramdef45): the on-chip memory that keeps a layer's tensors from one
kernel to the next, summed over the chip, in decimal MB with a source's MiB converted. Before, H100/H200 (79.4) and
H100 PCIe (75.4) added per-SM shared memory to the L2, MI300X/325X/355X added L2 and LDS to the Infinity Cache, and
the L2-only NVIDIA and the CPU figures read MiB as MB. Each expectation is worked by hand from the source's unit."""

import pytest

from inferchip.catalog.chips import get_chip_params, load_chip
from inferchip.spec.chip_sections import SramSpec

MIB = 2**20

# chip id -> (bytes by hand, what it is)
EXPECTED = {
    "nvidia-h100-sxm-80gb": (50 * MIB, "L2 50 MiB (CUDA: 52,428,800 B)"),
    "nvidia-h100-nvl-94gb": (50 * MIB, "the same GH100 L2"),
    "nvidia-h200-sxm-141gb": (50 * MIB, "the same GH100 L2"),
    "nvidia-h100-pcie-80gb": (50 * MIB, "L2 50 MiB on the PCIe card too (whitepaper)"),
    "nvidia-gh200-96gb": (50 * MIB, "the GH100 L2, as the 144 GB GH200"),
    "nvidia-a100-sxm-80gb": (41_943_040, "L2 40 MiB, deviceQuery bytes"),
    "amd-mi300x": (256 * MIB, "Infinity Cache 256 MiB"),
    "amd-mi325x": (256 * MIB, "Infinity Cache 256 MiB"),
    "amd-mi355x": (256 * MIB, "Infinity Cache 256 MiB"),
    "nvidia-geforce-rtx-4090": (72 * MIB, "L2 72 MiB"),
    "nvidia-geforce-rtx-3090": (6144 * 1024, "L2 6,144 KB (GA102 whitepaper)"),
    "nvidia-l4": (48 * MIB, "L2 48 MiB"),
    "nvidia-rtx-2000e-ada-16gb": (12 * MIB, "L2 12 MiB"),
    "nvidia-rtx-4000-ada-20gb": (48 * MIB, "AD104 L2 48 MiB"),
    "nvidia-jetson-agx-orin-64gb": (4 * MIB, "GPU L2 4 MiB (deviceQuery 4,194,304 B)"),
    "nvidia-jetson-agx-thor-t5000": (32 * MIB, "GPU L2 32 MiB"),
    "cpu:amd-ryzen-9-7950x": ((64 + 16) * MIB, "L3 64 MiB + L2 16 x 1 MiB"),
    "cpu:intel-core-i9-13900k": ((36 + 32) * MIB, "L3 36 MiB + L2 32 MiB"),
    "cpu:intel-xeon-w7-2495x": ((45 + 48) * MIB, "L3 45 MiB + L2 24 x 2 MiB"),
    "cpu:intel-xeon-platinum-8592+": ((320 + 128) * MIB, "L3 320 MiB + L2 64 x 2 MiB"),
    "cpu:intel-xeon-6787p": ((336 + 172) * MIB, "L3 336 MiB + L2 86 x 2 MiB"),
    "cpu:intel-xeon-6980p": ((504 + 256) * MIB, "L3 504 MiB + L2 128 x 2 MiB"),
}


@pytest.mark.parametrize("chip", sorted(EXPECTED))
def test_sram_is_the_pool_kept_between_kernels_in_decimal_bytes(chip):
    want, _ = EXPECTED[chip]
    # the YAML keeps 2 decimals of MB: within 0.005 MB
    assert get_chip_params(chip).sram_bytes == pytest.approx(want, abs=5_000)
    assert "SRAM:" in (load_chip(chip).notes or "")


def test_the_three_hopper_boards_now_agree_with_gh200():
    """The same GH100 L2 on every Hopper board: 79.4 / 75.4 / 50 before, one figure now."""
    hopper = ["nvidia-h100-sxm-80gb", "nvidia-h100-pcie-80gb", "nvidia-h100-nvl-94gb", "nvidia-h200-sxm-141gb",
              "nvidia-gh200-96gb", "nvidia-gh200-144gb"]
    assert len({get_chip_params(c).sram_bytes for c in hopper}) == 1


def test_no_gpu_figure_counts_per_kernel_scratch():
    """Shared memory and LDS hold nothing between kernels: a GPU's figure is at most its L2 (or Infinity Cache),
    so the H100 keeps less than the 79.4 MB it stated with shared memory, and MI300X less than 307."""
    assert get_chip_params("nvidia-h100-sxm-80gb").sram_bytes < 79.4e6 - 25e6
    assert get_chip_params("amd-mi300x").sram_bytes < 300e6


def test_the_field_says_what_it_means():
    d = SramSpec.model_fields["capacity_mb"].description or ""
    assert "from one kernel" in d and "1e6 bytes" in d and "MiB is converted" in d and "shared memory" in d
