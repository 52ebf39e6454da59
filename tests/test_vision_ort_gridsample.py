"""ONNX Runtime's scalar CPU GridSample (cost/vision/ort_gridsample.py): the time by hand, its invariants, which rows
run it (ONNX Runtime on a CPU) and how ``layer_costs`` charges it (gather layers only, as their vector time)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper
from tests.vision_rows import vision_case

from inferchip.catalog.chips import get_chip_params, load_chip
from inferchip.catalog.vision_networks import load_vision_calibration
from inferchip.cost.vision.layers import layer_costs
from inferchip.cost.vision.ort_gridsample import CYCLES_PER_OUTPUT, channel_rounds, gridsample_outputs, gridsample_s
from inferchip.validation.vision.harness import gridsample_clock_hz, runs_scalar_gridsample
from inferchip.workload.vision.model import UNIT_GATHER
from inferchip.workload.vision.network import load_network

ONE = np.array([1.0])
W7 = "cpu:intel-xeon-w7-2495x"
BEV = "bevformer-tiny"
BASE = {"source_kind": "mlperf-automotive-v0.5-open", "accelerator": W7, "software": "onnxruntime; Python: 3.12.3",
        "model": BEV, "precision": "fp32", "scenario": "single_stream", "metric": "latency_p999_ms",
        "value": "522.7", "unit": "ms"}



def test_channel_rounds_by_hand():
    # 32 channels claimed by 24 threads: two task times, i.e. 16 channels' worth of throughput
    assert float(channel_rounds(32, 24)) == pytest.approx(2 / 32)
    assert float(channel_rounds(24, 24)) == pytest.approx(1 / 24)
    assert float(channel_rounds(25, 24)) == pytest.approx(2 / 25)
    assert float(channel_rounds(3, 24)) == pytest.approx(1 / 3)  # three channels keep three threads busy
    # no channel count recorded: a perfect split over the threads
    assert float(channel_rounds(0, 24)) == pytest.approx(1 / 24)


def test_gridsample_time_by_hand():
    # BEVFormer-tiny's spatial cross-attention on all 6 cameras: 48 items x 32 channels x 2,500 queries x 8 points
    outputs = 48 * 32 * 2500 * 8
    assert outputs == 30_720_000
    taps = 4 * outputs
    assert float(gridsample_outputs(taps)) == outputs
    got = float(gridsample_s(taps, 32, 1.0, threads=24, clock_hz=2.5e9))
    assert got == pytest.approx(outputs * CYCLES_PER_OUTPUT / 2.5e9 * 2 / 32)
    assert got == pytest.approx(0.0353, rel=2e-3)  # 35.3 ms at 46 cycles per output
    # two frames (batch 2) take twice as long: the batch items are walked one after another
    assert float(gridsample_s(taps, 32, 2.0, threads=24, clock_hz=2.5e9)) == pytest.approx(2 * got)


@settings(max_examples=80, deadline=None)
@given(st.floats(0, 1e9), st.integers(1, 512), st.integers(1, 128), st.floats(1, 16), st.floats(1e9, 6e9),
       st.floats(1.0, 4.0))
def test_gridsample_invariants(taps, channels, threads, frames, clock, grow):
    t = float(gridsample_s(taps, channels, frames, threads=threads, clock_hz=clock))
    serial = taps / 4.0 * frames * CYCLES_PER_OUTPUT / clock
    assert t >= 0.0
    # between a perfect split over the threads and one thread doing it all
    assert t >= serial / threads * (1 - 1e-12)
    assert t <= serial * (1 + 1e-12)
    # more taps, frames or a slower clock never take less time; more threads never take more
    assert float(gridsample_s(taps * grow, channels, frames, threads=threads, clock_hz=clock)) >= t
    assert float(gridsample_s(taps, channels, frames * grow, threads=threads, clock_hz=clock)) >= t
    assert float(gridsample_s(taps, channels, frames, threads=threads, clock_hz=clock / grow)) >= t
    assert float(gridsample_s(taps, channels, frames, threads=threads * 2, clock_hz=clock)) <= t * (1 + 1e-12)


def test_which_rows_run_the_scalar_gridsample():
    assert runs_scalar_gridsample(vision_case(BASE), cpu=True)
    assert runs_scalar_gridsample(vision_case(BASE, software="onnxruntime v1.22.1"), cpu=True)
    assert not runs_scalar_gridsample(vision_case(BASE, software="pytorch"), cpu=True)
    assert not runs_scalar_gridsample(vision_case(BASE, software="tf v2.19.0"), cpu=True)
    assert not runs_scalar_gridsample(vision_case(BASE, accelerator="nvidia-geforce-rtx-3090",
                                                  software="TensorRT 8.5.1.7"), cpu=False)
    assert not runs_scalar_gridsample(vision_case(BASE, accelerator="nvidia-geforce-rtx-3090"), cpu=False)
    # the core clock: the w7's catalogue 2.5 GHz (no sustained-clock row); 0 where the kernel does not run
    spec = load_chip(W7)
    assert gridsample_clock_hz(vision_case(BASE), spec, cpu=True) == pytest.approx(2.5e9)
    assert gridsample_clock_hz(vision_case(BASE, software="pytorch"), spec, cpu=True) == 0.0


def test_bevformer_gather_records_carry_the_head_channels():
    a = load_network(BEV).arrays
    gather = a.unit == UNIT_GATHER
    assert gather.sum() == 3 * 2 + 6  # 3 encoder layers x (TSA + SCA) + 6 decoder cross-attentions
    assert np.all(a.n[gather] == 256 / 8)  # mmcv samples value maps of head_dim = dim / heads channels


def test_layer_costs_charge_gridsample_on_gathers_only():
    cal = load_vision_calibration()
    bev = load_network(BEV).arrays
    w7 = get_chip_params(W7)
    b = np.array([1.0, 2.0])
    on = layer_costs(w7, bev, b, "fp32", cal, nchwc=True, gridsample_clock_hz=2.5e9)
    off = layer_costs(w7, bev, b, "fp32", cal, nchwc=True)
    gather = bev.unit == UNIT_GATHER
    # only the gather layers change, and they now take at least the scalar kernel's time
    assert np.allclose(on.vector_s[~gather], off.vector_s[~gather])
    assert np.allclose(on.matrix_s, off.matrix_s) and np.allclose(on.memory_s, off.memory_s)
    want = gridsample_s(bev.in_elems[gather][:, None], bev.n[gather][:, None], b[None, :], threads=24.0,
                        clock_hz=2.5e9)
    assert np.allclose(on.vector_s[gather], np.maximum(off.vector_s[gather], want))
    assert np.all(on.time_s[gather] > off.time_s[gather])
    extra = float(on.time_s[:, 0].sum() - off.time_s[:, 0].sum())
    # the traced gathers (113.0 M outputs per frame: the spatial cross-attention samples all 6 cameras for the
    # 2,500 BEV queries, catalog/vision/bevformer-tiny.yaml) take 130 ms per frame on 16 channels' worth; the
    # layers now last at least that, and grow by no more than it (their memory time already overlapped part of it)
    outputs = float(gridsample_outputs(bev.in_elems[gather]).sum())
    assert outputs == pytest.approx(3 * (6 * 2500 * 8 * 8 * 32) + 3 * (2500 * 8 * 2 * 4 * 32)
                                    + 6 * (900 * 8 * 4 * 32))
    scalar = outputs * CYCLES_PER_OUTPUT / 2.5e9 / 16
    assert scalar == pytest.approx(0.1300, rel=2e-3)
    assert float(on.time_s[gather, 0].sum()) >= scalar
    assert 0.0 < extra <= scalar
    # batch 2 walks twice the batch items
    assert float(on.vector_s[gather, 1].sum()) == pytest.approx(2 * float(on.vector_s[gather, 0].sum()))


def test_onnx_grid_sample_records_its_channels(tmp_path):
    f = TensorProto.FLOAT
    node = helper.make_node("GridSample", ["x", "grid"], ["g"])
    ins = [helper.make_tensor_value_info("x", f, [2, 32, 15, 25]), helper.make_tensor_value_info("grid", f,
                                                                                                  [2, 100, 8, 2])]
    graph = helper.make_graph([node], "g", ins, [helper.make_tensor_value_info("g", f, None)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 16)])
    path = tmp_path / "gs.onnx"
    path.write_bytes(model.SerializeToString())
    (gs,) = load_network(str(path)).layers
    assert gs.op == "gather" and gs.n == 32 and gs.out_elems == 2 * 32 * 100 * 8
