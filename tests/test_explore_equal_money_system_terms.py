"""explore's equal_money prices each chip on its own system's TCO terms (cost.tco.tco_terms of ChipSpec.system; stop
45, branch product45): an embedded module (a Jetson, a car computer) has no server rack share, no PUE and no rented
space, where explore priced every chip as a server; a server chip's figure is the same as before.

By hand, with the bundled assumptions (catalog/assumptions.yaml tco): 5 years at 10 %/year, CRF = 0.1 x 1.1^5 /
(1.1^5 - 1) = 0.263797; $0.0806/kWh; a server: system 0.5 x its price, PUE 1.56, $184.06/(kW month); an embedded
module: system $0, energy overhead 1.0, space $0. A year is 8,766 h (365.25 days, units.HOURS_PER_YEAR)."""

from __future__ import annotations

import numpy as np
import pytest

from inferchip.catalog.assumptions import load_assumptions
from inferchip.cost.tco import tco_breakdown_per_hour_usd
from inferchip.explore.claim_parts import usd_per_mtok
from inferchip.explore.designs import catalogue_chips

A = load_assumptions()
CRF = 0.1 * 1.1**5 / (1.1**5 - 1)
PRICE, TDP, TOKENS = 2_000.0, 100.0, 50.0  # USD, W, output tokens/s


def _per_mtok(tco_per_h: float) -> float:
    return tco_per_h / (3600 * TOKENS) * 1e6


def test_an_embedded_module_by_hand():
    tco = PRICE * CRF / 8766 + TDP / 1e3 * 1.0 * 0.0806  # capex (no system around it) + energy; no space rent
    got = usd_per_mtok(np.array([[TOKENS]]), np.array([PRICE]), np.array([TDP]), A, np.array(["embedded_soc"]))
    assert got[0, 0] == pytest.approx(_per_mtok(tco), rel=1e-12)


def test_a_server_by_hand_and_as_before():
    tco = PRICE * 1.5 * CRF / 8766 + TDP / 1e3 * 1.56 * 0.0806 + TDP / 1e3 * 184.06 * 12 / 8766
    got = usd_per_mtok(np.array([[TOKENS]]), np.array([PRICE]), np.array([TDP]), A, np.array(["server"]))
    assert got[0, 0] == pytest.approx(_per_mtok(tco), rel=1e-12)
    before = float(tco_breakdown_per_hour_usd(PRICE, TDP, assumptions=A)["total_usd_per_h"])  # every chip a server
    assert got[0, 0] == _per_mtok(before)
    assert usd_per_mtok(np.array([[TOKENS]]), np.array([PRICE]), np.array([TDP]), A)[0, 0] == got[0, 0]


def test_mixed_chips_each_on_their_own_terms_and_unknown_stays_nan():
    tput = np.full((3, 2), TOKENS)
    systems = np.array(["server", "embedded_soc", "server"], dtype=object)
    got = usd_per_mtok(tput, np.array([PRICE, PRICE, np.nan]), np.array([TDP, TDP, TDP]), A, systems)
    for i in (0, 1):
        alone = usd_per_mtok(tput[i:i + 1], np.array([PRICE]), np.array([TDP]), A, systems[i:i + 1])
        assert got[i] == pytest.approx(alone[0], rel=1e-15)
    assert got[1, 0] < got[0, 0] and np.isnan(got[2]).all()


def test_catalogue_chips_carry_their_system():
    chips = catalogue_chips(["nvidia-jetson-agx-thor-t5000", "nvidia-h100-sxm-80gb"], A, 128)
    assert list(chips.system) == ["embedded_soc", "server"]
    assert list(chips.take(np.array([1])).system) == ["server"]
