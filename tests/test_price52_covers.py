"""A price that already holds its system is not given a system again (price52, stop 52).

The catalogue prices GB200 and GB300 at an NVL72 rack's price / 72 (Grace CPUs, NVLink switch trays and the rack
in it) and Cerebras WSE-3 at a CS-3 system's price, yet every TCO added ``tco.system_overhead_fraction`` (0.5 x the
price: chassis, CPUs, DRAM, NICs, scale-out switches, storage, installation) as for a bare accelerator. A chip
YAML's ``price.covers`` (and ``prices.csv``'s ``covers`` column) now says what a price holds; ``cost.tco.tco_terms``
adds ``tco.system_price_outside_fraction`` (0.15: scale-out switches and optics, storage, installation) to a
``system_share`` price and the 0.5 to an ``accelerator`` price, for predict, serve, curve, cost, explore and the
review alike.

Hand figures: capital recovery over 5 years at 10 %/year, CRF = 0.1 x 1.1^5 / (1.1^5 - 1) = 0.2637975;
8,766 hours a year (365.25 days); energy at $0.0806/kWh x PUE 1.56; rent $184.06 per kW-month.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from inferchip.catalog.assumptions import load_assumptions
from inferchip.errors import InvalidSettingError, SpecError

GB200, H100, GB300, WSE3 = "nvidia-gb200-186gb", "nvidia-h100-sxm-80gb", "nvidia-gb300-288gb", "cerebras-wse-3"
MODEL = "meta-llama/Llama-3.1-8B-Instruct"
CHIPS = Path(__file__).resolve().parents[1] / "src" / "inferchip" / "catalog" / "chips"
CRF = 0.1 * 1.1**5 / (1.1**5 - 1.0)  # 0.26379748...
HOURS = 365.25 * 24.0


def _by_hand(price: float, wall_w: float, system_fraction: float) -> float:
    """TCO per chip-hour written out for a server: capex (price x (1 + system_fraction)) recovered over 5 years at
    10 %, the wall power at PUE 1.56 and $0.0806/kWh, and $184.06 per kW-month of it."""
    capex = price * (1.0 + system_fraction) * CRF / HOURS
    energy = wall_w / 1000.0 * 1.56 * 0.0806
    rent = wall_w / 1000.0 * 184.06 * 12.0 / HOURS
    return capex + energy + rent


def test_gb200_at_its_rack_share_pays_only_what_the_rack_leaves_out() -> None:
    """predict's TCO of a GB200 ($43,000 = an NVL72 rack / 72): 0.15 x the price around it, not 0.5 (main: $64,500 of
    capital a GPU, the rack's CPUs and switches counted twice)."""
    from inferchip.performance.predict import predict

    p = predict(GB200, MODEL, weights="fp8", input_tokens=1024, output_tokens=256)
    e = p.extra
    wall, tput = float(e["wall_power_w_per_chip"]), p.output_tokens_per_s_per_chip
    assert e["chip_price_usd"] == 43_000.0
    assert e["tco_usd_per_hour_per_chip"] == pytest.approx(_by_hand(43_000.0, wall, 0.15), rel=1e-12)
    assert e["usd_per_million_tokens"] == pytest.approx(_by_hand(43_000.0, wall, 0.15) / (3600 * tput) * 1e6,
                                                        rel=1e-12)
    assert e["tco_usd_per_hour_per_chip"] < _by_hand(43_000.0, wall, 0.5) - 0.4  # $0.45/h less capital


def test_h100_a_bare_accelerator_still_pays_the_server_around_it() -> None:
    """predict's TCO of an H100 ($27,500, the GPU alone): 0.5 x the price for the server, and its money line says
    the price is the accelerator's alone."""
    from inferchip.catalog.chips import load_chip
    from inferchip.cost.economics import chip_money
    from inferchip.interfaces.cmd_predict import money_terms
    from inferchip.performance.predict import predict

    p = predict(H100, MODEL, weights="fp8", input_tokens=1024, output_tokens=256)
    wall = float(p.extra["wall_power_w_per_chip"])
    assert p.extra["tco_usd_per_hour_per_chip"] == pytest.approx(_by_hand(27_500.0, wall, 0.5), rel=1e-12)
    assert chip_money(load_chip(H100), load_assumptions()).covers == "accelerator"
    h100_text, gb200_text = money_terms(p, H100, None), money_terms(
        predict(GB200, MODEL, weights="fp8", input_tokens=1024, output_tokens=256), GB200, None)
    assert h100_text is not None and "price (the accelerator alone) + system 0.5 x the price" in h100_text
    assert gb200_text is not None and "system_share" in gb200_text
    assert "system 0.15 x the price (tco.system_price_outside_fraction)" in gb200_text


