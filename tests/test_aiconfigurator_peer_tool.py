"""tools/peer/aiconfigurator_peer.py (the parts that run without AIConfigurator installed): the stratified
sample of benchmark runs and the reading of a case row into an InferenceX record."""

from __future__ import annotations

import pandas as pd
import pytest

from conftest import load_tool


@pytest.fixture(scope="module")
def peer():
    return load_tool("aiconfigurator_peer")


SINGLE = ("single node, one server instance on 8 GPUs: TP8, EP8, DP-attention true; speculative decoding: none; "
          "closed loop")
DISAGG = ("MULTINODE PREFILL/DECODE-DISAGGREGATED: 4 prefill GPUs (1 worker(s), TP4/EP4, DP-attention false) + "
          "32 decode GPUs (4 worker(s), TP8/EP8, DP-attention false); speculative decoding: mtp (MTP draft tokens)")


def case(run: str, chip: str = "nvidia-b200-180gb", software: str = "SGLang; img", isl: int = 1024,
         notes: str = SINGLE, conc: int = 16) -> list[dict]:
    return [{"case_id": f"{run}-{m}", "accelerator": chip, "software": software, "model": "deepseek-ai/DeepSeek-R1",
             "input_tokens": isl, "output_tokens": 1024, "concurrency": conc, "metric": metric, "value": 1.0,
             "notes": notes} for m, metric in (("tput", "output_tokens_per_s_total"), ("ttft", "ttft_ms"),
                                               ("tpot", "tpot_ms"))]


def frame(sizes: dict[tuple[str, int], int]) -> pd.DataFrame:
    rows = []
    for (chip, isl), n in sizes.items():
        for i in range(n):
            rows += case(f"imax-dsr1-{chip}-fp8-{isl}-1024-c16-r{i}", chip=chip, isl=isl)
    return pd.DataFrame(rows)


def test_sample_is_stratified_and_reproducible(peer):
    sizes = {("nvidia-b200-180gb", 1024): 40, ("nvidia-b200-180gb", 8192): 10, ("amd-mi355x", 1024): 2,
             ("nvidia-h100-sxm-80gb", 1024): 8}
    d = frame(sizes)
    s = peer.sample_runs(d, runs=12, seed=7)
    per_run = s.groupby("run").size()
    assert per_run.nunique() == 1 and per_run.iloc[0] == 3  # every metric row of a drawn run is kept
    assert s["run"].nunique() == 12
    drawn = s.drop_duplicates("run").groupby("stratum").size()
    assert len(drawn) == len(sizes)  # every stratum has at least one run
    assert drawn.max() == drawn[drawn.index.str.contains("b200.*1024/1024")].iloc[0]  # the largest gets most
    assert s.equals(peer.sample_runs(d, runs=12, seed=7))
    assert not set(s["run"]) == set(peer.sample_runs(d, runs=12, seed=8)["run"])
    with pytest.raises(SystemExit):
        peer.sample_runs(d, runs=3)  # fewer runs than strata


def test_single_node_record(peer):
    row = pd.Series(case("imax-dsr1-b200-sglang-fp8-tp8ep8-dpa-1024-1024-c16-r1")[0] | {"run": "r"})
    config, bench, notes = peer.inferencex_record(row)
    assert config["framework"] == "sglang" and config["hardware"] == "b200" and config["precision"] == "fp8"
    assert config["disagg"] is False and config["decode_dp_attention"] is True
    assert (config["num_decode_gpu"], config["decode_tp"], config["decode_ep"]) == (8, 8, 8)
    assert bench == {"isl": round(0.9 * 1024), "osl": round(0.9 * 1024), "conc": 16}
    assert config["spec_method"] == "none"


def test_disagg_record(peer):
    row = pd.Series(case("imax-dsr1-gb200-dynamo-trt-fp4-mtp-disagg-p4x4e4-d32x8e8-1024-1024-c32-r1",
                         chip="nvidia-gb200-186gb", software="NVIDIA Dynamo + TensorRT-LLM, PD-disaggregated; x",
                         notes=DISAGG)[0])
    config, _, notes = peer.inferencex_record(row)
    assert config["framework"] == "dynamo-trt" and config["disagg"] is True and config["spec_method"] == "mtp"
    assert (config["num_prefill_gpu"], config["prefill_num_workers"], config["prefill_tp"]) == (4, 1, 4)
    assert (config["num_decode_gpu"], config["decode_num_workers"], config["decode_ep"]) == (32, 4, 8)
    assert any("MTP" in n for n in notes)


@pytest.mark.parametrize("chip,software", [("amd-mi355x", "SGLang; x"), ("nvidia-b200-180gb", "AMD ATOM; x")])
def test_unexpressible_rows_say_why(peer, chip, software):
    row = pd.Series(case("imax-dsr1-x-fp8-1024-1024-c4-r1", chip=chip, software=software)[0])
    with pytest.raises(ValueError, match="AIConfigurator|backend"):
        peer.inferencex_record(row)
