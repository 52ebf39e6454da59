"""The model's time for DeepSeek-R1's dense block-FP8 GEMMs at TP8 against aiter's own timings on MI300X (gfx942,
304 CUs) and MI355X (gfx950, 256 CUs), the kernels the AMD SGLang (``SGLANG_USE_AITER=1`` / ``--attention-backend
aiter``) and ATOM rows run for their 128 x 128 block-scaled FP8 linears.

Source: ROCm/aiter ``aiter/configs/a8w8_blockscale_tuned_gemm.csv`` @118ba067643ff4249626a7b3d059796a4e53c9e2 (the
tuned table ``gemm_a8w8_blockscale`` looks up by ``(cu_num, M, N, K)``; columns cu_num, M, N, K, kernelId, splitK,
us, kernelName, tflops, bw; every row read here has splitK 0). The stored version is later than the rows' images
(SGLang v0.5.5.post3, ATOM 0.1.1; their aiter commits are not in the store), so the table is the kernels' rate
in that later build, an estimate for the rows' own. The shapes are DeepSeek-V3/R1's per-rank GEMMs at TP8
(N x K): q_a 1536 x 7168, kv_a 576 x 7168, q_b 3072 x 1536 (16 heads x 192), kv_b 4096 x 512, o_proj 7168 x
2048, the dense MLP's gate+up 4608 x 7168 and down 7168 x 2304, the shared expert's gate+up 512 x 7168 and down
7168 x 256. Only the M points of :data:`MEASURED_US` were read (the file has more).

What the table shows, and this tool prints: at decode sizes (M 16-128) the K = 7168 GEMMs take a flat 17-21 us on
both chips whatever M, with a 16 x 64 output tile (``256x16x64x256`` kernels): N / 64 workgroups (24 for q_a, 9 for
kv_a, 8 for the shared expert), each streaming its 64 x 7168 weight slab at about 23-25 GB/s, so the whole GEMM
reads 0.2-0.6 TB/s; at prefill sizes (M 8,192-16,384) they reach 560-750 TFLOP/s on MI300X (0.21-0.29 of its
2,615 TFLOP/s FP8 peak) and 720-1,035 on MI355X (0.14-0.21 of 5,033).

Model: as tools/kernel_rates/hipblaslt_gemm_check.py (``max(quantised FLOP / (FP8 peak x gemm fraction), bytes /
attainable DRAM rate) + kernel overhead``, the chip's tile and tiles in flight, cost/gemm.py ``quantised_flop``),
with the calibration as the named engine runs it on the chip (catalog.engines.engine_calibration with the
engine's recipe entry for the chip: SGLang on MI300X 0.68 of GEMM and memory, ATOM none).

    python tools/kernel_rates/aiter_blockscale_gemm_check.py [--chip amd-mi300x|amd-mi355x] [--engine sglang|atom]
        [--calibration FILE.yaml]
"""

from __future__ import annotations

import argparse

import numpy as np

from inferchip.catalog.calibration_file import load_calibration
from inferchip.catalog.chips import get_chip_params
from inferchip.catalog.engines import engine_calibration, get_engine
from inferchip.cost.gemm import quantised_flop
from inferchip.spec.stream import attainable_memory_bytes_per_s

# cu_num -> (N, K) -> {M: microseconds}; aiter a8w8_blockscale_tuned_gemm.csv @118ba067 (module doc)
MEASURED_US: dict[int, dict[tuple[int, int], dict[int, float]]] = {
    304: {
        (1536, 7168): {16: 19.3027, 64: 18.7255, 128: 18.2772, 256: 26.135, 1024: 51.3271, 4096: 159.8759,
                       8192: 287.8441, 16384: 529.016},
        (576, 7168): {16: 18.445, 64: 17.8133, 128: 17.3911, 256: 17.5869, 1024: 26.3561, 4096: 60.9716,
                      8192: 120.9992, 16384: 231.2541},
        (3072, 1536): {16: 6.3665, 64: 7.6681, 128: 8.1941, 256: 9.313, 1024: 23.725, 4096: 74.201, 8192: 130.63,
                       16384: 239.4596},
        (4096, 512): {16: 4.0887, 64: 4.2947, 128: 4.0266, 256: 5.527, 1024: 15.3172, 4096: 44.1624,
                      8192: 78.6845, 16384: 147.6227},
        (7168, 2048): {16: 8.4152, 64: 11.4514, 128: 13.5886, 256: 20.3643, 1024: 58.8708, 4096: 179.9207,
                       8192: 338.9763, 16384: 662.6852},
        (4608, 7168): {16: 20.1448, 64: 22.0564, 128: 28.3855, 256: 35.1072, 1024: 118.318, 4096: 380.3572,
                       8192: 752.3135, 16384: 1496.6221},
        (7168, 2304): {16: 8.5899, 64: 10.5805, 128: 13.5457, 256: 21.373, 1024: 61.0958, 4096: 191.1207,
                       8192: 363.6814, 16384: 701.1592},
        (512, 7168): {16: 18.3741, 64: 17.8974, 128: 17.3418, 256: 17.3458, 1024: 26.3088, 4096: 57.6546,
                      8192: 106.6833, 16384: 188.661},
        (7168, 256): {16: 3.6821, 64: 4.0987, 128: 4.2878, 256: 5.4367, 1024: 14.7972, 4096: 47.0139,
                      8192: 90.8728, 16384: 179.2841},
    },
    256: {
        (1536, 7168): {16: 20.8535, 64: 20.5651, 128: 20.1019, 256: 23.4904, 1024: 36.4647, 4096: 124.0493,
                       8192: 210.661, 16384: 371.4478},
        (576, 7168): {16: 19.9031, 64: 19.7455, 128: 19.3303, 256: 19.6847, 1024: 23.9404, 4096: 57.2232,
                      8192: 101.6527, 16384: 186.7632},
        (4608, 7168): {16: 21.2231, 64: 24.0952, 128: 24.7832, 256: 36.4007, 1024: 99.4691, 4096: 310.9487,
                       8192: 539.5795, 16384: 1046.6928},
        (7168, 2304): {16: 8.6748, 64: 10.0892, 128: 11.0009, 256: 15.9582, 1024: 49.965, 4096: 161.8222,
                       8192: 285.6152, 16384: 539.2895},
        (512, 7168): {16: 19.9419, 64: 19.6915, 128: 19.0891, 256: 19.4919, 1024: 23.5068, 4096: 44.5137,
                      8192: 86.0755, 16384: 143.7706},
        (7168, 256): {16: 3.6287, 64: 3.7547, 128: 3.9827, 256: 5.6643, 1024: 12.6589, 4096: 37.2575,
                      8192: 73.9508, 16384: 141.6637},
    },
}
CU_NUM = {"amd-mi300x": 304, "amd-mi355x": 256}  # the table's cu_num of each chip (gfx942 MI300X, gfx950 MI355X)
FP8_BYTES = 1.0  # weights and activations in FP8; the bf16 output and the block scales are left out
DECODE_M_MAX = 128  # the points printed as decode sizes in the summary


