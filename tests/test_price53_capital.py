"""Every per-$ figure divides by the capital the TCO recovers (price53, stop 53).

price52 gave a rack-share price (GB200: an NVL72 rack / 72) only what its rack leaves out in the TCO, 0.15 x the
price, and a bare accelerator's the server's 0.5; but tokens/s per $ still divided by the price as it stood, a rack
share against bare chips. ``cost.tco.system_price_usd`` (``TcoTerms.system_price_usd``) is now the one price both
read: predict's and serve's tokens/s per $ capex, the review's restated rows, its sensitivity's fallback and
its ranking. ``cost --chip`` states no gross margin for a system-share price (its ratio to one chip's silicon
sets a share of a rack against the chip alone).

Hand figures: capital recovery over 5 years at 10 %/year, CRF = 0.1 x 1.1^5 / (1.1^5 - 1) = 0.2637975;
8,766 hours a year (365.25 days); energy at $0.0806/kWh x PUE 1.56; rent $184.06 per kW-month.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from inferchip.catalog.assumptions import load_assumptions

GB200, H100 = "nvidia-gb200-186gb", "nvidia-h100-sxm-80gb"
MODEL = "meta-llama/Llama-3.1-8B-Instruct"
CRF = 0.1 * 1.1**5 / (1.1**5 - 1.0)
HOURS = 365.25 * 24.0


def _capital_read_by_both(tput: float, per_usd: float, tco_per_h: float, wall_w: float) -> tuple[float, float]:
    """The capital a row's tokens/s per $ divides by, and the one its TCO per hour recovers (the TCO less the
    hand energy and rent, over CRF / hours): equal where both read one price."""
    energy = wall_w / 1000.0 * 1.56 * 0.0806
    rent = wall_w / 1000.0 * 184.06 * 12.0 / HOURS
    return tput / per_usd, (tco_per_h - energy - rent) * HOURS / CRF


@pytest.mark.parametrize(("chip", "price", "fraction"), [(GB200, 43_000.0, 0.15), (H100, 27_500.0, 0.5)])
def test_predict_per_usd_and_usd_per_mtok_read_one_price(chip: str, price: float, fraction: float) -> None:
    """GB200's tokens/s per $ and its $/Mtok agree on the price they use ($43,000 x 1.15); main divided tokens/s by
    $43,000 alone while its TCO charged $49,450 (and an H100's by $27,500 while its TCO charged $41,250)."""
    from inferchip.performance.predict import predict

    p = predict(chip, MODEL, weights="fp8", input_tokens=1024, output_tokens=256)
    e = p.extra
    by_usd, by_tco = _capital_read_by_both(p.output_tokens_per_s_per_chip,
                                           float(e["output_tokens_per_s_per_usd_capex"]),
                                           float(e["tco_usd_per_hour_per_chip"]), float(e["wall_power_w_per_chip"]))
    assert by_usd == pytest.approx(price * (1.0 + fraction), rel=1e-12)
    assert by_tco == pytest.approx(by_usd, rel=1e-9)


def _review_row(chip: str, price: float, covers: str, mult: float = 1.0) -> dict[str, Any]:
    from inferchip.review.inputs import chip_entry
    from inferchip.review.views import VIEW_LABELS, CostView, Price, restate_money

    row: dict[str, Any] = {"chip_id": chip, "status": "ok", "power_w_per_chip": 1000.0,
                           "output_tokens_per_s_per_chip": 500.0, "num_chips": 8, "deployment_chips": 8}
    street = CostView("street", VIEW_LABELS["street"], {chip: Price(price, price, price, "street", "test",
                                                                    covers=covers)})
    restate_money([row], [chip_entry(chip, 72 if chip == GB200 else 8)],
                  [street, CostView("modelled", VIEW_LABELS["modelled"])], mult)
    return row


@pytest.mark.parametrize(("chip", "price", "covers", "fraction"),
                         [(GB200, 43_000.0, "system_share", 0.15), (H100, 27_500.0, "accelerator", 0.5)])
def test_the_review_rows_rank_per_usd_on_the_tco_price(chip: str, price: float, covers: str, fraction: float) -> None:
    """The review's street rows (what its capex ranking and tables read): tokens/s per $ over the price with its
    system share, the capital the row's own TCO recovers; at a price multiplier too (the sensitivity's knob)."""
    for mult in (1.0, 2.0):
        row = _review_row(chip, price, covers, mult)
        by_usd, by_tco = _capital_read_by_both(500.0, row["output_tokens_per_s_per_usd_capex"],
                                               row["tco_usd_per_hour_per_chip"], row["wall_power_w_per_chip"])
        assert by_usd == pytest.approx(price * mult * (1.0 + fraction), rel=1e-12)
        assert by_tco == pytest.approx(by_usd, rel=1e-9)


def test_the_sensitivity_fallback_prices_by_the_chips_own_rule() -> None:
    """``review.cases.figures(p, price_mult, spec)`` (the sensitivity's figures where the review passes none): a
    GB200 at twice its price is priced as a rack share (0.15), as predict priced it, not as a bare accelerator
    (main: 0.5 for every chip)."""
    from inferchip.catalog.chips import load_chip
    from inferchip.performance.predict import predict
    from inferchip.review.cases import figures

    p = predict(GB200, MODEL, weights="fp8", input_tokens=1024, output_tokens=256)
    wall, tput = float(p.extra["wall_power_w_per_chip"]), p.output_tokens_per_s_per_chip
    f = figures(p, 2.0, load_chip(GB200))
    energy_rent = wall / 1000.0 * 1.56 * 0.0806 + wall / 1000.0 * 184.06 * 12.0 / HOURS

    def usd_per_mtok(fraction: float) -> float:
        return (86_000.0 * (1.0 + fraction) * CRF / HOURS + energy_rent) / (3600 * tput) * 1e6

    assert f["chip_price_usd"] == 86_000.0
    assert f["usd_per_million_tokens"] == pytest.approx(usd_per_mtok(0.15), rel=1e-9)
    assert f["usd_per_million_tokens"] < usd_per_mtok(0.5) * 0.9
    assert f["output_tokens_per_s_per_usd_capex"] == pytest.approx(tput / (86_000.0 * 1.15), rel=1e-12)
    # without a spec: a server's accelerator, predict's rule for a chip with no file
    bare = figures(p, 2.0)
    assert bare["output_tokens_per_s_per_usd_capex"] == pytest.approx(tput / (86_000.0 * 1.5), rel=1e-12)


def test_cost_states_no_chip_margin_for_a_system_share_price() -> None:
    """``cost --chip``: GB200's $43,000 (a rack / 72) over one GPU's modelled silicon is a share of a rack against
    the chip alone: the ratio is shown and said so, no gross margin (main printed 86 %); an H100's margin stands."""
    from inferchip.catalog.chips import load_chip
    from inferchip.cost.chip_cost import chip_cost

    gb200, h100 = chip_cost(load_chip(GB200), load_assumptions()), chip_cost(load_chip(H100), load_assumptions())
    assert gb200.price_covers == "system_share" and gb200.implied_gross_margin is None
    assert gb200.price_over_cost is not None and gb200.price_over_cost > 1.0
    assert any("no gross margin of the chip" in n for n in gb200.notes)
    assert h100.price_covers == "accelerator" and h100.implied_gross_margin is not None
    assert 0.0 < h100.implied_gross_margin < 1.0


@given(price=st.floats(0.0, 1e7), fraction=st.floats(0.0, 1.0), system_usd=st.floats(0.0, 1e5))
def test_the_capex_recovers_the_system_price(price: float, fraction: float, system_usd: float) -> None:
    """The TCO's capex per hour is the system price (the one figure per-$ divides by) x CRF / hours a year."""
    from inferchip.cost.tco import capex_per_hour_usd, system_price_usd

    capital = float(system_price_usd(price, fraction, system_usd))
    assert capital == pytest.approx(price * (1.0 + fraction) + system_usd, rel=1e-12, abs=1e-9)
    assert float(capex_per_hour_usd(price, fraction, 5.0, 0.1, system_usd)) == pytest.approx(
        capital * CRF / HOURS, rel=1e-12, abs=1e-12)
    assert math.isfinite(capital) and capital >= price


def test_a_groq_group_wider_than_a_node_crosses_its_global_links() -> None:
    """GroqChip's scale-up network spans 8-chip nodes (``interconnect.scaleup_node_chips``): a tp group of 8 all-reduces
    over the 240 GB/s of all 16 links, one of 64 over the node's global links, 56 GB/s (4 ports x 14 GB/s); main
    priced every group at 240. A chip without nodes (H100) keeps its link at any tp."""
    from inferchip.catalog.chips import get_chip_params
    from inferchip.catalog.models import load_model
    from inferchip.cost.step import compile_step
    from inferchip.mapping.layout import Layout
    from inferchip.mapping.sharding import shard
    from inferchip.performance.setting import resolve_formats
    from inferchip.spec.calibration import Calibration
    from inferchip.spec.params import across_nodes

    groq, h100 = get_chip_params("groq-lpu-v1"), get_chip_params(H100)
    assert (groq.scaleup_node_chips, groq.link_bytes_per_s, groq.scaleout_bytes_per_s) == (8, 240e9, 56e9)
    assert across_nodes(groq, 8) is groq and across_nodes(groq, 9).link_bytes_per_s == 56e9
    assert across_nodes(h100, 64) is h100
    model, fmt = load_model("meta-llama/Llama-3.1-70B"), resolve_formats("fp8", None, None)
    links = {tp: float(compile_step(shard(model, Layout(tp=tp, pp=576 // tp)), groq, fmt,
                                    Calibration()).ctx.link_bytes_per_s.ravel()[0]) for tp in (8, 64)}
    assert links == {8: 240e9, 64: 56e9}
