"""Time of one step cost: Llama-3.1-8B on nvidia-h100-sxm-80gb, tp1, fp8, at a 100-point
batch grid (decode steps) and at a single point. Prints CPU microseconds per evaluation
(process time, the best of 5 repeats: the machine may be shared).

Run: ``.venv/bin/python benchmarks/bench_step_cost.py``
"""

from __future__ import annotations

import time
import timeit

import numpy as np

from inferchip.catalog.calibration_file import load_calibration
from inferchip.catalog.chips import get_chip_params
from inferchip.catalog.models import load_model
from inferchip.mapping.layout import Layout
from inferchip.mapping.memory_fit import Formats
from inferchip.performance.mapped import map_model


def main() -> None:
    mm = map_model(load_model("meta-llama/Llama-3.1-8B"), get_chip_params("nvidia-h100-sxm-80gb"), Layout(),
                   Formats("fp8", "fp8", "fp8"), load_calibration())
    b = np.geomspace(1, 1024, 100).round()
    ctx = 2048.0
    for label, args in (("100-point grid", (b, b, b * ctx, 0.0)), ("single point", (64.0, 64.0, 64 * ctx, 0.0))):
        mm.stage_step(*args)
        n = 2000
        t = min(timeit.repeat(lambda args=args: mm.stage_step(*args), number=n, repeat=5, timer=time.process_time)) / n
        print(f"step cost, {label}: {t * 1e6:,.1f} us ({1 / t:,.0f} /s)")


if __name__ == "__main__":
    main()