def model_us(m: float, n: float, k: float, tile: tuple[float, float], tiles_in_flight: float, peak_flop_per_s: float,
             gemm_fraction: float, bytes_per_s: float, overhead_s: float) -> float:
    """The model's time of one ``(m x k) @ (k x n)`` FP8 GEMM in microseconds (module doc)."""
    spent_flop = float(quantised_flop(m, k, n, 1.0, tile[0], tile[1], tiles_in_flight))
    compute_s = spent_flop / (peak_flop_per_s * gemm_fraction)
    memory_s = (k * n + m * (k + n)) * FP8_BYTES / bytes_per_s
    return (max(compute_s, memory_s) + overhead_s) * 1e6


def chip_rates(chip, cal) -> tuple[float, float, float, tuple[float, float]]:
    """The FP8 peak (FLOP/s), the attainable DRAM rate (B/s), the kernel overhead (s) and the chip's GEMM tile that
    :func:`model_us` takes, from the chip file and the calibration (module doc)."""
    bw = float(attainable_memory_bytes_per_s(chip.memory_bytes_per_s, chip.memory_stream_share,
                                             cal.memory_bandwidth_fraction))
    return (chip.peak_flop_per_s["fp8"], bw, chip.kernel_overhead_s * cal.kernel_overhead_scale,
            (float(chip.gemm_tile_m), float(chip.gemm_tile_n)))


def compare(chip_id: str, engine_id: str, calibration: str | None) -> list[dict]:
    """One row per measured point: measured and modelled microseconds, model / measured, measured TFLOP/s."""
    if chip_id not in CU_NUM:
        raise ValueError(f"--chip {chip_id!r}: allowed: {', '.join(CU_NUM)}")
    chip = get_chip_params(chip_id)
    engine = get_engine(engine_id)
    cal = engine_calibration(load_calibration(calibration), engine, engine.kernel_efficiency_on(chip_id, "fp8"))
    peak, bw, ovh, tile = chip_rates(chip, cal)
    out = []
    for (n, k), points in MEASURED_US[CU_NUM[chip_id]].items():
        for m, us in points.items():
            t = model_us(m, n, k, tile, chip.gemm_tiles_in_flight, peak, cal.gemm_compute_fraction, bw, ovh)
            out.append({"n": n, "k": k, "m": m, "measured_us": us, "model_us": t, "ratio": t / us,
                        "measured_tflops": 2.0 * m * n * k / (us * 1e-6) / 1e12})
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--chip", default="amd-mi300x", help=f"one of {', '.join(CU_NUM)}")
    ap.add_argument("--engine", default="sglang", help="the engine whose calibration prices the GEMMs")
    ap.add_argument("--calibration", help="calibration YAML (default: the shipped one)")
    a = ap.parse_args()
    try:
        rows = compare(a.chip, a.engine, a.calibration)
    except ValueError as e:
        ap.error(str(e))
    print(f"{a.chip}, engine {a.engine}")
    print("| N x K | M | measured us | measured TFLOP/s | model us | model / measured |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['n']} x {r['k']} | {r['m']} | {r['measured_us']:.1f} | {r['measured_tflops']:.0f} | "
              f"{r['model_us']:.1f} | {r['ratio']:.2f} |")
    for name, sel in (("decode (M <= 128)", [r for r in rows if r["m"] <= DECODE_M_MAX]),
                      ("prefill (M >= 4096)", [r for r in rows if r["m"] >= 4096])):
        lr = np.log([r["ratio"] for r in sel])
        print(f"{name}: model / measured median {np.exp(np.median(lr)):.2f}, range "
              f"{np.exp(lr.min()):.2f}-{np.exp(lr.max()):.2f} ({len(sel)} points)")


if __name__ == "__main__":
    main()
