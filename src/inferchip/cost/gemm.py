"""Time of a weight GEMM ``(m x k) @ (k x n)`` on a matrix-unit chip, vectorised over m.

Tile and wave quantisation (NVIDIA, *Matrix Multiplication Background User's Guide*,
DU-09799-001): the output is computed in ``tile_m x tile_n`` tiles, ``tiles_in_flight``
at a time; a partial tile costs a full one, and a partial last wave costs a full wave.
The M tile of a skinny GEMM (decode) is the smallest power of two that holds its rows
(:func:`m_tile`). These two functions (and :func:`m_tile_scalar`, :func:`gemm_waves_scalar`,
the same in Python floats) are the one tile and wave count of every path: the array rules (``cost/rules.py``),
the scalar step and its compiled form (``cost/scalar_kernels.py``, ``cost/scalar_step.py``),
the fast decode sweep (``performance/fast_sweep.py``) and the vision layers
(``cost/vision/layers.py``). The array forms write their operations into a few arrays
(``cost/kernels/gemm_waves.py``, stop 53): the same floats, no new array per operation.

Every argument may be an array (steps, chips, operators).
"""

from __future__ import annotations

import math

import numpy as np

from inferchip.cost.constants import FLOP_PER_MAC, FP32_BYTES, MIN_TILE_M
from inferchip.cost.kernels.gemm_waves import cublas_tile_into, power_tile, split_k_into, stepped_tile_into
from inferchip.cost.roofline import ArrayLike, FloatArray
from inferchip.units import GIGA


def m_tile(m: ArrayLike, tile_m: ArrayLike) -> FloatArray:
    """M tile (rows) of a GEMM of ``m`` rows: the chip's ``tile_m``, or for skinny GEMMs (decode) the
    smallest power of two that holds ``m``, not below the MMA instruction's
    :data:`~inferchip.cost.constants.MIN_TILE_M` rows, as libraries pick small-M kernels."""
    out: FloatArray = np.minimum(tile_m, power_tile(np.asarray(m, dtype=float)))
    return out


def m_tile_scalar(m: float, tile_m: float) -> float:
    """:func:`m_tile` at one point in Python floats (the scalar step path): the same operations."""
    return min(tile_m, max(MIN_TILE_M, 2.0 ** math.ceil(math.log2(max(m, 1.0)))))


TileChoices = tuple[tuple[float, float, float], ...]
"""Output tiles a GEMM library picks from per shape: (most rows, columns, row step); step 0: the rows' tile is a power
of two (:func:`m_tile`), else a multiple of the step (:func:`row_tile`)."""


def row_tile(m: ArrayLike, tile_m: float, step: float) -> FloatArray:
    """M tile (rows) of a GEMM of ``m`` rows on a kernel of at most ``tile_m`` rows whose tile grows in ``step``-row
    steps: the ``ceil(m / tile_m)`` tiles share the rows, each padded to the next multiple of ``step``
    (``ceil(m / ceil(m / tile_m) / step) step``), as an MMA whose token side takes any multiple of 8 does (SM100
    tcgen05, 16-bit: N 8..256 in steps of 8; :data:`~inferchip.cost.constants.CUBLASLT_16BIT_TILES`); ``step`` 0:
    :func:`m_tile` (the smallest power of two, not below ``MIN_TILE_M``)."""
    if step <= 0.0:
        return m_tile(m, tile_m)
    rows = np.maximum(np.asarray(m, dtype=float), 1.0)
    return stepped_tile_into(rows, tile_m, step, np.empty(rows.shape))[()]


def row_tile_scalar(m: float, tile_m: float, step: float) -> float:
    """:func:`row_tile` at one point in Python floats (the scalar step path): the same operations."""
    if step <= 0.0:
        return m_tile_scalar(m, tile_m)
    rows = max(m, 1.0)
    return min(tile_m, math.ceil(rows / math.ceil(rows / tile_m) / step) * step)


