"""Speed and memory of sweeps: the analytic step cost at a million (chip, batch, lengths) points, and ``ic.sweep``.

1. Step cost: Llama-3.1-8B (fp8 weights, activations and KV cache, one chip, tp1) on eight catalogue chips, each
   chip's plan compiled once; at each chip 250 batch sizes (1-250) x 250 prompt lengths (16-4,000 tokens, 128 output
   tokens), a static batch's prefill step and decode step each: 125,000 step evaluations a chip, 1,000,000 in all,
   priced on the array path in blocks (``cost.step_rows``). A sample of the points is priced again on the scalar
   path (``cost.scalar_step``, one point at a time) and the largest relative difference printed.
2. ``ic.sweep`` of 10,000 static batches that all fit (Llama-3.2-1B on an H200, 128 prompt and 32 output tokens,
   batch 1-10,000: stop 50's case) three ways: on arrays (stop 52, part 3's path); point by point with its steps
   primed on arrays (``performance.fast_sweep.prime``, stop 51); point by point with every step on the scalar path
   (before stop 51); best of ``--repeat`` runs each, after one run that resolves the setting.
3. ``ic.sweep`` of 1,000,000 points (stop 52): Llama-3.2-1B on four chips x 5 prompt lengths x 5 output lengths x
   10,000 static batches (about 58 % of them fit), answered on arrays (``interfaces.api.sweep_columns``,
   ``performance.fast_columns``); then 20,000 of them (two chips at 128 and 32 tokens: all fit) with the array path
   off, every point through ``predict`` as before stop 52, and the two frames compared value for value.
4. ``ic.sweep`` of 1,000,000 most-throughput points (``batch`` None, stop 52): Llama-3.2-1B on the same four chips x
   500 prompt lengths (64-8,192) x 500 output lengths (1-4,096), answered on arrays after each chip's first two
   (``performance.fast_columns.best_columns``); then 50 x ``--check``/100 of the lengths on two chips point by
   point (array path off) and the frames compared: the non-float columns (the concurrency among them) exactly,
   the floats' largest relative difference printed. Run first (``--only-best``: alone, its own peak memory).
   Stop 53: the GEMMs' tile and wave times of every grid (``cost.gemm.cublas_tile_compute_s`` and
   ``split_k_compute_s``, the one array form the step rules call too) written into a few arrays instead of a new
   array per operation, the GEMMs laid as rows of the grid: ~2x fewer CPU seconds here, the frames equal. Stop 53
   (sweep53b): the tiles priced only at the grid points a proven lower bound on the step time cannot rule out
   (``performance.fast_best``; the share printed): ~1.6x fewer CPU seconds again, the frames equal.

Prints CPU seconds of this process (process time: the figure that holds on a shared machine; wall time depends on
what else runs), evaluations or points per second, and the peak resident memory of the process after each part.

Run: ``.venv/bin/python benchmarks/bench_sweep.py [--points-per-chip 62500] [--repeat 3] [--check 2000]
[--sweep-batches 10000] [--best-lengths 500] [--only-best]``
"""

from __future__ import annotations

import argparse
import os
import resource
import time
from typing import Any

import numpy as np

import inferchip as ic
from inferchip.catalog.calibration_file import load_calibration
from inferchip.catalog.chips import get_chip_params
from inferchip.catalog.models import load_model
from inferchip.cost.step import cached_step_plan
from inferchip.cost.step_rows import step_rows
from inferchip.mapping.layout import Layout
from inferchip.mapping.memory_fit import Formats
from inferchip.performance import fast_sweep
from inferchip.performance.mapped import map_model

