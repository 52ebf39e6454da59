"""DRAM traffic of ONNX Runtime's NCHWc convolution on a CPU whose output block spills the caches
(``catalog/vision/cpu_caches.csv``).

ONNX Runtime runs an fp32 convolution on x86 as MLAS's NCHWc direct convolution (the NCHWc layout transformer is part
of the default ``ORT_ENABLE_ALL`` optimisation level; onnxruntime ``core/optimizer/nchwc_transformer.cc``). Each thread
takes a contiguous range of work units (one output row of one filter set of one frame and group,
``MLAS_NCHWC_GROUPED_CONV_ALGORITHM::PrepareWork``) and walks it in passes over the input channels, accumulating into
the output rows of its range (onnxruntime ``core/mlas/lib/snchwc.cpp``):

* ``MLAS_NCHWC_CONV_NCHWC_ALGORITHM::Execute`` (kernels wider than 1x1): ``for (ic = 0; ic < InputChannels;
  ic += BlockSize)`` over the rows of the pass (``WorkThisIteration = min(WorkRemaining, OutputHeight - ph)``), with
  ``MLAS_CONV_KERNEL_FLAG_ACCUMULATE_OUTPUT`` set for every block but the first (``ComputeKernelFlags``);
* ``MLAS_NCHWC_CONV_POINTWISE_ALGORITHM::Execute`` (1x1): the same over input-channel batches of
  ``MaximumInputChannelBatch = 128``; its comment: "Shrinking the batch size causes a slowdown from additional
  flushing of intermediate results to the output tensor. Extending the batch sizes causes a slowdown from processor
  cache thrashing."

So the output block of a pass (its rows x output width x the filter set's channels) is read and written once per
input-channel step after the first. While the block fits the core's L2 these re-reads stay on the core; when it does
not, and the threads' blocks together exceed the L3 as well, every extra pass streams the block from DRAM and back
(:func:`restream_bytes`). The accumulating kernel loads the block into its accumulator registers before the
multiply-add chain of the pass and stores it after, so that stream is charged in series with the layer's compute
(``LayerCosts.stall_s``), not overlapped with it (inferchip's reading of the kernel's data dependence).

Only the ONNX Runtime fp32 rows of CPUs listed in the table pay it; every other chip and runtime has none.
"""

from __future__ import annotations

import dataclasses
from functools import lru_cache
from pathlib import Path

import numpy as np

from inferchip.cost.roofline import FloatArray
from inferchip.cost.vision.nchwc import NCHWC_FILTER_SET_BLOCKS, output_rows, work_units
from inferchip.cost.vision.table import positive_number, read_table, stated_source, unique_chip_id
from inferchip.errors import InferchipError
from inferchip.spec.formats import BYTES_PER_ELEMENT

CPU_CACHES_FILE = Path(__file__).resolve().parents[2] / "catalog" / "vision" / "cpu_caches.csv"
MIB = 1024.0 * 1024.0
POINTWISE_CHANNEL_BATCH = 128.0
"""Input channels of one accumulation pass of MLAS's 1x1 NCHWc convolution (``MaximumInputChannelBatch``,
onnxruntime ``core/mlas/lib/snchwc.cpp``)."""
FP32_BYTES = BYTES_PER_ELEMENT["fp32"]
TASK_GRANULARITY_FACTOR = 4.0
"""Work ranges per intra-op thread ONNX Runtime cuts a parallel loop into on a hybrid CPU (P- and E-cores): its
``ThreadPool::DegreeOfParallelism`` returns (NumThreads() + 1) x ``TaskGranularityFactor`` (= 4) when
``CPUIDInfo::IsHybrid()``, else NumThreads() + 1 (onnxruntime ``core/common/threadpool.cc``), and MLAS's NCHWc
convolution partitions its work into that many ranges (``WorkBlock.tids = MlasGetMaximumThreadCount(ThreadPool)``,
``core/mlas/lib/snchwc.cpp``; ``MlasGetMaximumThreadCount`` returns ``DegreeOfParallelism``, ``core/mlas/lib/mlasi.h``),
which the threads claim as they free."""


class CpuCacheFileError(InferchipError):
    """``cpu_caches.csv`` is malformed."""


@dataclasses.dataclass(frozen=True)
class CpuCaches:
    l2_bytes_per_core: float  # the smallest private (or per-core share of a cluster's) L2
    l3_bytes: float  # last-level cache of the whole chip
    hybrid: bool  # P- and E-cores (CPUID hybrid flag): ONNX Runtime cuts work ranges TASK_GRANULARITY_FACTOR finer
    source: str

    def work_ranges(self, threads: float) -> float:
        """Ranges ONNX Runtime partitions an NCHWc convolution into on ``threads`` intra-op threads
        (:data:`TASK_GRANULARITY_FACTOR` per thread on a hybrid CPU, else one)."""
        return threads * (TASK_GRANULARITY_FACTOR if self.hybrid else 1.0)


def _size(row: dict[str, str], field: str) -> float:
    return positive_number(row, field, "a size in MiB") * MIB


