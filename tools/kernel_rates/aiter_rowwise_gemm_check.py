"""The model's decode-size FP8 GEMM time on MI355X across M against aiter's tuned per-token (row-wise) FP8 GEMM
timings: does the measured time step where the model's full-wave 256 x 256 tile does (M 33, 65, 129)?

Source: ROCm/aiter ``aiter/configs/a8w8_tuned_gemm.csv`` @105a68dfb003287b34c5f39dcc6d4735ee1922dd (the tuner's
output: one row per (gfx, CU count, M, N, K, weight dtype) with the CK ``a8w8_rowwise`` kernel it chose, its split-K
and its measured time in microseconds). The rows read here (:data:`MEASURED_US`) are gfx950 (MI355X), 256 CUs,
``torch.float8_e4m3fn`` weights, M (tokens) 16, 32, 64, 128, 256, for the Llama-3.1-70B TP1 shapes (QKV 10240 x 8192,
O 8192 x 8192, gate+up 57344 x 8192, down 8192 x 28672 is in the file for int8 only and left out) and 28672 x 8192,
7168 x 8192. The chosen kernel's name gives its block tile (``a8w8_rowwise_<threads>x<M>x<N>x<K>_...``): 16-64 rows at
M 16-32, 32-64 at M 64, 64-128 at M 128, 128-256 at M 256, never 256 rows below M 256 (:data:`CHOSEN_M_TILE`).
The file holds no M between those powers of two (no 33, 65, 129), so it shows the growth per doubling, not a jump.

Model: as ``tools/kernel_rates/hipblaslt_gemm_check.py``: ``max(quantised FLOP / (FP8 peak x gemm_compute_fraction),
bytes / attainable DRAM rate) + kernel overhead``, with the chip's 256 x 256 tile and 256 tiles in flight (the
calibration's fractions, the MI355X chip file).

    python tools/kernel_rates/aiter_rowwise_gemm_check.py [--calibration FILE.yaml]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from inferchip.catalog.calibration_file import load_calibration
from inferchip.catalog.chips import get_chip_params
from inferchip.cost.gemm import cublas_tile_compute_s_scalar

sys.path.insert(0, str(Path(__file__).resolve().parent))
from aiter_blockscale_gemm_check import FP8_BYTES, chip_rates  # noqa: E402  the same chip rates and bytes
from aiter_blockscale_gemm_check import model_us as fixed_tile_us  # noqa: E402  the chip's own tile

CHIP = "amd-mi355x"
# (N, K) -> {M: microseconds}, aiter CK a8w8 row-wise on gfx950 (256 CUs), FP8 e4m3fn in (module doc: source).
MEASURED_US: dict[tuple[int, int], dict[int, float]] = {
    (8192, 8192): {16: 17.7026, 32: 18.0338, 64: 19.8829, 128: 23.2545, 256: 31.0706},
    (10240, 8192): {16: 19.5591, 32: 21.4049, 64: 24.8931, 128: 30.8204, 256: 37.6153},
    (57344, 8192): {16: 92.3442, 32: 92.8953, 64: 98.9474, 128: 111.2293, 256: 140.7498},
    (28672, 8192): {16: 46.9441, 32: 47.2467, 64: 52.7168, 128: 60.0008, 256: 80.7001},
    (7168, 8192): {16: 15.5438, 32: 17.4961, 64: 19.78, 128: 22.197, 256: 30.0111},
}
# (N, K) -> {M: rows of the chosen kernel's block tile} (the kernel names of the same rows)
CHOSEN_M_TILE: dict[tuple[int, int], dict[int, int]] = {
    (8192, 8192): {16: 16, 32: 16, 64: 32, 128: 64, 256: 128},
    (10240, 8192): {16: 16, 32: 32, 64: 64, 128: 64, 256: 128},
    (57344, 8192): {16: 16, 32: 32, 64: 64, 128: 128, 256: 256},
    (28672, 8192): {16: 32, 32: 64, 64: 64, 128: 128, 256: 256},
    (7168, 8192): {16: 16, 32: 16, 64: 32, 128: 64, 256: 128},
}
# The (M, N) block tiles of the kernels the same rows chose (their names), as candidates of a per-shape pick (row
# step 0: power-of-two rows), priced by cost.gemm.cublas_tile_compute_s without split K (a diagnostic: no prediction
# path uses it for CDNA).
CK_TILES: tuple[tuple[float, float, float], ...] = (
    (16.0, 64.0, 0.0), (32.0, 64.0, 0.0), (64.0, 64.0, 0.0), (64.0, 96.0, 0.0), (128.0, 64.0, 0.0),
    (128.0, 128.0, 0.0), (256.0, 160.0, 0.0), (256.0, 224.0, 0.0))

def model_us(m: float, n: float, k: float, tile: tuple[float, float] | None, tiles_in_flight: float,
             peak_flop_per_s: float, gemm_fraction: float, bytes_per_s: float, overhead_s: float) -> float:
    """The model's time of one ``(m x k) @ (k x n)`` FP8 GEMM in microseconds with the fixed ``tile`` (module doc);
    ``tile`` None: the per-shape pick of :data:`CK_TILES` (the least compute time, no split K)."""
    if tile is not None:
        return fixed_tile_us(m, n, k, tile, tiles_in_flight, peak_flop_per_s, gemm_fraction, bytes_per_s, overhead_s)
    compute_s = cublas_tile_compute_s_scalar(m, n, k, 1.0, tiles_in_flight, peak_flop_per_s * gemm_fraction,
                                             0.0, CK_TILES)
    memory_s = (k * n + m * (k + n)) * FP8_BYTES / bytes_per_s
    return (max(compute_s, memory_s) + overhead_s) * 1e6


def compare(calibration: str | None, ms: tuple[int, ...] = (16, 32, 33, 64, 65, 128, 129, 256)) -> list[dict]:
    """One row per shape and M of ``ms``: the model's microseconds with the chip's tile (``model_us``) and with the
    per-shape pick of :data:`CK_TILES` (``pick_us``), and the measured ones where the source has that M (``None``
    elsewhere)."""
    chip = get_chip_params(CHIP)
    cal = load_calibration(calibration)
    peak, bw, ovh, tile = chip_rates(chip, cal)
    out = []
    for (n, k), points in MEASURED_US.items():
        for m in ms:
            t = model_us(m, n, k, tile, chip.gemm_tiles_in_flight, peak, cal.gemm_compute_fraction, bw, ovh)
            pick = model_us(m, n, k, None, chip.gemm_tiles_in_flight, peak, cal.gemm_compute_fraction, bw, ovh)
            out.append({"n": n, "k": k, "m": m, "measured_us": points.get(m), "model_us": t, "pick_us": pick})
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calibration", help="calibration YAML (default: the shipped one)")
    a = ap.parse_args()
    rows = compare(a.calibration)
    print("| N x K | M | measured us | model us (256 x 256) | model / measured | per-shape pick us | pick / measured |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        meas = r["measured_us"]
        ratio = f"{r['model_us'] / meas:.2f}" if meas else "-"
        pratio = f"{r['pick_us'] / meas:.2f}" if meas else "-"
        print(f"| {r['n']} x {r['k']} | {r['m']} | {meas if meas else '-'} | {r['model_us']:.1f} | {ratio} | "
              f"{r['pick_us']:.1f} | {pratio} |")
    for (n, k), pts in MEASURED_US.items():
        model = {r["m"]: r["model_us"] for r in rows if (r["n"], r["k"]) == (n, k)}
        steps = ", ".join(f"{a}->{b}: measured x{pts[b] / pts[a]:.2f}, model x{model[b] / model[a]:.2f}"
                          for a, b in ((32, 64), (64, 128), (128, 256)))
        jumps = ", ".join(f"{a}->{a + 1}: model x{model[a + 1] / model[a]:.2f}" for a in (32, 64, 128))
        print(f"{n} x {k}: per doubling {steps}; one row more {jumps}")
    for key, label in (("model_us", "256 x 256 tile"), ("pick_us", "per-shape pick")):
        ratios = np.log([r[key] / r["measured_us"] for r in rows if r["measured_us"]])
        print(f"{label}: model / measured median {np.exp(np.median(ratios)):.2f}, spread (sd of log) "
              f"{np.std(ratios):.2f}, range {np.exp(ratios.min()):.2f}-{np.exp(ratios.max()):.2f}")


if __name__ == "__main__":
    main()
