"""The model's GEMM time on MI300X against hipBLASLt's own timings of the Llama-2-70B FP8 GEMMs in AMD's MLPerf
Inference v5.1 submission (the stack of the MI300X MLPerf rows of validation_cases.csv).

Source: the hipBLASLt tuning file AMD ships with its v5.1 Llama-2-70B code, read in the mirror ntuhpc/
inference_results_v5.1 @a634ab77 closed/AMD/code/llama2-70b-99.9/scripts/gemm_llama2-70b/aa0bda7b/
tuning_spx_1700_formatted.txt (1.79 MB; one line per (N, M) shape: "T,N,0,1,N,M,K,...,f8_fnuz_r,f8_fnuz_r,f16_r,...,
GFLOP/s, GB/s, microseconds, solution index, gfx942, 304 CUs"; FP8 e4m3fnuz inputs, fp16 output). The lines read
here (M = tokens of the step; N x K the weight: QKV 10240 x 8192, O 8192 x 8192, gate+up 57344 x 8192, down
8192 x 28672) are in :data:`MEASURED_US`; the file holds buckets of 16 consecutive M sharing one timing, of which
only those below were read (the rest of the file was not).

Model: a GEMM costs ``max(quantised FLOP / (FP8 peak x gemm_compute_fraction), bytes / attainable DRAM rate) +
kernel overhead`` (cost/rules.py ``_matrix_gemm``, cost/gemm.py ``quantised_flop`` with the chip's tile and tiles in
flight, cost/context.py), the calibration's fractions. ``--tile M,N`` prices the same GEMMs with another output tile;
``--per-shape`` with the tile a library that times its candidates per shape would keep (the tuning file names one
solution per M bucket): the candidate of :data:`PER_SHAPE_TILES` that spends the fewest FLOP
(``cost.gemm.chosen_tile_flop``).

    python tools/kernel_rates/hipblaslt_gemm_check.py [--calibration FILE.yaml] [--tile 128,128] [--per-shape]
"""

from __future__ import annotations

import argparse

import numpy as np

from inferchip.catalog.calibration_file import load_calibration
from inferchip.catalog.chips import get_chip_params
from inferchip.cost.gemm import chosen_tile_flop, quantised_flop
from inferchip.spec.stream import attainable_memory_bytes_per_s

# (N, K) -> {M: microseconds}, hipBLASLt on gfx942 (304 CUs), FP8 in / fp16 out (module doc: source).
MEASURED_US: dict[tuple[int, int], dict[int, float]] = {
    (10240, 8192): {16: 21.5994, 352: 66.998, 688: 106.893, 768: 111.438, 1024: 132.68, 1104: 140.392,
                    1184: 155.133, 1360: 183.408, 1696: 225.465, 2032: 257.206, 2096: 266.952, 2368: 276.391},
    (8192, 8192): {688: 89.8269, 1696: 160.289, 2096: 228.051},
    (8192, 28672): {96: 65.0375, 2160: 775.874},
    (57344, 8192): {420: 317.323, 832: 591.879, 1080: 767.97, 1488: 1007.02, 2416: 1671.57},
}
# MFMA macro tiles M x N in powers of two from 16 to 256 (estimate: the tuning file's solution indices were not
# resolved to their tiles), the candidates of --per-shape
PER_SHAPE_TILES = tuple((float(a), float(b)) for a in (16, 32, 64, 128, 256) for b in (16, 32, 64, 128, 256))
PER_SHAPE = (0.0, 0.0)  # the tile label of the per-shape rows
FP8_BYTES = 1.0  # weights and activations in FP8 (the file's f8_fnuz_r inputs); the fp16 output is left out


