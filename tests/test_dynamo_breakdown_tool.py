"""tools/closed_loop/dynamo_breakdown.py: the groups a Dynamo case id names, the concurrency bands, and a table of two
runs' errors computed by hand."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import load_tool

CID = "imax-dsr1-gb200-dynamo-sglang-fp4-disagg-p16x1e1dpa-d32x1e1dpa-1024-1024-c8192-r20321908209-ttft"
MTP = "imax-dsr1-0528-gb200-dynamo-trt-fp4-mtp-disagg-p4x4e4-d32x8e8-1024-1024-c4-r20321908209-tpot"


@pytest.fixture(scope="module")
def db():
    return load_tool("dynamo_breakdown")


def test_case_id_groups(db):
    f = db.parse(CID)
    assert (f["worker"], f["model"], f["fmt"], f["mtp"], f["pre"], f["dec"]) == (
        "sglang", "dsr1", "fp4", None, "p16x1e1dpa", "d32x1e1dpa")
    assert (f["isl"], f["osl"], f["c"]) == ("1024", "1024", "8192")
    g = db.parse(MTP)
    assert (g["worker"], g["model"], g["mtp"], g["c"]) == ("trt", "dsr1-0528", "mtp-", "4")
    assert db.parse("imax-dsr1-0528-b200-sglang-fp8-tp8ep1-1024-1024-c4-r1-ttft") is None  # not Dynamo
    assert [db.band(c) for c in (4, 8, 9, 512, 2048, 2049)] == ["1-8", "1-8", "9-64", "65-512", "513-2048", "2049+"]
    assert db.group_of(g, "family") == "trt dsr1-0 fp4 mtp 1024/1024"
    assert db.group_of(f, "layout").endswith("p16x1e1dpa-d32x1e1dpa")


def test_table_of_two_runs_by_hand(db, tmp_path):
    def run(errors):
        cases = [{"case_id": CID.replace("c8192", f"c{c}"), "metric": "ttft_ms", "status": "ok",
                  "signed_error_pct": e} for c, e in errors]
        p = tmp_path / f"r{len(list(tmp_path.iterdir()))}.json"
        p.write_text(json.dumps({"cases": cases}))
        return db.rows(str(p))

    before = run([(1024, -80.0), (2048, -60.0), (4096, 10.0)])
    after = run([(1024, -40.0), (2048, -20.0), (4096, 30.0)])
    lines = db.table([before, after], "family")
    row = next(x for x in lines if x.startswith("| sglang dsr1 fp4 1024/1024"))
    # |errors| 80, 60, 10: median 60; p90 by linear interpolation 60 + 0.8 x 20 = 76; signed median -60
    assert "60.0 / 76.0 / -60.0 -> 30.0 / 38.0 / -20.0 (3)" in row


def test_prompt_rates_by_hand(db):
    # 4,096 clients, E2E 25.2 s: 162.5 requests/s; prompts 0.9 x 1,024 = 921.6 tokens: 149,797 tokens/s,
    # over 24 chips 6,241.5 tokens/s per chip; over 3 workers 54.2 requests/s each
    per_chip, per_worker = db.prompt_rates(4096, 1024, 25.2, 24, 3)
    assert per_chip == pytest.approx(4096 / 25.2 * 921.6 / 24)
    assert per_worker == pytest.approx(4096 / 25.2 / 3)


def test_intake_table_reads_workers_from_notes(db, tmp_path):
    notes = ("16 prefill GPUs (4 worker(s), TP1/EP1, DP-attention true) + 32 decode GPUs (1 worker(s), TP1/EP1, "
             "DP-attention true); mean E2E latency 40.0 s")
    csv_path = tmp_path / "cases.csv"
    csv_path.write_text("case_id,metric,notes\n" + "".join(
        f'{CID.replace("c8192", f"c{c}")},ttft_ms,"{notes}"\n' for c in (4096, 8192)))
    run = {CID: {"sim": {"e2e_ms": 50_000.0}}}
    lines = db.intake(str(csv_path), run)
    row = next(x for x in lines if x.startswith("| sglang dsr1 fp4"))
    # the highest concurrency (8,192) is read: 204.8 requests/s, 921.6 tokens each, over 16 chips 11.8k tokens/s
    # per chip, 51.2 requests/s per worker; simulated E2E 50 s: 9.4k and 41.0
    assert "| 8192 | 11.8 / 9.4 | 4 | 51.2 / 41.0 |" in row


def _dynamo_case(c: int, metric: str, measured: float, r0: float = 0.09, worker_s: float = 0.03) -> dict:
    """A Dynamo closed-loop row of a validate JSON (TensorRT-LLM workers), simulated with request time ``r0``
    (``worker_s`` of it the worker engine's): TTFT 0.3 s, TPOT 5 ms, E2E 5 s, 1,000 output tokens/s."""
    cid = f"imax-dsr1-0528-gb200-dynamo-trt-fp4-disagg-p4x4e4-d32x8e8-1024-1024-c{c}-r1-" + metric.split("_")[0]
    sim = {"kind": "closed_loop", "engine": "dynamo", "ttft_ms": 300.0, "tpot_ms": 5.0, "e2e_ms": 5000.0,
           "output_tokens_per_s": 1000.0, "step_overhead_s": 0.0, "request_overhead_s": r0, "tokens_per_step": 1.0,
           "worker_engine": "trtllm", "worker_request_overhead_s": worker_s}
    return {"case_id": cid, "metric": metric, "status": "ok", "accelerator": "nvidia-gb200-186gb",
            "measured": measured, "signed_error_pct": 0.0, "sim": sim}


def test_implied_own_term_by_hand(db):
    # measured 250 ms; simulated 300 ms with 90 ms of request time: 210 ms of work; worker 30 ms: own 10 ms
    x = {"meas": 250.0, "ttft": 0.300, "r0": 0.090}
    assert db.implied_own_s(x, 0.030) == pytest.approx(0.010)


def test_own_terms_recover_a_planted_term_per_group(db, tmp_path):
    fe = load_tool("fit_engines")
    own = {2: float(fe.REQUEST_GRID[0]), 32: float(fe.REQUEST_GRID[70])}  # 0 at 2 clients, ~55 ms at 32
    cases = []
    for c, r_own in own.items():
        dr = r_own + 0.03 - 0.09  # the request time the row would wait less the one it was run with
        for isl in (1024, 8192):
            ttft = _dynamo_case(c, "ttft_ms", (0.300 + dr) * 1e3)
            tput = _dynamo_case(c, "output_tokens_per_s_total", 1000.0 * 5.0 / (5.0 + dr))
            for x in (ttft, tput):
                x["case_id"] = x["case_id"].replace("-1024-1024-", f"-{isl}-1024-")
            cases += [ttft, tput]
    p = tmp_path / "v.json"
    p.write_text(json.dumps({"cases": cases}))
    lines = db.own_terms(str(p), "family-band")
    low = next(x for x in lines if x.startswith("| trt dsr1-0 1-8 "))
    mid = next(x for x in lines if x.startswith("| trt dsr1-0 9-64 "))
    assert low == "| trt dsr1-0 1-8 | 4 | 0.0 | 0.0 | 0.0 |"
    assert mid == f"| trt dsr1-0 9-64 | 4 | {own[32] * 1e3:.1f} | {own[32] * 1e3:.1f} | {own[32] * 1e3:.1f} |"
    # one flat term over both groups lands between them
    flat = float(next(x for x in lines if x.startswith("| all Dynamo ")).split("|")[3])
    assert 0.0 < flat < own[32] * 1e3


def test_wait_line_by_hand(db):
    # implied = 10 ms + 1 x wait exactly: a 10 ms, b 1, R^2 1
    a, b, r2 = db.wait_line([0.0, 0.1, 0.2], [0.010, 0.110, 0.210])
    assert (a, b, r2) == (pytest.approx(0.010), pytest.approx(1.0), pytest.approx(1.0))
    # one wait for all rows: no slope, the mean as intercept
    assert db.wait_line([0.05, 0.05], [0.0, 0.02]) == (pytest.approx(0.01), 0.0, 0.0)


def test_with_wait_moves_a_row_as_a_request_time_does(db):
    x = {"ttft": 0.3, "e2e": 5.0, "tput": 1000.0, "meas": 1.0}
    (y,) = db.with_wait([x], [0.5])
    # TTFT and E2E 0.5 s longer; throughput by Little's law 1,000 x 5 / 5.5
    assert (y["ttft"], y["e2e"], y["tput"]) == (pytest.approx(0.8), pytest.approx(5.5), pytest.approx(1000 * 5 / 5.5))


def test_queue_terms_recover_a_planted_line(db, tmp_path):
    fe = load_tool("fit_engines")
    cases = []
    for c, wait_ms in ((4, 0.0), (16, 40.0), (64, 160.0)):
        own = 0.005 + 1.0 * wait_ms / 1e3  # planted: 5 ms plus the simulated wait once more
        x = _dynamo_case(c, "ttft_ms", (0.300 - 0.09 + 0.03 + own) * 1e3)
        x["sim"]["queue_ms"] = wait_ms
        cases.append(x)
    p = tmp_path / "q.json"
    p.write_text(json.dumps({"cases": cases}))
    worker = fe.fit_all(fe.rows_of(str(p))).get("trtllm")
    assert worker is None  # no trtllm rows: the worker time is the one run with, 30 ms
    lines = db.queue_terms(str(p), "family")
    row = next(x for x in lines if x.startswith("| trt dsr1-0 fp4 1024/1024 "))
    # median wait 40 ms, median implied 45 ms; the line 5 ms + 1.00 x wait, R^2 1
    assert row == "| trt dsr1-0 fp4 1024/1024 | 3 | 40.0 | 45.0 | 5.0 / 1.00 / 1.00 |"
    assert db.queue_terms(str(p), "family", max_clients=16)[2].startswith("| all Dynamo | 2 |")


def test_little_split_by_hand(db):
    # measured TTFT 2 s of a 20 s cycle (decode 18 s); simulated TTFT 1 s of 22 s (decode 21 s): TTFT -50 %, of which
    # the cycle +2 s = +100 % of the measured TTFT and the decode time +3 s = -150 %
    e2e, dec = db.little_split(2.0, 20.0, 1.0, 22.0)
    assert (e2e, dec) == (pytest.approx(100.0), pytest.approx(-150.0))
    assert e2e + dec == pytest.approx(100.0 * (1.0 / 2.0 - 1.0))
    # 1,000 clients, TTFT 2 s of 20 s: 900 past their first token
    assert db.decode_occupancy(1000, 2.0, 20.0) == pytest.approx(900.0)


@settings(max_examples=50, deadline=None)
@given(mt=st.floats(0.01, 100.0), md=st.floats(0.1, 200.0), s_t=st.floats(0.01, 100.0), sd=st.floats(0.1, 200.0))
def test_little_split_parts_add_up_to_the_ttft_error(db, mt, md, s_t, sd):
    e2e, dec = db.little_split(mt, mt + md, s_t, s_t + sd)
    assert e2e + dec == pytest.approx(100.0 * (s_t / mt - 1.0), rel=1e-9, abs=1e-6)


def test_little_table_by_hand(db, tmp_path):
    csv_path = tmp_path / "cases.csv"
    csv_path.write_text(f'case_id,metric,notes\n{CID},ttft_ms,"mean E2E latency 20.0 s"\n')
    run = {CID: {"case_id": CID, "metric": "ttft_ms", "measured": 2000.0, "predicted": 1000.0,
                 "signed_error_pct": -50.0, "sim": {"e2e_ms": 22000.0}}}
    lines = db.little(str(csv_path), run, "family")
    row = next(x for x in lines if x.startswith("| sglang dsr1 fp4"))
    # E2E +10 %, decode 21 / 18 s: +16.7 %; measured TTFT / E2E 0.10; parts +100 / -150; occupancy
    # 8,192 x 21 / 22 over 8,192 x 18 / 20 = 1.06
    assert row == "| sglang dsr1 fp4 1024/1024 | 1 | -50.0 | +10.0 | +16.7 | 0.10 | +100 / -150 | 1.06 |"
