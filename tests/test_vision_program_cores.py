"""Programs compiled for part of a chip (programs.py LATENCY_PROGRAM_CORES, THROUGHPUT_PROGRAM_CORES, program_cores,
on_cores): which rows the tables reach, the chip a program on k of N cores sees, by hand, and the Qualcomm RetinaNet
latency rows they move (the card's Offline row: tests/test_vision_side_by_side_programs.py)."""

from __future__ import annotations

from functools import partial

import pytest
from hypothesis import given
from hypothesis import strategies as st

from inferchip.catalog.chips import family_defaults, load_chip
from inferchip.catalog.vision_networks import load_vision_calibration
from inferchip.spec.chip import chip_params
from inferchip.validation.vision.predict import predict_row
from inferchip.validation.vision.rows import build_row, on_cores, program_cores
from inferchip.validation.vision.validate import params_of
from vision_rows import vision_case

QAIC = "qualcomm-cloud-ai-100-pro"
KILT = "QUALCOMM Cloud AI SDK v1.12.2; KRAI X and KILT harness; Docker 25.0.3"
RETINANET = "retinanet-resnext50-fpn-800"


BASE = {"source_kind": "mlperf-inference-v4.0-closed", "accelerator": QAIC, "software": KILT, "model": RETINANET,
        "precision": "int8", "scenario": "single_stream", "metric": "latency_p90_ms", "value": "9.5", "unit": "ms"}
_case = partial(vision_case, BASE)


def _qaic():
    spec = load_chip(QAIC)
    return chip_params(spec, family_defaults(spec.family)), int(spec.compute.matrix_unit_count or 1)


@pytest.mark.parametrize(("over", "cores"), [
    ({}, 8),  # RetinaNet SingleStream on KILT: the CM recipe's -aic-num-cores=8
    ({"scenario": "multi_stream", "metric": "latency_p99_ms", "batch": ""}, 8),
    ({"scenario": "offline", "metric": "samples_per_s", "unit": "samples/s", "batch": ""}, 1),  # KILT: 1 core
    ({"scenario": "server", "metric": "samples_per_s", "unit": "samples/s", "batch": ""}, 1),
    ({"model": "resnet50-v1.5"}, 16),  # the two recipes disagree for ResNet-50: not listed
    ({"software": "TensorRT 10.2.0, CUDA 12.4"}, 16),  # another runtime
])
def test_program_cores_reach_only_listed_rows(over, cores):
    assert program_cores(_case(**over), 16) == cores


def test_program_cores_never_exceed_the_chip():
    assert program_cores(_case(), 4) == 4


def test_on_cores_by_hand():
    """8 of the AI 100 Pro's 16 cores: half of 375 INT8 TOPS, of 23.4 vector TFLOP/s, of 16 tiles in flight and of
    the 150.99 MB of SRAM; the LPDDR4x bandwidth, TDP and host link stay the card's."""
    chip, n = _qaic()
    half = on_cores(chip, 8, n)
    assert n == 16
    assert half.peak_flop_per_s["int8"] == pytest.approx(187.5e12)
    assert half.peak_flop_per_s["fp16"] == pytest.approx(62.5e12)
    assert half.vector_flop_per_s == pytest.approx(23.4375e12 / 2)
    assert half.gemm_tiles_in_flight == pytest.approx(8.0)
    assert half.sram_bytes == pytest.approx(150.99e6 / 2)
    assert (half.memory_bytes_per_s, half.tdp_w, half.link_bytes_per_s) == (
        chip.memory_bytes_per_s, chip.tdp_w, chip.link_bytes_per_s)
    assert on_cores(chip, 16, n) is chip and on_cores(chip, 20, n) is chip


@given(st.integers(min_value=1, max_value=16))
def test_fewer_cores_never_add_peak(cores):
    chip, n = _qaic()
    part = on_cores(chip, cores, n)
    for f, v in chip.peak_flop_per_s.items():
        assert part.peak_flop_per_s[f] <= v * (1 + 1e-12)
        assert part.peak_flop_per_s[f] == pytest.approx(v * cores / n)


def test_retinanet_latency_call_is_slower_on_half_the_card_but_not_more_than_twice():
    """The batch-1 call on 8 cores: its matrix work takes twice as long, its fixed costs (per-call host overhead,
    input copy, DRAM-bound layers) do not, so the call is between 1x and 2x the whole-card call."""
    cal = load_vision_calibration()
    p = params_of(cal)
    latency = predict_row(build_row(_case(), cal), p)[0]
    whole = build_row(_case(software="other runtime"), cal)
    whole_ms = predict_row(whole, p)[0]
    assert whole_ms < latency < 2.0 * whole_ms
