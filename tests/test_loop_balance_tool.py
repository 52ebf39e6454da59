"""tools/step_model/loop_balance.py: Little's law per closed-loop row by hand, the verdict's four cases, bad input
refused, and the table reading a validate JSON's rows."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import load_tool


@pytest.fixture(scope="module")
def lb():
    return load_tool("loop_balance")


def test_littles_law_by_hand(lb):
    # MI355X DEP8 8k/1k c2048: 4,325.4 output tokens/s of 921.6-token outputs = 4.6934 requests/s; 2,048 clients
    # wait 2048 / 4.6934 = 436.4 s a loop
    x = lb.requests_per_s(4325.4, 1024)
    assert x == pytest.approx(4325.4 / 921.6)
    assert lb.loop_s(2048, x) == pytest.approx(436.36, abs=0.01)
    # 348.56 s TTFT + 920.6 tokens x 69.3 ms = 412.36 s of work
    assert lb.work_s(348.56, 0.0693, 1024) == pytest.approx(348.56 + 920.6 * 0.0693)


def test_verdicts(lb):
    assert lb.verdict(100.0, 110.0, 1.0, 1.1, 0.25) == "ok"
    assert lb.verdict(100.0, 110.0, 3.0, 1.0, 0.25) == "misplaced"  # loop right, TTFT 3x
    assert lb.verdict(436.4, 152.0, 348.6, 118.0, 0.25) == "capacity"  # TTFT 80 % of the measured loop
    assert lb.verdict(108.9, 45.7, 7.6, 4.7, 0.25) == "decode"  # loop off, TTFT 7 % of it


@pytest.mark.parametrize(("fn", "args"), [("requests_per_s", (0.0, 1024)), ("requests_per_s", (10.0, 0)),
                                          ("loop_s", (0, 1.0)), ("loop_s", (8, -1.0))])
def test_bad_input_refused(lb, fn, args):
    with pytest.raises(ValueError, match="must be > 0"):
        getattr(lb, fn)(*args)


@given(clients=st.integers(1, 10_000), rate=st.floats(1.0, 1e6), k=st.floats(1.01, 10.0))
def test_a_k_times_slower_loop_is_k_times_longer(lb, clients, rate, k):
    base = lb.loop_s(clients, lb.requests_per_s(rate, 1024))
    assert lb.loop_s(clients, lb.requests_per_s(rate / k, 1024)) == pytest.approx(k * base)


def _case(cid, measured, predicted):
    return {"case_id": cid, "status": "ok", "measured": measured, "predicted": predicted}


def test_table_reads_the_rows(lb, tmp_path):
    cfg = "imax-y-disagg-p8x1e8dpa-d16x1e8dpa"
    cases = [_case(f"{cfg}-8192-1024-c1024-r1-tput", 4539.7, 11905.2),
             _case(f"{cfg}-8192-1024-c1024-r1-ttft", 147655.8, 45347.7),
             _case(f"{cfg}-8192-1024-c1024-r1-tpot", 52.6, 32.9),
             _case(f"{cfg}-1024-1024-c1024-r1-tput", 16647.0, 26425.0),
             _case(f"{cfg}-1024-1024-c1024-r1-ttft", 1950.0, 1680.0),
             _case(f"{cfg}-1024-1024-c1024-r1-tpot", 60.0, 36.0),
             _case(f"{cfg}-1024-1024-c4-r1-tput", 100.0, 100.0)]  # no TTFT / TPOT: left out
    path = tmp_path / "v.json"
    path.write_text(json.dumps({"cases": cases}))
    out = lb.table(lb.rows(str(path), ""), 1, 0.25)
    assert len(out) == 4
    row_1k, row_8k = out[2], out[3]
    assert "| 1024/1024 | 1024 |" in row_1k and row_1k.endswith("| decode |")
    # the 1k row's measured intake, 16,647 x 921.6 / 921.6 tokens/s, against the 8k row's 4,539.7 x 8 = 36,318
    assert f"| {16647 / (4539.7 / 921.6 * 7372.8):.2f} |" in row_1k
    assert row_8k.endswith("| capacity |") and "| 1.00 |" in row_8k
