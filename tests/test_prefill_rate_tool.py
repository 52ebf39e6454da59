"""tools/step_model/prefill_rate.py: the marginal prefill rate and the closed loop's prompt intake by hand, and the
tables reading a validate JSON's rows (runs by their median, rows of other lengths or clients left out)."""

from __future__ import annotations

import json
import math

import pytest

from conftest import load_tool


@pytest.fixture(scope="module")
def pr():
    return load_tool("prefill_rate")


def test_marginal_rate_by_hand(pr):
    # 0.9 x (8192 - 1024) = 6451.2 more prompt tokens in 0.262 s more TTFT: 24,623 tokens/s
    assert pr.marginal_rate_tokens_per_s(0.460, 0.198, 8192, 1024) == pytest.approx(6451.2 / 0.262)
    assert math.isnan(pr.marginal_rate_tokens_per_s(0.321, 0.502, 8192, 1024))  # the longer prompt is faster


def test_intake_by_hand(pr):
    # 2,697 output tokens/s of 921.6-token outputs: 2.926 requests/s of 7,372.8-token prompts
    assert pr.intake_tokens_per_s(2697.0, 8192, 1024) == pytest.approx(2697.0 / 921.6 * 7372.8)


def _case(cid, measured, predicted):
    return {"case_id": cid, "status": "ok", "measured": measured, "predicted": predicted}


def test_tables_read_the_rows(pr, tmp_path):
    cfg = "imax-x-mi355x-sglang-fp8-tp8ep1"
    cases = [_case(f"{cfg}-1024-1024-c4-r1-ttft", 200.0, 500.0), _case(f"{cfg}-1024-1024-c4-r2-ttft", 220.0, 500.0),
             _case(f"{cfg}-1024-1024-c4-r3-ttft", 9000.0, 500.0),  # a stalled run: the median ignores it
             _case(f"{cfg}-8192-1024-c4-r1-ttft", 480.0, 600.0),
             _case(f"{cfg}-1024-1024-c64-r1-ttft", 300.0, 500.0),  # above --max-clients: no pair
             _case("imax-y-disagg-p8x8e8-d16x8e8-8192-1024-c128-r1-tput", 2697.0, 4000.0),
             _case("imax-y-disagg-p8x8e8-d16x8e8-8192-1024-c128-r1-ttft", 23000.0, 1900.0),
             _case("imax-y-disagg-p8x8e8-d16x8e8-8192-1024-c32-r1-tput", 1383.0, 1737.0)]  # below --min-clients
    path = tmp_path / "v.json"
    path.write_text(json.dumps({"cases": cases}))
    data = pr.rows(str(path), "")
    assert data[(cfg, 1024, 1024, 4)]["ttft"] == (220.0, 500.0)
    agg = pr.aggregated_table(data, 8)
    assert len(agg) == 3 and "| 4 |" in agg[2]
    assert f"{6451.2 / 0.26:,.0f} / {6451.2 / 0.1:,.0f}" in agg[2]  # 480 - 220 ms measured, 600 - 500 simulated
    dis = pr.disaggregated_table(data, 128)
    assert len(dis) == 3 and "23,000 / 1,900" in dis[2]
