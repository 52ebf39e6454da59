"""Throughput of the performance model, two ways.

1. ``predict()`` calls: distinct questions (static batches over many input/output lengths and
   batch sizes, then max-throughput questions over many lengths) for Llama-3.1-8B on one H100
   with tp=1 fixed, through the public keyword API. Nothing answers from a cache of answers:
   every question is new to the run (the resolved setting and its mapped model are reused,
   as for any user script; a layout given, so predict's fast path answers: see
   ``performance/fast_path.py``; a static batch's prefill step is kept by its point, so the
   questions that share a prompt length and batch, here 61 output lengths each, as in any
   loop over output lengths, cost it once). Prints ``<N> predict() calls/s``.
2. The array path: a (chip x model x batch x length) sweep of static-batch predictions
   (prefill step + decode step -> TTFT, TPOT, e2e, tokens/s) on one chip with tensor
   parallelism 1. Prints the sweep size, the wall time and, as its last line, ``<N> points/s``.
"""

from __future__ import annotations

import time

import numpy as np

from inferchip.catalog.calibration_file import load_calibration
from inferchip.catalog.chips import all_chips, get_chip_params
from inferchip.catalog.models import load_model
from inferchip.mapping.layout import Layout
from inferchip.mapping.memory_fit import Formats
from inferchip.performance.mapped import map_model
from inferchip.performance.phases import static_batch
from inferchip.spec.chip import stack_chips

MODELS = ["meta-llama/Llama-3.1-8B", "meta-llama/Llama-3.1-70B", "Qwen/Qwen3-32B",
          "mistralai/Mixtral-8x7B-v0.1", "Qwen/Qwen3-30B-A3B"]


def bench_calls(seconds: float = 5.0) -> float:
    """predict() calls per second over distinct questions (a fixed layout, tp=1)."""
    from inferchip.errors import DoesNotFitError
    from inferchip.performance.predict import predict

    chip, model = "nvidia-h100-sxm-80gb", "meta-llama/Llama-3.1-8B"
    inputs = np.unique(np.geomspace(16, 32768, 97).round()).astype(int)
    outputs = np.unique(np.geomspace(1, 4096, 61).round()).astype(int)
    batches = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64)
    rng = np.random.default_rng(0)
    questions = [(int(i), int(o), b) for i in inputs for o in outputs for b in batches]
    rng.shuffle(questions)  # type: ignore[arg-type]
    predict(chip, model, tp=1, batch=1)  # resolve the setting (catalogue, calibration, assumptions) once
    n, fits, start, cpu = 0, 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - start < seconds and n < len(questions):
        i, o, b = questions[n]
        n += 1
        batch = None if n % 8 == 0 else b  # one question in eight asks for the most throughput
        try:
            predict(chip, model, tp=1, input_tokens=i, output_tokens=o, batch=batch)
            fits += 1
        except DoesNotFitError:  # a question that does not fit still costs a call
            pass
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    print(f"{n:,} distinct predict() questions in {wall:.2f} s ({fits:,} fit in memory); "
          f"{n / cpu:,.0f} per CPU second of this process (what a loaded machine disturbs less)")
    print(f"{n / wall:,.0f} predict() calls/s")
    return n / wall


def main() -> None:
    bench_calls()
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
