"""Total cost of ownership and $/token, checked by hand."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from inferchip.catalog.assumptions import load_assumptions
from inferchip.cost.tco import (
    capex_per_hour_usd,
    capital_recovery_factor,
    energy_cost_per_hour_usd,
    hosting_per_hour_usd,
    tco_breakdown_per_hour_usd,
    tco_per_hour_usd,
    tokens_per_s_per_usd_capex,
    usd_per_million_tokens,
)
from inferchip.errors import InvalidSettingError

A = load_assumptions()  # cost functions take their constants as an argument

HOURS_PER_YEAR = 365.25 * 24


def test_usd_per_million_tokens_matches_methods():
    # METHODS.md 3.7: $2 per GPU-hour at 1,000 tok/s = $2 / 3.6e6 tokens = $0.556 per million
    assert usd_per_million_tokens(2.0, 1000.0) == pytest.approx(2.0 / 3600 / 1000 * 1e6)
    assert usd_per_million_tokens(2.0, 1000.0) == pytest.approx(0.556, abs=5e-4)
    assert usd_per_million_tokens(2.0, 20000.0) == pytest.approx(0.0278, abs=5e-5)
    assert usd_per_million_tokens(2.0, 0.0) == np.inf


def test_capital_recovery_factor_by_hand():
    # r = 10%, n = 5: 0.1 x 1.1^5 / (1.1^5 - 1) = 0.1 x 1.61051 / 0.61051 = 0.26380
    assert capital_recovery_factor(0.10, 5) == pytest.approx(0.26380, abs=1e-5)
    assert capital_recovery_factor(0.0, 5) == pytest.approx(0.2)  # straight line


def test_capex_energy_hosting_by_hand():
    # $27,500 accelerator + 50% system share over 5 years straight-line
    assert capex_per_hour_usd(27500.0, 0.5, 5.0) == pytest.approx(27500 * 1.5 / 5 / HOURS_PER_YEAR)  # $0.941/h
    # with 10%/yr capital cost: x 0.26380 per year instead of 0.2
    assert capex_per_hour_usd(27500.0, 0.5, 5.0, 0.10) == pytest.approx(
        27500 * 1.5 * 0.26380 / HOURS_PER_YEAR, rel=1e-5
    )
    # 1 kW at PUE 1.5 and $0.10/kWh = $0.15/h
    assert energy_cost_per_hour_usd(1000.0, 1.5, 0.10) == pytest.approx(0.15)
    # 1 kW at $184.06/kW-month = $2,208.72/yr = $0.2520/h
    assert hosting_per_hour_usd(1000.0, 184.06) == pytest.approx(184.06 * 12 / HOURS_PER_YEAR)


def test_tco_breakdown_sums_and_uses_the_assumptions():
    a = load_assumptions()
    out = tco_breakdown_per_hour_usd(27500.0, 800.0, 1000.0, assumptions=A)
    crf = capital_recovery_factor(a.number("tco.annual_cost_of_capital"), a.number("tco.lifetime_years"))
    assert out["capex_usd_per_h"] == pytest.approx(
        27500 * (1 + a.number("tco.system_overhead_fraction")) * crf / HOURS_PER_YEAR
    )
    assert out["energy_usd_per_h"] == pytest.approx(0.8 * a.number("tco.pue") * a.number("tco.usd_per_kwh"))
    assert out["hosting_usd_per_h"] == pytest.approx(
        1.0 * a.number("tco.colocation_usd_per_kw_month") * 12 / HOURS_PER_YEAR
    )
    parts = out["capex_usd_per_h"] + out["energy_usd_per_h"] + out["hosting_usd_per_h"]
    assert out["total_usd_per_h"] == pytest.approx(parts)
    assert tco_per_hour_usd(27500.0, 800.0, 1000.0, assumptions=A) == pytest.approx(parts)
    # electricity + colocation stay a minority of TCO for a $27.5k part (InferenceMAX: < 20%)
    assert (out["energy_usd_per_h"] + out["hosting_usd_per_h"]) / parts < 0.3


def test_vectorised_over_prices_and_throughputs():
    tco = tco_per_hour_usd(np.array([10000.0, 30000.0]), 700.0, assumptions=A)
    assert tco.shape == (2,) and tco[1] > tco[0]
    cost = usd_per_million_tokens(2.0, np.array([100.0, 1000.0]))
    assert cost[0] == pytest.approx(10 * cost[1])
    assert tokens_per_s_per_usd_capex(np.array([1000.0, 2000.0]), 25000.0)[1] == pytest.approx(0.08)


@given(
    st.floats(min_value=0.01, max_value=100.0),
    st.floats(min_value=1.0, max_value=1e5),
    st.floats(min_value=1.0, max_value=1e5),
)
def test_more_throughput_never_costs_more_per_token(tco, t1, t2):
    slow, fast = sorted((t1, t2))
    assert usd_per_million_tokens(tco, fast) <= usd_per_million_tokens(tco, slow) * (1 + 1e-12)


def test_bad_inputs():
    with pytest.raises(InvalidSettingError, match="pue"):
        energy_cost_per_hour_usd(1000.0, 0.8, 0.1)
    with pytest.raises(InvalidSettingError, match="lifetime_years"):
        capex_per_hour_usd(1000.0, 0.5, 0.0)
    with pytest.raises(InvalidSettingError, match="chip_price_usd"):
        capex_per_hour_usd(-1.0, 0.5, 5.0)
