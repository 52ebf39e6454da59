"""Throughput of the design-space evaluation: (design x workload) evaluations per minute, each with
performance (the best layout and concurrency per service level), area, TDP and cost, and peak memory.

Three measurements over the review's default suite (6 models x 2 service levels = 12 workloads):

1. ``vectorised, 1 process``: designs drawn from a 1M-design space by Latin hypercube (few repeat
   the performance-relevant figures), evaluated in chunks in this process (CPU time, best of 3).
2. ``vectorised, N processes``: the same designs split over a local pool (wall time).
3. ``search``: a 10,000-design search (NSGA-II and Pareto local search, store and all) over the
   default suite, wall time, with ``--workers`` processes.

Run: ``.venv/bin/python benchmarks/bench_explore.py [--designs 200000] [--workers 2] [--search 10000]``.
The machine may be shared: figures are noisy; a loaded machine gives lower ones.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import tempfile
import time

import numpy as np

from inferchip.catalog.assumptions import load_assumptions
from inferchip.explore.designs import designs_from_index
from inferchip.explore.evaluate import default_suite, evaluate
from inferchip.explore.executor import LocalExecutor
from inferchip.explore.run import explore
from inferchip.explore.search import lhs
from inferchip.spec.design_space import DesignSpace

SPACE = {"max_dies": 2, "parameters": {
    "matrix_units": [32, 64, 128, 256, 512, 1024, 2048], "matrix_unit_dim": [16, 32, 64, 128],
    "clock_ghz": {"low": 0.8, "high": 2.4, "steps": 5}, "memory_units": [1, 2, 4, 6, 8, 12],
    "formats": ["bf16", "bf16+fp8", "bf16+fp8+fp4"], "link_count": [0, 4, 8, 18],
    "memory_type": ["hbm3e", "hbm3", "gddr6", "lpddr5x"], "sram_mb": [16, 64, 256], "node_nm": [3, 5, 7],
    "chips_per_board": [1, 4, 8]}}
CHUNK = 20_000


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # kB on Linux


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--designs", type=int, default=200_000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--search", type=int, default=10_000)
    args = ap.parse_args()
    space = DesignSpace.from_dict(SPACE)
    a = load_assumptions()
    suite = default_suite()
    w = len(suite.workload_ids)
    idx = lhs(space, args.designs, seed=0)
    # the tables for every tile and link value of the space, built once (not timed: a run builds them once)
    warm = designs_from_index(space, space.grid()[:: max(1, space.size // 5000)], a)
    suite.prepare(np.array(space.values["matrix_unit_dim"]), np.unique(warm.link_bytes_per_s))
    print(f"space: {space.size:,} designs; suite: {w} workloads; sample: {len(idx):,} designs (Latin hypercube)")

    best = float("inf")
    for _ in range(3):
        t0 = time.process_time()
        for s in range(0, len(idx), CHUNK):
            evaluate(suite, designs_from_index(space, idx[s:s + CHUNK], a))
        best = min(best, time.process_time() - t0)
    n = len(idx) * w
    print(f"vectorised, 1 process: {n / best * 60:,.0f} evaluations/min ({n:,} in {best:.2f} s CPU); "
          f"peak memory {_peak_mib():,.0f} MiB")
    # The same, on the sample's feasible designs with distinct performance figures only (no shortcut
    # from designs beyond the reticle or from designs that differ only in SRAM or node).
    from inferchip.explore.evaluate import PERF_FIELDS

    ch = designs_from_index(space, idx, a)
    key = np.stack([np.asarray(getattr(ch, f), float) for f in PERF_FIELDS], axis=1)
    _, first = np.unique(key, axis=0, return_index=True)
    hard = idx[np.sort(first[ch.feasible[first]])]
    t0 = time.process_time()
    for s in range(0, len(hard), CHUNK):
        evaluate(suite, designs_from_index(space, hard[s:s + CHUNK], a))
    dt = time.process_time() - t0
    print(f"  of which feasible with distinct performance figures: {len(hard):,} designs "
          f"({ch.feasible.mean():.0%} of the sample feasible): {len(hard) * w / dt * 60:,.0f} evaluations/min")

    ex = LocalExecutor(args.workers)
    try:
        ex.run(space.to_json(), None, idx[:ex.workers * 64])  # start the workers and their tables
        t0 = time.perf_counter()
        for s in range(0, len(idx), CHUNK * ex.workers):
            ex.run(space.to_json(), None, idx[s:s + CHUNK * ex.workers])
        dt = time.perf_counter() - t0
    finally:
        ex.close()
    print(f"vectorised, {ex.workers} processes: {n / dt * 60:,.0f} evaluations/min ({n:,} in {dt:.2f} s wall)")

    if args.search:
        out = tempfile.mkdtemp(prefix="bench-explore-")
        try:
            t0 = time.perf_counter()
            res = explore(space, out, args.search, seed=0, workers=args.workers)
            dt = time.perf_counter() - t0
        finally:
            shutil.rmtree(out, ignore_errors=True)
        print(f"search: {res.designs:,} designs x {w} workloads ({res.rows:,} rows stored) in {dt:.1f} s wall "
              f"with {args.workers} workers ({res.mode}); peak memory of this process {_peak_mib():,.0f} MiB")


if __name__ == "__main__":
    main()
