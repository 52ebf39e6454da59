"""CPU fp32 reference runtimes (cost/vision/layers.py): ONNX Runtime's NCHWc thread partition
(``thread_partitioned_flop``) instead of accelerator tiles and waves. Hand calculations, a bound that holds for any
shape, and the layers it applies to (fp32 on a CPU's vector units only: AMX layers keep their tiles)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inferchip.catalog.chips import family_defaults, load_chip
from inferchip.catalog.vision_networks import load_vision_calibration
from inferchip.cost.vision.layers import layer_costs, thread_partitioned_flop
from inferchip.spec.chip import chip_params
from inferchip.validation.vision.cases import parse_vision_cases
from inferchip.workload.vision.network import load_network

HEADER = ("case_id,source_kind,source,accelerator,num_accelerators,system_name,software,model,input_shape,"
          "precision,scenario,batch,metric,value,unit,notes")


def _case(chip: str, precision: str, scenario: str = "single_stream", metric: str = "latency_p90_ms"):
    line = (f"c1,mlperf-inference-v5.1-open,s,{chip},1,x,onnxruntime,resnet50-v1.5,224,{precision},{scenario},,"
            f"{metric},1.0,u,n")
    return parse_vision_cases(HEADER + "\n" + line + "\n")[0]


def _params(name: str):
    spec = load_chip(name)
    return chip_params(spec, family_defaults(spec.family))


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
    i9 = _params("cpu:intel-core-i9-13900k")
    fp32 = layer_costs(i9, net, b, "fp32", cal)
    assert fp32.vector_fma.all()
    ratio = fp32.spent_flop.sum() / fp32.useful_flop.sum()
    assert 1.0 <= ratio < 1.1  # 32 x 32 tiles in waves of 24 cores spent 1.34x at batch 1
    xeon = _params("cpu:intel-xeon-w7-2495x")
    amx = layer_costs(xeon, net, b, "int8", cal)
    assert not amx.vector_fma.any()
    assert amx.spent_flop.sum() / amx.useful_flop.sum() > 1.2  # AMX tiles and waves, unchanged
