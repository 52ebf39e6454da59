"""An embedded module's TCO in the claim review carries no server rack (review44, stop 44).

edgehost43 gave an embedded module (chip YAML ``system: embedded_soc``) its own host at the wall, but its TCO still
added ``tco.system_overhead_fraction`` (0.5: a server chassis, CPUs, NICs, scale-out switches) x its price. Its system
is now ``tco.embedded_soc_system_usd_per_module`` (0 bundled: the catalogue prices a module as its developer kit,
carrier and supply included), as an NPU board's is ``tco.npu_board_system_usd_per_chip``. Since tco44 (stop 44) the
module also pays its own energy overhead and space (``tco.embedded_soc_energy_overhead``,
``tco.embedded_soc_space_usd_per_kw_month``: no data centre) instead of the PUE and colocation rent."""

from __future__ import annotations

import math

import numpy as np
import pytest

from inferchip.catalog.assumptions import load_assumptions
from inferchip.cost.tco import capital_recovery_factor
from inferchip.review.inputs import chip_entry
from inferchip.review.views import VIEW_LABELS, CostView, Price, host_of, restate_money
from inferchip.units import HOURS_PER_YEAR, KILO

JETSON, H100 = "nvidia-jetson-agx-thor-t5000", "nvidia-h100-sxm-80gb"


def _tco_by_hand(price: float, overhead_usd: float, wall_w: float, embedded: bool = False) -> float:
    a = load_assumptions()
    crf = float(capital_recovery_factor(a.number("tco.annual_cost_of_capital"), a.number("tco.lifetime_years")))
    capex = (price + overhead_usd) * crf / HOURS_PER_YEAR
    pue = 1.0 if embedded else a.number("tco.pue")  # tco.embedded_soc_energy_overhead, 1: no data centre
    rent = 0.0 if embedded else a.number("tco.colocation_usd_per_kw_month")  # tco.embedded_soc_space_usd_per_kw_month
    energy = wall_w / KILO * pue * a.number("tco.usd_per_kwh")
    hosting = wall_w / KILO * rent * 12 / HOURS_PER_YEAR
    return capex + energy + hosting


def _rows(price: dict[str, float]) -> list[dict[str, object]]:
    chips = [chip_entry(JETSON, 72), chip_entry(H100, 72)]
    rows: list[dict[str, object]] = [
        {"chip_id": JETSON, "status": "ok", "power_w_per_chip": 75.0, "output_tokens_per_s_per_chip": 100.0,
         "num_chips": 1, "deployment_chips": 1},
        {"chip_id": H100, "status": "ok", "power_w_per_chip": 600.0, "output_tokens_per_s_per_chip": 1000.0,
         "num_chips": 8, "deployment_chips": 8}]
    street = CostView("street", VIEW_LABELS["street"],
                      {k: Price(v, v, v, "street", "test") for k, v in price.items()})
    restate_money(rows, chips, [street, CostView("modelled", VIEW_LABELS["modelled"])])
    return rows


def test_the_assumption_is_stated_and_zero() -> None:
    c = load_assumptions().tco.embedded_soc_system_usd_per_module
    assert c is not None and c.value == 0.0 and "developer kit" in c.source.citation


def test_an_embedded_module_pays_no_rack_share_a_server_chip_still_does() -> None:
    jetson, h100 = _rows({JETSON: 3500.0, H100: 25_000.0})
    wall_j = float(jetson["wall_power_w_per_chip"])  # type: ignore[arg-type]
    assert wall_j == pytest.approx(80.0 / 0.88)
    # no system overhead: capex is the module's $3,500 alone (main: $3,500 x 1.5 = $5,250)
    assert jetson["tco_usd_per_hour_per_chip"] == pytest.approx(_tco_by_hand(3500.0, 0.0, wall_j, True), rel=1e-12)
    assert not math.isclose(float(jetson["tco_usd_per_hour_per_chip"]),  # type: ignore[arg-type]
                            _tco_by_hand(3500.0, 0.5 * 3500.0, wall_j, True), rel_tol=1e-3)
    wall_h = float(h100["wall_power_w_per_chip"])  # type: ignore[arg-type]
    assert h100["tco_usd_per_hour_per_chip"] == pytest.approx(_tco_by_hand(25_000.0, 0.5 * 25_000.0, wall_h),
                                                              rel=1e-12)


def test_the_judge_prices_an_embedded_module_as_the_rows_do() -> None:
    from inferchip.review.judge import Figures, usd_per_million_tokens
    from inferchip.review.views import system_usd_per_chip, tco_terms_of

    assert system_usd_per_chip(host_of(chip_entry(JETSON, 72))) == 0.0
    assert math.isnan(system_usd_per_chip(host_of(chip_entry(H100, 72))))
    h = host_of(chip_entry(JETSON, 72))
    f = Figures(chips=[JETSON], claim=0, cases=[("m", "batch")], tput=np.full((1, 1, 1), 100.0),
                board_w=np.full((1, 1, 1), 75.0), system_chips=np.array([1]), host_chips=np.ones((1, 1)),
                host_idle_w=np.array([h.idle_w]), host_per_acc_w=np.array([h.per_accelerator_w]),
                price={"street": np.array([[3500.0]])}, host_fan_fraction=np.array([h.fan_power_fraction]),
                host_psu_efficiency=np.array([h.psu_efficiency]), tco_terms=[tco_terms_of(h)])
    (row, _) = _rows({JETSON: 3500.0, H100: 25_000.0})
    assert float(usd_per_million_tokens(f, "street")[0, 0, 0]) == pytest.approx(
        float(row["usd_per_million_tokens"]), rel=1e-12)  # type: ignore[arg-type]

