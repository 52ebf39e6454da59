"""tools/closed_loop/dynamo_stages.py: the simulated stages of a Dynamo TTFT row by hand, their weighing, and on a
real low-load row: the stages plus the request path give the row's simulated TTFT, and the wrapped functions are
restored."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import load_tool

CASES = Path(__file__).resolve().parents[1] / "src/inferchip/catalog/inferencemax_cases.csv"


@pytest.fixture(scope="module")
def ds():
    return load_tool("dynamo_stages")


def test_stage_times_by_hand(ds):
    # arrival 0, first prefill iteration 1 s, prefill's first token 1.5 s, KV at the decode worker 1.6 s, first
    # streamed token 2 s: wait 1, prefill 0.5, transfer 0.1, decode admission and step 0.4
    s = ds.stage_times_s(np.array([0.0]), np.array([1.0]), np.array([1.5]), np.array([1.6]), np.array([2.0]))
    assert s[:, 0] == pytest.approx([1.0, 0.5, 0.1, 0.4])


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(*(st.floats(0.0, 100.0),) * 5), min_size=1, max_size=20))
def test_stages_add_up_to_the_first_token(ds, rows):
    t = np.cumsum(np.array(rows), axis=1)  # arrival <= scheduled <= prefilled <= KV <= first token
    s = ds.stage_times_s(*t.T)
    assert s.sum(axis=0) == pytest.approx(t[:, 4] - t[:, 0], abs=1e-9)


def test_stage_means_weigh_as_the_benchmark(ds):
    # three requests of one client; the middle one stands for 3 of the benchmark's; the fourth has no KV time
    stages = np.array([[1.0, 2.0, 4.0, np.nan], [0.0] * 4, [0.0] * 4, [0.0] * 4])
    m = ds.stage_means_s(stages, np.array([1.0, 3.0, 1.0, 1.0]), 1)
    assert m["benchmark"][0] == pytest.approx((1 + 6 + 4) / 5)
    assert m["first wave"][0] == pytest.approx(1.0)
    assert m["rest"][0] == pytest.approx(3.0)


def test_a_low_load_row_adds_up_and_the_wrappers_are_restored(ds):
    import inferchip.sim.engines.bench as bench
    from inferchip.catalog.calibration_file import load_calibration
    from inferchip.sim.engines import polling
    from inferchip.validation.cases import read_cases
    from inferchip.validation.validate import Validator

    enqueue, figures = polling.DeliveringDecodeReplica.enqueue_prefilled, bench.bench_figures
    case = next(c for c in read_cases(CASES)
                if c.metric == "ttft_ms" and "dynamo-trt" in c.case_id and c.concurrency == 4)
    with ds.recording() as rec:
        result = Validator(load_calibration(None), server_model="sim", compare=False).predict_case(case)
    assert polling.DeliveringDecodeReplica.enqueue_prefilled is enqueue and bench.bench_figures is figures
    r = rec["res"].requests
    n = int(r["arrival_s"].size)
    kv = np.array([rec["kv"][i] for i in range(n)])
    stages = ds.stage_times_s(r["arrival_s"], r["first_scheduled_s"], kv[:, 1], kv[:, 0], r["first_token_s"])
    m = ds.stage_means_s(stages, bench.steady_weights(n, rec["clients"], rec["bench"]), rec["clients"])
    assert np.all(stages >= -1e-12)
    # the simulated TTFT is the request path plus the benchmark-weighted stages
    assert (rec["request_s"] + m["benchmark"].sum()) * 1e3 == pytest.approx(result.predicted, rel=1e-6)
    assert any("measured" in line for line in ds.report(case, float(result.predicted), rec))
