"""Host time eager PyTorch spends getting fresh memory for every large CPU tensor: page faults and ``munmap``.

PyTorch's CPU allocator keeps no cache: ``c10::alloc_cpu`` is ``posix_memalign`` and ``free_cpu`` is ``free``
(pytorch/pytorch ``c10/core/impl/alloc_cpu.cpp``; 2.2+ adds ``madvise(MADV_HUGEPAGE)`` only when the
``THP_MEM_ALLOC_ENABLE`` environment variable is set, PR #115990, which the MLPerf Automotive reference does not set),
and oneDNN's tensors come from the same allocator (``IDeepRegistration.cpp`` registers
``c10::GetAllocator(c10::DeviceType::CPU)`` as ideep's CPU engine allocator).
glibc serves a block above its mmap threshold with a fresh anonymous ``mmap`` and hands it back with ``munmap`` as
soon as it is freed ("Very large blocks (much larger than a page) are allocated with mmap ... these chunks are
returned to the system immediately when they are freed", GNU C Library manual, "Efficiency and Malloc"); the
threshold adapts but never exceeds ``DEFAULT_MMAP_THRESHOLD_MAX`` = 4 x 1024 x 1024 x sizeof(long) = 32 MiB on
64-bit (mallopt(3), ``M_MMAP_THRESHOLD``). Linux populates such a mapping one 4 KiB page at a time on first touch
(a page fault that allocates and zeroes the page; transparent huge pages only where madvised, Ubuntu's default
``madvise`` mode) and frees every page again in ``munmap``.

In eager mode every convolution of an 8 MP frame allocates its blocked input copy, its blocked output and the dense
NCHW output ``mkldnn_to_dense`` returns, and the BatchNorm after it a fresh output (``at::empty_like``): hundreds of
MB each (:mod:`inferchip.cost.vision.eager` names the kernels). The first touch happens inside the parallel kernels
(oneDNN's reorder and convolution, ATen's BatchNorm loop), so the faults are shared by the intra-op threads; the
``munmap`` runs in the thread that drops the tensor, the one running the model, in series with it. ONNX Runtime
(``enable_cpu_mem_arena`` defaults on: the BFC arena and the memory-pattern planner reuse the same buffers run after
run) and TensorFlow (its BFC allocator) do not pay this in steady state.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from inferchip.cost.roofline import FloatArray

PAGE_BYTES = 4096.0
"""x86-64 base page (THP not madvised for these buffers)."""
MMAP_THRESHOLD_MAX_BYTES = 32.0 * 1024.0 * 1024.0
"""glibc ``DEFAULT_MMAP_THRESHOLD_MAX`` on 64-bit (mallopt(3)): a larger block is always a fresh mmap; smaller ones
may come from the heap and be reused (not counted)."""
FAULT_S_PER_PAGE = 1.37e-6
"""Seconds of one first-touch fault on a 4 KiB anonymous page (allocate + zero + map). inferchip measurement
(2026-12-05, stop 31; an estimate): a C loop writing one byte per page of a fresh 512 MiB ``MAP_ANONYMOUS`` mapping
with ``MADV_NOHUGEPAGE``, best of 6 in process CPU time, Linux 6.18 on an AMD EPYC VM core running ~3.95 G dependent
adds per CPU second: 1.37 us per page (a second touch: 0.016 us). A public bare-metal figure of the same order: a
minor fault of ~1.0 us median (575 ns minimum) on Linux 6.6, Intel Core i7 11th gen (ddumbying.vercel.app,
"Page fault latency measurement"). Reproduce with ``tools/vision/bench_page_faults.c`` (the lead's rerun: 1.31 us)."""
UNMAP_S_PER_PAGE = 0.275e-6
"""Seconds ``munmap`` spends per populated 4 KiB page (unmap, TLB flush, free). inferchip measurement, same run as
:data:`FAULT_S_PER_PAGE`: 0.272-0.280 us per page (an estimate)."""


def fresh_buffer_bytes(kernel_in_elems: npt.ArrayLike, out_elems: npt.ArrayLike, batch_norm: npt.ArrayLike,
                       elem_bytes: npt.ArrayLike, frames: npt.ArrayLike) -> FloatArray:
    """Bytes of the fresh mappings one eager NCHW convolution allocates per call: the blocked input copy, the
    blocked output and the dense output, and the BatchNorm's output when one follows, each only if it is above
    :data:`MMAP_THRESHOLD_MAX_BYTES` (a smaller block may be a reused heap chunk).

    Hand check: a 1x1 conv from 64 x 540 x 960 to 256 x 540 x 960 fp32 with BN, one frame: input copy 132.7 MB,
    outputs 3 x 530.8 MB: 1.725 GB; a 1 x 256 x 34 x 60 output (2.1 MB) counts nothing."""
    eb = np.asarray(elem_bytes, dtype=float) * np.asarray(frames, dtype=float)
    inp = np.asarray(kernel_in_elems, dtype=float) * eb
    out = np.asarray(out_elems, dtype=float) * eb
    copies = 2.0 + np.asarray(batch_norm, dtype=float)

    def big(x: FloatArray) -> FloatArray:
        return np.where(x > MMAP_THRESHOLD_MAX_BYTES, x, 0.0)

    return np.asarray(big(inp) + copies * big(out), dtype=float)


def fresh_memory_s(fresh_bytes: npt.ArrayLike, threads: float, *, fault_s: float = FAULT_S_PER_PAGE,
                   unmap_s: float = UNMAP_S_PER_PAGE) -> FloatArray:
    """Seconds the fresh mappings add per call: pages x (fault_s / threads + unmap_s), the faults shared by the
    ``threads`` that first write the buffers, the ``munmap`` in the model's own thread. That the faults divide
    evenly over the threads is an estimate (inferchip's, stop 31): concurrent faults of one process contend on its
    page tables and mmap lock, so the fault part is a lower bound.

    Hand check: 1.725 GB = 421,200 pages on 24 threads: 421,200 x (1.37 / 24 + 0.275) us = 0.140 s."""
    pages = np.asarray(fresh_bytes, dtype=float) / PAGE_BYTES
    return np.asarray(pages * (fault_s / float(threads) + unmap_s), dtype=float)
