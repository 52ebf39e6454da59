"""Time of ONNX Runtime's CPU ``GridSample`` kernel: a scalar loop per output element, parallel over channels only.

BEVFormer's deformable attention reaches an ONNX graph as ``GridSample`` nodes: the MLPerf Automotive reference runs
``multi_scale_deformable_attn_pytorch`` (mmcv) in its spatial cross-attention, temporal self-attention and decoder
(mlcommons/mlperf_automotive @8d96378243 ``automotive/camera-3d-detection/projects/mmdet3d_plugin/bevformer/modules/
spatial_cross_attention.py``: the CUDA branch is disabled with ``if False and ...``), which calls
``F.grid_sample(value_l_, grid, mode='bilinear', padding_mode='zeros', align_corners=False)`` on value maps of
(batch x heads, dim / heads, H, W) with a grid of (batch x heads, queries, points, 2); NVIDIA's MLPerf harness finds
these nodes by name in the MLCommons ONNX (``.../attentions.0/GridSample``; mlcommons/automotive_results_v0.5
@87400b50 ``closed/NVIDIA/code/bevformer/tensorrt/surgeon_recipe/use_msda_and_rotate_plugin.py``) and replaces them
with its plugin; the reference CPU row runs them on ONNX Runtime's CPU execution provider
(``backend_deploy.py``: ``ort.InferenceSession(self.checkpoint)``, default options).

ONNX Runtime's CPU ``GridSample<float>::Compute`` (microsoft/onnxruntime ``core/providers/cpu/tensor/grid_sample.cc``;
1.22 has only the generic path, the bilinear/zeros fast path with a precomputed sampling plan is PR #27359 of
2026-02, written "for the GridSample nodes having similar characteristics [to] the camera based 3D object detection
model in MLPerf Automotive") loops ``for n in N`` and inside it runs ``ThreadPool::TrySimpleParallelFor(tp, C, ...)``:
one task per channel, each walking every output point with scalar code (denormalise the grid point, floor, four
bounds-checked loads, the bilinear blend). The pool hands the C tasks to its threads dynamically, so one batch item
lasts ceil(C / threads) task times: with BEVFormer's 32 channels per head on 24 threads, two, i.e. 16 channels'
worth of throughput. The scalar loop is not the memory-bound gather the cost model prices elsewhere: the value map
of one channel (15 x 25 camera features, 50 x 50 BEV) sits in L1.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from inferchip.cost.roofline import FloatArray

CYCLES_PER_OUTPUT = 46.0
"""Core clock cycles ONNX Runtime 1.22's CPU ``GridSample`` (bilinear, zeros, align_corners 0) spends per output
element on one thread. inferchip measurement (2026-12-05, stop 31; an estimate, not a vendor figure): onnxruntime
1.22.0 from PyPI, one GridSample-16 node, ``intra_op_num_threads = 1``, best of 5 in process CPU time (the machine was
shared, so wall time is not the kernel's), sampling points inside the map: BEVFormer-tiny's spatial cross-attention
shape (value 48 x 32 x 15 x 25, grid 48 x 2500 x 8 x 2) 11.55 ns per output, temporal self-attention (16 x 32 x 50 x
50, grid 16 x 2500 x 4 x 2) 11.45 ns, decoder (8 x 32 x 50 x 50, grid 8 x 900 x 4 x 2) 12.17 ns, on an AMD EPYC VM core
whose dependent-add loop ran 3.92-4.04 G iterations per CPU second (one per cycle): 46-48 cycles per output. Two
thirds of the points outside the map (zeros): 38-46 cycles. A first wall-clock run on the loaded machine gave 32 ns
(84 "cycles" at the nominal 2.6 GHz): time slices of other processes, not kept. Taken at the chip's catalogue clock
(the clock its peaks are quoted at), which for a CPU whose scalar cores turbo above it makes the time an upper
bound.
Reproduce with ``tools/vision/bench_ort_gridsample.py`` (onnxruntime 1.22.0; 1.32 runs the same nodes at 4-8 cycles
through its fast path)."""


def gridsample_outputs(taps: npt.ArrayLike) -> FloatArray:
    """GridSample output elements of a gather record: 4 bilinear taps per output element, so ``taps / 4``
    (``Tracer.gather`` and the ONNX importer both record ``in_elems`` = 4 x the sampled elements)."""
    return np.asarray(np.asarray(taps, dtype=float) / 4.0, dtype=float)


def channel_rounds(channels: npt.ArrayLike, threads: float) -> FloatArray:
    """Task times one batch item of ``TrySimpleParallelFor(tp, C, ...)`` lasts, per channel of work:
    ceil(C / threads) / C (threads claim one channel each until none is left). A record without a channel count
    (``channels`` <= 0) is taken as perfectly split over the threads (1 / threads).

    Hand check: 32 channels on 24 threads -> 2 / 32 = 0.0625 (16 channels' throughput); 24 on 24 -> 1 / 24."""
    c = np.asarray(channels, dtype=float)
    t = float(threads)
    return np.asarray(np.where(c > 0.0, np.ceil(np.maximum(c, 1.0) / t) / np.maximum(c, 1.0), 1.0 / t), dtype=float)


def gridsample_s(taps: npt.ArrayLike, channels: npt.ArrayLike, frames: npt.ArrayLike, *, threads: float,
                 clock_hz: float, cycles_per_output: float = CYCLES_PER_OUTPUT) -> FloatArray:
    """Seconds ONNX Runtime's CPU ``GridSample`` takes for a gather record of ``taps`` bilinear taps per frame whose
    batch items carry ``channels`` channels each, at ``frames`` frames per call: outputs x frames x cycles /
    clock x :func:`channel_rounds`.

    Hand check: BEVFormer-tiny's spatial cross-attention on all 6 cameras (48 items x 32 channels x 2,500 queries
    x 8 points = 30.72 M outputs) on 24 threads at 2.5 GHz: 30.72 M x 46 / 2.5 GHz x 2 / 32 = 35.3 ms."""
    outputs = gridsample_outputs(taps) * np.asarray(frames, dtype=float)
    per_output_s = float(cycles_per_output) / float(clock_hz)
    return np.asarray(outputs * per_output_s * channel_rounds(channels, threads), dtype=float)
