"""A harness's batch cap reaches the MultiStream simulator as it reaches the analytic form (rows.py multi_stream_s:
a share above the cap runs as calls in turn): the simulated query is never cheaper than its capped calls."""

from __future__ import annotations

from dataclasses import replace

import pytest

from inferchip.catalog.vision_networks import load_vision_calibration
from inferchip.validation.vision.cases import parse_vision_cases
from inferchip.validation.vision.predict import predict_row
from inferchip.validation.vision.rows import build_row
from inferchip.validation.vision.scenario_sim import simulated
from inferchip.validation.vision.validate import params_of

HEADER = ("case_id,source_kind,source,accelerator,num_accelerators,system_name,software,model,input_shape,"
          "precision,scenario,batch,metric,value,unit,notes")


def _multi(software: str):
    line = (f"c1,mlperf-inference-v5.1-closed,s,nvidia-l4,1,x,{software},retinanet-resnext50-fpn-800,800,int8,"
            "multi_stream,,latency_p99_ms,1.0,ms,n")
    return parse_vision_cases(HEADER + "\n" + line + "\n")[0]


def test_simulated_multi_stream_keeps_the_harness_batch_cap():
    """ONNX Runtime RetinaNet is capped at batch 1 (harness.py HARNESS_MAX_BATCH): on one chip the 8-sample query
    is 8 batch-1 calls in turn, at least 8 x t(1); the simulator agrees with the analytic form."""
    cal = load_vision_calibration()
    p = replace(params_of(cal), sample_host_s=0.0)
    capped = build_row(_multi("onnxruntime"), cal)
    assert capped.batches.tolist() == [1.0]
    t1 = float(capped.query_s(p)[0])
    analytic = predict_row(capped, p)[0]
    assert analytic == pytest.approx(8 * t1 * 1e3)  # ms
    sim = simulated(capped, p)
    assert sim is not None and sim >= 8 * t1 * 1e3 * (1 - 1e-9)
    assert sim == pytest.approx(analytic, rel=1e-6)


def test_uncapped_row_keeps_every_split():
    """A row without a cap keeps its grid beyond the query's 8 samples, so the simulator may still split the query
    as it finds best on one chip (never slower than the analytic single batch-8 call), and the capped row of the
    same chip is slower than the uncapped one."""
    cal = load_vision_calibration()
    p = params_of(cal)
    free = build_row(_multi("TensorRT 10.2.0"), cal)
    assert free.batches[-1] >= 8
    sim = simulated(free, p)
    assert sim is not None and sim <= predict_row(free, p)[0] * (1 + 1e-9)
    capped = simulated(build_row(_multi("onnxruntime"), cal), p)
    assert capped is not None and capped > sim