def gemm_waves(tiles: ArrayLike, tiles_in_flight: ArrayLike) -> FloatArray:
    """Waves (count) the matrix units run for ``tiles`` output tiles, ``tiles_in_flight`` at a time:
    ``ceil(tiles / tiles_in_flight)``, a partial last wave costing a full one (NVIDIA, *Matrix
    Multiplication Background User's Guide*, DU-09799-001, "wave quantization")."""
    out: FloatArray = np.ceil(np.asarray(tiles, dtype=float) / tiles_in_flight)
    return out


def gemm_waves_scalar(tiles: float, tiles_in_flight: float) -> float:
    """:func:`gemm_waves` at one point in Python floats (the scalar step path): the same operation."""
    return math.ceil(tiles / tiles_in_flight)


CUBLAS_SPLIT_K_MIN_DEPTH = 512.0
"""Shallowest reduction slice a split-K kernel gives one tile (elements; estimate, inferchip: CUTLASS/cuBLAS
split-K and stream-K kernels slice K into a few 64-128-deep k-tiles per unit). The one figure for both the LLM
GEMMs here and the vision layers (``cost.vision.layers.SPLIT_K_MIN_DEPTH`` is this constant)."""


def split_k_slices_max(k: ArrayLike, weight_bytes: ArrayLike, cublas: bool) -> FloatArray:
    """Most split-K slices a weight GEMM's library may cut its reduction of depth ``k`` into: ``floor(k / 512)``
    (:data:`CUBLAS_SPLIT_K_MIN_DEPTH`) for 16-bit weights (``weight_bytes`` >= 2) where the run's engine runs its
    unquantised GEMMs on cuBLASLt on the run's chip family (``cublas``: ``Calibration.gemm_split_k_16bit``), 1 (no
    split) otherwise.

    Mechanism: the engines run unquantised (bf16/fp16) linear layers through ``torch.nn.functional.linear``
    (vLLM ``UnquantizedLinearMethod.apply`` in ``vllm/model_executor/layers/linear.py``; TensorRT-LLM
    ``tensorrt_llm/_torch/modules/linear.py`` ``UnquantizedLinearMethod.apply``), i.e. cuBLAS(Lt),
    whose heuristics return split-K algorithms (``CUBLASLT_ALGO_CONFIG_SPLITK_NUM``, cuBLAS documentation,
    ``cublasLtMatmulAlgoConfigAttributes_t``) when the output tiles cannot fill the SMs. The quantised GEMMs
    (FP8/FP4 CUTLASS, trtllm-gen, DeepGEMM, Marlin) run the engines' own kernels and keep the full-wave count
    (split-K/stream-K for them was measured and not adopted: docs/serving_journal.md, "GEMM waves"). Scoped
    by the engine and the chip family (``EngineSpec.split_k_16bit_families``: vLLM and SGLang on Hopper; stop 28
    applied it to every 16-bit GEMM and was reverted: calibrate's MLPerf-style rows run hipBLASLt or TensorRT
    engines). H100 check (vLLM PR #49363, torch-bf16 N 12,288 K 5,376,
    M 128: 48.0 us): the full wave charges 72.9 us, the split 51.7 us (``tools/energy/sampler_step_check.py gemm``)."""
    k = np.asarray(k, dtype=float)
    if not cublas:
        return np.ones_like(k)
    out: FloatArray = np.where(np.asarray(weight_bytes, dtype=float) >= 2.0,
                               np.maximum(1.0, np.floor(k / CUBLAS_SPLIT_K_MIN_DEPTH)), 1.0)
    return out


def split_k_partial_s(m: ArrayLike, n: ArrayLike, bytes_per_s: ArrayLike) -> FloatArray:
    """Seconds of one split-K slice's partial sums: an fp32 ``m x n`` tile of partials written and read back,
    ``2 m n 4 B / bytes_per_s`` (priced at DRAM: an upper bound where the partials stay in L2); the
    ``partial_s`` of :func:`split_k_compute_s`."""
    out: FloatArray = 2.0 * FP32_BYTES * np.asarray(m, dtype=float) * n / bytes_per_s
    return out


