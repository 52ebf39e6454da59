"""``explore --target --beat`` sizes the review's deployments (review.cases.review_deployments: a prediction per chip,
model and service level, most of a beat's time) only where the lowest_cost_silicon part is asked for or ranked on
the deployment reading (stop 45, branch product45); every other part's answer is the same, and ``--parts`` chooses
the parts from the command line."""

from __future__ import annotations

import pytest

import inferchip.explore.beat as beat_module
from cli_in_process import run_main
from inferchip.explore.beat import beat

L8 = "meta-llama/Llama-3.1-8B-Instruct"
AI5, H100 = "tesla-ai5", "nvidia-h100-sxm-80gb"


def _refuse(*_args, **_kwargs):
    raise AssertionError("the review's deployments were sized")


def test_no_sizing_without_the_silicon_part_and_the_same_answers(monkeypatch):
    full = beat(AI5, [H100], models=[L8], parts=["per_chip", "lowest_cost_silicon"], silicon="chip")
    monkeypatch.setattr(beat_module, "_review_deployments", _refuse)
    alone = beat(AI5, [H100], models=[L8], parts=["per_chip"], silicon="chip")
    assert [c for c in full.changes if c.objective == "per_chip"] == alone.changes
    for chip in (AI5, H100):
        assert alone.baseline[chip] == {"per_chip": full.baseline[chip]["per_chip"]}
    assert not any("deployment" in n for n in alone.notes)


@pytest.mark.parametrize("parts, silicon", [(["lowest_cost_silicon"], "chip"), (["per_chip"], "deployment")])
def test_the_silicon_part_or_the_deployment_reading_sizes_them(monkeypatch, parts, silicon):
    monkeypatch.setattr(beat_module, "_review_deployments", _refuse)
    with pytest.raises(AssertionError, match="sized"):
        beat(AI5, [H100], models=[L8], parts=parts, silicon=silicon)


def test_cli_parts_option():
    code, out = run_main(["explore", "--target", AI5, "--beat", H100, "--models", L8, "--parts", "per_chip"])
    assert code == 0, out
    assert "per_chip" in out and "lowest_cost_silicon" not in out
    code, out = run_main(["explore", "--target", AI5, "--beat", H100, "--models", L8, "--parts", "per_chips"])
    assert code == 2 and "--parts" in out and "per_chips" in out and "allowed" in out
