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


def test_implied_prefill_by_hand(ds):
    # measured 142 ms, simulated 112 ms of which the prefill is 40 ms: the measurement implies a 70 ms prefill
    assert ds.implied_prefill_ms(142.0, 112.0, 40.0) == pytest.approx(70.0)
    # a row simulated exactly implies the simulated prefill
    assert ds.implied_prefill_ms(250.0, 250.0, 145.0) == pytest.approx(145.0)


@pytest.fixture(scope="module")
def context_worker():
    """The prefill (context) worker of a 1k/1k Dynamo + TensorRT-LLM DeepSeek-R1 row, as the validation maps it."""
    from inferchip.catalog.calibration_file import load_calibration
    from inferchip.validation.cases import read_cases
    from inferchip.validation.closed_loop import row_facts
    from inferchip.validation.closed_loop_rows import _replica, with_prefill_scheduling
    from inferchip.validation.plan import case_formats
    from inferchip.validation.validate import Validator

    case = next(c for c in read_cases(CASES)
                if c.metric == "ttft_ms" and "dynamo-trt-fp4-disagg-p4x4e4-d32x8e8-1024" in c.case_id)
    fmt = case_formats(case)[0]
    facts = with_prefill_scheduling(case, fmt.weights, row_facts(case))
    pre, _, _ = _replica(Validator(load_calibration(None), server_model="sim", compare=False), case, fmt,
                         facts.prefill, facts)
    return pre.mm


def test_class_times_add_up_to_the_step(ds, context_worker):
    ct = ds.class_times_ms(context_worker, 4, 922)
    t, _ = context_worker.replica_step_s(np.array([4 * 922.0]), np.array([0.0]), np.array([0.0]),
                                         np.array([4 * 922 * 923 / 2.0]))
    assert ct["total"] == pytest.approx(float(np.asarray(t).reshape(-1)[0]) * 1e3, rel=1e-9)
    assert sum(v for k, v in ct.items() if k != "total") == pytest.approx(ct["total"], rel=1e-6)
    assert "experts" in ct and "attention" in ct


@settings(max_examples=15, deadline=None)
@given(st.integers(1, 8), st.integers(64, 8192))
def test_more_prompts_never_make_the_context_step_faster(ds, context_worker, prompts, length):
    assert ds.class_times_ms(context_worker, prompts + 1, length)["total"] >= \
        ds.class_times_ms(context_worker, prompts, length)["total"] - 1e-9


def test_step_lines_on_a_low_load_row(ds):
    from inferchip.catalog.calibration_file import load_calibration
    from inferchip.validation.cases import read_cases
    from inferchip.validation.validate import Validator

    case = next(c for c in read_cases(CASES) if c.metric == "ttft_ms" and c.concurrency == 4
                and "dynamo-trt-fp4-disagg-p4x4e4-d32x8e8-1024" in c.case_id)
    v = Validator(load_calibration(None), server_model="sim", compare=False)
    with ds.recording() as rec:
        result = v.predict_case(case)
    lines = ds.step_lines(v, case, rec, float(result.predicted))
    assert lines[0].lstrip().startswith("implied prefill") and len(lines) == 3
    implied = float(lines[0].split()[2])
    simulated = float(lines[0].split("(simulated ")[1].split()[0])
    assert implied == pytest.approx(case.value - float(result.predicted) + simulated, abs=0.11)
    assert "1 prompt of" in lines[1] and "recipe batch" in lines[2]


def test_mtp_context_time_by_hand(ds):
    # depth 3 over 61 layers: one pass over the prompts (61 ms step: 1 ms a layer) and two one-token passes
    # (12.2 ms step: 0.2 ms a layer) = 1.4 ms
    assert ds.mtp_context_ms(61.0, 12.2, 61, 3) == pytest.approx(1.4)
    assert ds.mtp_context_ms(61.0, 12.2, 61, 1) == pytest.approx(1.0)  # depth 1: the pass over the prompts only
    with pytest.raises(ValueError):
        ds.mtp_context_ms(61.0, 12.2, 61, 0)


@settings(max_examples=50, deadline=None)
@given(st.floats(0.0, 500.0), st.floats(0.0, 50.0), st.integers(1, 128), st.integers(1, 7))
def test_a_deeper_mtp_never_costs_less(ds, prompt_ms, token_ms, layers, depth):
    assert ds.mtp_context_ms(prompt_ms, token_ms, layers, depth + 1) >= ds.mtp_context_ms(
        prompt_ms, token_ms, layers, depth)


def test_mtp_twin_ids(ds):
    assert ds.mtp_twin_id("imax-x-dynamo-trt-fp4-mtp-disagg-p4-c8-ttft") == "imax-x-dynamo-trt-fp4-disagg-p4-c8-ttft"
    assert ds.mtp_twin_id("imax-x-dynamo-trt-fp4-disagg-p4-c8-ttft") is None


def test_mtp_lines_on_a_low_load_pair(ds):
    from inferchip.catalog.calibration_file import load_calibration
    from inferchip.validation.cases import read_cases
    from inferchip.validation.validate import Validator

    rows = [c for c in read_cases(CASES) if c.metric == "ttft_ms"]
    case = next(c for c in rows if c.concurrency == 8 and "dynamo-trt-fp4-mtp-disagg-p4x4e4-d32x8e8-1024" in c.case_id)
    twin = next(c for c in rows if c.case_id == ds.mtp_twin_id(case.case_id))
    v = Validator(load_calibration(None), server_model="sim", compare=False)
    runs = []
    for c in (case, twin):
        with ds.recording() as rec:
            runs.append((float(v.predict_case(c).predicted), rec))
    lines = ds.mtp_lines(v, case, runs[0][0], runs[0][1], twin, runs[1][0], runs[1][1], 3)
    assert f"measured {case.value - twin.value:+.1f} ms" in lines[0]
    assert f"simulated {runs[0][0] - runs[1][0]:+.1f} ms" in lines[0]
    # the implied prefill difference is the measured one less the simulated one
    implied = float(lines[0].split("implied prefill ")[1].split()[0])
    assert implied == pytest.approx(case.value - twin.value - (runs[0][0] - runs[1][0]), abs=0.2)
    assert len(lines) == 3 and "1 prompt(s)" in lines[1] and "4 prompt(s)" in lines[2]
    gpu = [float(x.split("depth 3: ")[1].split()[0]) for x in lines[1:]]
    assert 0 < gpu[0] <= gpu[1]  # four prompts cost the MTP module at least what one does