def split_slices(tiles: ArrayLike, tiles_in_flight: ArrayLike, slices_max: ArrayLike) -> FloatArray:
    """Split-K slices (count) of a GEMM of ``tiles`` output tiles: ``max(1, min(floor(tiles_in_flight / tiles),
    slices_max))``, as many as the idle units take, each slice at least :data:`CUBLAS_SPLIT_K_MIN_DEPTH` deep."""
    t = np.asarray(tiles, dtype=float)
    out: FloatArray = np.maximum(1.0, np.minimum(np.floor(tiles_in_flight / np.maximum(t, 1.0)), slices_max))
    return out


def split_waves(tiles: ArrayLike, tiles_in_flight: ArrayLike, slices_max: ArrayLike) -> FloatArray:
    """Waves (count, fractional) of a GEMM of ``tiles`` output tiles split into :func:`split_slices` ``s`` slices
    so that the idle units share the partial wave: ``ceil(tiles s / tiles_in_flight) / s`` waves of a
    full-depth tile (each slice is 1/s deep). ``slices_max`` 1 gives :func:`gemm_waves`. E.g. 10 tiles on 148
    units, K 2880 (5 slices at most): 1/5 wave."""
    t = np.asarray(tiles, dtype=float)
    return _waves_of_slices(t, split_slices(t, tiles_in_flight, slices_max), tiles_in_flight)


def _waves_of_slices(tiles: FloatArray, slices: FloatArray, tiles_in_flight: ArrayLike) -> FloatArray:
    """Full-depth waves of ``tiles`` output tiles cut into ``slices`` slices each: ``ceil(tiles s / T) / s``."""
    out: FloatArray = np.ceil(tiles * slices / tiles_in_flight) / slices
    return out


def split_waves_scalar(tiles: float, tiles_in_flight: float, slices_max: float) -> float:
    """:func:`split_waves` at one point in Python floats (the scalar step path): the same operations."""
    s = _split_slices_scalar(tiles, tiles_in_flight, slices_max)
    return math.ceil(tiles * s / tiles_in_flight) / s


def _split_slices_scalar(tiles: float, tiles_in_flight: float, slices_max: float) -> float:
    """:func:`split_slices` at one point in Python floats."""
    return max(1.0, min(math.floor(tiles_in_flight / max(tiles, 1.0)), slices_max))


def split_k_compute_s(tiles: ArrayLike, tiles_in_flight: ArrayLike, slices_max: ArrayLike, tile_rows: ArrayLike,
                      flop_per_wave_row: ArrayLike, flop_per_s: ArrayLike, partial_s: ArrayLike) -> FloatArray:
    """Matrix time (s) of a GEMM of ``tiles`` output tiles of ``tile_rows`` rows whose library takes the faster of
    its data-parallel kernel (``ceil(tiles / T)`` waves, each ``tile_rows x flop_per_wave_row`` FLOP at
    ``flop_per_s``) and its split-K kernel (:func:`split_waves` waves plus the partial sums' round trip,
    ``s x partial_s``: each of the ``s`` slices writes an fp32 ``m x n`` partial that the reduction reads back,
    ``partial_s = 2 m n 4 B / attainable bytes/s``, priced at DRAM: an upper bound where the partials stay in
    L2). cuBLASLt's heuristic ranks its candidate algorithms, split-K ones among them, by estimated time (cuBLAS
    documentation, ``cublasLtMatmulAlgoGetHeuristic``). ``slices_max`` 1: the data-parallel time exactly."""
    t = np.asarray(tiles, dtype=float)
    shape = np.broadcast_shapes(t.shape, *(np.shape(x) for x in (tiles_in_flight, slices_max, tile_rows,
                                                                 flop_per_wave_row, flop_per_s, partial_s)))
    return split_k_into(t, tiles_in_flight, slices_max, tile_rows, flop_per_wave_row, flop_per_s, partial_s,
                        np.empty(shape), np.empty(shape), np.empty(shape))[()]  # (0 dimensions: a scalar, as before)


