"""Which rows a family's one-sided expert floor (``expert_a2a_decode_floor_us``) can reach, and why the Hopper
family carries none (docs/serving_journal.md, "Which Hopper rows run one-sided expert kernels", stop 33).

The model prices an expert dispatch / combine as an all-to-all only under attention data parallelism with
``ep == tp`` (``mapping/sharding.shard``); every other MoE layout ends the layer with an all-reduce (vLLM
FusedMoE runs all-to-all kernels only with data parallel > 1, ``use_all2all_kernels``; SGLang's default
``moe_a2a_backend`` is ``none``; TensorRT-LLM's default MoE mapping is ``moe_tp = tp``, ``moe_ep = 1``). A family
figure therefore reaches a row only through such a layout: in a closed-loop row when its worker is attention-DP
(``closed_loop.Worker.layout``); in an MLPerf-style row when the layout search offers attention DP, which it does
for MLA MoE models only (``mapping/layout.candidate_layouts``); never in an energy row (a fixed layout, attention
DP off, ``performance/setting.resolve_setting``). No Hopper row in the catalogues has such a layout, so a Hopper
figure would change no prediction; a Hopper row that does (SGLang ``--enable-dp-attention`` with DeepEP
low-latency, vLLM DP + EP with a DeepEP / pplx backend) fails these tests and asks for the figure and for the
row's backend (a family figure would also reach attention-DP rows whose engine gathers instead)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from inferchip.catalog.chips import load_chip
from inferchip.catalog.models import load_model
from inferchip.mapping.layout import Layout, candidate_layouts
from inferchip.validation.cases import read_cases
from inferchip.validation.closed_loop import row_facts

CATALOG = Path(__file__).resolve().parents[1] / "src" / "inferchip" / "catalog"


def _one_sided(lay: Layout) -> bool:
    """The layout whose MoE layers the model prices as an expert dispatch and combine (``shard``)."""
    return lay.attn_dp and lay.ep == lay.tp > 1


def _family(chip_id: str) -> str:
    return load_chip(chip_id).family


def test_the_one_sided_layout_is_the_attention_dp_expert_parallel_one():
    assert _one_sided(Layout(tp=8, ep=8, attn_dp=True))
    assert not _one_sided(Layout(tp=8, ep=8))  # expert parallel under TP attention: one all-reduce
    assert not _one_sided(Layout(tp=8, ep=2, attn_dp=True))  # EP below the group: gather + reduce-scatter
    assert not _one_sided(Layout(tp=1, ep=1, attn_dp=True))
    # the layout search offers it for an MLA MoE model (DeepSeek-R1 on 8 chips), not for a GQA MoE model
    assert any(_one_sided(lay) for lay in candidate_layouts(load_model("deepseek-ai/DeepSeek-R1-0528"), 8, 8))
    assert not any(_one_sided(lay) for lay in candidate_layouts(load_model("mistralai/Mixtral-8x7B-v0.1"), 8, 8))


def test_no_hopper_closed_loop_worker_runs_a_one_sided_expert_dispatch():
    cases = [c for c in read_cases(CATALOG / "inferencemax_cases.csv") if _family(c.accelerator) == "nvidia-hopper"]
    assert len(cases) >= 1000  # H100 / H200 vLLM gpt-oss and H200 SGLang DeepSeek-R1 rows
    for c in cases:
        facts = row_facts(c)
        for worker in (facts.decode, facts.prefill):
            if worker is not None:
                assert not _one_sided(worker.layout()[0]), c.case_id
    # the same reading finds the Blackwell rows that do (the Dynamo and TensorRT-LLM attention-DP workers)
    blackwell = [c for c in read_cases(CATALOG / "inferencemax_cases.csv")
                 if _family(c.accelerator) == "nvidia-blackwell"]
    assert any(_one_sided(row_facts(c).decode.layout()[0]) for c in blackwell)


@pytest.mark.parametrize("name", ["validation_cases.csv", "energy_cases.csv", "mlenergy_cases.csv"])
def test_no_hopper_measurement_row_can_take_an_attention_dp_layout(name):
    with (CATALOG / name).open(encoding="utf-8-sig", newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if _family(r["accelerator"]) == "nvidia-hopper"]
    assert rows
    for r in rows:
        ms = load_model(r["model"])
        count = int(r["num_accelerators"])
        offered = [lay for lay in candidate_layouts(ms, count, 8) if _one_sided(lay)]
        assert not offered, r["case_id"]
