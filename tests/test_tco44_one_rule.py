"""One TCO rule for an embedded module in predict, serve, cost and the review (tco44, stop 44).

review44 priced an embedded module (chip YAML ``system: embedded_soc``) in the review without a server rack's
``tco.system_overhead_fraction``, but ``predict``'s money and ``cost``'s TCO line still charged it 0.5 x its price,
and every path charged it a data centre's PUE and colocation rent. ``cost.tco.tco_terms`` now resolves the terms of
a system once, and every path prices by it: an embedded module pays ``tco.embedded_soc_system_usd_per_module``,
``tco.embedded_soc_energy_overhead`` and ``tco.embedded_soc_space_usd_per_kw_month``; a server is unchanged.
"""

from __future__ import annotations

import pytest

from inferchip.catalog.assumptions import load_assumptions
from inferchip.cost.tco import capital_recovery_factor
from inferchip.errors import InvalidSettingError
from inferchip.units import HOURS_PER_YEAR, KILO

JETSON, H100 = "nvidia-jetson-agx-thor-t5000", "nvidia-h100-sxm-80gb"
MODEL = "meta-llama/Llama-3.1-8B-Instruct"


def _by_hand(price: float, wall_w: float, *, embedded: bool) -> float:
    """TCO per hour written out: capex (price x 1.5 for a server, price + $0 for a module) over 5 years at 10 %,
    energy at 1.56 (server) or 1.0 (module) x $0.0806/kWh, rent $184.06 (server) or $0 (module) per kW-month."""
    crf = float(capital_recovery_factor(0.10, 5.0))  # 0.2637975...
    capex = (price * (1.0 if embedded else 1.5)) * crf / HOURS_PER_YEAR
    energy = wall_w / KILO * (1.0 if embedded else 1.56) * 0.0806
    rent = wall_w / KILO * (0.0 if embedded else 184.06) * 12.0 / HOURS_PER_YEAR
    return capex + energy + rent


def test_the_embedded_terms_are_stated_with_their_source() -> None:
    from inferchip.cost.tco import tco_terms

    t = load_assumptions().tco
    for c, value in ((t.embedded_soc_energy_overhead, 1.0), (t.embedded_soc_space_usd_per_kw_month, 0.0)):
        assert c is not None and c.value == value
        assert c.source.kind == "estimate" and c.source.citation.startswith("inferchip estimate")
    assert "Green Grid" in t.embedded_soc_energy_overhead.source.citation  # type: ignore[union-attr]
    terms = tco_terms("embedded_soc", load_assumptions())
    assert (terms.overhead_fraction, terms.system_usd, terms.energy_overhead, terms.space_usd_per_kw_month) == (
        0.0, 0.0, 1.0, 0.0)
    words = terms.describe()  # the breakdown names each term's assumption
    for key in ("tco.embedded_soc_system_usd_per_module", "tco.embedded_soc_energy_overhead",
                "tco.embedded_soc_space_usd_per_kw_month"):
        assert key in words


def test_a_server_keeps_its_data_centre_terms() -> None:
    from inferchip.cost.tco import tco_terms

    terms = tco_terms("server", load_assumptions())
    assert (terms.overhead_fraction, terms.system_usd, terms.energy_overhead, terms.space_usd_per_kw_month) == (
        0.5, 0.0, 1.56, 184.06)
    parts = terms.breakdown_per_hour_usd(25_000.0, 1000.0)
    assert float(parts["total_usd_per_h"]) == pytest.approx(_by_hand(25_000.0, 1000.0, embedded=False), rel=1e-12)


def test_an_unknown_system_is_refused_with_the_allowed_ones() -> None:
    from inferchip.cost.tco import tco_terms

    with pytest.raises(InvalidSettingError, match="rack.*allowed: server, embedded_soc, npu_board"):
        tco_terms("rack", load_assumptions())