def split_k_compute_s_scalar(tiles: float, tiles_in_flight: float, slices_max: float, tile_rows: float,
                             flop_per_wave_row: float, flop_per_s: float, partial_s: float) -> float:
    """:func:`split_k_compute_s` at one point in Python floats (the scalar step path): the same operations."""
    dp = math.ceil(tiles / tiles_in_flight) * tile_rows * flop_per_wave_row / flop_per_s
    s = _split_slices_scalar(tiles, tiles_in_flight, slices_max)
    if s <= 1.0:
        return dp
    sk = math.ceil(tiles * s / tiles_in_flight) / s * tile_rows * flop_per_wave_row / flop_per_s + s * partial_s
    return dp if dp <= sk else sk


def cublas_tile_compute_s(m: ArrayLike, n: ArrayLike, k: ArrayLike, slices_max: ArrayLike,
                          tiles_in_flight: ArrayLike, flop_per_s: ArrayLike, partial_s: ArrayLike,
                          choices: TileChoices) -> FloatArray:
    """Matrix time (s) of a 16-bit ``(m x k) @ (k x n)`` GEMM whose library picks its output tile per shape from
    ``choices`` ((M, N, row step) tiles, rows = tokens; :data:`~inferchip.cost.constants.CUBLASLT_16BIT_TILES`): the
    least, over the candidates, of :func:`split_k_compute_s` with that candidate's M tile (:func:`row_tile`),
    ``ceil(m / M tile) x ceil(n / N)`` tiles and wave rows of ``tiles_in_flight x 2 N k`` FLOP. cuBLASLt ranks its
    candidate kernels by estimated time (``cublasLtMatmulAlgoGetHeuristic``); in this model a GEMM's memory time and
    overhead do not depend on its tile, so the fastest candidate is the one whose waves spend the least. Per-tile
    efficiency (a narrower tile's lower data reuse) is not modelled: every candidate runs at ``flop_per_s``.
    E.g. 528 x 8,192 @ 8,192 x 14,336 on 132 units (no split): 128 x 256 tiles 280 -> 3 waves of 128 x 256,
    128 x 128 560 -> 5 waves, 128 x 64 1,120 -> 9, 64 x 64 2,016 -> 16 waves of 64 x 64 (the least: 0.667 of
    the first's FLOP)."""
    if not choices:
        raise ValueError("cublas_tile_compute_s needs at least one candidate tile, got none")
    rows = np.maximum(np.asarray(m, dtype=float), 1.0)
    out: FloatArray = cublas_tile_into(rows, np.asarray(n, dtype=float), k, slices_max, tiles_in_flight, flop_per_s,
                                       partial_s, choices)[()]  # (0 dimensions: a scalar, as before)
    return out


def cublas_tile_compute_s_scalar(m: float, n: float, k: float, slices_max: float, tiles_in_flight: float,
                                 flop_per_s: float, partial_s: float, choices: TileChoices) -> float:
    """:func:`cublas_tile_compute_s` at one point in Python floats (the scalar step path): the same operations."""
    rows = max(m, 1.0)
    best = math.inf
    for bm, bn, step in choices:
        tm = row_tile_scalar(rows, bm, step)
        t = split_k_compute_s_scalar(math.ceil(rows / tm) * math.ceil(n / bn), tiles_in_flight, slices_max, tm,
                                     tiles_in_flight * FLOP_PER_MAC * bn * k, flop_per_s, partial_s)
        best = min(best, t)
    if not choices:
        raise ValueError("cublas_tile_compute_s needs at least one candidate tile, got none")
    return best


def quantised_flop(m: ArrayLike, k: ArrayLike, n: ArrayLike, groups: ArrayLike, tile_m: ArrayLike,
                   tile_n: ArrayLike, tiles_in_flight: ArrayLike) -> FloatArray:
    """FLOP the matrix units actually spend, counting padded tiles and the partial last wave.

    ``m`` rows per group, ``groups`` independent GEMMs of the same shape (MoE experts), M tile
    :func:`m_tile`, waves :func:`gemm_waves`. Returns waves x tiles_in_flight x tile FLOP.
    """
    m = np.asarray(m, dtype=float)
    tm = m_tile(m, tile_m)
    tiles = np.ceil(np.maximum(m, 1.0) / tm) * np.ceil(n / np.asarray(tile_n, dtype=float)) * groups
    spent = gemm_waves(tiles, tiles_in_flight) * tiles_in_flight * FLOP_PER_MAC * tm * tile_n * k
    return np.where(m > 0, spent, 0.0)


