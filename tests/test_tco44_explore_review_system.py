"""``explore --silicon deployment`` sizes each chip's system by the review's rule (tco44, stop 44).

review44's deployment reading in explore priced each chip's board up to 8 chips (``chips_per_board``), while the
review judges a chip on its scale-up domain up to 72 (a GB200 NVL72 rack), the claimed chip on the claim file's
board, and sizes a layer-pipelined chip per case (``deploy42``: Groq to 96 chips for Llama-3.1-8B). Explore now
reads the system from the review's one function, ``review.deploy.sizing.review_system``; a chip the review sizes
per case with ``predict`` is read on its unit, and a note says so and why."""

from __future__ import annotations

import pytest

from inferchip.explore.beat import beat

L8 = "meta-llama/Llama-3.1-8B-Instruct"
AI5, GB200, GROQ = "tesla-ai5", "nvidia-gb200-186gb", "groq-lpu-v1"


def test_the_review_system_rule() -> None:
    from inferchip.review.deploy.sizing import review_system

    assert review_system(GB200, AI5).chips == 72  # an NVL72 rack (review.inputs.DOMAIN_CAP_CHIPS)
    assert review_system(AI5, AI5).chips == 8 and "claim file's board" in review_system(AI5, AI5).basis
    groq = review_system(GROQ, AI5)
    assert groq.sized_per_case and groq.chips == 8  # a GroqNode, the first whole unit the review's sizing tries


def test_explore_prices_a_gb200_rack_as_the_review_does() -> None:
    from inferchip.review.deploy.sizing import review_system

    r = beat(AI5, [GB200, GROQ], models=[L8], parts=["lowest_cost_silicon"], silicon="deployment")
    per_chip = r.baseline[GB200]["lowest_cost_silicon"]
    n = review_system(GB200, AI5).chips
    # the GB200 serves Llama-3.1-8B: its deployment is the 72-chip rack x its modelled cost (main: 8 x it)
    assert r.baseline[GB200]["lowest_cost_silicon_deployment_usd"] == pytest.approx(72 * per_chip)
    assert n == 72
    said = [x for x in r.notes if x.startswith(f"{GROQ}: sized per case by the review")]
    assert len(said) == 1 and "explore does not size it per case" in said[0] and "may differ" in said[0]
    head = [x for x in r.notes if x.startswith("lowest_cost_silicon is ranked on")]
    assert len(head) == 1 and f"{GB200} on 72 x $" in head[0]