@lru_cache(maxsize=4)
def load_cpu_caches(path: Path = CPU_CACHES_FILE) -> dict[str, CpuCaches]:
    """chip id -> its cache sizes; a bad row stops with file, line, field and what is allowed."""
    seen: set[str] = set()

    def parse(row: dict[str, str]) -> tuple[str, CpuCaches]:
        chip = unique_chip_id(row, seen)
        source = stated_source(row, "size")
        hybrid = (row.get("hybrid") or "").strip()
        if hybrid not in ("yes", "no"):
            raise ValueError(f"hybrid {hybrid!r} not allowed; allowed: yes, no")
        return chip, CpuCaches(_size(row, "l2_mib_per_core"), _size(row, "l3_mib"), hybrid == "yes", source)

    return dict(read_table(path, CpuCacheFileError, parse))


def kernel_volume(k: FloatArray) -> FloatArray:
    """Kernel taps of a convolution read from its reduction length k = C_in/groups x taps: 49 (7x7) where k divides
    by 49, else 9 (3x3) where it divides by 9, else 1 (1x1). Exact for the 2-D networks whose channel counts 9 and
    49 never divide and whose kernels are 1x1, 3x3 or 7x7: every network an ONNX Runtime fp32 CPU row runs
    (tests/test_vision_cpu_cache.py checks it against the traced kernels). Not for others: 3D-UNet's 3x3x3 kernels
    read as 9 taps, SSD-ResNet50's 5x5 heads and ViT's 16x16 patch embedding as 1x1. Hand check: 147 -> 49
    (3 channels, 7x7); 576 -> 9 (64 channels, 3x3); 256 -> 1."""
    kk = np.asarray(k, dtype=float)
    return np.asarray(np.where(kk % 49.0 == 0.0, 49.0, np.where(kk % 9.0 == 0.0, 9.0, 1.0)), dtype=float)


def accumulation_passes(k: FloatArray, block_channels: float) -> FloatArray:
    """Passes over the input channels that accumulate into one output block: ceil(C_in/groups / step), the step
    being :data:`POINTWISE_CHANNEL_BATCH` channels for a 1x1 convolution and one NCHWc block (``block_channels``, 8 on
    AVX2, 16 on AVX-512) for a wider kernel. Hand check: a 3x3 conv of 64 channels on AVX2 -> 8 passes, on AVX-512 ->
    4; a 1x1 of 1,024 channels -> 8."""
    taps = kernel_volume(k)
    channels = np.asarray(k, dtype=float) / taps
    step = np.where(taps == 1.0, POINTWISE_CHANNEL_BATCH, block_channels)
    return np.asarray(np.ceil(channels / step), dtype=float)


def restream_bytes(m: FloatArray, k: FloatArray, n: FloatArray, groups: FloatArray, frames: FloatArray,
                   out_elems: FloatArray, *, block_channels: float, threads: float, caches: CpuCaches) -> FloatArray:
    """DRAM bytes a convolution's accumulation passes add when its output block spills the caches (module doc).

    ``m`` output positions per frame and group (rows: :func:`inferchip.cost.vision.nchwc.output_rows`, the
    partition :func:`inferchip.cost.vision.nchwc.work_units` that the spent FLOP reads too), ``n`` output channels
    per group, ``frames`` frames per call, ``out_elems`` output elements per frame. A range is ceil(units / ranges)
    work units
    (:meth:`CpuCaches.work_ranges` of ``threads``); a pass covers at most one image's rows of it, so its block =
    min(that, rows) rows x width x one filter set's channels (4 NCHWc blocks, at most n padded to the block) x 4 bytes.
    When the block exceeds the core's L2 and ``threads`` blocks exceed the L3, each pass after the first reads and
    writes the layer's whole output once more:
    (passes - 1) x 2 x output bytes. Hand check: a 3x3 conv of 64 -> 64 channels over 518,400 positions
    (DeepLabV3+ at stride 4 of an 8 MP frame; taken as 720 x 720) on 24 AVX2 threads (1 MiB L2, 36 MiB L3, not
    hybrid): 2 filter sets x 720 rows = 1,440 units, 60 rows a range, block 60 x 720 x 32 x 4 B = 5.53 MB > 1 MiB,
    x 24 = 133 MB > 36 MiB; 8 passes -> 7 x 2 x 132.7 MB = 1.858 GB. Hybrid (96 ranges): 15 rows, 1.38 MB > 1 MiB,
    x 24 = 33.2 MB < 36 MiB: no re-stream."""
    rows = output_rows(m)
    width = np.maximum(m, 1.0) / rows
    set_cols = NCHWC_FILTER_SET_BLOCKS * block_channels
    set_channels = np.minimum(set_cols, np.ceil(n / block_channels) * block_channels)
    units = work_units(m, n, groups, frames, set_cols)
    pass_rows = np.minimum(np.ceil(units / caches.work_ranges(threads)), rows)
    block_bytes = pass_rows * width * set_channels * FP32_BYTES
    spills = (block_bytes > caches.l2_bytes_per_core) & (threads * block_bytes > caches.l3_bytes)
    extra = (accumulation_passes(k, block_channels) - 1.0) * 2.0 * out_elems * frames * FP32_BYTES
    return np.asarray(np.where(spills, np.maximum(extra, 0.0), 0.0), dtype=float)
