"""Lowest-cost silicon read as the silicon of the deployment that serves each case (review.deploy.silicon), by hand.

The claim's part is judged on one chip's modelled manufacturing cost; the ledger's "silicon basis" judges it on
chips in the serving deployment x modelled cost per chip, case by case, with the same "by far" margin (2x).

The small review below (claimed AI5 on its board of 8, an H100 on its 8-GPU node, a Groq LPU sized per case; one
model, Llama-3.1-8B, both service levels) is the brief's example: Groq's LPU is the cheapest chip, so the per-chip
reading does not hold, but it serves Llama-3.1-8B only on 96 LPUs (pp 12 x tp 8), 96 x its cost a chip, against the
AI5's 8 x its cost. Since groq51 the catalogue's GroqChip spans its C2C network (tp up to 10,440 chips) and serves
the model on 64 LPUs, whose 64 x $126 is far below 2 x the AI5's board in every sample: both readings agree and the
test could no longer tell them apart. So the review here runs a copy of the GroqChip whose tp domain is one GroqNode
of 8 (the catalogue's until groq51), sized in whole domains of 8: the 96 LPUs of the hand count.
"""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from inferchip.interfaces.cli import main
from inferchip.review.claim_file import PARTS, pct, verdict
from inferchip.review.deploy.silicon import CHOICE, central_reading, reading_text
from inferchip.review.judge import Figures, deployment_silicon_usd, judge_part

L8 = "meta-llama/Llama-3.1-8B-Instruct"
COST = PARTS["lowest_cost_silicon"]
NAN = np.nan


def _figs(tput: list[list[float]], chips: list[list[float]], cost: list[float]) -> Figures:
    """Chips c0 (claimed), c1, c2 on len(tput[0]) cases, one sample."""
    t = np.array(tput, float)[:, :, None]
    n_c, n_k = t.shape[:2]
    return Figures([f"c{i}" for i in range(n_c)], 0, [(f"m{k}", "batch") for k in range(n_k)], t,
                   np.full_like(t, 100.0), np.array(chips, float), np.full((n_c, n_k), 8.0), np.zeros(n_c),
                   np.zeros(n_c), cost_usd=np.array(cost, float)[:, None])


def test_deployment_silicon_is_chips_times_cost_where_served():
    f = _figs([[1, 1], [1, NAN], [1, 1]], [[8, 8], [96, 1024], [1, 2]], [688.0, 126.0, 520.0])
    dep = deployment_silicon_usd(f)[:, :, 0]
    assert dep[0].tolist() == [8 * 688.0, 8 * 688.0]
    assert dep[1, 0] == 96 * 126.0 == 12_096.0 and np.isnan(dep[1, 1])  # not served: no deployment to price
    assert dep[2].tolist() == [520.0, 1040.0]


def test_the_two_readings_judged_by_hand():
    """c1 is 126 a chip against the claim's 688 (per chip: 0.18x, it does not hold); its deployment, 96 x 126 =
    12,096, is 2.2x the claim's 8 x 688 = 5,504, and c2's 8 x 3,620 = 28,960 is 5.3x: it holds per deployment."""
    f = _figs([[1, 1], [1, 1], [1, 1]], [[8, 8], [96, 96], [8, 8]], [688.0, 126.0, 3620.0])
    chip = judge_part(f, COST)
    assert not chip.holds[0] and chip.leader[0] == 1
    f.silicon_basis = "deployment"
    dep = judge_part(f, COST)
    assert dep.holds[0] and dep.leader[0] == 1  # c1 is the closest: 12,096 / 5,504 = 2.20 >= 2
    f.system_chips = np.array([[8, 8], [96, 80], [8, 8]], float)  # c1 on 80 in case 2: 10,080 / 5,504 = 1.83 < 2
    assert not judge_part(f, COST).holds[0]
    f.by_far = 1.0  # merely the lowest
    assert judge_part(f, COST).holds[0]