def test_serve_predict_explore_and_the_review_price_a_rack_share_alike() -> None:
    """One load (board power, throughput) on a GB200: serve's function, predict's record, the review's rows and
    judge, and explore's equal-money figure give one $/Mtok, the hand figure at 0.15."""
    from inferchip.catalog.chips import load_chip
    from inferchip.cost.economics import chip_economy, chip_money, money_per_token
    from inferchip.explore.claim_parts import usd_per_mtok
    from inferchip.review.inputs import chip_entry
    from inferchip.review.judge import Figures, usd_per_million_tokens
    from inferchip.review.views import VIEW_LABELS, CostView, Price, host_of, restate_money, tco_terms_of

    a, spec = load_assumptions(), load_chip(GB200)
    money = chip_money(spec, a)
    assert (money.price_usd, money.covers) == (43_000.0, "system_share")
    serve = money_per_token(500.0, 1000.0, money, 8, a)
    eco = chip_economy(spec, "hbm3e", 1200.0, 150.0, money, a).money_per_token(500.0, 1000.0, 8)
    wall = float(serve["wall_power_w_per_chip"])  # type: ignore[arg-type]
    want = _by_hand(43_000.0, wall, 0.15) / (3600 * 500.0) * 1e6
    row: dict[str, object] = {"chip_id": GB200, "status": "ok", "power_w_per_chip": 1000.0,
                              "output_tokens_per_s_per_chip": 500.0, "num_chips": 8, "deployment_chips": 8}
    street = CostView("street", VIEW_LABELS["street"],
                      {GB200: Price(43_000.0, 35_000.0, 55_600.0, "street", "test", covers="system_share")})
    restate_money([row], [chip_entry(GB200, 72)], [street, CostView("modelled", VIEW_LABELS["modelled"])])
    explore = usd_per_mtok(np.array([[500.0]]), np.array([43_000.0]), np.array([wall]), a,
                           np.array(["server"], dtype=object), np.array(["system_share"], dtype=object))
    h = host_of(chip_entry(GB200, 72))
    f = Figures(chips=[GB200], claim=0, cases=[("m", "batch")], tput=np.full((1, 1, 1), 500.0),
                board_w=np.full((1, 1, 1), 1000.0), system_chips=np.array([8]), host_chips=np.full((1, 1), 8.0),
                host_idle_w=np.array([h.idle_w]), host_per_acc_w=np.array([h.per_accelerator_w]),
                price={"street": np.array([[43_000.0]]), "modelled": np.array([[43_000.0]])},
                host_fan_fraction=np.array([h.fan_power_fraction]), host_psu_efficiency=np.array([h.psu_efficiency]),
                tco_terms=[tco_terms_of(h)], view_tco_terms={"street": [tco_terms_of(h, "system_share")]})
    for got in (serve["usd_per_million_tokens"], eco["usd_per_million_tokens"], row["usd_per_million_tokens"],
                float(explore[0, 0]), float(usd_per_million_tokens(f, "street")[0, 0, 0])):
        assert got == pytest.approx(want, rel=1e-12)
    # the modelled view (a manufacturing cost: one chip's) keeps the server's 0.5 at the same figure
    assert float(usd_per_million_tokens(f, "modelled")[0, 0, 0]) == pytest.approx(
        _by_hand(43_000.0, wall, 0.5) / (3600 * 500.0) * 1e6, rel=1e-12)


def test_the_review_reads_what_each_view_covers() -> None:
    from inferchip.review.inputs import chip_entry
    from inferchip.review.views import cost_views

    street, modelled = cost_views([chip_entry(GB200, 72), chip_entry(H100, 8)])
    assert street.prices[GB200].covers == "system_share" and street.prices[H100].covers == "accelerator"
    assert {p.covers for p in modelled.prices.values()} == {"accelerator"}


