"""Throughput of the vectorised performance model: a (chip x model x batch x length) sweep.

Every point is a static-batch prediction (prefill step + decode step -> TTFT, TPOT, e2e,
tokens/s) on one chip with tensor parallelism 1 where it fits. Prints the sweep size, the
wall time and, as its last line, ``<N> points/s``.
"""

from __future__ import annotations

import time

import numpy as np

from inferchip.performance.phases import map_model, static_batch
from inferchip.catalog.chips import all_chips, get_chip_params
from inferchip.catalog.models import load_model
from inferchip.catalog.calibration_file import load_calibration
from inferchip.mapping.layout import Layout
from inferchip.mapping.memory_fit import Formats
from inferchip.spec.chip import stack_chips

MODELS = ["meta-llama/Llama-3.1-8B", "meta-llama/Llama-3.1-70B", "Qwen/Qwen3-32B",
          "mistralai/Mixtral-8x7B-v0.1", "Qwen/Qwen3-30B-A3B"]


def main() -> None:
    chips = [get_chip_params(c.id) for c in all_chips()]
    chip = stack_chips(chips, (-1, 1, 1))
    batches = np.geomspace(1, 1024, 100).round().reshape(1, -1, 1)
    lengths = np.geomspace(128, 32768, 50).round().reshape(1, 1, -1)
    cal = load_calibration()
    fmt = Formats("fp8", "fp8", "fp8")
    models = [load_model(m) for m in MODELS]
    points = len(chips) * len(models) * batches.size * lengths.size
    start = time.perf_counter()
    fits = 0
    for m in models:
        mm = map_model(m, chip, Layout(), fmt, cal)
        met = static_batch(mm, batches, lengths, lengths / 4)
        fits += int(np.sum(mm.max_batch(lengths, lengths / 4) >= batches))
        assert met.tokens_per_s_replica.shape == (len(chips), batches.size, lengths.size)
    wall = time.perf_counter() - start
    print(f"chips={len(chips)} models={len(models)} batches={batches.size} lengths={lengths.size}")
    print(f"{points:,} points in {wall:.2f} s ({fits:,} fit in memory)")
    print(f"{points / wall:,.0f} points/s")


if __name__ == "__main__":
    main()
