"""The host's per-sample staging in the latency scenarios (cost/vision/host.py ``query_host_s``, calibration
``sample_host_s``): hand calculations of SingleStream, MultiStream (analytic and simulated) and ConstantStream, the
fit's bookkeeping (which rows read the parameter), and that throughput rows never pay it."""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inferchip.catalog.vision_networks import load_vision_calibration
from inferchip.cost.vision.host import query_host_s
from inferchip.errors import InvalidSettingError
from inferchip.performance import vision_scenarios as vs
from inferchip.spec.vision import VisionCalibration
from inferchip.validation.vision.cases import parse_vision_cases
from inferchip.validation.vision.fit import _depends_on, fitted_names, is_latency_row
from inferchip.validation.vision.predict import multi_stream_s, predict_row
from inferchip.validation.vision.rows import build_row
from inferchip.validation.vision.scenario_sim import simulated
from inferchip.validation.vision.validate import params_of

HEADER = ("case_id,source_kind,source,accelerator,num_accelerators,system_name,software,model,input_shape,"
          "precision,scenario,batch,metric,value,unit,notes")


def _case(chip: str, scenario: str, metric: str, n: int = 1, batch: str = "", model: str = "resnet50-v1.5",
          precision: str = "int8"):
    line = (f"c1,mlperf-inference-v4.1-closed,s,{chip},{n},x,TensorRT,{model},224,{precision},{scenario},{batch},"
            f"{metric},1.0,u,n")
    return parse_vision_cases(HEADER + "\n" + line + "\n")[0]


def test_query_host_by_hand():
    assert float(query_host_s(8.0, 5e-6)) == pytest.approx(40e-6)
    assert float(query_host_s(1.0, 0.0)) == 0.0
    assert np.allclose(query_host_s(np.array([1.0, 4.0]), 2e-6), [2e-6, 8e-6])


def test_issue_times_by_hand():
    # batches of 4 and 4: the second is issued after one dispatch (50 us) and the first batch's staging (4 x 5 us)
    assert vs.issue_times_s([4, 4], 50e-6, 5e-6) == pytest.approx([0.0, 70e-6])
    assert vs.issue_times_s([3, 3, 2], 1e-3) == pytest.approx([0.0, 1e-3, 2e-3])  # no staging: j x dispatch


def test_multi_stream_analytic_with_staging_by_hand():
    row = SimpleNamespace(dispatch_s=1e-3, batches=np.array([1.0, 2.0, 4.0, 8.0]))
    tq = 1e-3 + 1e-3 * row.batches  # t(1) = 2 ms, t(2) = 3, t(4) = 5, t(8) = 9 ms
    # staging 0.5 ms per sample. k = 1: 9 + 4 = 13; k = 2: t(4) + 2 + (1 + 2) = 10; k = 4: t(2) + 1 + 3 (1 + 1) = 10;
    # k = 8: t(1) + 0.5 + 7 (1 + 0.5) = 13; k = 3: t(3) = 4 + 1.5 + 2 (1 + 1.5) = 10.5: the best is 10 ms at k = 2
    lat, share = multi_stream_s(row, tq, 8.0, 8, 0.5e-3)  # type: ignore[arg-type]
    assert lat == pytest.approx(10e-3) and share == 4
    assert multi_stream_s(row, tq, 8.0, 1, 0.5e-3) == (pytest.approx(13e-3), 8)  # type: ignore[arg-type]


def test_simulated_multi_stream_with_staging_by_hand():
    def service(b: np.ndarray) -> np.ndarray:  # device time 1 + b ms, plus the batch's own staging 0.5 ms / sample
        return 1e-3 + 1e-3 * np.asarray(b, dtype=float) + 0.5e-3 * np.asarray(b, dtype=float)

    one = vs.multi_stream(service, devices=1, queries=8, dispatch_s=1e-3, stage_s=0.5e-3)
    assert one.value == pytest.approx(13.0)  # ms: one batch of 8
    two = vs.multi_stream(service, devices=2, queries=8, dispatch_s=1e-3, stage_s=0.5e-3)
    # 4 + 4: the second issued at 1 + 2 ms, taking 5 + 2 ms: 10 ms; 5 + 3 is sooner: 1 + 5 + 2.5 = 8.5 ms on one
    # device, the 3 issued at 1 + 2.5 ms taking 1 + 3 + 1.5 ms: 9 ms
    assert two.value == pytest.approx(9.0)
    with pytest.raises(InvalidSettingError, match="stage_s"):
        vs.multi_stream(service, stage_s=-1.0)


@given(st.floats(0.0, 100e-6), st.floats(0.0, 100e-6))
@settings(max_examples=30, deadline=None)
def test_staging_never_shortens_a_query(a: float, b: float):
    row = SimpleNamespace(dispatch_s=50e-6, batches=np.array([1.0, 2.0, 4.0, 8.0]))
    tq = 0.1e-3 + 0.05e-3 * row.batches
    lo, hi = sorted((a, b))
    for chips in (1, 2, 8):
        t_lo = multi_stream_s(row, tq, 8.0, chips, lo)[0]  # type: ignore[arg-type]
        t_hi = multi_stream_s(row, tq, 8.0, chips, hi)[0]  # type: ignore[arg-type]
        assert t_hi >= t_lo - 1e-15
        assert t_hi <= t_lo + 8 * (hi - lo) + 1e-12  # at most every sample of the query staged once more


def test_rows_pay_staging_once_per_sample():
    cal = load_vision_calibration()
    p0 = replace(params_of(cal), sample_host_s=0.0)
    p1 = replace(p0, sample_host_s=7e-6)
    single = build_row(_case("nvidia-l4", "single_stream", "latency_p90_ms", batch="1"), cal)
    assert predict_row(single, p1)[0] == pytest.approx(predict_row(single, p0)[0] + 7e-3)  # ms
    multi = build_row(_case("nvidia-l4", "multi_stream", "latency_p99_ms"), cal)  # one chip: one batch of 8
    assert predict_row(multi, p1)[0] == pytest.approx(predict_row(multi, p0)[0] + 8 * 7e-3)
    assert simulated(multi, p1) == pytest.approx(predict_row(multi, p1)[0], rel=1e-9)
    offline = build_row(_case("nvidia-l4", "offline", "samples_per_s", n=2), cal)
    assert predict_row(offline, p1)[0] == predict_row(offline, p0)[0]  # under load the staging overlaps


def test_the_fit_reads_the_parameter_on_latency_rows_only():
    cal = VisionCalibration()
    single = build_row(_case("nvidia-l4", "single_stream", "latency_p90_ms", batch="1"), cal)
    offline = build_row(_case("nvidia-l4", "offline", "samples_per_s", n=2), cal)
    assert is_latency_row(single) and not is_latency_row(offline)
    assert "sample_host_s" in _depends_on(single) and "sample_host_s" not in _depends_on(offline)
    assert "sample_host_s" in fitted_names([single, offline]) and "sample_host_s" not in fitted_names([offline])
