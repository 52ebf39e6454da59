"""The Cloud AI 100 runtime's round trip that a latency-scenario call waits for and a pipelined call does not
(validation/vision/round_trip.py): the figure by hand from Qualcomm's tuning notebook, the rows it reaches, and that
it moves a row's latency path by exactly itself and leaves its throughput path alone."""

from __future__ import annotations

from functools import partial

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from inferchip.catalog.vision_networks import load_vision_calibration
from inferchip.cost.vision.host import host_link
from inferchip.validation.vision import predict as vision_predict
from inferchip.validation.vision import rows
from inferchip.validation.vision.round_trip import (
    qaic_round_trip_s,
    runtime_round_trip_s,
    unhidden_round_trip_s,
)
from inferchip.validation.vision.validate import params_of
from vision_rows import vision_case

QAIC = "qualcomm-cloud-ai-100-pro"
KILT = "QUALCOMM Cloud AI SDK v1.12.2; KRAI X and KILT harness; Docker 25.0.3"
SS = {"scenario": "single_stream", "metric": "latency_p90_ms", "unit": "ms", "batch": "1", "value": "0.41"}
BASE = {"source_kind": "mlperf-inference-v4.0-closed", "accelerator": QAIC, "software": KILT, "model": "resnet50-v1.5",
        "precision": "int8", "num_accelerators": "1", **SS}
_case = partial(vision_case, BASE)


def _link() -> float:
    return host_link(QAIC, "qualcomm").bytes_per_s


def test_qaic_round_trip_by_hand():
    """428.16 us set-size-1 latency, 2 / 6,753.81 s = 296.13 us per inference per instance under load, less two
    150,528 B int8 inputs over the Gen4 x8 link (0.8 x 15.75 GB/s = 12.6 GB/s: 23.89 us): 108.1 us."""
    assert _link() == pytest.approx(12.6e9)
    copy_s = 2 * 150_528 / 12.6e9
    assert qaic_round_trip_s(_link()) == pytest.approx(428.16e-6 - 2 / 6753.81 - copy_s, rel=1e-9)
    assert qaic_round_trip_s(_link()) == pytest.approx(108.1e-6, abs=0.1e-6)


@given(lat=st.floats(1e-5, 1e-2), rate=st.floats(1e2, 1e5), inst=st.integers(1, 16), copy=st.floats(0, 1e-3))
def test_unhidden_round_trip_never_negative_and_falls_with_copy(lat, rate, inst, copy):
    t = unhidden_round_trip_s(lat, rate, inst, copy)
    assert t >= 0.0
    assert unhidden_round_trip_s(lat, rate, inst, copy + 1e-4) <= t


@pytest.mark.parametrize(("over", "reached"), [
    ({}, True),
    ({"scenario": "multi_stream", "metric": "latency_p99_ms", "num_accelerators": "8"}, True),
    ({"scenario": "offline", "metric": "samples_per_s", "unit": "samples/s", "batch": ""}, False),  # pipelined
    ({"scenario": "server", "metric": "samples_per_s", "unit": "samples/s", "batch": ""}, False),
    ({"software": "TensorRT 10.2.0, CUDA 12.4", "accelerator": "nvidia-l4"}, False),  # no two-mode measurement read
    ({"accelerator": "nvidia-l4"}, False),  # the Qualcomm figure is the Cloud AI 100's, not any card's
])
def test_reaches_only_qualcomm_latency_rows(over, reached):
    assert (runtime_round_trip_s(_case(**over), _link()) > 0.0) is reached


def test_latency_path_moves_by_the_round_trip_and_throughput_path_not(monkeypatch):
    """The Qualcomm ResNet-50 SingleStream row: one call's query time is the device time + copy + the round trip,
    the same row built without it is faster by exactly the round trip, and the time per call under load is equal."""
    cal = load_vision_calibration()
    p = params_of(cal)
    with_rt = rows.build_row(_case(), cal)
    monkeypatch.setattr(rows, "runtime_round_trip_s", lambda case, link: 0.0)
    without = rows.build_row(_case(), cal)
    assert with_rt.round_trip_s == pytest.approx(qaic_round_trip_s(_link()))
    np.testing.assert_allclose(with_rt.query_s(p) - without.query_s(p), with_rt.round_trip_s, rtol=1e-9)
    np.testing.assert_allclose(with_rt.pipelined_s(p), without.pipelined_s(p))
    assert vision_predict.predict_row(with_rt, p)[0] > vision_predict.predict_row(without, p)[0]
