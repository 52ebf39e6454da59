"""The part of a runtime's round trip that a latency-scenario call waits for and a pipelined call does not.

Under load a runtime keeps several calls queued per program instance, so the host's submission, the input's DMA,
the completion interrupt and the host's completion handling of one call overlap the device work of others: the
time per call under load (:meth:`inferchip.validation.vision.rows.RowModel.pipelined_s`) is the device's. A
SingleStream or MultiStream query waits for its own call end to end. The model's latency path adds the input copy
(:meth:`~inferchip.validation.vision.rows.RowModel.query_s`); what else the runtime adds is read here from a vendor's
measurement of the same program in both modes, never from the validation rows.

Qualcomm Cloud AI 100 (quic/cloud-ai-sdk ``tutorials/Computer-Vision/Perfomance-Tuning-Beginner/
Performance-tuning.ipynb``, Platform SDK 1.9.2 / Apps SDK 1.9.1, ResNet-50 int8, a 14-core Standard card, the qaic
model configurator): ResNet-50 compiled for 7 AI cores at batch 1, 2 instances (activations) on the card, runs at
6,753.81 inferences/s in the throughput search (``qaic-runner`` with its default set-size, "the number of
inferences that can be queued up on the host per activation. Set-size helps hide host side overhead by pipelining
inferences": SDK docs, Tune Performance) and at 428.16 us per inference in the least-latency search with
``-set-size 1`` (one inference in flight per instance). Each instance therefore completes one inference every
2 / 6,753.81 s = 296.1 us when its calls are pipelined, and one takes 428.2 us on its own: 132.0 us of round trip
that pipelining hides. Of that the model already prices the input copy (the 150,528 B int8 input at batch 1 over
the card's PCIe Gen4 x8 link, shared by the 2 instances); the rest (about 108 us) is what
:func:`runtime_round_trip_s` adds to each latency-scenario call of a Cloud AI 100 row. Caveats: the throughput
search's best 7-core program was compiled with ``-mos 2`` and the least-latency one with ``-mos 1``; the tutorial's
network takes float input that the runtime quantises on the host (the notebook's latency profile of another
configuration shows ``preProcTime`` 73 us a batch of 4), a step KILT's uint8-preprocessed inputs skip, so the figure
is an upper estimate of KILT's round trip by up to about 20 us.
"""

from __future__ import annotations

import numpy as np

from inferchip.cost.vision.host import input_copy_s
from inferchip.validation.vision.cases import VisionCase
from inferchip.validation.vision.harness import runtime_of
from inferchip.validation.vision.programs import LATENCY_SCENARIOS

QAIC_SET_SIZE_ONE_LATENCY_S = 428.16e-6
"""Qualcomm's least-latency ResNet-50 result (7 cores, batch 1, 2 instances, set-size 1), module docstring."""
QAIC_PIPELINED_RATE_PER_S = 6753.81
"""Qualcomm's throughput-search result for the 7-core, batch-1, 2-instance ResNet-50 program, module docstring."""
QAIC_INSTANCES = 2
QAIC_INPUT_BYTES = 3 * 224 * 224
"""ResNet-50's batch-1 input as the card receives it: 224 x 224 x 3 one-byte values (int8 program input)."""


def unhidden_round_trip_s(latency_s: float, pipelined_rate_per_s: float, instances: int, copy_s: float) -> float:
    """Seconds of a call's round trip that pipelining hides and the model's latency path does not already price:
    the set-size-1 latency, less one instance's interval under load (``instances / pipelined_rate_per_s``), less the
    input copy the model adds (``copy_s``); at least 0."""
    return max(0.0, latency_s - instances / pipelined_rate_per_s - copy_s)


def qaic_round_trip_s(link_bytes_per_s: float) -> float:
    """The Cloud AI 100 figure (module docstring) with the input copy the model prices for the tutorial's call:
    the int8 ResNet-50 input over a link of ``link_bytes_per_s`` shared by the tutorial's 2 instances."""
    copy = float(input_copy_s(QAIC_INPUT_BYTES, np.ones(1), link_bytes_per_s)[0]) * QAIC_INSTANCES
    return unhidden_round_trip_s(QAIC_SET_SIZE_ONE_LATENCY_S, QAIC_PIPELINED_RATE_PER_S, QAIC_INSTANCES, copy)


def runtime_round_trip_s(case: VisionCase, link_bytes_per_s: float) -> float:
    """Seconds each latency-scenario call of the row waits beyond its device time and input copy: the Cloud AI 100
    runtime's unhidden round trip (:func:`qaic_round_trip_s`) for a SingleStream / MultiStream row whose software
    column names the Qualcomm SDK, on a Cloud AI 100 card; 0 for every other row (no vendor measurement of both
    modes read)."""
    if case.scenario not in LATENCY_SCENARIOS or runtime_of(case) != "qualcomm":
        return 0.0
    if not case.accelerator.startswith("qualcomm-cloud-ai-100"):  # the figure is the Cloud AI 100 runtime's
        return 0.0
    return qaic_round_trip_s(link_bytes_per_s)
