"""Speed of the serving simulator: one hour of Poisson traffic at 100 requests/s on a 70B model.

Uses the real core model (``inferchip.performance.serving.serving_model``: Llama-2-70B in FP8
on TP2 H100-SXM replicas, with energy per step); ``--stand-in`` uses instead a stand-in
roofline whose figures are written below (datasheet peaks times assumed efficiencies; an
estimate for timing the simulator alone, not a prediction). Prints a summary, then as its
last line ``<N> simulated requests/s`` (simulated requests per second of wall time).

Run: ``.venv/bin/python benchmarks/bench_serve.py [--duration-s 3600] [--rate 100] [--stand-in]``
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass

import numpy as np

from inferchip.sim import PoissonArrivals, SchedulerConfig, simulate

GB = 1e9


@dataclass(frozen=True)
class RooflineStandIn:
    """Llama-2-70B FP8 weights/KV on ``tp`` H100-SXM; roofline step time plus fixed costs.

    Figures: 69e9 parameters, 80 layers, hidden 8192, 8 KV heads x 128 (Llama-2-70B
    config); H100-SXM 1979 TFLOP/s dense FP8 and 3.35 TB/s HBM3, 80 GB (NVIDIA datasheet);
    NVLink 450 GB/s per direction. Efficiencies (0.6 compute, 0.8 memory), 90 % of HBM for
    weights + KV, 1 ms launch overhead and 8 us per all-reduce are assumptions.
    """

    tp: int = 2
    params: float = 69e9
    layers: int = 80
    hidden: int = 8192
    kv_bytes_per_token: float = 2 * 80 * 8 * 128 * 1.0  # K and V, layers, kv heads, head dim, 1 B (fp8)
    peak_flop_per_s: float = 1979e12 * 0.6
    hbm_bytes_per_s: float = 3.35e12 * 0.8
    link_bytes_per_s: float = 450e9
    overhead_s: float = 1e-3
    allreduce_latency_s: float = 8e-6

    @property
    def num_chips(self) -> int:
        return self.tp

    @property
    def kv_capacity_tokens(self) -> int:
        return int((self.tp * 80 * GB * 0.9 - self.params) / self.kv_bytes_per_token)

    def step_time_s(self, num_tokens, num_decode_seqs, decode_kv_tokens, prefill_attn_pairs):
        n = np.asarray(num_tokens, dtype=float)
        kv = np.asarray(decode_kv_tokens, dtype=float)
        pairs = np.asarray(prefill_attn_pairs, dtype=float)
        flop = 2 * self.params * n + 4 * self.layers * self.hidden * (kv + pairs)  # GEMMs + QK^T and PV
        bytes_ = self.params + self.kv_bytes_per_token * (kv + n) + 4 * self.hidden * n * self.layers
        compute_s = flop / (self.tp * self.peak_flop_per_s)
        memory_s = bytes_ / (self.tp * self.hbm_bytes_per_s)
        allreduce_bytes = 2 * self.layers * n * self.hidden * 2  # two all-reduces per layer, bf16 activations
        comm_s = 2 * (self.tp - 1) / self.tp * allreduce_bytes / self.link_bytes_per_s
        comm_s = comm_s + 2 * self.layers * self.allreduce_latency_s * (self.tp > 1)
        return np.maximum(compute_s, memory_s) + comm_s + self.overhead_s


def step_model(tp: int, stand_in: bool):
    if stand_in:
        return RooflineStandIn(tp=tp), "stand-in roofline (--stand-in)"
    from inferchip.performance.serving import serving_model

    model, _ = serving_model("nvidia-h100-sxm-80gb", "meta-llama/Llama-2-70b-hf", count=tp, tp=tp, weights="fp8")
    return model, "inferchip.performance.serving.serving_model (core model + energy, shipped calibration)"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--duration-s", type=float, default=3600.0)
    ap.add_argument("--rate", type=float, default=100.0, help="requests per second")
    ap.add_argument("--replicas", type=int, default=8)
    ap.add_argument("--tp", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--stand-in", action="store_true", help="time the simulator on a stand-in roofline step model")
    args = ap.parse_args()
    model, which = step_model(args.tp, args.stand_in)
    arrivals = PoissonArrivals(rate_per_s=args.rate, input_tokens=(700, 500), output_tokens=(294, 200))
    t0 = time.perf_counter()
    result = simulate(model, arrivals, duration_s=args.duration_s, seed=args.seed, replicas=args.replicas,
                      scheduler_config=SchedulerConfig(), slo_ttft_s=2.0, slo_tpot_s=0.2)
    wall_s = time.perf_counter() - t0
    s = result.summary()
    print(f"step model: {which}")
    for key in ("num_requests", "num_completed", "num_steps", "step_model_evaluations", "ttft_s_p99", "tpot_s_p99",
                "output_tokens_per_s", "running_seqs_mean", "kv_cache_used_fraction_mean", "preemptions",
                "saturated", "power_w_per_chip", "output_tokens_per_j"):
        print(f"{key}: {s.get(key, '-')}")
    print(f"step model calls: {result.extra['step_model_calls']}")
    print(f"wall time: {wall_s:.2f} s")
    print(f"{s['num_requests'] / wall_s:.0f} simulated requests/s")


if __name__ == "__main__":
    main()
