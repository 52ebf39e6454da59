"""What a row's runtime and harness fix (validation/vision/harness.py): ONNX Runtime's CUDA provider runs fp32 as TF32
on a chip with TF32 units, the MLCommons C++ harness runs RetinaNet on ONNX Runtime at batch 1 in every scenario, and a
MultiStream share above a row's largest batch runs as calls one after another (rows.py multi_stream_s)."""

from __future__ import annotations

from dataclasses import replace
from functools import partial
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inferchip.catalog.assumptions import load_assumptions
from inferchip.catalog.chips import get_chip_params, load_chip
from inferchip.catalog.vision_networks import load_vision_calibration
from inferchip.cost.vision.frame import call_cost
from inferchip.validation.vision.harness import executed_format, harness_max_batch, runtime_of
from inferchip.validation.vision.predict import multi_stream_s, predict_row
from inferchip.validation.vision.rows import build_row
from inferchip.validation.vision.validate import params_of
from inferchip.workload.vision.network import load_network
from vision_rows import vision_case

ROOT = Path(__file__).resolve().parents[1]
RTX4090 = "nvidia-geforce-rtx-4090"
ORT_CPP = "onnxruntime; Python: 3.10.12, GCC-11.4.0, Using Docker  , CUDA 12.6"
RETINANET = "retinanet-resnext50-fpn-800"


BASE = {"source_kind": "mlperf-inference-v5.1-closed", "accelerator": RTX4090, "software": ORT_CPP, "model": RETINANET,
        "precision": "fp32", "scenario": "offline", "batch": "", "metric": "samples_per_s", "value": "76.4",
        "unit": "samples/s"}
_case = partial(vision_case, BASE)



def test_runtime_is_the_first_word_of_the_software_column():
    assert runtime_of(_case()) == "onnxruntime"
    assert runtime_of(_case(software="onnxruntime v1.22.1; Python: 3.10.12")) == "onnxruntime"
    assert runtime_of(_case(software="TensorRT 10.8, CUDA 12.8")) == "tensorrt"
    assert runtime_of(_case(software="")) == ""
    for spelling in ("ONNX Runtime 1.22", "onnxruntime-gpu 1.19", "ORT 1.18; CUDA 12"):  # RUNTIME_SPELLINGS
        assert runtime_of(_case(software=spelling)) == "onnxruntime"


def test_every_shipped_gpu_fp32_row_of_a_tf32_runtime_is_recognised():
    """The shipped rows that name ONNX Runtime or TensorRT first resolve to the runtime's key, whatever the spelling."""
    from inferchip.validation.vision.cases import read_vision_cases
    rows = read_vision_cases(ROOT / "src" / "inferchip" / "catalog" / "vision" / "vision_cases.csv")
    named = [c for c in rows if c.software.strip().lower().startswith(("onnx", "tensorrt", "ort "))]
    assert named and all(runtime_of(c) in ("onnxruntime", "tensorrt") for c in named)


@pytest.mark.parametrize(("over", "cpu", "fmt"), [
    ({}, False, "tf32"),  # ONNX Runtime's CUDA provider: use_tf32 on by default
    ({"precision": "int8"}, False, "int8"),  # only fp32 rows change
    ({"software": "pytorch v2.7.1; Python: 3.10.12"}, False, "fp32"),  # not in the table
    ({"software": "reference implementation (README: ONNX backend)"}, False, "fp32"),  # runtime not named first
    ({}, True, "fp32"),  # on a CPU the same runtime runs fp32 on the vector units
    ({"software": "TensorRT 8.5.1.7, CUDA 11.6"}, False, "tf32"),  # TensorRT's builder: TF32 on by default
    ({"accelerator": "amd-mi300x"}, False, "fp32"),  # ORT on AMD: the ROCm / MIGraphX provider, not CUDA's use_tf32
])
def test_executed_format_reaches_only_onnxruntime_fp32_on_gpus(over, cpu, fmt):
    assert executed_format(_case(**over), get_chip_params(RTX4090), cpu=cpu) == fmt