def model_us(m: float, n: float, k: float, tile: tuple[float, float], tiles_in_flight: float, peak_flop_per_s: float,
             gemm_fraction: float, bytes_per_s: float, overhead_s: float) -> float:
    """The model's time of one ``(m x k) @ (k x n)`` FP8 GEMM in microseconds (module doc); ``tile``
    :data:`PER_SHAPE`: the per-shape pick."""
    spent_flop = float(chosen_tile_flop(m, k, n, tiles_in_flight, PER_SHAPE_TILES) if tile == PER_SHAPE
                       else quantised_flop(m, k, n, 1.0, tile[0], tile[1], tiles_in_flight))
    compute_s = spent_flop / (peak_flop_per_s * gemm_fraction)
    memory_s = (k * n + m * (k + n)) * FP8_BYTES / bytes_per_s
    return (max(compute_s, memory_s) + overhead_s) * 1e6


def compare(calibration: str | None, tiles: list[tuple[float, float]]) -> list[dict]:
    """One row per measured point and tile: measured and modelled microseconds, model / measured."""
    chip = get_chip_params("amd-mi300x")
    cal = load_calibration(calibration) if calibration else load_calibration(None)
    peak = chip.peak_flop_per_s["fp8"]
    bw = float(attainable_memory_bytes_per_s(chip.memory_bytes_per_s, chip.memory_stream_share,
                                             cal.memory_bandwidth_fraction))
    ovh = chip.kernel_overhead_s * cal.kernel_overhead_scale
    out = []
    for tile in tiles or [(float(chip.gemm_tile_m), float(chip.gemm_tile_n))]:
        for (n, k), points in MEASURED_US.items():
            for m, us in points.items():
                t = model_us(m, n, k, tile, chip.gemm_tiles_in_flight, peak, cal.gemm_compute_fraction, bw, ovh)
                out.append({"tile": tile, "n": n, "k": k, "m": m, "measured_us": us, "model_us": t, "ratio": t / us})
    return out


def parse_tile(text: str) -> tuple[float, float]:
    """``--tile M,N``: two whole numbers > 0; anything else a ValueError naming the option, the value and what is
    allowed (a 0,0 tile would also have read as the :data:`PER_SHAPE` label)."""
    parts = text.split(",")
    try:
        tile = (float(parts[0]), float(parts[1])) if len(parts) == 2 else None
    except ValueError:
        tile = None
    if tile is None or not all(x >= 1 and x.is_integer() for x in tile):
        raise ValueError(f"--tile {text!r}: allowed: M,N, two whole numbers >= 1 (e.g. 128,128)")
    return tile


def _label(tile: tuple[float, float]) -> str:
    return "per-shape" if tile == PER_SHAPE else f"{tile[0]:g}x{tile[1]:g}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calibration", help="calibration YAML (default: the shipped one)")
    ap.add_argument("--tile", action="append", default=[], help="output tile M,N (default: the chip's)")
    ap.add_argument("--per-shape", action="store_true", help="also the per-shape pick of PER_SHAPE_TILES")
    a = ap.parse_args()
    try:
        tiles = [parse_tile(t) for t in a.tile]
    except ValueError as e:
        ap.error(str(e))
    if a.per_shape:
        tiles = (tiles or [(float(get_chip_params("amd-mi300x").gemm_tile_m),
                            float(get_chip_params("amd-mi300x").gemm_tile_n))]) + [PER_SHAPE]
    rows = compare(a.calibration, tiles)
    print("| tile | N x K | M | measured us | model us | model / measured |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {_label(r['tile'])} | {r['n']} x {r['k']} | {r['m']} | {r['measured_us']:.1f} | "
              f"{r['model_us']:.1f} | {r['ratio']:.2f} |")
    for tile in dict.fromkeys(r["tile"] for r in rows):
        lr = np.log([r["ratio"] for r in rows if r["tile"] == tile])
        print(f"tile {_label(tile)}: model / measured median {np.exp(np.median(lr)):.2f}, "
              f"spread (sd of log) {np.std(lr):.2f}, range {np.exp(lr.min()):.2f}-{np.exp(lr.max()):.2f}")


if __name__ == "__main__":
    main()