def test_a_rival_serving_a_case_the_claim_does_not_defeats_it_and_an_unserved_case_is_no_comparison():
    """Over the cases each rival serves: c1 serves case 1 where the claimed chip serves nothing, so the claimed
    chip is not the lowest there; a case no rival serves counts for the claim (nothing to compare)."""
    f = _figs([[1, NAN], [1, 1], [NAN, NAN]], [[1, 1], [96, 96], [8, 8]], [688.0, 126.0, 3620.0])
    f.silicon_basis = "deployment"
    o = judge_part(f, COST)
    assert not o.holds[0] and o.leader[0] == 1 and o.ranked.tolist() == [True, True, False]
    r = central_reading(f)  # the closest rival on the case the claimed chip serves; the case it does not, counted
    assert r is not None and (r.wins, r.cases, r.not_served) == (1, 2, 1) and r.rival.case == ("m0", "batch")
    assert "in 1 of the 2 cases some chip serves (1 of them served by a rival and not by c0)" in reading_text(r, "c0")
    f.tput[1, 1, 0] = NAN  # c1 no longer serves case 1: 96 x 126 = 12,096 >= 2 x 688 in case 0
    assert judge_part(f, COST).holds[0]
    r = central_reading(f)
    assert r is not None and (r.wins, r.cases, r.not_served) == (1, 1, 0)
    assert "c0: 1 x $688 = $688 in each of the 1 cases it serves" in reading_text(r, "c0")
    assert "closest rival c1: m0 (batch) on 96 x $126 = $12,096 (18x c0's 1 x $688 = $688)" in reading_text(r, "c0")
    named = reading_text(r, "c0", {"c0": "Chip Zero (a detail)", "c1": "Chip One"})  # names, detail dropped
    assert "Chip Zero: 1 x $688 = $688" in named and "closest rival Chip One: m0 (batch)" in named
    assert "c0" not in named.replace("Chip", "") and "(a detail)" not in named


