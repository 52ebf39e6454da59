"""Time of ``inferchip drive``'s simulation: one hour of an 8-camera rig at 36 fps (1,036,800 frames).

usage: python benchmarks/bench_drive.py [--chip ID] [--model M ...] [--runs N]

Runs :func:`inferchip.performance.vision_drive.drive` (the vision cost model's service times, then
the rig) for both batching modes, best of N, and checks that two runs with one seed give the same
figures. Without the vision cost model in the build it times the rig alone with fixed service times
(2 ms + 1 ms per camera frame, 30 W busy, 5 W idle) and says so. Not a timed test: a loaded machine
makes every figure slower.
"""

from __future__ import annotations

import argparse
import importlib
import time

import numpy as np

from inferchip.sim.vision.rig import RigLoad, Stage, simulate_rig

CAMERAS, FPS, HOUR_S = 8, 36.0, 3600.0


def _stand_in() -> tuple[Stage, ...]:
    b = np.arange(CAMERAS + 1)
    return (Stage("stand-in", True, np.where(b > 0, 2e-3 + 1e-3 * b, 0.0), np.full(CAMERAS + 1, 30.0)),)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--chip", default="nvidia-jetson-agx-orin-64gb")
    ap.add_argument("--model", action="append", default=None)
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args()
    try:
        importlib.import_module("inferchip.performance.vision")
        have_cost_model = True
    except ModuleNotFoundError:
        have_cost_model = False
    print(f"{CAMERAS} cameras x {FPS:g} fps x {HOUR_S:g} s = {int(CAMERAS * FPS * HOUR_S):,} frames")
    for batching in ("tick", "frame"):
        best, figures = float("inf"), []
        for _ in range(a.runs):
            start = time.perf_counter()
            if have_cost_model:
                from inferchip.performance.vision_drive import drive

                s = drive(a.chip, CAMERAS, FPS, a.model, duration_s=HOUR_S, seed=1, batching=batching)
            else:
                load = RigLoad(CAMERAS, FPS, duration_s=HOUR_S, seed=1, batching=batching)
                s = simulate_rig(load, _stand_in(), idle_w=5.0).summary()
            best = min(best, time.perf_counter() - start)
            figures.append((s["latency_ms"], s["deadline_miss_rate"], s["energy_per_frame_j"]))
        same = all(f == figures[0] for f in figures)
        what = f"{a.chip} with the vision cost model" if have_cost_model else "fixed stand-in service times"
        print(f"{batching:>5} batching, {what}: best of {a.runs} {best:.2f} s wall; p99 "
              f"{figures[0][0]['p99']:.2f} ms, misses {figures[0][1]:.4%}; same seed, same figures: {same}")


if __name__ == "__main__":
    main()
