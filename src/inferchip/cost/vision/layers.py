"""Time of every layer of a vision network on one chip, vectorised over the batch.

Per layer (METHODS.md roofline, applied layer by layer and summed):

* **Matrix layers** (convolution, linear, attention) are lowered to the matrix unit as an implicit
  GEMM: m = output positions x frames, k = C_in/groups x kernel volume, n = C_out/groups. When the
  output tiles cannot fill the chip, the reduction is split (split-K, :func:`split_k`). The
  output is computed in the chip's ``tile_m x tile_n`` tiles, ``tiles_in_flight`` at a time
  (:func:`inferchip.cost.gemm.quantised_flop`: a partial tile or wave costs a full one), and k is
  padded to the MMA instruction's reduction depth (:data:`K_TILE_BYTES` of operand; on a CPU's AMX
  tile unit :data:`AMX_K_TILE_BYTES`). Compute time
  = spent FLOP / (peak at the layer's format x attainable fraction). On a CPU a format whose peak is
  the vector FMA peak (fp32) runs on the vector units at ``cpu_vector_fraction``; a format with a matrix
  engine (AMX int8/bf16) at ``cpu_matrix_fraction`` (:func:`on_vector_units`), slowed where the layer has too
  few output columns to keep the engine fed with activations (:func:`operand_feed_factor`).
* **Vector layers** (depthwise conv, pooling, normalisation, elementwise, resize, the matrix
  layers' epilogues) run on the vector units at ``vector_flop_per_s``.
* **Gathers** (deformable attention, grid sampling) are memory-bound: each bilinear tap is a
  random read of :data:`GATHER_READ_FACTOR` x the element.
* **Traffic**: weights are read once per call (per repeat) from DRAM, unless all the network's weights
  fit the usable share of SRAM: then they stay resident on chip (weight-stationary parts such as
  SRAM-heavy inference cards) and are read from SRAM. A layer's activations stay on chip
  when its working set (activations in and out for the whole batch, plus its weights) fits the
  usable share of SRAM (layer fusion); a larger working set keeps the share that fits
  (usable SRAM / working set) and moves the rest through DRAM. Fusable layers (activations, norms
  folded into the producer) never touch DRAM. Memory time = DRAM bytes / (bandwidth x fraction).
* Layer time = max(compute, memory) + the family's kernel overhead (none for fusable layers).
* **Clock**: compute rates (matrix peaks, vector rate) are those at the chip's sustained clock where
  ``catalog/vision/sustained_clocks.csv`` states one (:mod:`inferchip.cost.vision.clocks`; GeForce cards run
  above their datasheet boost clock), else the datasheet's. The roofline bound uses the same rates.

Arrays are (layers, batch points). Scalars of the chip may be floats only (one chip).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from inferchip.cost.constants import FLOP_PER_MAC
from inferchip.cost.gemm import CUBLAS_SPLIT_K_MIN_DEPTH, m_tile, quantised_flop, split_slices
from inferchip.cost.peaks import peak_flop_per_s
from inferchip.cost.roofline import FloatArray
from inferchip.cost.vision.clocks import at_sustained_clock
from inferchip.cost.vision.cpu_cache import load_cpu_caches, restream_bytes
from inferchip.cost.vision.eager import epilogue_pass_bytes, reorder_bytes
from inferchip.cost.vision.eager_alloc import fresh_buffer_bytes, fresh_memory_s
from inferchip.cost.vision.nchwc import NCHWC_FILTER_SET_BLOCKS as NCHWC_FILTER_SET_BLOCKS  # re-exported
from inferchip.cost.vision.nchwc import nchwc_block_channels as nchwc_block_channels  # re-exported
from inferchip.cost.vision.nchwc import work_units
from inferchip.cost.vision.ort_gridsample import gridsample_s
from inferchip.spec.formats import BYTES_PER_ELEMENT, check_format
from inferchip.spec.params import ChipParams
from inferchip.spec.stream import attainable_memory_bytes_per_s
from inferchip.spec.vision import VisionCalibration, is_cpu_family
from inferchip.workload.vision.model import UNIT_GATHER, UNIT_MATRIX, UNIT_VECTOR, LayerArrays

K_TILE_BYTES = 32.0
"""Reduction depth of one MMA instruction in operand bytes: NVIDIA m16n8k32 for int8, m16n8k16 for fp16
(PTX ISA, warp-level mma shapes); assumed for every matrix unit."""
AMX_K_TILE_BYTES = 64.0
"""Reduction depth of one AMX tile multiply in operand bytes: a tile row holds at most 64 bytes, so TDPBSSD
(int8) reduces 64 elements and TDPBF16PS (bf16) 32 per instruction (Intel 64 and IA-32 Architectures
Optimization Reference Manual, AMX chapter); a shorter reduction still takes the whole instruction."""
GATHER_READ_FACTOR = 2.0
"""Bytes fetched per useful byte of a bilinear gather: 32-byte sectors of which about half are used (estimate)."""


# Shallowest reduction slice a split-K kernel gives one tile (elements): the one estimate the LLM GEMMs' split-K
# uses too (cost.gemm.CUBLAS_SPLIT_K_MIN_DEPTH, its source there), kept under its vision name.
SPLIT_K_MIN_DEPTH = CUBLAS_SPLIT_K_MIN_DEPTH


def split_k(m: FloatArray, k: FloatArray, n: FloatArray, groups: FloatArray, chip: ChipParams) -> FloatArray:
    """Split-K factor a kernel library uses when the output tiles cannot fill the chip: the reduction is cut
    into slices (each at least :data:`SPLIT_K_MIN_DEPTH` deep) so that tiles x slices approach the tiles in
    flight. 1 when the output tiles already fill a wave."""
    tm = m_tile(m, float(chip.gemm_tile_m))
    tiles = np.ceil(np.maximum(m, 1.0) / tm) * np.ceil(n / float(chip.gemm_tile_n)) * groups
    return split_slices(tiles, float(chip.gemm_tiles_in_flight), np.floor(k / SPLIT_K_MIN_DEPTH))


@dataclass(frozen=True)
class LayerCosts:
    """Per-layer results, shape (layers, batch points); ``spent_flop`` counts padded tiles."""

    time_s: FloatArray
    compute_s: FloatArray
    matrix_s: FloatArray
    vector_s: FloatArray
    memory_s: FloatArray
    overhead_s: FloatArray
    useful_flop: FloatArray
    spent_flop: FloatArray
    vector_ops: FloatArray
    dram_bytes: FloatArray
    sram_bytes: FloatArray
    formats: tuple[str, ...]
    fraction: FloatArray  # (layers,): attainable share of the layer format's peak that ``matrix_s`` used
    amx_n: FloatArray  # (layers,): output columns per group of layers on a CPU matrix engine; inf elsewhere
    vector_fma: np.ndarray  # (layers,) bool: the format runs on a CPU's vector FMA units (no matrix engine)
    input_bytes_per_frame: float  # the network's input in the first layer's format
    loaded_matrix_s: FloatArray | None = None  # matrix time per call when ``streams`` calls share the waves
    stall_s: FloatArray | None = None  # DRAM time in series with compute (cpu_cache.py restream_bytes); in time_s


def layer_formats(a: LayerArrays, precision: str, quantised: str | None = None,
                  gather: str | None = None) -> tuple[str, ...]:
    """Each layer's number format: its own override, else ``quantised`` for a convolution when the runtime
    quantised only those (a mixed "fp32/int8" engine), else ``gather`` for a gather (deformable-sampling) layer
    when the runtime's kernel for it runs only that format, else the network precision.

    Sources: with a calibrator and no Q/DQ nodes (implicit quantization) TensorRT 8.x runs a layer INT8 only where
    it has INT8 kernels, convolutions among them; the matrix multiplies the linear layers of a transformer export to
    (ONNX ``MatMul``) have none without explicit Q/DQ nodes (the "Layer support matrix" of the TensorRT 8.x
    documentation, as NVIDIA/TensorRT#4322 quotes it), so they stay in the float precision the builder flags allow
    (FP16 with ``--fp16``, else FP32). A plugin layer runs the formats its ``supportsFormatCombination`` accepts.
    Hand check: a conv, a gather and a matmul at ("fp32", "int8") run int8, fp32, fp32; with ``gather`` "fp32" at
    ("fp16", "int8") int8, fp32, fp16."""
    precision = check_format(precision, "precision")
    quantised = None if quantised is None else check_format(quantised, "layer format")
    gather = None if gather is None else check_format(gather, "layer format")
    return tuple(check_format(p, "layer precision") if p else quantised if quantised and c
                 else gather if gather and u == UNIT_GATHER else precision
                 for p, c, u in zip(a.precision, a.conv, a.unit, strict=True))


def on_vector_units(chip: ChipParams, fmt: str) -> bool:
    """True on a CPU whose peak at ``fmt`` is no more than its vector FMA peak (fp32 on AVX2/AVX-512): such
    layers run on the vector units, at their own attainable fraction, not on the matrix engine (AMX)."""
    return is_cpu_family(chip.family) and float(peak_flop_per_s(chip, fmt)) <= float(chip.vector_flop_per_s) * (
        1.0 + 1e-9)


def operand_feed_factor(columns: FloatArray, feed_columns: float) -> FloatArray:
    """Time multiplier of a CPU matrix-engine (AMX) layer whose tiles compute ``columns`` output columns per group
    (n padded to the output tile): max(1, feed_columns / columns).

    Each activation (A-operand) byte loaded into a tile serves at most every computed column of the layer, so the
    layer needs spent MACs / columns bytes of activation feed, against spent MACs / engine rate of multiply time:
    time = max(multiply, feed) = multiply x max(1, (engine MAC rate / feed bytes per cycle) / columns).
    ``feed_columns`` is that ratio, the column count at which feed and multiply balance (fitted on the CPU
    calibration rows; 128 means 1,024 int8 MAC per cycle fed at 8 bytes per cycle per core, the rate of a core
    streaming from L3 or DRAM rather than L1/L2; 0: no bound). Layers not on a matrix engine have inf columns: 1.
    Hand check: 32 columns at feed_columns 128 run 4x slower than the multiply alone; 256 columns not at all."""
    if feed_columns <= 0.0:
        return np.ones_like(np.asarray(columns, dtype=float))
    return np.asarray(np.maximum(1.0, feed_columns / np.asarray(columns, dtype=float)), dtype=float)


def _per_layer(values: dict[str, float], formats: tuple[str, ...]) -> FloatArray:
    return np.array([values[f] for f in formats], dtype=float)


def packed_flop_per_call(m: FloatArray, k: FloatArray, n: FloatArray, groups: FloatArray, chip: ChipParams,
                         streams: int) -> FloatArray:
    """FLOP the matrix units spend per call when ``streams`` calls of the same layer run on concurrent CUDA
    streams: every call keeps its own tiles (and split-K), the tiles of all calls are packed into
    ceil(streams x tiles / tiles in flight) waves, and each call is charged 1 / streams of them. With one stream
    this is :func:`inferchip.cost.gemm.quantised_flop` exactly.

    Source: CUDA C++ Programming Guide, "Concurrent Kernel Execution" (kernels of different streams of one
    context may run concurrently; the block scheduler places a kernel's blocks on SMs the other kernel leaves
    free), so one call's partial last wave is filled by the other call's blocks."""
    s = float(streams)
    return np.asarray(quantised_flop(m, k, n, groups * s, chip.gemm_tile_m, chip.gemm_tile_n,
                                     chip.gemm_tiles_in_flight) / s, dtype=float)


def thread_partitioned_flop(m: FloatArray, k: FloatArray, n: FloatArray, groups: FloatArray, frames: FloatArray,
                            *, block_cols: float, set_cols: float, threads: float) -> FloatArray:
    """FLOP a CPU's vector FMA units spend on a convolution run as ONNX Runtime's NCHWc direct convolution: output
    channels padded to the register block (``block_cols``: :func:`nchwc_block_channels`, 8 fp32 lanes of a 256-bit
    vector or 16 of a 512-bit one), the work cut into units of one output row x one filter set (``set_cols`` =
    :data:`NCHWC_FILTER_SET_BLOCKS` blocks) per frame and group, the units shared out evenly over ``threads``
    (``MlasPartitionWork``), so the call lasts as long as the thread with ceil(units / threads) of them. ``m`` is
    output positions per frame and group, taken as a square (rows = ceil(sqrt(m))); ``frames`` the frames per call
    (batch), ``groups`` the groups per frame.

    Source: onnxruntime ``core/mlas/lib/snchwc.cpp``, ``MLAS_NCHWC_GROUPED_CONV_ALGORITHM::PrepareWork``: TotalWork =
    BatchCount x GroupCount x FilterSetCount x OutputHeight, FilterSetSize = 4 blocks of ``MlasNchwcGetBlockSize()``
    channels (8 on AVX2, 16 on AVX-512), partitioned over the threads by ``MlasPartitionWork``; the convolution is
    not tiled over output positions, so no position is padded. Hand check: ResNet-50's last 1x1 layer (7 x 7
    positions, 512 columns) at batch 1 on 24 threads: 7 rows x 16 sets = 112 units, ceil(112 / 24) = 5 per thread,
    24 x 5 / 112 = 1.071 x the useful FLOP."""
    units = np.maximum(work_units(m, n, groups, frames, set_cols), 1.0)  # the partition: nchwc.py
    waves = np.ceil(units / threads) * threads / units
    n_pad = np.ceil(n / block_cols) * block_cols
    return np.asarray(FLOP_PER_MAC * m * frames * k * n_pad * groups * waves, dtype=float)


def layer_costs(chip: ChipParams, a: LayerArrays, batch: FloatArray, precision: str,
                cal: VisionCalibration, *, streams: int = 1, nchwc: bool = False,
                eager_nchw: bool = False, gridsample_clock_hz: float = 0.0,
                quantised: str | None = None, gather_format: str | None = None) -> LayerCosts:
    """Time, work and traffic of every layer for each batch size in ``batch`` (frames per call), at the chip's
    sustained clock (:func:`inferchip.cost.vision.clocks.at_sustained_clock`). ``streams``: calls the harness
    keeps on concurrent inference streams under load; ``loaded_matrix_s`` is then the matrix time per call with
    their tiles packed into shared waves (:func:`packed_flop_per_call`), ``matrix_s`` that of a call alone.
    ``nchwc``: the runtime runs fp32 convolutions on the CPU's vector units as MLAS's NCHWc direct convolution
    (ONNX Runtime), whose accumulation passes stream a spilled output block from DRAM in series with the compute
    (:func:`inferchip.cost.vision.cpu_cache.restream_bytes`, ``stall_s``; CPUs of ``cpu_caches.csv`` only).
    ``eager_nchw``: the runtime runs each fp32 convolution on the CPU's vector units as its own oneDNN primitive on
    plain NCHW tensors (eager PyTorch), reordering the input to the blocked layout and the output back
    (:func:`inferchip.cost.vision.eager.reorder_bytes`), and running the BatchNorm, residual add and activation
    after it as their own kernels (:func:`inferchip.cost.vision.eager.epilogue_pass_bytes`): the share that leaves
    the caches adds to ``stall_s``; the fresh mappings those tensors get (page faults, ``munmap``;
    :mod:`inferchip.cost.vision.eager_alloc`) add to the layer's host time (``overhead_s``).
    ``gridsample_clock_hz`` (> 0): the runtime samples every gather layer with ONNX Runtime's scalar CPU
    ``GridSample`` kernel, parallel over channels only, at this core clock; that time bounds the layer's vector work
    (:func:`inferchip.cost.vision.ort_gridsample.gridsample_s`).
    ``quantised``: the format the runtime runs the convolutions in where it quantised only those; the input then
    arrives in ``precision`` (the engine's input binding). ``gather_format``: the one format the runtime's
    deformable-sampling kernel runs (:func:`layer_formats`)."""
    chip = at_sustained_clock(chip)
    formats = layer_formats(a, precision, quantised, gather_format)
    distinct = sorted(set(formats))
    peaks = {f: float(peak_flop_per_s(chip, f)) for f in distinct}
    elem_bytes = _per_layer({f: BYTES_PER_ELEMENT[f] for f in distinct}, formats)[:, None]
    peak = _per_layer(peaks, formats)[:, None]
    b = np.asarray(batch, dtype=float)[None, :]
    reps = a.repeats[:, None]
    col = [x[:, None] for x in (a.m, a.k, a.n, a.groups)]
    m, k, n, groups = col
    matrix = (a.unit == UNIT_MATRIX)[:, None]
    in_m = a.batch_in_m[:, None]
    m_tot = np.where(in_m, m * b, m)
    g_tot = np.where(in_m, groups, groups * b)
    vector_fma = np.array([on_vector_units(chip, f) for f in formats], dtype=bool)
    amx = is_cpu_family(chip.family) & ~vector_fma
    k_tile = np.where(amx[:, None], AMX_K_TILE_BYTES, K_TILE_BYTES) / elem_bytes
    k_eff = np.ceil(k / k_tile) * k_tile
    split = split_k(m_tot, k_eff, n, g_tot, chip)
    spent = np.where(matrix, quantised_flop(m_tot, k_eff / split, n, g_tot * split, chip.gemm_tile_m, chip.gemm_tile_n,
                                            chip.gemm_tiles_in_flight), 0.0) * reps
    if vector_fma.any():  # fp32 on a CPU's vector units: the runtime's thread partition, not tiles and waves
        block = nchwc_block_channels(float(chip.vector_width_bits))
        per_thread = thread_partitioned_flop(m, k_eff, n, groups, b * np.ones_like(m), block_cols=block,
                                             set_cols=NCHWC_FILTER_SET_BLOCKS * block,
                                             threads=float(chip.gemm_tiles_in_flight))
        spent = np.where(matrix & vector_fma[:, None], per_thread * reps, spent)
    useful = np.where(matrix, FLOP_PER_MAC * m * k * n * groups * b, 0.0) * reps
    vec_ops = a.vector_ops[:, None] * b * reps
    vector_rate = float(chip.vector_flop_per_s)
    fraction = np.array([cal.matrix_fraction_for(chip.family, bool(v)) for v in vector_fma], dtype=float)
    amx_n = np.where(amx, np.ceil(np.maximum(a.n, 1.0) / float(chip.gemm_tile_n)) * float(chip.gemm_tile_n), np.inf)
    feed_rate = operand_feed_factor(amx_n, cal.cpu_feed_columns)[:, None] / (peak * fraction[:, None])
    matrix_s = spent * feed_rate
    loaded_matrix_s = matrix_s
    if streams > 1:
        packed = np.where(matrix, packed_flop_per_call(m_tot, k_eff / split, n, g_tot * split, chip, streams), 0.0)
        loaded_matrix_s = packed * reps * feed_rate
    vector_s = vec_ops / vector_rate
    if gridsample_clock_hz > 0.0:  # ONNX Runtime's CPU GridSample: a scalar loop per channel (ort_gridsample.py)
        scalar = gridsample_s(a.in_elems[:, None], a.n[:, None], b * reps, threads=float(chip.gemm_tiles_in_flight),
                              clock_hz=gridsample_clock_hz)
        vector_s = np.where((a.unit == UNIT_GATHER)[:, None], np.maximum(vector_s, scalar), vector_s)
    compute_s = np.maximum(matrix_s, vector_s)

    weight_bytes = a.weight_elems[:, None] * elem_bytes * reps * np.ones_like(b)
    act_bytes = (a.in_elems + a.out_elems)[:, None] * elem_bytes * b * reps
    gather = (a.unit == UNIT_GATHER)[:, None]
    act_bytes = np.where(gather, a.in_elems[:, None] * elem_bytes * b * reps * GATHER_READ_FACTOR
                         + a.out_elems[:, None] * elem_bytes * b * reps, act_bytes)
    working_set = act_bytes / reps + a.weight_elems[:, None] * elem_bytes
    usable = float(chip.sram_bytes) * cal.sram_usable_fraction
    kept = np.where(a.fusable[:, None], 1.0, np.minimum(1.0, usable / np.maximum(working_set, 1.0)))
    kept = np.where(gather, 0.0, kept)  # share of the activation traffic that stays on chip
    on_chip = kept >= 1.0
    resident = float(np.sum(a.weight_elems[:, None] * elem_bytes)) <= usable
    dram = (0.0 if resident else weight_bytes) + act_bytes * (1.0 - kept)
    # the network's input and its last layer's output cross DRAM whatever fits on chip
    first, last = 0, len(a.m) - 1
    dram[first] += np.where(on_chip[first], a.in_elems[first] * elem_bytes[first, 0] * b[0], 0.0)
    dram[last] += np.where(on_chip[last], a.out_elems[last] * elem_bytes[last, 0] * b[0], 0.0)
    sram = act_bytes * kept + (weight_bytes if resident else 0.0)
    # streaming layers reach the calibrated fraction of the chip's measured streaming rate (spec.stream)
    bandwidth = float(attainable_memory_bytes_per_s(chip.memory_bytes_per_s, chip.memory_stream_share,
                                                    cal.memory_bandwidth_fraction))
    memory_s = dram / bandwidth
    caches = load_cpu_caches().get(chip.id) if nchwc and vector_fma.any() else None
    stall = np.zeros_like(memory_s)
    fresh_s = np.zeros_like(memory_s)  # eager PyTorch's fresh mappings: faults and munmap (eager_alloc.py)
    if eager_nchw and vector_fma.any():
        kernel_in = (a.in_elems - a.residual_elems)[:, None]  # the skip tensor is added by its own pass, not reordered
        reorder = reorder_bytes(kernel_in, a.out_elems[:, None], elem_bytes, b) + epilogue_pass_bytes(
            a.out_elems[:, None], a.residual_elems[:, None], a.batch_norm[:, None], a.activation[:, None],
            elem_bytes, b)  # BN, add and activation: their own eager kernels
        reorder = reorder * reps * (1.0 - kept)
        reorder = np.where((matrix & vector_fma[:, None]) & a.conv[:, None], reorder, 0.0)
        dram = dram + reorder
        stall = stall + reorder / bandwidth
        fresh = fresh_buffer_bytes(kernel_in, a.out_elems[:, None], a.batch_norm[:, None], elem_bytes, b) * reps
        fresh_s = np.where((matrix & vector_fma[:, None]) & a.conv[:, None],
                           fresh_memory_s(fresh, float(chip.gemm_tiles_in_flight)), 0.0)
    if caches is not None:
        restream = restream_bytes(m, k, n, groups, b * np.ones_like(m), a.out_elems[:, None],
                                  block_channels=nchwc_block_channels(float(chip.vector_width_bits)),
                                  threads=float(chip.gemm_tiles_in_flight), caches=caches) * reps
        restream = np.where((matrix & vector_fma[:, None]) & a.conv[:, None], restream, 0.0)
        dram = dram + restream
        stall = stall + restream / bandwidth
    costed = (a.unit == UNIT_MATRIX) | (a.unit == UNIT_VECTOR) | (a.unit == UNIT_GATHER)
    overhead = np.where(a.fusable | ~costed, 0.0, float(chip.kernel_overhead_s) * cal.layer_overhead_scale)
    layer_overhead = np.where(costed, overhead, 0.0)[:, None] * reps * np.ones_like(b) + fresh_s
    time_s = np.where(costed[:, None], np.maximum(compute_s, memory_s) + stall, 0.0) + layer_overhead
    return LayerCosts(time_s=time_s, compute_s=compute_s, matrix_s=matrix_s, vector_s=vector_s, memory_s=memory_s,
                      overhead_s=layer_overhead, useful_flop=useful, spent_flop=spent, vector_ops=vec_ops,
                      dram_bytes=dram, sram_bytes=sram, formats=formats, fraction=fraction, amx_n=amx_n,
                      vector_fma=vector_fma,
                      input_bytes_per_frame=float(a.in_elems[0] * (BYTES_PER_ELEMENT[precision] if quantised
                                                                   else elem_bytes[0, 0])) if len(a.m) else 0.0,
                      loaded_matrix_s=loaded_matrix_s, stall_s=stall)


def roofline_bound_s(chip: ChipParams, a: LayerArrays, batch: FloatArray, precision: str) -> FloatArray:
    """A lower bound on the time of one call: per layer max(useful FLOP / peak, vector ops / vector rate),
    summed. No tile padding, full peak (at the sustained clock, as :func:`layer_costs`), weights and activations
    free (they may all be on chip), no overheads."""
    chip = at_sustained_clock(chip)
    formats = layer_formats(a, precision)
    distinct = sorted(set(formats))
    peak = _per_layer({f: float(peak_flop_per_s(chip, f)) for f in distinct}, formats)[:, None]
    b = np.asarray(batch, dtype=float)[None, :]
    reps = a.repeats[:, None]
    matrix = (a.unit == UNIT_MATRIX)[:, None]
    flop = np.where(matrix, FLOP_PER_MAC * (a.m * a.k * a.n * a.groups)[:, None] * b, 0.0) * reps
    vec = a.vector_ops[:, None] * b * reps / float(chip.vector_flop_per_s)
    costed = (a.unit != 3)[:, None]
    per_layer = np.where(costed, np.maximum(flop / peak, vec), 0.0)
    return np.asarray(per_layer.sum(axis=0), dtype=float)
