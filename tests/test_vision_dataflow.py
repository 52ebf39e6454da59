"""Dataflow (layer-pipeline) service model of at-memory chips (cost/vision/dataflow.py): the catalogue flag and its
source, the stream formulas by hand, Little's law and monotonicity as properties, and the twins (row model and
frame_cost) on the Untether card: batch-1 latency, MultiStream bursts, Offline and Server from one interval."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from inferchip.catalog.vision_networks import load_vision_calibration
from inferchip.cost.vision.dataflow import (
    DataflowFileError,
    entry_delay_s,
    is_dataflow,
    load_dataflow,
    pipeline_interval_s,
    stream_latency_s,
    stream_occupancy_s,
)
from inferchip.performance.vision import frame_cost
from inferchip.validation.vision.cases import parse_vision_cases
from inferchip.validation.vision.predict import predict_row
from inferchip.validation.vision.rows import build_row
from inferchip.validation.vision.scenario_sim import loaded_servers, server_cap
from inferchip.validation.vision.validate import params_of

HEADER = ("case_id,source_kind,source,accelerator,num_accelerators,system_name,software,model,input_shape,"
          "precision,scenario,batch,metric,value,unit,notes")


def _case(chip: str, scenario: str, metric: str, n: int = 1, batch: str = ""):
    line = (f"c1,mlperf-inference-v4.1-closed,s,{chip},{n},x,sdk,resnet50-v1.5,224,float8,{scenario},{batch},"
            f"{metric},1000,u,n")
    return parse_vision_cases(HEADER + "\n" + line + "\n")[0]


def test_catalogue_flags_the_at_memory_family_with_its_source():
    assert is_dataflow("untether")
    assert not is_dataflow("nvidia-hopper")
    assert not is_dataflow("qualcomm")  # AI cores run compiled instances on sets of cores, not a layer pipeline
    with open(__import__("inferchip.cost.vision.dataflow", fromlist=["DATAFLOW_FILE"]).DATAFLOW_FILE) as fh:
        text = fh.read()
    assert "batch size 1" in text and "Hot Chips 34" in text


def test_bad_dataflow_file_names_file_and_line(tmp_path):
    p = tmp_path / "dataflow.csv"
    p.write_text("family,execution,source\nuntether,pipeline,\n")
    with pytest.raises(DataflowFileError, match=r"dataflow.csv:2: a row needs family, execution and source"):
        load_dataflow(p)


def test_stream_formulas_by_hand():
    b = np.array([1.0, 2.0, 8.0])
    t = np.array([100e-6, 120e-6, 200e-6])  # per sample 100, 60, 25 us
    assert pipeline_interval_s(b, t) == pytest.approx(25e-6)
    assert np.allclose(stream_latency_s(100e-6, 25e-6, b), [100e-6, 125e-6, 275e-6])
    assert np.allclose(stream_occupancy_s(25e-6, b), [25e-6, 50e-6, 200e-6])
    assert entry_delay_s(100e-6, 25e-6) == pytest.approx(75e-6)
    assert entry_delay_s(10e-6, 25e-6) == 0.0
    with pytest.raises(ValueError):
        pipeline_interval_s(np.array([0.0]), np.array([1.0]))


@given(st.floats(1e-6, 1e-2), st.floats(1e-7, 1e-3), st.integers(1, 4096))
def test_stream_properties(fill, interval, b):
    """Latency grows with the burst and never beats the fill; throughput is 1 / I at every burst size; the samples
    in flight of a full pipeline (Little's law: latency x rate) are about L / I."""
    lat = stream_latency_s(fill, interval, np.array([b, b + 1.0]))
    assert lat[0] >= fill and lat[1] > lat[0]
    assert b / float(stream_occupancy_s(interval, np.array([float(b)]))[0]) == pytest.approx(1 / interval)
    assert entry_delay_s(fill, interval) + interval >= fill * (1 - 1e-12)


def test_untether_rows_stream_through_one_pipeline():
    cal = load_vision_calibration()
    p = params_of(cal)
    chip = "untetherai-speedai240-slim"
    single = build_row(_case(chip, "single_stream", "latency_p90_ms", batch="1"), cal)
    offline = build_row(_case(chip, "offline", "samples_per_s", n=2, batch="8"), cal)
    server = build_row(_case(chip, "server", "samples_per_s", n=2), cal)
    assert single.dataflow and offline.dataflow and server.dataflow
    interval, fill = single.interval_s(p), single.fill_s(p)
    assert 0 < interval < fill
    q = single.query_s(p)  # latency of b samples: fill + (b - 1) I
    assert q[0] == pytest.approx(fill)
    assert np.allclose(q, fill + (single.batches - 1) * interval)
    assert predict_row(single, p)[0] == pytest.approx((fill + p.sample_host_s) * 1e3)  # one sample staged first
    # Offline: 1 / I per chip, whatever batch the row states (a pipeline gains nothing from batching)
    assert offline.batches[-1] == 4096
    assert predict_row(offline, p)[0] == pytest.approx(2 / interval)
    service, servers = loaded_servers(server, p)
    assert servers == 2 and server_cap(server) == 1
    assert float(service(np.array([1.0]))[0]) == pytest.approx(interval)
    assert server.after_entry_s(p) == pytest.approx(fill - interval)


def test_gpu_rows_are_not_pipelined():
    cal = load_vision_calibration()
    row = build_row(_case("nvidia-l4", "server", "samples_per_s", n=2), cal)
    assert not row.dataflow and row.after_entry_s(params_of(cal)) == 0.0
    assert server_cap(row) > 1


def test_frame_cost_and_row_model_are_twins_on_a_dataflow_chip():
    cal = load_vision_calibration()
    row = build_row(_case("untetherai-speedai240-preview", "multi_stream", "latency_p99_ms"), cal)
    p = params_of(cal)
    f = frame_cost("untetherai-speedai240-preview", "resnet50-v1.5", row.batches, weights=row.case.precision,
                   calibration=cal)
    assert np.allclose(row.query_s(p), f.latency_s, rtol=1e-9)
    assert f.pipelined_s is not None
    assert np.allclose(row.pipelined_s(p), f.pipelined_s, rtol=1e-9)
    assert np.all(f.power_w > 0)
