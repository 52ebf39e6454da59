"""The Blackwell Ultra and AWS Neuron figures against the vendors' own documents (stop 48, branch catalog48).

Stop 47 left B300 INT8 / FP4 and the Trainium bandwidths as they were because the sources differed. Each figure is
now the vendor's, worked out here from the figure the vendor states (a platform table divided by its GPUs, a
sparse rate halved) so a test fails if the file or the arithmetic drifts: NVIDIA's HGX B300 table (8 GPUs) and
GB300 NVL72 table (72), both read through copies that agree, and the AWS Neuron architecture pages."""

from __future__ import annotations

import pytest

from inferchip.catalog.chips import load_chip
from inferchip.spec.bounds import Range

HGX_GPUS, NVL72_GPUS, SPARSE = 8, 72, 2  # NVIDIA's starred rows are with 2:4 sparsity: dense is half


def _peak(chip: str, fmt: str, level: str = "central") -> float:
    fig = load_chip(chip).compute.dense_tflops[fmt]
    return getattr(fig, level) if isinstance(fig, Range) else fig


def _sources(chip: str) -> str:
    spec = load_chip(chip)
    return " ".join(f"{s.citation} {s.url or ''}" for s in spec.sources) + " " + (spec.notes or "")


@pytest.mark.parametrize(("fmt", "stated_tflops", "divisor"), [
    ("fp4", 105_000, HGX_GPUS),  # FP4 Tensor Core: 144 PF with sparsity | 105 PF without
    ("fp8", 72_000, HGX_GPUS * SPARSE),
    ("bf16", 36_000, HGX_GPUS * SPARSE),
    ("tf32", 18_000, HGX_GPUS * SPARSE),
    ("int8", 2_000, HGX_GPUS * SPARSE),  # 2 POPS: Blackwell Ultra cut INT8 to a sixth of its FP8 (dense 125 TOPS)
    ("fp32", 600, HGX_GPUS),
])
def test_b300_peaks_are_nvidias_hgx_table_per_gpu(fmt, stated_tflops, divisor):
    assert _peak("nvidia-b300-288gb", fmt) == pytest.approx(stated_tflops / divisor)


def test_b300_moved_from_verdas_table_by_what_the_doc_says():
    assert _peak("nvidia-b300-288gb", "fp4") / 14_000 - 1 == pytest.approx(-0.0625)
    assert _peak("nvidia-b300-288gb", "int8") / 150 - 1 == pytest.approx(-1 / 6)
    assert "nvidia.com/en-us/data-center/hgx" in _sources("nvidia-b300-288gb")


@pytest.mark.parametrize(("fmt", "stated_tflops", "divisor"), [
    ("fp4", 1_080_000, NVL72_GPUS),  # 1,440 PF with sparsity | 1,080 PF without: NVIDIA's 15 PF dense NVFP4 a GPU
    ("fp8", 720_000, NVL72_GPUS * SPARSE),
    ("bf16", 360_000, NVL72_GPUS * SPARSE),
    ("tf32", 180_000, NVL72_GPUS * SPARSE),
    ("fp32", 6_000, NVL72_GPUS),
])
def test_gb300_peaks_are_nvidias_nvl72_table_per_gpu(fmt, stated_tflops, divisor):
    assert _peak("nvidia-gb300-288gb", fmt) == pytest.approx(stated_tflops / divisor, abs=0.005)


def test_gb300_int8_spans_the_two_copies_of_nvidias_figure():
    assert _peak("nvidia-gb300-288gb", "int8") == pytest.approx(23_000 / NVL72_GPUS / SPARSE, abs=0.005)
    assert _peak("nvidia-gb300-288gb", "int8", "high") == pytest.approx(24_000 / NVL72_GPUS / SPARSE, abs=0.005)
    spec = load_chip("nvidia-gb300-288gb")
    assert spec.compute.vector_tflops == spec.compute.dense_tflops["fp32"]  # the CUDA cores' FP32 rate


@pytest.mark.parametrize("chip", ["nvidia-b300-288gb", "nvidia-gb300-288gb"])
def test_blackwell_ultra_memory_is_nvidias(chip):
    """288 GB HBM3E in 8 stacks at 8 TB/s (NVIDIA's Technical Blog): twelve 24 Gbit dies a stack, 36 GiB, so the
    288 is binary; the usable figure stays a runtime's, apart."""
    m = load_chip(chip).memory
    assert (m.capacity, m.capacity_unit, m.bandwidth_tb_per_s) == (288, "GiB", 8.0)
    assert m.usable_capacity_gib is not None and m.usable_capacity_gib < 288
    assert "developer.nvidia.com/blog/inside-nvidia-blackwell-ultra" in _sources(chip)


def test_trainium_and_inferentia_are_the_neuron_architecture_pages():
    t2, t3, i2 = (load_chip(c) for c in ("aws-trainium2", "aws-trainium3", "aws-inferentia2"))
    assert (t2.memory.capacity, t2.memory.capacity_unit, t2.memory.bandwidth_tb_per_s) == (96, "GiB", 2.9)
    assert (t2.compute.dense_tflops["fp8"], t2.compute.dense_tflops["bf16"], t2.compute.dense_tflops["fp32"]) == (
        1299, 667, 181)
    assert (t3.memory.capacity, t3.memory.capacity_unit, t3.memory.bandwidth_tb_per_s) == (144, "GiB", 4.9)
    assert (t3.compute.dense_tflops["fp8"], t3.compute.dense_tflops["mxfp4"], t3.compute.dense_tflops["bf16"]) == (
        2517, 2517, 671)
    # AWS's UltraServers agree with the page's 4.9, not the NKI guide's 4.7: 706 TB/s over 144, 314 over 64
    assert round(706 / 144, 1) == round(314 / 64, 1) == t3.memory.bandwidth_tb_per_s
    # Inferentia2: two HBM2e stacks at 3.2 Gb/s over 1,024 bits, decimal: the page's "820 GiB/sec" read as GB/s
    assert i2.memory.bandwidth_tb_per_s == pytest.approx(2 * 3.2 * 1024 / 8 / 1000, abs=0.001)
    for chip in ("aws-trainium2", "aws-trainium3", "aws-inferentia2"):
        assert "awsdocs-neuron.readthedocs-hosted.com" in _sources(chip) and "2026-12-07" in _sources(chip)
