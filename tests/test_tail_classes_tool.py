"""tools/closed_loop/tail_classes.py: a TTFT tail row's class from its LOAO error and the measured and simulated
medians, by hand, as invariants, and on planted rows (the simulated median moved by the LOAO refit; rows inside the
threshold, other metrics and rows without a stated spread handled)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import load_tool

tc = load_tool("tail_classes")


def test_classes_by_hand():
    # under-predicted by 60 %, the run's median 80 ms against 472 simulated: a first-wave row (FP4 1k/8k pattern)
    assert tc.row_class(-60.0, 80.0, 472.0, 35.0) == "wave"
    # under-predicted, the run's median itself 4.9 s against 0.85 s simulated: the steady requests wait (a pool)
    assert tc.row_class(-72.0, 4860.0, 853.0, 35.0) == "steady-slow"
    # over-predicted, median 296 ms against 545 simulated: the simulated steady request is too slow
    assert tc.row_class(+70.0, 296.0, 545.0, 35.0) == "steady-fast"
    # over-predicted with the medians inside the band (545 / 1.35 = 404 > 296, 545 / 1.35 < 450)
    assert tc.row_class(+40.0, 450.0, 545.0, 35.0) == "other"
    assert tc.row_class(-50.0, None, 100.0, 35.0) == "no-record"
    # the band edge: a measured median exactly 1.35 x the simulated one is still a wave
    assert tc.row_class(-40.0, 135.0, 100.0, 35.0) == "wave"
    assert tc.row_class(-40.0, 135.1, 100.0, 35.0) == "steady-slow"


@given(e=st.floats(-99.0, 500.0).filter(lambda v: v != 0.0), meas=st.floats(1.0, 1e6), sim=st.floats(1.0, 1e6),
       t=st.floats(1.0, 100.0))
def test_class_follows_the_sign_and_is_one_of_the_set(e, meas, sim, t):
    c = tc.row_class(e, meas, sim, t)
    assert c in tc.CLASSES
    assert c in (("wave", "steady-slow") if e < 0 else ("steady-fast", "other"))


@given(sim=st.floats(1.0, 1e5), t=st.floats(1.0, 100.0), k=st.floats(1.01, 10.0))
def test_a_slower_steady_request_never_turns_a_pool_into_a_wave(sim, t, k):
    """Raising the measured median (everything else fixed) moves an under-predicted row from wave to steady-slow,
    never back; lowering it moves an over-predicted row from other to steady-fast, never back."""
    band = 1.0 + t / 100.0
    lo, hi = sim * band / k, sim * band * k
    assert tc.row_class(-50.0, lo, sim, t) == "wave" and tc.row_class(-50.0, hi, sim, t) == "steady-slow"
    assert tc.row_class(+50.0, sim / band / k, sim, t) == "steady-fast"
    assert tc.row_class(+50.0, sim / band * k, sim, t) == "other"


def _row(cid, metric, meas, ttft_s, sim_median_ms):
    return {"case_id": cid, "metric": metric, "meas": meas, "ttft": ttft_s, "engine": "sglang", "chip": "mi355x",
            "layout": "tp", "len": "1024/8192", "sim": {"ttft_median_ms": sim_median_ms}}


def test_tail_rows_on_planted_rows(monkeypatch):
    rows = [_row("imax-a-mxfp4-tp8-1024-8192-c4-r1-ttft", "ttft_ms", 1150.0, 0.470, 465.0),
            _row("imax-b-fp8-tp8-8192-1024-c4-r1-ttft", "ttft_ms", 320.0, 0.550, 540.0),
            _row("imax-c-fp8-tp8-1024-1024-c4-r1-ttft", "ttft_ms", 500.0, 0.480, 470.0),  # inside 35 %
            _row("imax-d-fp8-tp8-1024-1024-c4-r1-tpot", "tpot_ms", 10.0, 0.470, 465.0),   # another metric
            _row("imax-e-fp8-tp8-1024-1024-c4-r1-ttft", "ttft_ms", 1000.0, 0.470, 465.0)]  # no spread stated
    # LOAO predictions: the fold moves row a by +10 ms, row b by -20 ms
    loao = [(rows[0], -58.3, 480.0), (rows[1], +65.6, 530.0), (rows[2], -4.0, 480.0), (rows[3], +90.0, 19.0),
            (rows[4], -53.0, 470.0)]
    monkeypatch.setattr(tc, "rows_with_ids", lambda path: rows)
    monkeypatch.setattr(tc, "loao_errors", lambda r: loao)
    spread = {rows[0]["case_id"]: (80.0, 22000.0), rows[1]["case_id"]: (300.0, 1300.0),
              rows[2]["case_id"]: (450.0, 700.0)}
    monkeypatch.setattr(tc, "notes_spread", lambda path: spread)
    out = tc.tail_rows("x.json", "cases.csv", 35.0)
    assert [r["case_id"][5] for r in out] == ["a", "b", "e"]
    a, b, e = out
    assert a["sim_median"] == pytest.approx(465.0 + 10.0) and a["cls"] == "wave" and a["fmt"] == "mxfp4"
    assert b["sim_median"] == pytest.approx(540.0 - 20.0) and b["cls"] == "steady-fast" and b["fmt"] == "fp8"
    assert e["meas_median"] is None and e["cls"] == "no-record"
