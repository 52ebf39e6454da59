"""Mixed "fp32/int8" engines (TensorRT implicit INT8): convolutions run the quantised format, the rest the float
one; MMDeploy's sampling plugins run FP32 only (harness.quantised_format / gather_format, layers.layer_formats)."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import make_chip
from inferchip.cost.vision.layers import layer_costs, layer_formats
from inferchip.spec.vision import VisionCalibration, VisionLayer
from inferchip.validation.vision.harness import gather_format, quantised_format
from inferchip.workload.vision.model import LayerArrays
from inferchip.workload.vision.network import load_network
from vision_rows import vision_case

CAL = VisionCalibration(matrix_fraction=0.5, inference_overhead_s=0.0, memory_bandwidth_fraction=1.0,
                        layer_overhead_scale=0.0, sram_usable_fraction=1.0)
CONV = dict(op="conv", m=64, k=64, n=64, weight_elems=4096, in_elems=4096, out_elems=4096)
GATHER = dict(op="gather", in_elems=4096, out_elems=1024, vector_ops=8192, n=32)
MATMUL = dict(op="matmul", m=64, k=64, n=64, weight_elems=4096, in_elems=4096, out_elems=4096)
ROW = {"source_kind": "third-party-repo-benchmark", "accelerator": "nvidia-geforce-rtx-3090",
       "software": "TensorRT 8.5.1.7 with the repo's custom plugins (nv_half)", "model": "bevformer-tiny",
       "precision": "fp32", "scenario": "single_stream", "batch": "1", "metric": "fps", "value": "84.0",
       "unit": "frames/s"}
ATTN = dict(op="attention", m=64, k=32, n=64, groups=16, in_elems=4096, out_elems=2048, batch_in_m=False)


def _net(*layers: dict[str, object]) -> LayerArrays:
    return LayerArrays.of(tuple(VisionLayer(name=f"l{i}", **kw) for i, kw in enumerate(layers)))


def test_layer_formats_by_hand():
    """conv, gather, matmul, attention at ("fp32", "int8"): int8, fp32, fp32, fp32 (no INT8 matrix multiply in
    implicit quantization); with an fp32-only gather at ("fp16", "int8"): int8, fp32, fp16, fp16."""
    a = _net(CONV, GATHER, MATMUL, ATTN)
    assert layer_formats(a, "fp32", "int8") == ("int8", "fp32", "fp32", "fp32")
    assert layer_formats(a, "fp16", "int8", "fp32") == ("int8", "fp32", "fp16", "fp16")
    assert layer_formats(a, "fp16", gather="fp32") == ("fp16", "fp32", "fp16", "fp16")
    assert layer_formats(a, "fp16") == ("fp16",) * 4


def test_a_layer_override_wins():
    a = _net({**CONV, "precision": "fp16"}, {**GATHER, "precision": "int8"}, CONV)
    assert layer_formats(a, "fp32", "int8", "fp32") == ("fp16", "int8", "int8")


@pytest.mark.parametrize("text,want", [("fp32/int8 PTQ max per-tensor", "int8"), ("fp16/int8 PTQ max per-tensor",
                                                                                   "int8"),
                                       ("fp16", None), ("int8", None), ("fp32", None),
                                       ("int8 multiply / int32 accumulate", None)])
def test_quantised_format_reads_the_mixed_precisions(text, want):
    assert quantised_format(vision_case(ROW, precision=text)) == want


@pytest.mark.parametrize("software,cpu,want", [("TensorRT 8.5.1.7 with MMDeploy plugins (base FP32/INT8 engines: "
                                                 "TensorRT 8.4.3.1), CUDA 11.6", False, "fp32"),
                                                ("TensorRT 8.5.1.7 with the repo's custom plugins (nv_half2)", False,
                                                 None),
                                                ("TensorRT 8.5.1.7 with MMDeploy plugins", True, None)])
def test_gather_format_of_fp32_only_plugins(software, cpu, want):
    assert gather_format(vision_case(ROW, software=software), cpu=cpu) == want


def test_mixed_engine_lies_between_its_float_and_int8_readings():
    """BEVFormer-tiny: quantising only the convolutions is faster than all fp32 and slower than all int8 (the
    linears, gathers and norms keep fp32); its input stays fp32 (the engine's input binding)."""
    chip = make_chip(sram_bytes=0.0)
    a = load_network("bevformer-tiny").arrays
    b = np.array([1.0])
    mixed = layer_costs(chip, a, b, "fp32", CAL, quantised="int8")
    fp32 = layer_costs(chip, a, b, "fp32", CAL)
    int8 = layer_costs(chip, a, b, "int8", CAL)
    assert int8.time_s.sum() < mixed.time_s.sum() < fp32.time_s.sum()
    assert mixed.input_bytes_per_frame == fp32.input_bytes_per_frame == 4 * int8.input_bytes_per_frame
    gather = a.unit == 2
    assert np.allclose(mixed.memory_s[gather], fp32.memory_s[gather])
    assert np.allclose(mixed.matrix_s[a.conv], int8.matrix_s[a.conv])
    linear = ~a.conv & (a.unit == 0)
    assert linear.any() and np.allclose(mixed.matrix_s[linear], fp32.matrix_s[linear])


def test_fp32_only_gathers_are_never_faster():
    """An fp16 engine whose sampling plugin runs FP32 reads twice the gather bytes: never faster, other layers
    unchanged."""
    chip = make_chip(sram_bytes=0.0)
    a = load_network("bevformer-tiny").arrays
    b = np.array([1.0, 4.0])
    plain = layer_costs(chip, a, b, "fp16", CAL)
    fp32 = layer_costs(chip, a, b, "fp16", CAL, gather_format="fp32")
    gather = a.unit == 2
    assert np.all(fp32.time_s[gather] >= plain.time_s[gather]) and np.any(fp32.time_s[gather] > plain.time_s[gather])
    assert np.allclose(fp32.time_s[~gather], plain.time_s[~gather])


def test_a_mixed_precision_off_tensorrt_is_refused_not_guessed():
    from inferchip.errors import InvalidSettingError

    cpu_row = {**ROW, "accelerator": "cpu:intel-xeon-w7-2495x", "software": "onnxruntime 1.22"}
    with pytest.raises(InvalidSettingError, match="only for TensorRT"):
        quantised_format(vision_case(cpu_row, precision="fp32/int8 PTQ max per-tensor"))


@pytest.mark.parametrize("software", ["TensorRT 8.5.1.7 without MMDeploy plugins", "onnxruntime with MMDeploy plugins"])
def test_fp32_plugins_need_tensorrt_with_the_plugins(software):
    assert gather_format(vision_case({**ROW, "software": software}), cpu=False) is None
