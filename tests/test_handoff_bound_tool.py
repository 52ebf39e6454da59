"""tools/ttft/handoff_bound.py: the image of a row's software, the lightest load and its excess, the bound per path
and the MTP pairs by hand, on a planted validate JSON and case file."""

from __future__ import annotations

import csv
import json

import pytest

from conftest import load_tool

hb = load_tool("handoff_bound")

TRT = "NVIDIA Dynamo + TensorRT-LLM, PD-disaggregated; nvcr.io#nvidia/ai-dynamo/tensorrtllm-runtime:0.5.1-rc0.pre3"
K1 = "imax-dsr1-0528-gb200-dynamo-trt-fp4-disagg-p4x4e4-d32x8e8-1024-1024"
K8 = "imax-dsr1-0528-gb200-dynamo-trt-fp4-disagg-p4x4e4-d24x8e8-8192-1024"
M1 = "imax-dsr1-0528-gb200-dynamo-trt-fp4-mtp-disagg-p4x4e4-d32x8e8-1024-1024"
AGG = "imax-dsr1-0528-gb200-dynamo-trt-fp4-agg-tp8-1024-1024"


def test_image_of_by_hand():
    assert hb.image_of(TRT) == "nvcr.io#nvidia/ai-dynamo/tensorrtllm-runtime:0.5.1-rc0.pre3"
    assert hb.image_of("  vLLM 0.11 ") == "vLLM 0.11"   # no ';': the whole text


def _run(clients, meas_median, sim_median, worker="trtllm"):
    return {"clients": clients, "meas_median": meas_median, "sim_median": sim_median, "worker": worker}


def test_lightest_takes_the_fewest_clients_and_the_median_of_their_runs():
    runs = [_run(8, 125.0, 88.0), _run(4, 116.1, 83.6), _run(4, 116.8, 83.6), _run(2, None, 80.0)]
    c, meas, sim, excess = hb.lightest(runs, 16)
    assert c == 4                                     # the 2-client run states no median
    assert meas == pytest.approx((116.1 + 116.8) / 2)  # median of two
    assert sim == pytest.approx(83.6)
    assert excess == pytest.approx(116.45 - 83.6)     # 32.85 ms a lone request pays beyond the simulation
    assert hb.lightest(runs, 3) is None               # the lightest readable load is above the cap
    assert hb.lightest([_run(4, None, None)], 16) is None


def test_bound_is_the_smallest_excess_of_a_path():
    rows = [dict(worker="trtllm", image="a", mtp=False, excess=32.9), dict(worker="trtllm", image="a", mtp=False,
                                                                         excess=2.0),
            dict(worker="trtllm", image="a", mtp=True, excess=48.9), dict(worker="sglang", image="b", mtp=False,
                                                                        excess=-63.7)]
    b = hb.bounds(rows)
    assert b == {("trtllm", "a", False): 2.0, ("trtllm", "a", True): 48.9, ("sglang", "b", False): -63.7}


def _case(cid, measured, sim_median, engine="dynamo"):
    return {"case_id": cid, "metric": "ttft_ms", "measured": measured, "status": "ok",
            "sim": {"kind": "closed_loop", "engine": engine, "worker_engine": "trtllm", "ttft_ms": sim_median + 5,
                    "ttft_median_ms": sim_median, "e2e_ms": 6000.0}}


def test_report_on_a_planted_json(tmp_path):
    medians = {f"{K1}-c4-r1-ttft": (142.0, 116.0, 83.6), f"{K1}-c8-r1-ttft": (148.0, 125.6, 88.1),
               f"{K8}-c3-r1-ttft": (234.4, 206.4, 205.1), f"{M1}-c4-r1-ttft": (637.5, 134.1, 84.0),
               f"{M1}-c8-r1-ttft": (182.9, 146.5, 88.7), f"{AGG}-c4-r1-ttft": (100.0, 90.0, 10.0)}
    vj = tmp_path / "v.json"
    vj.write_text(json.dumps({"cases": [_case(cid, m, s) for cid, (m, _, s) in medians.items()]}))
    cf = tmp_path / "cases.csv"
    with open(cf, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=["case_id", "software", "notes"])
        w.writeheader()
        for cid, (_, med, _) in medians.items():
            w.writerow({"case_id": cid, "software": TRT,
                        "notes": f"TTFT spread of the run: median {med} ms, p99 900.0 ms (median_ttft, p99_ttft)"})
    rows = {r["cfg"]: r for r in hb.light_rows(str(vj), cf, 16)}
    assert set(rows) == {K1, K8, M1}                  # the aggregated configuration is not a hand-off
    assert rows[K1]["clients"] == 4 and rows[K1]["excess"] == pytest.approx(116.0 - 83.6)
    assert rows[K8]["excess"] == pytest.approx(206.4 - 205.1)
    assert rows[M1]["mtp"] and rows[M1]["excess"] == pytest.approx(134.1 - 84.0)   # the median, not the stalled mean
    b = hb.bounds(list(rows.values()))
    img = hb.image_of(TRT)
    assert b[("trtllm", img, False)] == pytest.approx(1.3)   # the 8k run bounds a cost the 1k run would share
    pairs = hb.mtp_pairs(str(vj), cf)
    assert [(c, round(dm, 1), round(ds, 1)) for _, c, dm, ds in pairs] == [(4, 18.1, 0.4), (8, 20.9, 0.6)]
    text = "\n".join(hb.report(str(vj), cf, 16, True))
    assert "+1.3" in text and "MTP - plain" in text