def chosen_tile_flop(m: ArrayLike, k: ArrayLike, n: ArrayLike, tiles_in_flight: ArrayLike,
                     choices: tuple[tuple[float, float], ...]) -> FloatArray:
    """FLOP the matrix units spend on a ``(m x k) @ (k x n)`` GEMM whose kernel library picks its output tile
    per shape from ``choices`` ((M, N) tiles): waves x ``tiles_in_flight`` x the tile's FLOP, as
    :func:`quantised_flop` counts one fixed tile, for the candidate that spends the least.

    A library that times its candidate kernels per shape keeps the fastest (hipBLASLt's tuning file names one
    solution per M bucket); in this model a GEMM's memory time and overhead do not depend on its tile, so the
    fastest candidate is the one with the fewest spent FLOP. For one
    M tile this is DeepGEMM's written SM90 rule too (deepseek-ai/DeepGEMM ``deep_gemm/jit_kernels/config.py``
    @ba142b891ab10e4cb757434af06add7691822dcc ``get_best_configs``: block M 64 up to 64 rows, else 128; then
    the block N of 16..128 with the fewest waves and the fullest last wave). A skinny decode GEMM thus spreads
    its columns over every unit in one wave instead of running one wave of the chip's largest tile on a few of
    them. Per-tile efficiency (a narrow tile's lower data reuse) is not modelled, so at large M the smallest
    tiles win on wave fill alone. Diagnostic only (``tools/kernel_rates/hipblaslt_gemm_check.py --per-shape``):
    no prediction path calls it (measured as a stack fact and not adopted: docs/serving_journal.md, stop 30)."""
    rows = np.asarray(m, dtype=float)
    m = np.maximum(rows, 1.0)
    n = np.asarray(n, dtype=float)
    t = np.asarray(tiles_in_flight, dtype=float)
    best: FloatArray | None = None  # spent FLOP per unit of k and per tile in flight
    for bm, bn in choices:
        spent = np.ceil(np.ceil(m / bm) * np.ceil(n / bn) / t) * (FLOP_PER_MAC * bm * bn)
        best = spent if best is None else np.minimum(best, spent)
    if best is None:
        raise ValueError("chosen_tile_flop needs at least one candidate tile, got none")
    out: FloatArray = np.where(rows > 0, best * t * k, 0.0)  # no rows: no GEMM, as quantised_flop
    return out


POPULARITY_POINTS = 64  # quantiles of the expert-popularity distribution the expectation is taken over


def popularity_weights(log_sd: float) -> FloatArray:
    """Relative routing popularity of the experts of a layer (mean 1) at ``POPULARITY_POINTS`` equal-probability
    quantiles of a log-normal with log standard deviation ``log_sd``; all ones at 0 (uniform routing). The log-normal
    is the shape DeepEP PR #393 (github.com/deepseek-ai/DeepEP/pull/393) found fits recorded per-layer token counts
    of DeepSeek-V3 best; its spread is the caller's (``Calibration.expert_popularity_log_sd``)."""
    if log_sd <= 0.0:
        return np.ones(1)
    from scipy.special import ndtri  # type: ignore[import-untyped]  # scipy has no stubs here

    z = ndtri((np.arange(POPULARITY_POINTS) + 0.5) / POPULARITY_POINTS)
    w = np.exp(log_sd * z)
    out: FloatArray = w / w.mean()
    return out


