"""One rule for whether a chip has a usable price (claim53b, stop 53), and TCO terms named by what they are.

Before: ``predict`` priced Cerebras WSE-3 at its chip file's $2.5 M (an undated secondary estimate, "CS-3 systems
priced at approximately $2-3M") while the review refused it for want of a dated street or list price; ``cost``
took it as the chip's cost. Now ``catalog.prices.usable_price`` decides for predict, serve, curve, cost, the review's
street view (and so its ranking) and explore: a catalogue chip's row of the dated price table, a user's own chip
file's ``price.usd``, else none with the reason, which each command prints.

The TCO line read "5 years at 0.1/year": a cost of capital written like a depreciation rate. Now each term says what
it is, with its unit. By hand: CRF(10 %, 5 years) = 0.1 x 1.1^5 / (1.1^5 - 1) = 0.2638, against straight-line
1/5 = 0.2000: the 0.0638 a year above it is the interest the cost of capital charges, not depreciation.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from inferchip.catalog.assumptions import load_assumptions
from inferchip.catalog.chips import all_chips, load_chip
from inferchip.catalog.prices import FILE_BASIS, NoPrice, UsablePrice, load_prices, load_unpriced, usable_price
from inferchip.cost.chip_cost import chip_cost
from inferchip.cost.economics import chip_money
from inferchip.cost.tco import capital_recovery_factor, tco_terms
from inferchip.interfaces.cli import main
from inferchip.spec.chip import pick

A = load_assumptions()
WSE3 = "cerebras-wse-3"


def test_every_catalogue_chip_file_price_is_the_tables_or_listed_unpriced():
    """A catalogue chip file's price.usd is no price on its own: the table holds it (the same central figure) or the
    unpriced list says why not, so a file's figure can never price one command and not another."""
    table, unpriced = load_prices(), load_unpriced()
    for spec in all_chips():
        if spec.price.usd is None:
            continue
        assert spec.id in table or spec.id in unpriced, spec.id
        if spec.id in table:
            assert table[spec.id].price_usd == pick(spec.price.usd), spec.id
            assert table[spec.id].covers == spec.price.covers, spec.id


def test_wse3_has_no_usable_price_and_says_why():
    rule = usable_price(load_chip(WSE3))
    assert isinstance(rule, NoPrice) and "no dated street or list price" in rule.reason
    assert "$2-3M" in rule.reason  # the figure refused is named, with whose it is


def test_predict_cost_review_and_explore_read_the_one_rule_for_every_catalogue_chip():
    """predict's price (chip_money), cost's (chip_cost) and the review's street view agree chip by chip: the same
    figure where priced; where not, predict falls back to the labelled silicon cost (or none), cost to the silicon
    model, the review to 'unpriced' with the rule's reason."""
    from inferchip.review.inputs import chip_entry
    from inferchip.review.views import street_view

    specs = all_chips()
    view = street_view([chip_entry(s.id, 8) for s in specs])
    for spec in specs:
        rule, money, cost = usable_price(spec), chip_money(spec, A), chip_cost(spec, A)
        if isinstance(rule, UsablePrice):
            assert money.price_usd == rule.usd == view.prices[spec.id].usd == cost.price_usd, spec.id
            assert money.covers == rule.covers == view.prices[spec.id].covers, spec.id
        else:
            assert view.unpriced[spec.id] == rule.reason, spec.id
            assert cost.price_usd is None and cost.status != "price_only", spec.id
            assert money.price_source != "reported price" and any(rule.reason in n for n in money.notes), spec.id


def test_predict_on_wse3_gives_no_money_and_the_reason(capsys):
    args = ["predict", "--chip", WSE3, "--model", "meta-llama/Llama-3.1-8B", "--weights", "fp8", "--batch", "8"]
    assert main([*args, "--format", "json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["chip_price_usd"] is None and d["usd_per_million_tokens"] is None and d["tco_assumptions"] is None
    assert d["output_tokens_per_j"] is not None  # energy stays: only money lacks a price
    assert any("no dated street or list price" in n for n in d["notes"])
    assert main(args) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "$ per million output tokens" not in text and "no dated street or list price" in text


def test_cost_on_wse3_prints_why_its_cost_is_unknown(capsys):
    assert main(["cost", "--chip", WSE3]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "cost is unknown" in text and "wafer-scale" in text and "no dated street or list price" in text


def test_explore_leaves_wse3_uncosted():
    import numpy as np

    from inferchip.explore.designs import catalogue_chips

    t = catalogue_chips([WSE3, "nvidia-h100-sxm-80gb"], A, 128)
    cost = dict(zip(t.ids, t.cost_usd, strict=True))
    assert np.isnan(cost[WSE3]) and cost["nvidia-h100-sxm-80gb"] > 0


def test_a_users_own_chip_file_is_priced_by_its_price_usd(tmp_path):
    data = json.loads(load_chip(WSE3).model_dump_json(exclude_none=True))
    data["id"] = "my-wafer"
    path = tmp_path / "my-wafer.json"
    path.write_text(json.dumps(data))
    spec = load_chip(str(path))
    rule = usable_price(spec)
    assert isinstance(rule, UsablePrice) and rule.basis == FILE_BASIS and rule.usd == 2_500_000.0
    assert chip_money(spec, A).price_usd == 2_500_000.0


@pytest.mark.parametrize("system", ["server", "embedded_soc", "npu_board"])
def test_tco_terms_are_named_with_their_units(system):
    text = tco_terms(system, A).describe()
    assert "0.1/year" not in text  # read as a depreciation rate
    assert "cost of capital 10%/year" in text and "not a depreciation rate" in text
    assert "capital-recovery factor 0.2638/year" in text and "lifetime 5 years" in text
    for unit in ("capital, USD", "capex, USD/h", "energy, USD/h", "space, USD/h", "/kWh", "/(kW month)"):
        assert unit in text, unit


def test_predict_json_and_the_report_name_the_cost_of_capital(capsys):
    args = ["predict", "--chip", "nvidia-h100-sxm-80gb", "--model", "meta-llama/Llama-3.1-8B", "--batch", "8",
            "--format", "json"]
    assert main(args) == 0
    d = json.loads(capsys.readouterr().out)
    assert "cost of capital 10%/year" in d["tco_assumptions"] and "not a depreciation rate" in d["tco_assumptions"]
    from inferchip.cost.tco import TERM_WHAT

    assert "not a depreciation rate" in TERM_WHAT["tco.annual_cost_of_capital"]


@given(rate=st.floats(0.001, 0.5), years=st.floats(0.5, 20.0))
def test_the_cost_of_capital_charges_interest_above_straight_line_recovery(rate, years):
    """CRF(r, n) > 1/n for r > 0: the capex term recovers the capital over the lifetime plus interest at r; the
    rate is that interest, not a depreciation rate (which would be 1/n alone)."""
    crf = float(capital_recovery_factor(rate, years))
    assert crf > 1.0 / years
    assert crf >= rate  # never below the interest on the whole capital