def test_a_basis_that_is_neither_is_an_internal_error():
    f = _figs([[1], [1], [1]], [[8], [8], [8]], [1.0, 2.0, 3.0])
    f.silicon_basis = "wafer"
    with pytest.raises(Exception, match="'chip' or 'deployment', got 'wafer'"):
        judge_part(f, COST)


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """`review --chips nvidia-h100-sxm-80gb,GROQNODE.yaml --models Llama-3.1-8B` (claimed: the AI5 estimate), the
    chip file the catalogue's GroqChip with ``max_scaleup_domain: 8``."""
    from inferchip.catalog.chips import _CHIPS_DIR

    base = tmp_path_factory.mktemp("silicon")
    node = base / "groq-lpu-v1.yaml"
    text = (_CHIPS_DIR / "groq-lpu-v1.yaml").read_text(encoding="utf-8")
    node.write_text(text.replace("max_scaleup_domain: 10440", "max_scaleup_domain: 8"), encoding="utf-8")
    out = base / "rv"
    assert main(["review", "--chips", f"nvidia-h100-sxm-80gb,{node}", "--models", L8, "--no-sensitivity",
                 "--samples", "1000", "--out", str(out)]) == 0
    with (out / "results.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    return rows, json.loads((out / "results.json").read_text()), (out / "report.html").read_text()


def _domain(rows: list[dict[str, str]], chip: str) -> list[dict[str, str]]:
    return [r for r in rows if r["chip_id"] == chip and r["setting"] == "domain"]


def test_results_csv_prices_each_serving_deployment(small):
    rows, _, _ = small
    groq = _domain(rows, "groq-lpu-v1")
    assert len(groq) == 2
    for r in groq:  # 96 LPUs (hand count above) x the modelled cost of one
        assert int(r["deployment_chips"]) == 96
        usd = float(r["manufacturing_cost_usd"])
        assert float(r["deployment_silicon_cost_usd"]) == pytest.approx(96 * usd, rel=1e-12)
        assert float(r["deployment_silicon_cost_low_usd"]) <= 96 * usd <= float(r["deployment_silicon_cost_high_usd"])
    for r in _domain(rows, "tesla-ai5"):  # its board of 8
        assert float(r["deployment_silicon_cost_usd"]) == pytest.approx(8 * float(r["manufacturing_cost_usd"]))
    up = [r for r in rows if r["chip_id"] == "groq-lpu-v1" and r["setting"] == "scaleup"]
    assert up and all(r["status"] == "does not fit" and r["deployment_silicon_cost_usd"] == "" for r in up)


def _tri_cdf(x: float, lo: float, mid: float, hi: float) -> float:
    if x <= lo:
        return 0.0
    if x >= hi:
        return 1.0
    return (x - lo) ** 2 / ((hi - lo) * (mid - lo)) if x <= mid else 1 - (hi - x) ** 2 / ((hi - lo) * (hi - mid))


def test_the_flip_is_the_verdict_of_the_two_readings(small):
    """Per chip the LPU is cheaper than the AI5 in every sample (P = 0). Per deployment the AI5 holds in a sample
    when 2 x 8 x its cost <= 96 x the LPU's (the H100 node, 8 x about $3,600, is far above): its cost is drawn
    triangular on its silicon-model range, the LPU's has no range, so P = CDF(96 x LPU / 16) of that triangle."""
    rows, data, html = small
    part = next(p for p in data["claim_parts"] if p["part"] == "lowest_cost_silicon")
    assert part["verdict"] == "does not hold" and part["probability"] == 0.0
    ai5, groq = _domain(rows, "tesla-ai5")[0], _domain(rows, "groq-lpu-v1")[0]
    lo, mid, hi = (float(ai5[f"deployment_silicon_cost{k}_usd"]) / 8 for k in ("_low", "", "_high"))
    groq_dep = float(groq["deployment_silicon_cost_usd"])
    assert float(groq["deployment_silicon_cost_low_usd"]) == groq_dep == float(groq["deployment_silicon_cost_high_usd"])
    p = _tri_cdf(groq_dep / 16, lo, mid, hi)
    assert 0.3 < p < 0.9  # the hand figure is inside the undecided band here: the test can tell the readings apart
    entry = next(e for e in data["ledger"] if e["choice"] == CHOICE)
    alt = entry["verdicts_if_flipped"]["lowest_cost_silicon"]
    assert alt["probability"] == pytest.approx(p, abs=0.04)  # 1,000 samples
    assert alt["verdict"] == verdict(alt["probability"]) == "undecided"
    assert entry["flips"] == ["lowest_cost_silicon"]
    d = part["deployment"]
    assert (d["verdict"], d["probability"], d["moves"]) == (alt["verdict"], alt["probability"], True)


def test_the_report_names_both_readings_and_their_figures(small):
    rows, data, html = small
    ai5, groq = _domain(rows, "tesla-ai5")[0], _domain(rows, "groq-lpu-v1")[0]
    ai5_text = f"8 x ${float(ai5['manufacturing_cost_usd']):,.0f} = ${float(ai5['deployment_silicon_cost_usd']):,.0f}"
    groq_text = (f"96 x ${float(groq['manufacturing_cost_usd']):,.0f} = "
                 f"${float(groq['deployment_silicon_cost_usd']):,.0f}")
    part = next(p for p in data["claim_parts"] if p["part"] == "lowest_cost_silicon")
    entry = next(e for e in data["ledger"] if e["choice"] == CHOICE)
    from inferchip.catalog.chips import load_chip

    ai5_name, groq_name = (load_chip(c).name.split(" (", 1)[0] for c in ("tesla-ai5", "groq-lpu-v1"))
    for text in (part["deployment"]["figures"], entry["note"]):  # chips by their names, as the report's other views
        assert f"{ai5_name}: {ai5_text}" in text
        assert f"closest rival {groq_name}: {L8} (interactive) on {groq_text}" in text
        assert "tesla-ai5" not in text and "groq-lpu-v1" not in text
    p = entry["verdicts_if_flipped"]["lowest_cost_silicon"]["probability"]
    assert entry["note"].startswith(f"on this reading: undecided (P = {pct(p)})")
    first = html[html.index('id="claim"'):html.index('id="silicon-deployment"') + 2000]
    assert "modelled manufacturing cost per chip" in first  # the claim's reading, the part's figure
    assert 'id="silicon-deployment-verdict"' in first and "serving deployment:" in first
    assert "read as the silicon of the deployment" in first and groq_text in first and ai5_text in first
    assert "the verdict moves" in first
    ledger = html[html.index('id="ledger"'):]
    assert CHOICE in ledger and groq_text in ledger


def test_the_default_claim_file_keeps_the_chip_reading(small):
    """The part's own verdict is on one chip's cost: its rival is the cheapest chip a chip, the LPU."""
    _, data, _ = small
    part = next(p for p in data["claim_parts"] if p["part"] == "lowest_cost_silicon")
    assert part["metric"] == "modelled manufacturing cost per chip" and part["rival"] == "groq-lpu-v1"