def experts_reached(experts: ArrayLike, routed_fraction: ArrayLike, tokens: ArrayLike,
                    popularity_log_sd: float = 0.0) -> FloatArray:
    """Local experts that ``tokens`` independently routed tokens reach, each taking a token with probability
    ``routed_fraction`` f: ``e (1 - (1 - f)^m)``, written ``-e expm1(m log1p(-f))`` so that a vanishing token
    count keeps its (vanishing) expert instead of rounding to none (cost/scalar_step.py writes it the same way);
    f = 1 (every token reaches every expert) gives ``e`` for any ``m > 0``. With ``popularity_log_sd`` > 0 the
    experts are not equally popular: expert i takes a token with probability ``min(1, f w_i)``, ``w`` the
    log-normal weights of :func:`popularity_weights`, and the count is ``e`` times the mean over them of
    ``1 - (1 - f w_i)^m``: fewer experts at small and mid ``m`` than uniform routing, all of them at large ``m``."""
    e, f, m = (np.asarray(x, dtype=float) for x in (experts, routed_fraction, tokens))
    if popularity_log_sd > 0.0:
        w = popularity_weights(popularity_log_sd)
        p = np.minimum(f[..., None] * w, 1.0)
        with np.errstate(divide="ignore", invalid="ignore"):  # expm1: a vanishing m keeps a vanishing share
            hit = -np.expm1(m[..., None] * np.log1p(-np.minimum(p, 1.0 - 1e-16)))
        share: FloatArray = np.where(m[..., None] > 0, np.where(p >= 1.0, 1.0, hit), 0.0).mean(axis=-1)
        return np.asarray(e * share, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):  # f = 1: log1p(-1) = -inf, taken by the where below
        reached = -e * np.expm1(m * np.log1p(-np.minimum(f, 1.0)))
    return np.where(f >= 1.0, e * (m > 0), reached)


def experts_reached_scalar(experts: float, routed_fraction: float, tokens: float, popularity_log_sd: float) -> float:
    """:func:`experts_reached` at one point in Python floats (the scalar step path)."""
    e, f, m = experts, routed_fraction, tokens
    if popularity_log_sd <= 0.0:
        return -e * math.expm1(m * math.log1p(-f)) if f < 1.0 else e * float(m > 0)
    if m <= 0:
        return 0.0
    w = _WEIGHTS.get(popularity_log_sd)
    if w is None:
        w = _WEIGHTS.setdefault(popularity_log_sd, [float(x) for x in popularity_weights(popularity_log_sd)])
    return e * sum(1.0 if f * x >= 1.0 else -math.expm1(m * math.log1p(-f * x)) for x in w) / len(w)


_WEIGHTS: dict[float, list[float]] = {}  # popularity_weights per spread, as floats (the scalar path)


def expert_stream_cap_bytes_per_s(sm_count: float, read_gb_per_s_per_sm: float) -> float:
    """Most bytes/s an SM-issue-bound expert kernel reads, whatever the chip's DRAM: ``sm_count`` x
    ``read_gb_per_s_per_sm`` x 1e9. The grouped-GEMM memory time is then bytes / min(attainable stream, cap)
    (:func:`inferchip.cost.rules.grouped_gemm_cost`), so two chips with the same SMs (H100 SXM and H200 SXM,
    132 each) get the same cap and the one with more HBM gains only up to it.

    Mechanism: vLLM's Marlin MoE kernels (csrc/moe/marlin_moe_wna16, VLLM_MXFP4_USE_MARLIN=1 on Hopper) are
    sm80 kernels (cp.async, mma.sync, 256 threads, 4 pipeline stages) that dequantise 4-bit weights in
    registers; their read rate is set by what each SM can load and dequantise, not by HBM.
    Rate (vLLM ``fused_marlin_moe`` timed as the "vLLM ms" baseline of FlagGems PR #4350,
    github.com/flagos-ai/FlagGems/pull/4350, its first table, whose 1-token time 0.0956 ms is below the
    0.134-0.144 ms of every H20-labelled table (PRs #4350 second table, #3222, #3609), so the full-Hopper part
    the PR names, H100): Mixtral shape E8 H4096 I14336 top-2, W4A16 INT4 with bf16 scales per 128 weights
    (GROUP_SIZE = 128 in FlagGems benchmark/test_fused_marlin_moe.py), 16 tokens, 0.282324 ms. Bytes per expert:
    w13 2 x 14336 x 4096 / 2 + 4096 / 128 x 28672 x 2 = 60.55 MB, w2 14336 x 4096 / 2 + 14336 / 128 x 4096 x 2 =
    30.28 MB, 90.83 MB; experts read at 16 tokens under random top-2 gating 8 (1 - (6/8)^16) = 7.92: 719.4 MB
    in 0.282 ms = 2.548 TB/s, over 132 SMs 19.3 GB/s per SM (the rate is above H100 PCIe's 2.0 TB/s HBM, so an
    SXM part). At 32 tokens (8.00 experts, 0.297245 ms): 18.5 GB/s per SM; at 8 tokens about 22 (7.2 experts
    expected). Measured on INT4 weights: the MXFP4 entries use the INT4 figure (no MXFP4 Marlin timing on H100
    found). That the rate follows the SMs and not HBM is the kernel's build and the paired H100 / H200 rows, not a
    second chip's timing: the H20 tables of the same kernel are bound by H20's tensor cores (catalog/engines.yaml)."""
    if not (sm_count > 0 and read_gb_per_s_per_sm > 0):
        raise ValueError(f"expert stream cap needs a positive SM count and per-SM rate, got {sm_count!r} SMs "
                         f"at {read_gb_per_s_per_sm!r} GB/s per SM")
    return float(sm_count) * float(read_gb_per_s_per_sm) * GIGA


