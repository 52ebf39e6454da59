"""tools/ttft/prefill_slope.py: the median TTFT slope per prompt token and the a + b / TP fit, by hand."""

from __future__ import annotations

import json

import pytest
from tests.conftest import load_tool

ps = load_tool("prefill_slope")


def test_slope_by_hand():
    # 0.9 x (8192 - 1024) = 6,451.2 extra tokens; 30 -> 100 ms is 70,000 us / 6,451.2 = 10.85 us per token
    assert ps.extra_tokens() == pytest.approx(6451.2)
    assert ps.slope_us(30.0, 100.0) == pytest.approx(70_000.0 / 6451.2)
    assert ps.slope_us(50.0, 50.0) == 0.0


def test_fit_tp_by_hand():
    # 10 at TP1, 6 at TP2: a + b = 10, a + b / 2 = 6 -> b = 8, a = 2; a third point on the line changes nothing
    a, b = ps.fit_tp([1, 2, 4], [10.0, 6.0, 4.0])
    assert (a, b) == (pytest.approx(2.0), pytest.approx(8.0))
    assert ps.fit_tp([2, 2], [5.0, 6.0]) is None  # one TP size: no fit


def test_slope_rows_from_json(tmp_path, monkeypatch):
    cid = "imax-gptoss120b-h200-vllm-fp4-tp2ep1-{}-1024-c4-r7-ttft"
    notes = {cid.format(1024): (50.0, 60.0), cid.format(8192): (250.0, 300.0)}
    cases = [{"case_id": cid.format(isl), "status": "ok", "accelerator": "nvidia-h200-sxm-141gb",
              "sim": {"kind": "closed_loop", "engine": "vllm", "ttft_median_ms": med}}
             for isl, med in ((1024, 55.0), (8192, 215.0))]
    # an 8-client row without its 1k partner and a disaggregated row are left out
    cases.append({**cases[1], "case_id": cid.format(8192).replace("-c4-", "-c8-")})
    p = tmp_path / "v.json"
    p.write_text(json.dumps({"cases": cases}))
    c8 = cid.format(8192).replace("-c4-", "-c8-")
    monkeypatch.setattr(ps, "notes_spread", lambda _csv: {**notes, c8: (1.0, 2.0)})
    rows = ps.slope_rows(ps.configurations(p, "unused.csv", "vllm", 8))
    assert len(rows) == 1
    r = rows[0]
    assert (r["chip"], r["tp"], r["clients"]) == ("h200", 2, 4)
    assert r["meas_us"] == pytest.approx(200_000.0 / 6451.2)
    assert r["sim_us"] == pytest.approx(160_000.0 / 6451.2)
    assert ps.slope_rows(ps.configurations(p, "unused.csv", "sglang", 8)) == []
