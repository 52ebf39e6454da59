"""Offline / Server programs on part of a chip, one activation per core group (programs.py THROUGHPUT_PROGRAM_CORES,
program_count, side_by_side, shared_link_s): which rows they reach, the card's shared DRAM, link and power split by
hand, and the Qualcomm RetinaNet Offline row (KILT: single-core batch-1 programs, 16 per Pro card)."""

from __future__ import annotations

from functools import partial

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inferchip.catalog.assumptions import load_assumptions
from inferchip.catalog.chips import family_defaults, load_chip
from inferchip.catalog.vision_networks import load_vision_calibration
from inferchip.cost.vision.frame import energy_per_flop_j, static_w
from inferchip.cost.vision.layers import layer_costs
from inferchip.spec.chip import chip_params
from inferchip.validation.vision.predict import predict_row
from inferchip.validation.vision.programs import on_cores, program_count, shared_link_s, side_by_side
from inferchip.validation.vision.rows import build_row
from inferchip.validation.vision.scenario_sim import loaded_servers
from inferchip.validation.vision.validate import params_of
from inferchip.workload.vision.network import load_network
from vision_rows import vision_case

QAIC = "qualcomm-cloud-ai-100-pro"
KILT = "QUALCOMM Cloud AI SDK v1.12.2; KRAI X and KILT harness; Docker 25.0.3"
RETINANET = "retinanet-resnext50-fpn-800"
OFFLINE = {"scenario": "offline", "metric": "samples_per_s", "unit": "samples/s", "batch": "", "value": "2500"}
BASE = {"source_kind": "mlperf-inference-v4.0-closed", "accelerator": QAIC, "software": KILT, "model": RETINANET,
        "precision": "int8", "num_accelerators": "8", **OFFLINE}
_case = partial(vision_case, BASE)


def _qaic():
    spec = load_chip(QAIC)
    return chip_params(spec, family_defaults(spec.family)), int(spec.compute.matrix_unit_count or 1)


@pytest.mark.parametrize(("over", "programs"), [
    ({}, 16),  # one single-core program per AI core of the 16-core Pro card
    ({"scenario": "server", "metric": "samples_per_s"}, 16),
    ({"scenario": "single_stream", "metric": "latency_p90_ms", "unit": "ms", "batch": "1"}, 1),  # one 8-core program
    ({"scenario": "multi_stream", "metric": "latency_p99_ms", "unit": "ms"}, 1),
    ({"model": "resnet50-v1.5"}, 1),  # not listed: one program on the whole card
    ({"software": "TensorRT 10.2.0, CUDA 12.4"}, 1),
])
def test_program_count_reaches_only_listed_throughput_rows(over, programs):
    assert program_count(_case(**over), 16) == programs


def test_side_by_side_by_hand():
    """16 activations of a 1-core program: each sees 1/16 of the 375 INT8 TOPS and of the 150.99 MB SRAM (its own
    core), and 1/16 of the card's 137 GB/s LPDDR4x and 75 W TDP (shared); one activation: the chip unchanged."""
    chip, n = _qaic()
    one = side_by_side(on_cores(chip, 1, n), 16)
    assert one.peak_flop_per_s["int8"] == pytest.approx(375e12 / 16)
    assert one.sram_bytes == pytest.approx(150.99e6 / 16)
    assert one.memory_bytes_per_s == pytest.approx(chip.memory_bytes_per_s / 16)
    assert one.tdp_w == pytest.approx(75.0 / 16)
    assert one.link_bytes_per_s == chip.link_bytes_per_s  # the host link's share is priced on the copy
    assert side_by_side(chip, 1) is chip
    assert np.allclose(shared_link_s(np.array([0.1, 0.2]), 16), [1.6, 3.2])


def test_energy_per_flop_and_static_power_stay_the_cards():
    """Splitting the card into activations changes neither the energy of a FLOP (the TDP / peak cap scales both) nor
    the card's static power (16 shares of 1/16)."""
    chip, n = _qaic()
    a = load_assumptions()
    one = side_by_side(on_cores(chip, 1, n), 16)
    s_card, s_one = static_w(chip, a), static_w(one, a)
    assert 16 * s_one == pytest.approx(s_card)
    card_j = energy_per_flop_j(chip, "int8", 7.0, s_card, a)
    assert energy_per_flop_j(one, "int8", 7.0, s_one, a) == pytest.approx(card_j)


@settings(max_examples=8, deadline=None)
@given(st.sampled_from([2, 4, 8, 16]))
def test_sharing_the_dram_never_speeds_an_activation(programs):
    """The same single-core batch-1 program with the card's DRAM shared by more activations: its DRAM time is the
    lone program's times the number of activations (each streams at 1 / programs of the bandwidth)."""
    cal = load_vision_calibration()
    chip, n = _qaic()
    net = load_network(RETINANET)
    one = layer_costs(side_by_side(on_cores(chip, 1, n), 1), net.arrays, np.array([1.0]), "int8", cal)
    many = layer_costs(side_by_side(on_cores(chip, 1, n), programs), net.arrays, np.array([1.0]), "int8", cal)
    assert many.memory_s.sum() == pytest.approx(programs * one.memory_s.sum(), rel=1e-9)
    assert many.time_s.sum() >= one.time_s.sum()


def test_retinanet_offline_row_is_sixteen_batch1_programs_per_card():
    """The row's grid is batch 1 only (HARNESS_MAX_BATCH), and its rate is cards x activations / time per call under
    load of one activation; the Server simulation holds activations x calls-in-flight servers per card."""
    cal = load_vision_calibration()
    p = params_of(cal)
    row = build_row(_case(), cal)
    assert list(row.batches) == [1.0] and row.programs == 16
    rate, info = predict_row(row, p)
    assert rate == pytest.approx(8 * 16 / float(row.pipelined_s(p)[0]))
    assert info["frames_per_s_per_chip"] == pytest.approx(rate / 8)
    _, servers = loaded_servers(build_row(_case(scenario="server"), cal), p)
    assert servers == 8 * 2 * 16


def test_sixteen_single_core_programs_are_slower_than_the_whole_card_program():
    """A single-core program holds 1/16 of the SRAM, so more of RetinaNet's activations spill to the shared DRAM: 16
    of them side by side deliver less per card than the whole-card program at its best batch (the model before)."""
    cal = load_vision_calibration()
    p = params_of(cal)
    kilt = predict_row(build_row(_case(), cal), p)[0]
    whole = predict_row(build_row(_case(software="other runtime"), cal), p)[0]
    assert kilt < whole