CHIPS = ("nvidia-h100-sxm-80gb", "nvidia-h200-sxm-141gb", "nvidia-b200-180gb", "nvidia-gb200-186gb",
         "nvidia-a100-sxm-80gb", "amd-mi300x", "amd-mi325x", "google-tpu-v5e")


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def static_points(points: int, out_tokens: float = 128.0) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The prefill and decode steps' seven columns (one prompt chunk: the whole batch's prompts in one step) of
    ``points`` static batches on a batch x prompt-length grid."""
    side = max(int(round(points ** 0.5)), 1)
    b, i = (x.ravel()[:points] for x in np.meshgrid(np.arange(1.0, side + 1), np.linspace(16.0, 4000.0, side)))
    zero = np.zeros_like(b)
    prefill = [b * i, b * i, zero, b * i, zero, i * (i + 1.0) / 2.0 * b, b]
    decode = [b, b, b, zero, b * (i + out_tokens / 2.0), zero, b]
    return prefill, decode


def step_cost_part(points_per_chip: int, check: int) -> None:
    model, cal, fmt = load_model("meta-llama/Llama-3.1-8B"), load_calibration(), Formats("fp8", "fp8", "fp8")
    t0 = time.process_time()
    plans = []
    for chip in CHIPS:
        mm = map_model(model, get_chip_params(chip), Layout(), fmt, cal)
        plans.append(cached_step_plan(None, mm.sm, mm.chip, mm.formats, mm.cal))
    compile_s = time.process_time() - t0
    prefill, decode = static_points(points_per_chip)
    t0, w0 = time.process_time(), time.perf_counter()
    evaluations, worst, scalar_s, scalar_n = 0, 0.0, 0.0, 0
    rng = np.random.default_rng(0)
    for plan in plans:
        for cols in (prefill, decode):
            rows = step_rows(plan, cols)
            evaluations += len(rows)
            if check and plan.scalar is not None:  # outside the timing would be fairer: it is a small share
                c0 = time.process_time()
                picked = rng.choice(len(rows), size=min(check, len(rows)), replace=False)
                args = [tuple(float(c[k]) for c in cols) for k in picked]
                for p in args[:20]:  # compiled on its 16th call (scalar_step.COMPILE_AFTER): timed compiled
                    plan.scalar.step(*p)
                s0 = time.process_time()
                refs = [plan.scalar.step(*p) for p in args]
                scalar_s, scalar_n = scalar_s + time.process_time() - s0, scalar_n + len(args)
                for k, ref in zip(picked, refs, strict=True):
                    r = np.array(ref)
                    worst = max(worst, float(np.max(np.abs(rows[k] - r) / np.maximum(np.abs(r), 1e-300))))
                t0 += time.process_time() - c0
    cpu, wall = time.process_time() - t0, time.perf_counter() - w0
    print(f"step cost: {evaluations:,} evaluations ({len(CHIPS)} chips x {points_per_chip:,} static batches x "
          f"prefill and decode steps), CPU {cpu:.2f} s, {evaluations / cpu:,.0f} evaluations/s "
          f"(wall {wall:.2f} s); plans compiled in {compile_s:.2f} s CPU; peak memory {peak_mib():.0f} MiB")
    if check:
        print(f"  array path vs scalar path, {check:,} points a chip and step: largest relative difference "
              f"{worst:.1e}; the scalar path (compiled step, one point a call) {scalar_s / scalar_n * 1e6:.1f} us "
              f"a step, {evaluations * scalar_s / scalar_n:.1f} s for the {evaluations:,}")


def sweep_part(repeat: int) -> None:
    kw: dict[str, Any] = dict(batch=np.arange(1, 10_001), input_tokens=128, output_tokens=32)
    chip, model = "nvidia-h200-sxm-141gb", "meta-llama/Llama-3.2-1B"
    ic.sweep(chip, model, **kw)  # resolves and caches the setting (as a notebook's first call does)
    from inferchip.interfaces.api import sweep_columns

    real_prime, real_segment = fast_sweep.prime, sweep_columns.static_segment
    for label, prime, segment in (("on arrays (stop 52)", real_prime, real_segment),
                                  ("point by point, steps primed on arrays (stop 51)", real_prime, None),
                                  ("point by point, scalar steps (before stop 51)", None, None)):
        fast_sweep.prime = prime or (lambda fast, pts: 0)  # type: ignore[assignment]
        sweep_columns.static_segment = segment or (lambda *a, **k: None)  # type: ignore[assignment]
        try:
            best = np.inf
            for _ in range(repeat):
                t0 = time.process_time()
                df = ic.sweep(chip, model, **kw)
                best = min(best, time.process_time() - t0)
        finally:
            fast_sweep.prime, sweep_columns.static_segment = real_prime, real_segment  # type: ignore[assignment]
        print(f"ic.sweep, {len(df):,} points ({int(df['fits'].sum()):,} fit), {label}: CPU {best:.3f} s "
              f"(best of {repeat}), {len(df) / best:,.0f} points/s; peak memory {peak_mib():.0f} MiB")


def million_part(batches: int) -> None:
    chips = ["nvidia-h200-sxm-141gb", "amd-mi300x", "nvidia-b200-180gb", "nvidia-h100-sxm-80gb"]
    model = "meta-llama/Llama-3.2-1B"
    kw: dict[str, Any] = dict(batch=np.arange(1, batches + 1), input_tokens=[128, 256, 512, 1024, 2048],
                              output_tokens=[32, 64, 128, 256, 512])
    ic.sweep(chips, model, batch=[1, 2], input_tokens=128, output_tokens=32)  # resolves each chip's setting
    before = peak_mib()
    t0, w0 = time.process_time(), time.perf_counter()
    df = ic.sweep(chips, model, **kw)
    cpu, wall = time.process_time() - t0, time.perf_counter() - w0
    print(f"ic.sweep, {len(df):,} points ({int(df['fits'].sum()):,} fit) on arrays: CPU {cpu:.2f} s, "
          f"{len(df) / cpu:,.0f} points/s (wall {wall:.2f} s); peak memory {peak_mib():.0f} MiB "
          f"({before:.0f} MiB before it)")
    part = dict(kw, batch=np.arange(1, min(batches, 10_000) + 1), input_tokens=128, output_tokens=32)
    by_points, cpu = _by_points("static_segment", chips[:2], model, part)
    same = by_points.equals(ic.sweep(chips[:2], model, **part))
    print(f"  {len(by_points):,} of them point by point (array path off): CPU {cpu:.2f} s, "
          f"{len(by_points) / cpu:,.0f} points/s; the array path's frame equal: {same}")


def _by_points(segment: str, chips: list[str], model: str, part: dict[str, Any]) -> tuple[Any, float]:
    """(``ic.sweep(chips, model, **part)`` with the array path ``segment`` of ``sweep_columns`` off, its points
    through ``predict`` one by one; the CPU seconds it took)."""
    from inferchip.interfaces.api import sweep_columns

    real = getattr(sweep_columns, segment)
    setattr(sweep_columns, segment, lambda *a, **k: None)
    try:
        t0 = time.process_time()
        by_points = ic.sweep(chips, model, **part)
        return by_points, time.process_time() - t0
    finally:
        setattr(sweep_columns, segment, real)


def _count_priced() -> list[int]:
    """[grid points whose GEMM tiles were priced, grid points searched], counted as the search runs (stop 53's
    bound, ``performance.fast_best``)."""
    from inferchip.performance import fast_best

    counts = [0, 0]
    priced, searched = fast_best._priced, fast_best.tokens_per_s

    def count_priced(*a: Any) -> Any:
        counts[0] += len(a[-1])  # (_priced(parts, mat, terms, grid, at))
        return priced(*a)

    def count_searched(*a: Any) -> Any:
        counts[1] += len(a[1])
        return searched(*a)

    fast_best._priced, fast_best.tokens_per_s = count_priced, count_searched  # type: ignore[assignment]
    return counts


def best_part(lengths: int, check: int) -> None:
    """A million most-throughput points (``batch`` None): 4 chips x ``lengths`` prompt x ``lengths`` output lengths."""
    chips = ["nvidia-h200-sxm-141gb", "amd-mi300x", "nvidia-b200-180gb", "nvidia-h100-sxm-80gb"]
    model = "meta-llama/Llama-3.2-1B"
    ins = np.unique(np.linspace(64, 8192, lengths).astype(int))
    outs = np.unique(np.linspace(1, 4096, lengths).astype(int))
    ic.sweep(chips, model, input_tokens=[64, 65], output_tokens=1)  # resolves each chip's setting, its fast layout
    before = peak_mib()
    counts = _count_priced()
    t0, w0 = time.process_time(), time.perf_counter()
    df = ic.sweep(chips, model, input_tokens=ins, output_tokens=outs)
    cpu, wall = time.process_time() - t0, time.perf_counter() - w0
    print(f"ic.sweep, {len(df):,} most-throughput points ({int(df['fits'].sum()):,} fit) on arrays: CPU {cpu:.2f} s, "
          f"{len(df) / cpu:,.0f} points/s (wall {wall:.2f} s); peak memory {peak_mib():.0f} MiB "
          f"({before:.0f} MiB before it); the GEMM tiles priced at {counts[0]:,} of the {counts[1]:,} grid points "
          f"searched ({counts[0] / max(counts[1], 1):.1%})")
    if not check:
        return
    rng = np.random.default_rng(0)
    part = dict(input_tokens=np.sort(rng.choice(ins, size=min(len(ins), 50), replace=False)),
                output_tokens=np.sort(rng.choice(outs, size=min(len(outs), check // 100), replace=False)))
    by_points, cpu = _by_points("best_segment", chips[:2], model, part)
    on_arrays = ic.sweep(chips[:2], model, **part)
    num = [c for c in by_points.columns if by_points[c].dtype.kind == "f"]
    a, b = on_arrays[num].to_numpy(), by_points[num].to_numpy()
    worst = float(np.nanmax(np.abs(a - b) / np.where(b == 0, 1.0, np.abs(b))))
    same = on_arrays.drop(columns=num).equals(by_points.drop(columns=num)) and bool(
        (on_arrays["batch"] == by_points["batch"]).all())
    print(f"  {len(by_points):,} of them point by point (array path off): CPU {cpu:.2f} s, "
          f"{len(by_points) / cpu:,.0f} points/s; the array path's concurrency and other non-float columns equal: "
          f"{same}, its floats' largest relative difference {worst:.1e}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points-per-chip", type=int, default=62_500, help="static batches a chip (two steps each)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--check", type=int, default=2000, help="points a chip and step priced on the scalar path too")
    ap.add_argument("--sweep-batches", type=int, default=10_000, help="batches of part 3 (x 100 points each)")
    ap.add_argument("--best-lengths", type=int, default=500, help="lengths of part 4 (4 chips x this squared points)")
    ap.add_argument("--only-best", action="store_true", help="part 4 alone (its peak memory not part 1-3's)")
    a = ap.parse_args()
    print(f"load average {os.getloadavg()[0]:.1f} at the start")
    if not a.only_best:
        step_cost_part(a.points_per_chip, a.check)
        sweep_part(a.repeat)
    best_part(a.best_lengths, a.check)
    if not a.only_best:
        million_part(a.sweep_batches)
    print(f"load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