def test_every_catalogue_price_states_what_it_covers_and_the_price_table_agrees() -> None:
    from inferchip.catalog.chips import load_chip
    from inferchip.catalog.prices import load_prices

    priced = []
    for path in sorted(CHIPS.glob("*.yaml")):
        price = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("price") or {}
        if "usd" in price:
            assert price.get("covers") in ("accelerator", "system_share"), path.name  # written, not defaulted
            priced.append(path.stem)
    assert {GB200, GB300, WSE3} <= set(priced)
    for cid in (GB200, GB300, WSE3):
        spec = load_chip(cid)
        assert spec.price.covers == "system_share" and spec.price.system_holds
    for cid, quote in load_prices().items():
        assert quote.covers == load_chip(cid).price.covers, cid


def _chip_file(tmp_path: Path, **price: object) -> Path:
    raw = yaml.safe_load((CHIPS / f"{GB200}.yaml").read_text(encoding="utf-8"))
    raw["id"] = "my-rack-chip"
    raw["price"].update(price)
    path = tmp_path / "my-rack-chip.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return path


def test_a_bad_covers_value_is_refused_naming_the_file_and_field(tmp_path: Path) -> None:
    from inferchip.catalog.chips import load_chip

    path = _chip_file(tmp_path, covers="rack")
    with pytest.raises(SpecError) as err:
        load_chip(path)
    text = str(err.value)
    assert str(path) in text and "price.covers = 'rack'" in text and "accelerator" in text and "system_share" in text


def test_a_system_share_without_what_the_system_holds_is_refused(tmp_path: Path) -> None:
    from inferchip.catalog.chips import load_chip

    with pytest.raises(SpecError, match=r"price\.system_holds"):
        load_chip(_chip_file(tmp_path, system_holds=None))
    assert load_chip(_chip_file(tmp_path, covers="accelerator", system_holds=None)).price.covers == "accelerator"


def test_a_bad_covers_in_the_price_table_is_refused_naming_file_line_and_column(tmp_path: Path) -> None:
    from inferchip.catalog.prices import PRICES_CSV, read_prices

    lines = PRICES_CSV.read_text(encoding="utf-8").splitlines()
    row = next(i for i, line in enumerate(lines) if line.startswith(f"{GB200},"))
    lines[row] = lines[row].replace(",system_share,", ",rack,", 1)
    path = tmp_path / "prices.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(SpecError) as err:
        read_prices(path)
    text = str(err.value)
    assert str(path) in text and f"line {row + 1}" in text and "covers" in text and "rack" in text


def test_the_outside_fraction_is_sourced_and_needed_for_a_system_share() -> None:
    from inferchip.cost.tco import tco_terms

    a = load_assumptions()
    c = a.tco.system_price_outside_fraction
    assert c is not None and c.value == 0.15 and c.source.kind == "estimate" and c.source.url
    bare = a.model_copy(update={"tco": a.tco.model_copy(update={"system_price_outside_fraction": None})})
    assert tco_terms("server", bare).overhead_fraction == 0.5  # an accelerator price does not need it
    with pytest.raises(InvalidSettingError, match="tco.system_price_outside_fraction"):
        tco_terms("server", bare, "system_share")
    with pytest.raises(InvalidSettingError, match="'rack'.*allowed: accelerator, system_share"):
        tco_terms("server", a, "rack")


@given(price=st.floats(1.0, 5e6), wall=st.floats(0.0, 5e4))
def test_a_system_share_saves_exactly_the_system_it_holds(price: float, wall: float) -> None:
    """Between the two readings of one price only the capital of the system differs: (0.5 - 0.15) x price x CRF per
    year; energy and rent are the same; an embedded module's absolute system (its carrier) stands either way."""
    from inferchip.cost.tco import tco_terms

    a = load_assumptions()
    bare = tco_terms("server", a).breakdown_per_hour_usd(price, wall)
    share = tco_terms("server", a, "system_share").breakdown_per_hour_usd(price, wall)
    assert float(bare["total_usd_per_h"]) - float(share["total_usd_per_h"]) == pytest.approx(
        0.35 * price * CRF / HOURS, rel=1e-9, abs=1e-12)
    assert share["energy_usd_per_h"] == bare["energy_usd_per_h"]
    assert share["hosting_usd_per_h"] == bare["hosting_usd_per_h"]
    module = [tco_terms("embedded_soc", a, c).breakdown_per_hour_usd(price, wall)["total_usd_per_h"]
              for c in ("accelerator", "system_share")]
    assert module[0] == module[1]
