"""``explore --silicon deployment`` reads each chip's deployment from the review's one rule (tco44, stop 44).

review44's deployment reading in explore priced each chip's board up to 8 chips (``chips_per_board``), while the
review judges a chip on its scale-up domain up to 72 (a GB200 NVL72 rack), the claimed chip on the claim file's
board, and sizes a layer-pipelined chip per case (``deploy42``: Groq to 96 chips for Llama-3.1-8B; 64 since groq51
widened its tp domain to the C2C network, tests/test_review_deployment.py's hand count). Both now read
``review.deploy.sizing.deployments`` (explore through ``review_deployments``): the same chips, and served where the
review's prediction serves the case."""

from __future__ import annotations

import pytest

from inferchip.explore.beat import beat

L8 = "meta-llama/Llama-3.1-8B-Instruct"
AI5, GB200, GROQ, H100 = "tesla-ai5", "nvidia-gb200-186gb", "groq-lpu-v1", "nvidia-h100-sxm-80gb"


def test_the_reviews_rule_as_explore_reads_it() -> None:
    from inferchip.review.cases import review_deployments

    gb200 = review_deployments(GB200, AI5, L8, ["interactive", "batch"])
    assert {d.chips for d in gb200.values()} == {72}  # an NVL72 rack (review.inputs.DOMAIN_CAP_CHIPS)
    ai5 = review_deployments(AI5, AI5, L8, ["batch"])["batch"]
    assert ai5.chips == 8 and "review/claim.yaml deployment" in ai5.basis  # the claim file's board
    groq = review_deployments(GROQ, AI5, L8, ["batch"])["batch"]
    assert groq.chips == 64 and groq.prediction is not None  # sized per case, as the review's results.csv has it


def test_explore_prices_each_deployment_as_the_review_does() -> None:
    r = beat(AI5, [GB200, GROQ, H100], models=[L8], parts=["lowest_cost_silicon"], silicon="deployment")
    per_chip = {c: r.baseline[c]["lowest_cost_silicon"] for c in (AI5, GB200, GROQ, H100)}
    dep = {c: r.baseline[c]["lowest_cost_silicon_deployment_usd"] for c in (AI5, GB200, GROQ, H100)}
    # main priced every board up to 8 chips, and Groq's 8 LPUs served nothing
    assert dep[GB200] == pytest.approx(72 * per_chip[GB200])
    assert dep[GROQ] == pytest.approx(64 * per_chip[GROQ])
    assert dep[H100] == pytest.approx(8 * per_chip[H100])
    assert dep[AI5] == pytest.approx(8 * per_chip[AI5])
    head = [x for x in r.notes if x.startswith("lowest_cost_silicon is ranked on")]
    assert len(head) == 1 and "review.cases.review_deployments" in head[0]