def test_executed_format_needs_tf32_units():
    """A chip whose catalogue entry has no TF32 peak keeps fp32 (the format would otherwise fall back to a wider
    format's peak in cost/peaks.py)."""
    chip = get_chip_params(RTX4090)
    no_tf32 = replace(chip, peak_flop_per_s={f: v for f, v in chip.peak_flop_per_s.items() if f != "tf32"})
    assert executed_format(_case(), no_tf32, cpu=False) == "fp32"


@pytest.mark.parametrize(("over", "cap"), [
    ({}, 1),  # "onnx retinanet requires batch size 1" (MLCommons C++ harness main.cpp)
    ({"scenario": "single_stream"}, 1),
    ({"model": "resnet50-v1.5"}, None),  # ResNet-50 batches on the same harness
    ({"software": "TensorRT 10.8, CUDA 12.8"}, None),
])
def test_harness_max_batch_table(over, cap):
    assert harness_max_batch(_case(**over)) == cap


def test_capped_offline_row_is_batch_one_calls():
    """The 4090 ONNX Runtime RetinaNet Offline row's grid is batch 1 only, and its rate is 1 / t(1); the same card on
    TensorRT keeps the batch grid."""
    cal = load_vision_calibration()
    row = build_row(_case(), cal)
    assert list(row.batches) == [1.0]
    rate, info = predict_row(row, params_of(cal))
    assert info["batch"] == 1.0
    assert rate == pytest.approx(1.0 / float(row.pipelined_s(params_of(cal))[0]))
    trt = build_row(_case(software="TensorRT 10.8, CUDA 12.8", precision="int8"), cal)
    assert len(trt.batches) > 1


def test_multi_stream_share_above_the_cap_runs_in_turn():
    """Hand check: a row whose largest batch is 1 serves an 8-sample query on one chip as 8 calls of t(1) plus the
    staging of the 8 samples (sample_host_s each)."""
    cal = load_vision_calibration()
    row = build_row(_case(scenario="multi_stream", metric="latency_p99_ms", unit="ms"), cal)
    assert list(row.batches) == [1.0]
    tq = np.array([0.010])
    lat, share = multi_stream_s(row, tq, 8.0, 1, sample_host_s=1e-4)
    assert share == 8
    assert lat == pytest.approx(8 * 0.010 + 8 * 1e-4)


def test_uncapped_multi_stream_is_one_call():
    """Without a cap the 8-sample query stays one batch-8 call (the grid holds 8)."""
    cal = load_vision_calibration()
    row = build_row(_case(scenario="multi_stream", metric="latency_p99_ms", unit="ms", model="resnet50-v1.5"), cal)
    tq = np.asarray(row.batches, dtype=float) * 1e-3
    lat, _ = multi_stream_s(row, tq, 8.0, 1)
    assert lat == pytest.approx(8e-3)


@settings(max_examples=10, deadline=None)
@given(st.sampled_from([1, 2, 4, 8, 16]))
def test_tf32_call_is_never_slower_than_fp32(batch):
    """On the RTX 4090 the TF32 tensor peak equals the fp32 CUDA-core peak (Ada whitepaper: 82.6 TFLOPS each) and a
    tensor-core FLOP costs less energy than a SIMT one, so a TF32 call throttles no more: never slower."""
    chip, spec = get_chip_params(RTX4090), load_chip(RTX4090)
    net, cal, a = load_network(RETINANET), load_vision_calibration(), load_assumptions()
    b = np.array([float(batch)])
    kw = dict(memory_type=spec.memory.type, node_nm=float(spec.silicon.node_nm or 5.0), assumptions=a)
    t_tf32 = call_cost(chip, net.arrays, b, "tf32", cal, **kw).latency_s
    t_fp32 = call_cost(chip, net.arrays, b, "fp32", cal, **kw).latency_s
    assert float(t_tf32[0]) <= float(t_fp32[0]) * (1.0 + 1e-9)