def test_an_assumptions_file_without_the_embedded_terms_takes_the_servers() -> None:
    from inferchip.cost.tco import tco_terms

    a = load_assumptions()
    bare = a.model_copy(update={"tco": a.tco.model_copy(update={"embedded_soc_energy_overhead": None,
                                                                  "embedded_soc_space_usd_per_kw_month": None})})
    t = tco_terms("embedded_soc", bare)
    assert (t.energy_overhead, t.space_usd_per_kw_month) == (1.56, 184.06)
    assert dict(t.keys)["energy_overhead"] == "tco.pue"


def test_predict_prices_a_jetson_by_the_embedded_rule() -> None:
    """predict's $/Mtok of a priced Jetson AGX Thor ($3,500): no rack share, no PUE, no rent (main: 0.5 x price,
    PUE 1.56, $184.06/kW-month)."""
    from inferchip.performance.predict import predict

    p = predict(JETSON, MODEL, weights="fp8", input_tokens=1024, output_tokens=256)
    e = p.extra
    wall, tput = float(e["wall_power_w_per_chip"]), p.output_tokens_per_s_per_chip
    assert e["chip_price_usd"] == 3500.0
    assert e["tco_usd_per_hour_per_chip"] == pytest.approx(_by_hand(3500.0, wall, embedded=True), rel=1e-12)
    assert e["usd_per_million_tokens"] == pytest.approx(_by_hand(3500.0, wall, embedded=True) / (3600 * tput) * 1e6,
                                                        rel=1e-12)


def test_predict_serve_and_the_review_give_one_figure_for_one_load() -> None:
    """The same module, board power and throughput: serve's function (economics.money_per_token), predict's
    record (ChipEconomy) and the review's rows (views.restate_money) give the same $/Mtok."""
    from inferchip.catalog.chips import load_chip
    from inferchip.cost.economics import ChipMoney, chip_economy, money_per_token
    from inferchip.review.inputs import chip_entry
    from inferchip.review.views import VIEW_LABELS, CostView, Price, restate_money

    a, spec = load_assumptions(), load_chip(JETSON)
    money = ChipMoney(3500.0, "reported price", None)
    serve = money_per_token(100.0, 75.0, money, 1, a, system="embedded_soc")
    eco = chip_economy(spec, "lpddr5x", 130.0, 20.0, money, a).money_per_token(100.0, 75.0, 1)
    row: dict[str, object] = {"chip_id": JETSON, "status": "ok", "power_w_per_chip": 75.0,
                              "output_tokens_per_s_per_chip": 100.0, "num_chips": 1, "deployment_chips": 1}
    street = CostView("street", VIEW_LABELS["street"], {JETSON: Price(3500.0, 3500.0, 3500.0, "street", "test")})
    restate_money([row], [chip_entry(JETSON, 72)], [street, CostView("modelled", VIEW_LABELS["modelled"])])
    wall = 80.0 / 0.88  # (75 W + 5 W carrier) / 0.88 supply
    want = _by_hand(3500.0, wall, embedded=True) / (3600 * 100.0) * 1e6
    for got in (serve["usd_per_million_tokens"], eco["usd_per_million_tokens"], row["usd_per_million_tokens"]):
        assert got == pytest.approx(want, rel=1e-12)


def test_the_cost_commands_tco_line_uses_the_rule_of_the_chips_system() -> None:
    """cost's TCO at manufacturing cost for a module: an H100 given system: embedded_soc pays the embedded terms."""
    from inferchip.catalog.chips import load_chip
    from inferchip.cost import energy as en
    from inferchip.cost.chip_cost import chip_cost

    a = load_assumptions()
    server = load_chip(H100)
    module = server.model_copy(update={"system": "embedded_soc"})
    for spec, embedded in ((server, False), (module, True)):
        out = chip_cost(spec, a)
        made, tdp = out.manufacturing_cost_usd, 700.0
        assert made is not None and out.tco_at_cost_usd_per_hour is not None
        n = 8
        wall = float(en.wall_power_w(tdp * n, n, a, system=spec.system)) / n
        assert out.tco_at_cost_usd_per_hour == pytest.approx(_by_hand(made, wall, embedded=embedded), rel=1e-12)
        line = next(x for x in out.lines if x.item.startswith("TCO per hour"))
        assert ("tco.embedded_soc_energy_overhead" in line.source) is embedded