def gemm_flop(m: ArrayLike, k: ArrayLike, n: ArrayLike, groups: ArrayLike = 1.0) -> FloatArray:
    """Useful FLOP: 2 m k n per group."""
    return FLOP_PER_MAC * np.asarray(m, dtype=float) * k * n * groups


def gemm_bytes(m: ArrayLike, k: ArrayLike, n: ArrayLike, weight_groups: ArrayLike,
               weight_bytes: ArrayLike, act_bytes: ArrayLike, groups: ArrayLike = 1.0) -> FloatArray:
    """DRAM bytes: weights read once per step for each group that has tokens, activations in and out."""
    m = np.asarray(m, dtype=float)
    return k * n * weight_groups * weight_bytes + m * groups * (k + n) * act_bytes


def moe_token_time_s(tokens: ArrayLike, vector_flop_per_token: ArrayLike,
                     vector_flop_per_s: ArrayLike) -> FloatArray:
    """Seconds one grouped-GEMM kernel of a MoE layer (a layer runs two, up and down) spends per step
    on its ``tokens`` beyond its MMA and weight stream: half of ``vector_flop_per_token`` (the layer's
    per-token work, :data:`~inferchip.cost.constants.TRITON_MOE_TOKEN_VECTOR_FLOP` for vLLM's Triton
    kernels, 0 for tuned kernels) per token at the chip's vector rate. Added to the kernel's overhead,
    after the roofline's max: it only adds time."""
    per_token_s = 0.5 * np.asarray(vector_flop_per_token, dtype=float) / np.asarray(vector_flop_per_s, dtype=float)
    out: FloatArray = np.asarray(tokens, dtype=float) * per_token_s
    return out


def moe_token_vector_flop(tokens: ArrayLike, vector_flop_per_token: ArrayLike) -> FloatArray:
    """FP32 vector FLOP one grouped-GEMM kernel of a MoE layer runs per step beyond its MMA: half of
    ``vector_flop_per_token`` per token, the work :func:`moe_token_time_s` prices at the chip's vector
    rate. Its energy is that of FP32 FLOP (``UnitEnergies.flop_j("fp32")``): the kernels' SIMT work
    (routing, sorting, gathers, small tiles) runs on the vector units, not at the busy floor."""
    out: FloatArray = np.asarray(tokens, dtype=float) * (0.5 * np.asarray(vector_flop_per_token, dtype=float))
    return out


def moe_token_vector_kernel(op: tuple[float, ...], c: object,
                            p: tuple[float, ...]) -> tuple[float, float, float, float, float, float, float]:
    """:func:`moe_token_vector_flop` at one point (the scalar step's kernel tuple: compute, memory,
    overhead, network s, FLOP, DRAM and link bytes): ``op`` = (FLOP per token,), ``p[1]`` the stage's tokens."""
    return (0.0, 0.0, 0.0, 0.0, p[1] * (0.5 * op[0]), 0.0, 0.0)
