"""Service model of spatial dataflow (at-memory) accelerators: the network stays resident, layer after layer
placed on its own share of the chip, and samples stream through it one at a time
(``catalog/vision/dataflow.csv`` says which chip families execute so, with the source).

A GPU or NPU runs a call of b frames layer by layer on the whole chip; a call's time grows with b and a sample
waits for its whole call. A layer pipeline instead admits a new sample every interval I while earlier ones are
still in flight (weights stationary, no per-call batching):

* interval I = one sample's work at the whole chip's rate with every stage busy (stages balanced by the
  compiler's allocation): the per-sample time of the chip under full load, i.e. min over b of the time per
  call under load / b (:func:`pipeline_interval_s`; the Offline rate is 1 / I per chip);
* fill L = one sample's passage through all stages on an idle chip: the batch-1 latency (input copy, layers,
  per-query host cost);
* a burst of b samples entered together finishes at L + (b - 1) I (:func:`stream_latency_s`), and occupies the
  pipeline's entry for b I (:func:`stream_occupancy_s`).

So samples in flight = L / I (Little's law), and under Poisson load a sample's latency is its wait for the
pipeline's entry (a queue served every I) plus L - I after it (:func:`entry_delay_s`). Batch-1 latency, MultiStream
bursts and Server capacity come from the same two numbers. No stage split is published for any such chip, so the
stage times are not modelled one by one; the balanced-stage interval is the bound the allocation aims at.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from inferchip.cost.roofline import FloatArray
from inferchip.cost.vision.table import read_table
from inferchip.errors import InferchipError

STREAM_REFERENCE_BATCHES = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024, 1536,
                            2048, 4096)
"""Batch sizes over which the interval I is the least time per sample under load (the validation's batch grid)."""
DATAFLOW_FILE = Path(__file__).resolve().parents[2] / "catalog" / "vision" / "dataflow.csv"


class DataflowFileError(InferchipError):
    """``dataflow.csv`` is malformed."""


@lru_cache(maxsize=4)
def load_dataflow(path: Path = DATAFLOW_FILE) -> dict[str, str]:
    """chip family -> how it executes (with its source in the file); a bad row stops with file, line and field."""
    def parse(row: dict[str, str]) -> tuple[str, str]:
        family, execution, source = (row.get(k) or "" for k in ("family", "execution", "source"))
        if not family.strip() or not execution.strip() or not source.strip():
            raise ValueError(f"a row needs family, execution and source, got family={family!r}, "
                             f"execution={execution!r}, source={source!r}")
        return family.strip(), execution.strip()

    return dict(read_table(path, DataflowFileError, parse))


def is_dataflow(family: str) -> bool:
    """Whether chips of ``family`` stream samples through a resident layer pipeline (``dataflow.csv``)."""
    return family in load_dataflow()


def pipeline_interval_s(batches: FloatArray, time_per_call_s: FloatArray) -> float:
    """Seconds between samples entering the pipeline (per-sample interval I): the least time per sample of the
    chip under full load, min over b of t(b) / b, with t the time per call under load (calls overlapped, input
    copy under compute, TDP floor) on the batch grid ``batches``."""
    b = np.asarray(batches, dtype=float)
    t = np.asarray(time_per_call_s, dtype=float)
    if b.shape != t.shape or b.size == 0 or np.any(b <= 0):
        raise ValueError("batches and time_per_call_s must be equal-length, non-empty, batches > 0")
    return float(np.min(t / b))


def stream_latency_s(fill_s: float, interval_s: float, batches: FloatArray) -> FloatArray:
    """Latency of a burst of b samples entered back to back into an idle pipeline: the first leaves after the fill
    time L, each next one I later: L + (b - 1) I."""
    b = np.asarray(batches, dtype=float)
    return np.asarray(fill_s + np.maximum(b - 1.0, 0.0) * interval_s, dtype=float)


def stream_occupancy_s(interval_s: float, batches: FloatArray) -> FloatArray:
    """Time b samples hold the pipeline's entry (the next sample enters after it): b I. Its throughput b / (b I) is
    the same at every b: a pipeline gains nothing from batching."""
    return np.asarray(np.asarray(batches, dtype=float) * interval_s, dtype=float)


def entry_delay_s(fill_s: float, interval_s: float) -> float:
    """What a sample spends in the pipeline after its entry slot I: L - I (never below 0). Under load its latency is
    the queue for the entry (served one sample per I) plus this constant."""
    return max(fill_s - interval_s, 0.0)
