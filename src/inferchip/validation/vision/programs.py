"""Programs a runtime's MLPerf harness compiles for part of a chip, and how many of them run side by side.

A Cloud AI 100 program (QPC) is compiled for a number of AI cores (``-aic-num-cores``); the runtime loads it as one or
more *activations* on disjoint cores of the card, and KILT's device scheduler (krai/kilt-mlperf
``devices/qaic/device.h``, ``QueueScheduler``) hands each batch to the next activation with a free slot in its ring
buffer, so under load every activation computes at once. One activation of a program on ``k`` of the chip's ``N``
cores sees ``k / N`` of its matrix and vector peaks, tiles in flight and on-chip SRAM (:func:`on_cores`); ``P``
activations running together share the card's DRAM bandwidth, host link and power budget (:func:`side_by_side`).

Keys are (the runtime the row's software column names first; network), as
:data:`inferchip.validation.vision.harness.HARNESS_MAX_BATCH`.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from inferchip.cost.roofline import FloatArray
from inferchip.spec.params import ChipParams
from inferchip.validation.vision.cases import VisionCase
from inferchip.validation.vision.harness import runtime_of

LATENCY_SCENARIOS = ("single_stream", "multi_stream")
THROUGHPUT_SCENARIOS = ("offline", "server")

LATENCY_PROGRAM_CORES = {("qualcomm", "retinanet-resnext50-fpn-800"): 8}
"""AI cores a runtime's MLPerf harness compiles a network's latency-scenario program for (SingleStream, and MultiStream,
which sends each card one sample of the query). MLCommons' CM recipe for the Cloud AI 100 (mlcommons/ck
cm-mlops/script/compile-model-for.qaic, variation ``_retinanet,singlestream``: ``-aic-num-cores=8 -mos=1 -ols=1``, the
same for the 14-core ``nsp.14`` part) compiles RetinaNet's SingleStream program for 8 AI cores; KRAI's older ck-qaic
recipe compiles its detection network (SSD-ResNet34) for SingleStream on 8 cores as well (krai/ck-qaic
package/model-qaic-compile, ``ssd_resnet34.aedk.16nsp.singlestream``: ``-aic-num-cores=8``). The MultiStream run of
the one Qualcomm system here (inference_results_v4.0 r282_q8_pro_edge) takes 9.82 ms a query (mean) against 9.02 ms
for its SingleStream query: one sample per card on the SingleStream program. ResNet-50 is not listed: the CM recipe
compiles its SingleStream program for 8 cores, ck-qaic (``resnet50.aedk.16nsp.singlestream``) for all 16, and the
v4.0 KILT configuration was not found to say which. A pair absent here runs on the whole chip."""

THROUGHPUT_PROGRAM_CORES = {("qualcomm", "retinanet-resnext50-fpn-800"): 1}
"""AI cores of the program a runtime's MLPerf harness runs a network's Offline and Server scenarios on; the card runs
one activation of it per group of that many cores (:func:`program_count`). KRAI's assembled KILT configurations
for RetinaNet Offline on Cloud AI 100 Pro systems (krai/axs2config
``assembled_sr665_q5_pro_0,1,2,3,4_for_retinanet_Offline`` and
``assembled_r282_z93_q8e_0,1,2,3,4,5,6,7_for_retinanet_Offline``, the latter KRAI's name for the R282-Z93 with 8 Pro
cards of the v4.0 rows) compile it from ``compile_model_retinanet_q1_pro_dc`` with ``config_compiletime_model``
``"cores": "1"``, ``"batchSize": 1``, ``"mos": "1"``, ``"ols": "1"``, and the SR665's runtime configuration loads
``"recommended_activation_count": 16`` of it on each 16-core card: one single-core, batch-1 program per AI core. (The
R282's stored runtime configuration lists 2 activations; two single-core programs would leave 14 of 16 cores idle
and reach about a seventh of the card's measured 314 samples/s, so the SR665's one-per-core reading is taken:
an inference of inferchip's (stop 31), chosen because the stored R282 setting cannot produce the measured rate,
not a stated configuration of the rows' system.)
ResNet-50 is not listed: its R282 Offline configuration (4 cores, 3 activations, batch 8) leaves cores unused and
has no Qualcomm Offline row here. A pair absent here runs one program on the whole chip."""


def program_cores(case: VisionCase, chip_cores: int) -> int:
    """Cores of the chip one of a row's programs runs on: :data:`LATENCY_PROGRAM_CORES` for a latency scenario,
    :data:`THROUGHPUT_PROGRAM_CORES` for Offline and Server, of a listed (runtime, network) pair, at most
    ``chip_cores``; else every core."""
    key = (runtime_of(case), case.model)
    if case.scenario in LATENCY_SCENARIOS:
        return min(chip_cores, LATENCY_PROGRAM_CORES.get(key, chip_cores))
    if case.scenario in THROUGHPUT_SCENARIOS:
        return min(chip_cores, THROUGHPUT_PROGRAM_CORES.get(key, chip_cores))
    return chip_cores


def program_count(case: VisionCase, chip_cores: int) -> int:
    """Activations of the row's program that run side by side on one chip: ``chip_cores // cores`` for an Offline or
    Server row whose program is listed in :data:`THROUGHPUT_PROGRAM_CORES`; 1 otherwise (a latency query runs one
    program on each card it uses)."""
    if case.scenario not in THROUGHPUT_SCENARIOS:
        return 1
    return max(1, chip_cores // program_cores(case, chip_cores))


def on_cores(chip: ChipParams, cores: int, chip_cores: int) -> ChipParams:
    """The chip as a program compiled for ``cores`` of its ``chip_cores`` identical cores sees it: each core brings its
    share of the matrix and vector peaks, of the tiles in flight and of the on-chip SRAM (the Cloud AI 100's 8 MiB
    VTCM + 1 MiB L2 sit in each AI core: qualcomm-cloud-ai-100-pro.yaml); DRAM, host link and power stay the card's."""
    if cores >= chip_cores:
        return chip
    share = cores / chip_cores
    return replace(chip, peak_flop_per_s={f: v * share for f, v in chip.peak_flop_per_s.items()},
                   vector_flop_per_s=chip.vector_flop_per_s * share,
                   gemm_tiles_in_flight=chip.gemm_tiles_in_flight * share, sram_bytes=chip.sram_bytes * share)


def side_by_side(chip: ChipParams, programs: int) -> ChipParams:
    """One of ``programs`` activations that run at once on the card, as it sees the card's shared parts: 1 /
    ``programs`` of the DRAM bandwidth and of the board power (TDP and idle power, so the energy per FLOP that the
    TDP caps and each program's share of the static power stay the card's); 1 program: the chip unchanged. The host
    link's share is the caller's (:func:`shared_link_s`)."""
    if programs <= 1:
        return chip
    idle = chip.idle_w / programs if math.isfinite(chip.idle_w) else chip.idle_w
    return replace(chip, memory_bytes_per_s=chip.memory_bytes_per_s / programs, tdp_w=chip.tdp_w / programs,
                   idle_w=idle)


def shared_link_s(copy_s: FloatArray, programs: int) -> FloatArray:
    """Seconds one activation's input copy takes when ``programs`` activations share the card's host link under load:
    the copy at 1 / ``programs`` of the link's rate."""
    return np.asarray(copy_s, dtype=float) * max(1, programs)
