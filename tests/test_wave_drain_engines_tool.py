"""tools/ttft/wave_drain_engines.py: every engine's first-wave drain per request and serving unit, by hand, and the
rows it reads from a validate JSON."""

from __future__ import annotations

import pytest
from tests.conftest import load_tool

wd = load_tool("wave_drain_engines")

_AGG = "imax-gptoss120b-b200-vllm-fp4-tp1ep1-1024-1024-c64-r1-ttft"
_DYN = "imax-gptoss120b-gb200-dynamo-trt-fp4-disagg-p2x1e1-d4x4e1-8192-1024-c128-r2-ttft"


def _case(cid: str, med_ms: float, p99_ms: float, notes: list[str], **kw) -> dict:
    return {"case_id": cid, "status": "ok", "signed_error_pct": -10.0, "notes": notes,
            "sim": {"ttft_median_ms": med_ms, "ttft_p99_ms": p99_ms, **kw.pop("sim", {})}, **kw}


def test_layout_of():
    assert wd.layout_of("vllm-fp4-tp4ep1", "vllm") == "tp4ep1"
    assert wd.layout_of("trt-trt-fp4-tp2ep2", "trtllm") == "tp2ep2"
    assert wd.layout_of("dynamo-trt-fp4-disagg-p1x1e1-d4x4e1", "dynamo") == "p1x1e1"
    assert wd.layout_of("dynamo-trt-fp4-mtp-disagg-p4x4e4dpa-d8x8e8dpa", "dynamo") == "mtp-p4x4e4dpa"


def test_aggregated_row_by_hand():
    # one replica, 64 clients: measured tail 600 - 100 = 500 ms over 64 prompts = 7.8125 ms a prompt; simulated
    # 420 - 100 = 320 ms -> 5 ms; excess 2.8125 ms over the mean 1k prompt of 0.9 x 1024 = 921.6 tokens
    case = _case(_AGG, 100.0, 420.0, [], replicas=1, num_accelerators=1, sim={"engine": "vllm"})
    (r,) = wd.wave_rows([case], {_AGG: (100.0, 600.0)})
    assert (r["engine"], r["worker"], r["chip"], r["model"], r["layout"], r["isl"], r["osl"], r["clients"],
            r["units"], r["unit_chips"], r["disagg"]) == ("vllm", "vllm", "b200", "gptoss120b", "tp1ep1", 1024, 1024,
                                                          64, 1, 1, False)
    assert r["meas_ms"] == pytest.approx(500.0 / 64)
    assert r["sim_ms"] == pytest.approx(5.0)
    assert r["ratio"] == pytest.approx(500.0 / 320.0)
    assert r["excess_ms"] == pytest.approx(2.8125)
    assert r["excess_us_per_token"] == pytest.approx(2812.5 / 921.6)


def test_disaggregated_row_uses_prefill_workers():
    # two one-GPU prefill workers share 128 clients: (9,000 - 1,000) x 2 / 128 = 125 ms a prompt and worker
    note = "disaggregated: 2 prefill worker(s) of 1 chips (picked round_robin), 1 decode worker(s) of 4"
    case = _case(_DYN, 1000.0, 7400.0, [note], replicas=1, num_accelerators=6,
                 sim={"engine": "dynamo", "worker_engine": "trtllm"})
    (r,) = wd.wave_rows([case], {_DYN: (1000.0, 9000.0)})
    assert (r["engine"], r["worker"], r["layout"], r["units"], r["unit_chips"], r["disagg"]) == (
        "dynamo", "trtllm", "p2x1e1", 2, 1, True)
    assert r["meas_ms"] == pytest.approx(125.0)
    assert r["sim_ms"] == pytest.approx(6400.0 * 2 / 128)


def test_rows_left_out_and_grouping():
    case = _case(_AGG, 100.0, 420.0, [], replicas=1, num_accelerators=1, sim={"engine": "vllm"})
    spread = {_AGG: (100.0, 600.0)}
    assert wd.wave_rows([case], {}) == []  # no stated spread
    assert wd.wave_rows([dict(case, status="failed")], spread) == []
    assert wd.wave_rows([dict(case, case_id="not-an-imax-row-ttft")], {"not-an-imax-row-ttft": (1.0, 2.0)}) == []
    rows = wd.wave_rows([case], spread)
    assert wd.group_rows(rows, 65) == {}  # 64 clients < 65
    groups = wd.group_rows(rows, 16)
    assert list(groups) == [("vllm", "vllm", "b200", "gptoss120b", "tp1ep1", 1024, 1024, 1, 1)]
    s = wd.summary(groups[next(iter(groups))])
    assert s["ratio"] == pytest.approx(1.5625) and s["signed"] == pytest.approx(-10.0)
    # a one-GPU gpt-oss group is paired; a two-GPU one is not
    assert len(wd.one_gpu_gptoss(groups)) == 1
    two = [dict(r, unit_chips=2) for r in rows]
    assert wd.one_gpu_gptoss(wd.group_rows(two, 16)) == []
