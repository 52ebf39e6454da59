"""tools/ttft/dynamo_wave_drain.py: the first wave's drain per request and prefill worker, by hand, and the rows it
reads from a validate JSON."""

from __future__ import annotations

import pytest
from tests.conftest import load_tool

wd = load_tool("dynamo_wave_drain")


def test_drain_by_hand():
    # 128 clients, one prefill worker: the wave's tail 9,278 - 530 = 8,748 ms over 128 prompts = 68.3 ms a prompt
    assert wd.drain_ms(530.0, 9278.0, 128, 1) == pytest.approx(8748.0 / 128)
    # three workers share the burst: each spends three times as long per prompt
    assert wd.drain_ms(1000.0, 2000.0, 100, 3) == pytest.approx(30.0)
    with pytest.raises(ValueError, match="clients and workers"):
        wd.drain_ms(1.0, 2.0, 0, 1)


def test_prefill_layout():
    assert wd.prefill_layout("fp4-disagg-p16x1e1dpa-d48x1e1dpa") == "p16x1e1dpa"
    assert wd.prefill_layout("fp4-mtp-disagg-p4x4e4-d32x8e8") == "mtp-p4x4e4"


def test_wave_rows_reads_a_row():
    cid = "imax-dsr1-gb200-dynamo-sglang-fp8-disagg-p4x1e1dpa-d16x1e1dpa-1024-1024-c128-r1-ttft"
    case = {"case_id": cid, "status": "ok", "signed_error_pct": -50.0,
            "notes": ["disaggregated: 1 prefill worker(s) of 4 chips (picked random), 4 decode worker(s) of 4"],
            "sim": {"ttft_median_ms": 515.0, "ttft_p99_ms": 2469.0}}
    rows = wd.wave_rows([case, dict(case, case_id="imax-other-row-ttft")], {cid: (530.0, 9278.0)})
    assert len(rows) == 1  # the id that is not a Dynamo GB200 row is skipped
    r = rows[0]
    assert (r["engine"], r["model"], r["isl"], r["clients"], r["workers"], r["chips"]) == ("sglang", "dsr1", 1024,
                                                                                         128, 1, 4)
    assert r["meas_ms"] == pytest.approx(8748.0 / 128)
    assert r["sim_ms"] == pytest.approx(1954.0 / 128)
    assert r["ratio"] == pytest.approx(8748.0 / 1954.0)
    # a row without a stated spread is left out
    assert wd.wave_rows([case], {}) == []
