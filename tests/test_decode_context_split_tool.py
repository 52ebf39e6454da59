"""tools/closed_loop_runs/decode_context_split.py: the mean context by hand, the three-term least squares by hand,
its refusals, and a planted validate JSON of two prompt lengths whose per-request and per-KV-token costs are
recovered."""

from __future__ import annotations

import pytest

from conftest import load_tool


@pytest.fixture(scope="module")
def dcs():
    return load_tool("decode_context_split")


def test_mean_context_by_hand(dcs):
    # 0.9 x 1024 + 0.45 x 1024 = 921.6 + 460.8; 0.9 x 8192 + 460.8 = 7372.8 + 460.8
    assert dcs.mean_context_tokens("dsr1-gb200-x-1024-1024") == pytest.approx(1382.4)
    assert dcs.mean_context_tokens("dsr1-gb200-x-8192-1024") == pytest.approx(7833.6)
    with pytest.raises(ValueError, match="does not end in -ISL-OSL"):
        dcs.mean_context_tokens("no-lengths")


def test_fit_split_by_hand(dcs):
    # TPOT = 10 ms + n (0.05 ms + 1e-6 ms x context x 2 layers): 50 us a request, 1 ns a KV token and layer
    pts = [(n, x, 10.0 + n * (0.05 + 1e-6 * x * 2)) for n, x in ((10, 1000), (100, 1000), (20, 8000), (50, 8000))]
    f = dcs.fit_split(pts, layers=2)
    assert f["a_ms"] == pytest.approx(10.0)
    assert f["per_request_us"] == pytest.approx(50.0)
    assert f["per_kv_token_layer_ns"] == pytest.approx(1.0)
    assert f["rms_ms"] == pytest.approx(0.0, abs=1e-9)
    with pytest.raises(ValueError, match="two or more contexts"):
        dcs.fit_split([(10, 1000, 11.0), (20, 1000, 12.0), (30, 1000, 13.0)], layers=2)
    with pytest.raises(ValueError, match="at least three points"):
        dcs.fit_split([(10, 1000, 11.0), (20, 8000, 12.0)], layers=2)


def _case(isl: int, conc: int, metric: str, measured: float, predicted: float) -> dict:
    return {"case_id": f"imax-m-gb200-dynamo-sglang-fp4-disagg-p2-d32-{isl}-1024-c{conc}-r1-{metric}",
            "measured": measured, "predicted": predicted}


def test_planted_runs_recovered(dcs):
    # measured: 12 ms + n (100 us + 0.25 ns x context x 61); simulated: 12 ms + n (60 us + 0.5 ns x context x 61)
    cases, notes = [], {}
    for isl, conc, per_rank in ((1024, 100, 40.0), (1024, 200, 200.0), (8192, 100, 20.0), (8192, 200, 35.0)):
        x = 0.9 * isl + 0.45 * 1024
        meas = 12.0 + per_rank * (0.1 + 0.25e-6 * x * 61)
        sim = 12.0 + per_rank * (0.06 + 0.5e-6 * x * 61)
        cases += [_case(isl, conc, "tput", per_rank * 32e3 / meas, per_rank * 32e3 / sim),
                  _case(isl, conc, "tpot", meas, sim)]
        notes[cases[-2]["case_id"]] = "4 prefill GPUs (1 worker(s)) + 32 decode GPUs (1 worker(s), TP1/EP1, " \
                                      "DP-attention true); more"
    recs = dcs.runs(cases, "dynamo-sglang", notes)
    assert len(recs) == 4
    out = "\n".join(dcs.report(recs, 10.0, 61))
    assert "| measured | 4 | 12.00 | 100.0 | 0.250 | 0.00 |" in out
    assert "| simulated | 4 | 12.00 | 60.0 | 0.500 | 0.00 |" in out
    # one more request at 1,382.4 tokens: 100 + 0.25 x 1382.4 x 61 / 1e3 = 121.1 us; simulated 60 + 42.2 = 102.2 us
    assert "at a 1,382-token context: measured 121.1 us, simulated 102.2 us" in out
