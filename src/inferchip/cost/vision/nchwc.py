"""ONNX Runtime's NCHWc direct convolution on an x86 CPU (MLAS): its register block, its filter set and the work
units it partitions over the threads. One place for the partition that both the spent FLOP
(:func:`inferchip.cost.vision.layers.thread_partitioned_flop`) and the accumulation passes' DRAM re-stream
(:func:`inferchip.cost.vision.cpu_cache.restream_bytes`) read.

Source: onnxruntime ``core/mlas/lib/snchwc.cpp``, ``MLAS_NCHWC_GROUPED_CONV_ALGORITHM::PrepareWork``: TotalWork =
BatchCount x GroupCount x FilterSetCount x OutputHeight, FilterSetSize = 4 blocks of ``MlasNchwcGetBlockSize()``
channels (8 on AVX2, 16 on AVX-512).
"""

from __future__ import annotations

import numpy as np

from inferchip.cost.roofline import FloatArray

NCHWC_FILTER_SET_BLOCKS = 4.0
"""Register blocks of output channels in one NCHWc filter set, the unit of work with one output row: onnxruntime
``core/mlas/lib/snchwc.cpp`` (``FilterSetSize = 4`` blocks; a kernel call computes up to 4 blocks of channels)."""


def nchwc_block_channels(vector_width_bits: float) -> float:
    """fp32 channels in one NCHWc register block of ONNX Runtime's MLAS on a CPU whose widest SIMD register is
    ``vector_width_bits``: 16 (one 512-bit ZMM register) on an AVX-512 core, else 8 (one 256-bit YMM register, or
    two 128-bit SSE registers). Source: onnxruntime ``core/mlas/lib/platform.cpp``: ``NchwcBlockSize = 8`` for the
    x86-64 baseline, set to 16 when CPUID reports AVX512F (read by ``MlasNchwcGetBlockSize()``). Hand check: 256
    bits -> 8 channels, 32 per filter set; 512 bits -> 16 channels, 64 per filter set."""
    return 16.0 if vector_width_bits >= 512.0 else 8.0


def output_rows(m: FloatArray) -> FloatArray:
    """Output rows of a convolution with ``m`` output positions per frame and group, taken as a square:
    ceil(sqrt(m)) (at least 1). Hand check: 518,400 positions -> 720 rows; 49 -> 7."""
    return np.asarray(np.ceil(np.sqrt(np.maximum(m, 1.0))), dtype=float)


def work_units(m: FloatArray, n: FloatArray, groups: FloatArray, frames: FloatArray, set_cols: float) -> FloatArray:
    """Work units of the convolution (``PrepareWork``'s TotalWork): frames x groups x filter sets
    (ceil(n / ``set_cols``), ``n`` output channels per group) x :func:`output_rows`. Hand check: ResNet-50's last
    1x1 layer (7 x 7 positions, 512 columns, 32-column sets) at batch 1: 7 x 16 = 112."""
    return np.asarray(frames * groups * np.ceil(n / set_cols) * output_rows(m), dtype=float)
