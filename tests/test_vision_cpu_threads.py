"""CPU fp32 reference runtimes (cost/vision/layers.py): ONNX Runtime's NCHWc thread partition
(``thread_partitioned_flop``) instead of accelerator tiles and waves. Hand calculations, a bound that holds for any
shape, and the layers it applies to (fp32 on a CPU's vector units only: AMX layers keep their tiles)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from inferchip.catalog.chips import family_defaults, get_chip_params, load_chip
from inferchip.catalog.vision_networks import load_vision_calibration
from inferchip.catalog.yaml_io import describe_validation_error
from inferchip.cost.vision.layers import (
    NCHWC_FILTER_SET_BLOCKS,
    layer_costs,
    nchwc_block_channels,
    thread_partitioned_flop,
)
from inferchip.spec.chip import chip_params
from inferchip.spec.chip_sections import ComputeSpec
from inferchip.spec.params import DEFAULT_VECTOR_WIDTH_BITS
from inferchip.validation.vision.cases import parse_vision_cases
from inferchip.workload.vision.network import load_network

HEADER = ("case_id,source_kind,source,accelerator,num_accelerators,system_name,software,model,input_shape,"
          "precision,scenario,batch,metric,value,unit,notes")


def _case(chip: str, precision: str, scenario: str = "single_stream", metric: str = "latency_p90_ms"):
    line = (f"c1,mlperf-inference-v5.1-open,s,{chip},1,x,onnxruntime,resnet50-v1.5,224,{precision},{scenario},,"
            f"{metric},1.0,u,n")
    return parse_vision_cases(HEADER + "\n" + line + "\n")[0]



def test_thread_partition_by_hand():
    one = np.array([1.0])
    # ResNet-50's last 1x1 layer: 7 x 7 positions, k 2048, 512 columns, batch 1, 24 threads: 7 rows x 16 sets of
    # 32 columns = 112 units, 5 per thread, 120 / 112 of the useful FLOP
    got = thread_partitioned_flop(np.array([49.0]), np.array([2048.0]), np.array([512.0]), one, one,
                                  block_cols=8.0, set_cols=32.0, threads=24.0)
    assert float(got[0]) == pytest.approx(2 * 49 * 2048 * 512 * 120 / 112)
    # 16 threads on 2048 columns: 7 x 64 = 448 units, 28 each: no idle thread
    got = thread_partitioned_flop(np.array([49.0]), np.array([512.0]), np.array([2048.0]), one, one,
                                  block_cols=8.0, set_cols=32.0, threads=16.0)
    assert float(got[0]) == pytest.approx(2 * 49 * 512 * 2048)
    # 4 channels per group pad to the 8-lane register block (2x), 32 groups x 1 set x 200 rows = 6400 units on 16
    got = thread_partitioned_flop(np.array([40000.0]), np.array([36.0]), np.array([4.0]), np.array([32.0]), one,
                                  block_cols=8.0, set_cols=32.0, threads=16.0)
    assert float(got[0]) == pytest.approx(2 * 40000 * 36 * 8 * 32)


@settings(max_examples=60, deadline=None)
@given(m=st.integers(1, 100_000), k=st.integers(1, 5000), n=st.integers(1, 4096), g=st.integers(1, 64),
       b=st.integers(1, 64), threads=st.integers(1, 128))
def test_thread_partition_never_below_useful(m, k, n, g, b, threads):
    got = thread_partitioned_flop(np.array([float(m)]), np.array([float(k)]), np.array([float(n)]),
                                  np.array([float(g)]), np.array([float(b)]), block_cols=8.0, set_cols=32.0,
                                  threads=float(threads))
    assert float(got[0]) >= 2.0 * m * k * n * g * b * (1 - 1e-12)
    # at most every thread idle but one for one unit, and the columns padded by less than one block
    assert float(got[0]) <= 2.0 * m * k * (n + 8) * g * b * threads * (1 + 1e-12)


def test_fp32_cpu_layers_use_the_thread_partition_and_amx_keeps_tiles():
    cal = load_vision_calibration()
    net = load_network("resnet50-v1.5").arrays
    b = np.array([1.0])
    i9 = get_chip_params("cpu:intel-core-i9-13900k")
    fp32 = layer_costs(i9, net, b, "fp32", cal)
    assert fp32.vector_fma.all()
    ratio = fp32.spent_flop.sum() / fp32.useful_flop.sum()
    assert 1.0 <= ratio < 1.1  # 32 x 32 tiles in waves of 24 cores spent 1.34x at batch 1
    xeon = get_chip_params("cpu:intel-xeon-w7-2495x")
    amx = layer_costs(xeon, net, b, "int8", cal)
    assert not amx.vector_fma.any()
    assert amx.spent_flop.sum() / amx.useful_flop.sum() > 1.2  # AMX tiles and waves, unchanged


# ---------------------------------------------------------------- the SIMD width (compute.vector_width_bits)

def test_nchwc_block_and_filter_set_from_the_vector_width():
    # MLAS platform.cpp: NchwcBlockSize 8 on the x86-64 baseline (SSE, AVX2), 16 with AVX512F; 4 blocks per set
    assert nchwc_block_channels(128.0) == 8.0
    assert nchwc_block_channels(256.0) == 8.0
    assert nchwc_block_channels(512.0) == 16.0
    assert NCHWC_FILTER_SET_BLOCKS * nchwc_block_channels(512.0) == 64.0


def _at_width(m: float, k: float, n: float, groups: float, threads: float, bits: float) -> float:
    block = nchwc_block_channels(bits)
    one = np.array([1.0])
    got = thread_partitioned_flop(np.array([m]), np.array([k]), np.array([n]), np.array([groups]), one,
                                  block_cols=block, set_cols=NCHWC_FILTER_SET_BLOCKS * block, threads=threads)
    return float(got[0])


def test_units_per_thread_by_hand_at_both_widths():
    useful = 2.0 * 49 * 2048 * 512
    # ResNet-50's last 1x1 layer (7 x 7 positions, 512 columns) at batch 1 on the 7950X's 16 threads.
    # 256 bits: 7 rows x 512 / 32 = 16 sets = 112 units, 7 per thread, none idle
    assert _at_width(49.0, 2048.0, 512.0, 1.0, 16.0, 256.0) == pytest.approx(useful)
    # 512 bits: 7 rows x 512 / 64 = 8 sets = 56 units, ceil(56 / 16) = 4 per thread: 64 / 56 of the useful FLOP
    assert _at_width(49.0, 2048.0, 512.0, 1.0, 16.0, 512.0) == pytest.approx(useful * 64 / 56)
    # on 24 threads (w7): 112 units -> 5 each (120 / 112); 56 units -> 3 each (72 / 56)
    assert _at_width(49.0, 2048.0, 512.0, 1.0, 24.0, 256.0) == pytest.approx(useful * 120 / 112)
    assert _at_width(49.0, 2048.0, 512.0, 1.0, 24.0, 512.0) == pytest.approx(useful * 72 / 56)
    # 4 channels per group pad to one register block: 8 lanes (2x) at 256 bits, 16 lanes (4x) at 512;
    # 32 groups x 1 set x 200 rows = 6,400 units share evenly over 16 threads at either width
    assert _at_width(40000.0, 36.0, 4.0, 32.0, 16.0, 256.0) == pytest.approx(2 * 40000 * 36 * 8 * 32)
    assert _at_width(40000.0, 36.0, 4.0, 32.0, 16.0, 512.0) == pytest.approx(2 * 40000 * 36 * 16 * 32)


@settings(max_examples=60, deadline=None)
@given(m=st.integers(1, 100_000), k=st.integers(1, 5000), n=st.integers(1, 4096), g=st.integers(1, 64),
       threads=st.integers(1, 128), bits=st.sampled_from([128, 256, 512]))
def test_partitioned_flop_never_below_useful_at_any_width(m, k, n, g, threads, bits):
    got = _at_width(float(m), float(k), float(n), float(g), float(threads), float(bits))
    assert got >= 2.0 * m * k * n * g * (1 - 1e-12)


def test_catalogue_cpus_state_their_vector_width():
    widths = {"cpu:amd-ryzen-9-7950x": 512, "cpu:intel-core-i9-13900k": 256, "cpu:intel-xeon-w7-2495x": 512,
              "cpu:intel-xeon-6980p": 512}
    for chip_id, bits in widths.items():
        spec = load_chip(chip_id)
        assert spec.compute.vector_width_bits == bits
        params = get_chip_params(chip_id)
        assert params.vector_width_bits == bits
        assert not any("vector_width_bits" in note for note in params.notes)


def test_wider_vectors_change_the_fp32_cpu_cost():
    cal = load_vision_calibration()
    net = load_network("resnet50-v1.5").arrays
    b = np.array([1.0])
    ryzen = get_chip_params("cpu:amd-ryzen-9-7950x")
    wide = layer_costs(ryzen, net, b, "fp32", cal)
    narrow = layer_costs(replace(ryzen, vector_width_bits=256.0), net, b, "fp32", cal)
    useful = wide.useful_flop.sum()
    assert narrow.spent_flop.sum() >= useful
    # 64-column filter sets halve the units: more threads idle at batch 1, and channels pad to 16 lanes
    assert wide.spent_flop.sum() > narrow.spent_flop.sum()


def test_a_width_that_is_no_simd_register_is_rejected():
    with pytest.raises(ValidationError) as err:
        ComputeSpec(dense_tflops={"fp32": 1.0}, vector_width_bits=300)
    text = describe_validation_error(err.value, "chip.yaml")
    assert "vector_width_bits" in text and "300" in text
    assert "must be one of 128, 256, 512" in text
    for bad in (True, "512", 256.5, 1024):
        with pytest.raises(ValidationError):
            ComputeSpec(dense_tflops={"fp32": 1.0}, vector_width_bits=bad)
    assert ComputeSpec(dense_tflops={"fp32": 1.0}, vector_width_bits=512.0).vector_width_bits == 512


def test_a_cpu_without_the_field_gets_avx2_with_an_estimate_note():
    spec = load_chip("cpu:amd-ryzen-9-7950x")
    compute = spec.compute.model_copy(update={"vector_width_bits": None})
    bare = spec.model_copy(update={"compute": compute})
    params = chip_params(bare, family_defaults(bare.family))
    assert params.vector_width_bits == DEFAULT_VECTOR_WIDTH_BITS == 256.0
    assert any("vector_width_bits" in note and "estimate" in note for note in params.notes)
    gpu = load_chip("nvidia-l4")
    assert not any("vector_width_bits" in note for note in chip_params(gpu, family_defaults(gpu.family)).notes)
