"""tools/ttft/dynamo_tail_configs.py: the configuration key, the mean prompt, the low-load excess and the high-load
Little's-law readings by hand, and the Dynamo TTFT runs read from a planted validate JSON and case file."""

from __future__ import annotations

import csv
import json

import pytest

from conftest import load_tool

dt = load_tool("dynamo_tail_configs")

CID = "imax-dsr1-0528-gb200-dynamo-trt-fp4-disagg-p4x4e4-d32x8e8-1024-1024-c64-r20321908209-ttft"


def test_configuration_clients_and_prompt_by_hand():
    assert dt.configuration(CID) == "imax-dsr1-0528-gb200-dynamo-trt-fp4-disagg-p4x4e4-d32x8e8-1024-1024"
    assert dt.clients(CID) == 64
    assert dt.mean_prompt_tokens(CID) == pytest.approx(921.6)  # 0.9 x 1,024
    with pytest.raises(ValueError, match="no '-c<clients>"):
        dt.clients("imax-no-tail")
    with pytest.raises(ValueError, match="lengths"):
        dt.mean_prompt_tokens("imax-x-c4-r1-ttft")


def test_low_load_excess_by_hand():
    # the TensorRT-LLM 1k run at 4 clients: median 117 ms measured against 84 simulated
    assert dt.low_load_excess_ms(117.0, 84.0) == pytest.approx(33.0)
    assert dt.low_load_excess_ms(180.0, 270.0) == pytest.approx(-90.0)  # over-priced


def test_high_load_readings_by_hand():
    # 512 clients of 8k prompts (mean 7,372.8), 230.7 s of a 256.4 s loop before the first token measured;
    # simulated 179.4 s of 211.9 s
    cid = "imax-dsr1-gb200-dynamo-sglang-fp8-disagg-p4x1e1dpa-d4x1e1dpa-8192-1024-c512-r1-ttft"
    h = dt.high_load(cid, 230_700.0, 256.4, 179_400.0, 211_900.0)
    assert h["clients"] == 512
    assert h["intake_meas"] == pytest.approx(512 * 7372.8 / 256.4)          # 14.72 k tokens/s
    assert h["intake_ratio"] == pytest.approx(256.4 / 211.9)                  # 1.21: the same C L over the E2Es
    assert h["n_meas"] == pytest.approx(512 * (1 - 230.7 / 256.4))            # 51.3 past their first token
    assert h["n_sim"] == pytest.approx(512 * (1 - 179.4 / 211.9))             # 78.5


def test_runs_read_from_a_planted_json(tmp_path):
    def case(cid, metric, measured, engine="dynamo", worker="trtllm", median=80.0, e2e=6000.0):
        return {"case_id": cid, "metric": metric, "measured": measured, "status": "ok",
                "sim": {"kind": "closed_loop", "engine": engine, "worker_engine": worker, "ttft_ms": 90.0,
                        "ttft_median_ms": median, "e2e_ms": e2e}}

    other = CID.replace("-c64-", "-c4-")
    cases = [case(CID, "ttft_ms", 342.0), case(other, "ttft_ms", 142.0),
             case(CID.replace("-ttft", "-tpot"), "tpot_ms", 10.0),                          # another metric
             case(CID.replace("dynamo-trt", "sglang").replace("-c64-", "-c8-"), "ttft_ms", 1.0, engine="sglang")]
    vj = tmp_path / "v.json"
    vj.write_text(json.dumps({"cases": cases}))
    cf = tmp_path / "cases.csv"
    with open(cf, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=["case_id", "notes"])
        w.writeheader()
        w.writerow({"case_id": CID, "notes": "mean E2E latency 9.6214 s; TTFT spread of the run: median 206.0 ms, "
                                             "p99 2279.0 ms (median_ttft, p99_ttft of the same record)"})
        w.writerow({"case_id": other, "notes": "nothing stated"})
    runs = dt.runs_by_configuration(str(vj), cf)
    assert list(runs) == [dt.configuration(CID)]                 # the SGLang-engine row and the TPOT row left out
    by_c = {r["clients"]: r for r in runs[dt.configuration(CID)]}
    assert by_c[64]["meas_median"] == 206.0 and by_c[64]["e2e_s"] == pytest.approx(9.6214)
    assert by_c[64]["worker"] == "trtllm" and by_c[64]["sim_median"] == 80.0
    assert by_c[4]["meas_median"] is None and by_c[4]["e2e_s"] is None
