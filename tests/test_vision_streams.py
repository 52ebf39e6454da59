"""Two calls on concurrent inference streams share each layer's waves (cost/vision/layers.py:
packed_flop_per_call) where the row's harness runs them (validation/vision/rows.py: inference_streams)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from inferchip.catalog.vision_networks import load_vision_calibration
from inferchip.cost.gemm import quantised_flop
from inferchip.cost.vision.layers import packed_flop_per_call
from inferchip.validation.vision.cases import VisionCase
from inferchip.validation.vision.rows import build_row, inference_streams
from inferchip.validation.vision.validate import params_of

TILE = 128.0
SLOTS = 132.0  # tiles in flight (one 128 x 128 tile per SM on a 132-SM chip)


def _chip(slots: float = SLOTS) -> Any:
    return SimpleNamespace(gemm_tile_m=TILE, gemm_tile_n=TILE, gemm_tiles_in_flight=slots)


def _a(x: float) -> np.ndarray:
    return np.array([x], dtype=float)


def test_two_calls_of_140_tiles_take_three_waves_not_four():
    # 140 output tiles (m = 140 x 128 rows, n = 128), k = 64: alone, ceil(140 / 132) = 2 waves of 132 tile slots;
    # two calls' 280 tiles pack into ceil(280 / 132) = 3 waves, 1.5 waves per call.
    m, k, n, g = _a(140 * TILE), _a(64.0), _a(TILE), _a(1.0)
    tile_flop = 2.0 * TILE * TILE * 64.0
    alone = packed_flop_per_call(m, k, n, g, _chip(), 1)
    packed = packed_flop_per_call(m, k, n, g, _chip(), 2)
    assert alone[0] == 2 * SLOTS * tile_flop
    assert packed[0] == 1.5 * SLOTS * tile_flop
    assert alone[0] == quantised_flop(m, k, n, g, TILE, TILE, SLOTS)[0]


def test_full_waves_gain_nothing_from_packing():
    m, k, n, g = _a(2 * SLOTS * TILE), _a(256.0), _a(TILE), _a(1.0)  # exactly two full waves
    assert packed_flop_per_call(m, k, n, g, _chip(), 2)[0] == packed_flop_per_call(m, k, n, g, _chip(), 1)[0]


@settings(max_examples=200, deadline=None)
@given(rows=st.integers(1, 200_000), cols=st.integers(1, 4096), groups=st.integers(1, 64),
       slots=st.integers(1, 528), streams=st.integers(1, 8))
def test_packing_never_costs_more_nor_less_than_the_tiles(rows: int, cols: int, groups: int, slots: int,
                                                          streams: int) -> None:
    m, k, n, g = _a(float(rows)), _a(128.0), _a(float(cols)), _a(float(groups))
    alone = packed_flop_per_call(m, k, n, g, _chip(float(slots)), 1)[0]
    packed = packed_flop_per_call(m, k, n, g, _chip(float(slots)), streams)[0]
    tiles_only = quantised_flop(m, k, n, g, TILE, TILE, 1.0)[0]  # every tile, no wave padding
    assert packed <= alone * (1 + 1e-12)
    assert packed >= tiles_only * (1 - 1e-12)


def _case(scenario: str, software: str, model: str = "retinanet-resnext50-fpn-800", batch: int | None = 16,
          accelerator: str = "nvidia-h200-sxm-141gb") -> VisionCase:
    return VisionCase(case_id="x", source_kind="mlperf-inference", accelerator=accelerator, num_accelerators=8,
                      model=model, precision_text="int8", scenario=scenario, batch=batch, metric="samples_per_s",
                      value=1.0, unit="samples/s", notes="target latency 100 ms at p99", line=2, software=software)


def test_streams_follow_the_harness_table_not_the_row():
    trt = "TensorRT 10.2.0, CUDA 12.4; TensorRT 10.2.0, CUDA 12.4"
    assert inference_streams(_case("server", trt), cpu=False, dataflow=False) == 2
    assert inference_streams(_case("offline", trt), cpu=False, dataflow=False) == 2
    assert inference_streams(_case("single_stream", trt), cpu=False, dataflow=False) == 1
    assert inference_streams(_case("server", "onnxruntime v1.22.1"), cpu=False, dataflow=False) == 1
    assert inference_streams(_case("server", trt, model="resnet50-v1.5"), cpu=False, dataflow=False) == 1
    assert inference_streams(_case("server", trt), cpu=True, dataflow=False) == 1
    assert inference_streams(_case("server", trt), cpu=False, dataflow=True) == 1


def test_packed_streams_speed_the_loaded_call_only():
    cal = load_vision_calibration()
    p = params_of(cal)
    packed = build_row(_case("server", "TensorRT 10.2.0, CUDA 12.4"), cal)
    alone = build_row(_case("server", "pytorch v2.7.1"), cal)  # a runtime no harness table names
    assert packed.loaded_matrix_s is not None
    assert np.all(packed.loaded_matrix_s <= packed.matrix_s * (1 + 1e-12))
    assert np.array_equal(packed.matrix_s, alone.matrix_s)
    assert np.array_equal(packed.query_s(p), alone.query_s(p))  # one call's latency: alone on the chip
    assert np.all(packed.pipelined_s(p) <= alone.pipelined_s(p) * (1 + 1e-12))
    assert np.any(packed.pipelined_s(p) < alone.pipelined_s(p) * (1 - 1e-4))  # RetinaNet's FPN heads have tails
