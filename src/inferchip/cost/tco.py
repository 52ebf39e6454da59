"""Total cost of ownership per accelerator-hour and per token.

``TCO/h = capex/h + energy/h + hosting/h`` per accelerator (METHODS.md 2.11, 3.7):

* capex/h: accelerator price times ``(1 + system_overhead_fraction)`` (server, network,
  installation), recovered over the lifetime with a capital-recovery factor
  ``CRF = r (1+r)^n / ((1+r)^n - 1)`` (straight-line ``1/n`` when r = 0), per hour of a year;
* energy/h: average wall power times PUE times the electricity price;
* hosting/h: colocation rent per kW of provisioned IT power per month.

``$/Mtok = TCO/h / (3600 * tokens/s) * 1e6``. All functions broadcast with numpy.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from inferchip.cost.energy import nonnegative_array, scalar_if_0d
from inferchip.errors import InvalidSettingError
from inferchip.spec.assumptions import Assumptions
from inferchip.units import HOURS_PER_YEAR, KILO, MEGA, SECONDS_PER_HOUR

Number = float | np.ndarray

MONTHS_PER_YEAR = 12.0



def capital_recovery_factor(annual_rate: ArrayLike, lifetime_years: ArrayLike) -> Number:
    """Fraction of a capital sum to pay each year to repay it with interest over the lifetime."""
    r, n = nonnegative_array(annual_rate, "annual_rate"), nonnegative_array(lifetime_years, "lifetime_years")
    if np.any(n <= 0):
        raise InvalidSettingError("lifetime_years: must be positive")
    with np.errstate(divide="ignore", invalid="ignore"):
        growth = (1.0 + r) ** n
        crf = np.where(r > 0, r * growth / (growth - 1.0), 1.0 / n)
    return scalar_if_0d(crf)


def capex_per_hour_usd(
    chip_price_usd: ArrayLike,
    system_overhead_fraction: ArrayLike,
    lifetime_years: ArrayLike,
    annual_rate: ArrayLike = 0.0,
) -> Number:
    """Capital cost of one accelerator and its share of the system, per hour of its life, USD/h."""
    price = nonnegative_array(chip_price_usd, "chip_price_usd")
    overhead = nonnegative_array(system_overhead_fraction, "system_overhead_fraction")
    crf = np.asarray(capital_recovery_factor(annual_rate, lifetime_years))
    return scalar_if_0d(price * (1.0 + overhead) * crf / HOURS_PER_YEAR)


def energy_cost_per_hour_usd(avg_power_w: ArrayLike, pue: ArrayLike, usd_per_kwh: ArrayLike) -> Number:
    """Electricity bought per hour for an average IT power, USD/h: ``kW * PUE * $/kWh``."""
    p, u, price = (
        nonnegative_array(x, n) for x, n in ((avg_power_w, "avg_power_w"), (pue, "pue"), (usd_per_kwh, "usd_per_kwh"))
    )
    if np.any(u < 1):
        raise InvalidSettingError("pue: a power usage effectiveness is at least 1")
    return scalar_if_0d(p / KILO * u * price)


def hosting_per_hour_usd(provisioned_power_w: ArrayLike, usd_per_kw_month: ArrayLike) -> Number:
    """Colocation rent per hour for provisioned IT power, USD/h: ``kW * $/(kW month) * 12 / hours per year``."""
    p = nonnegative_array(provisioned_power_w, "provisioned_power_w")
    rate = nonnegative_array(usd_per_kw_month, "usd_per_kw_month")
    return scalar_if_0d(p / KILO * rate * MONTHS_PER_YEAR / HOURS_PER_YEAR)


def tco_breakdown_per_hour_usd(
    chip_price_usd: ArrayLike,
    avg_power_w: ArrayLike,
    provisioned_power_w: ArrayLike | None = None,
    *,
    assumptions: Assumptions,
) -> dict[str, Number]:
    """TCO per accelerator-hour by part (capex, energy, hosting, total), USD/h, from the assumptions.

    ``avg_power_w`` is the wall power attributed to one accelerator (see
    :func:`inferchip.cost.energy.wall_power_w`); ``provisioned_power_w`` the capacity rented
    for it (defaults to ``avg_power_w``; pass the wall power at TDP to rent for the peak).
    """
    a = assumptions
    capex = capex_per_hour_usd(
        chip_price_usd,
        a.number("tco.system_overhead_fraction"),
        a.number("tco.lifetime_years"),
        a.number("tco.annual_cost_of_capital"),
    )
    energy = energy_cost_per_hour_usd(avg_power_w, a.number("tco.pue"), a.number("tco.usd_per_kwh"))
    hosting = hosting_per_hour_usd(
        avg_power_w if provisioned_power_w is None else provisioned_power_w, a.number("tco.colocation_usd_per_kw_month")
    )
    total = scalar_if_0d(np.asarray(capex) + np.asarray(energy) + np.asarray(hosting))
    return {
        "capex_usd_per_h": capex,
        "energy_usd_per_h": energy,
        "hosting_usd_per_h": hosting,
        "total_usd_per_h": total,
    }


def tco_per_hour_usd(
    chip_price_usd: ArrayLike,
    avg_power_w: ArrayLike,
    provisioned_power_w: ArrayLike | None = None,
    *,
    assumptions: Assumptions,
) -> Number:
    """Total cost of ownership of one accelerator per hour, USD/h (sum of :func:`tco_breakdown_per_hour_usd`)."""
    parts = tco_breakdown_per_hour_usd(chip_price_usd, avg_power_w, provisioned_power_w, assumptions=assumptions)
    return parts["total_usd_per_h"]


def usd_per_million_tokens(tco_per_hour_usd: ArrayLike, tokens_per_s: ArrayLike) -> Number:
    """Cost of a million tokens at a sustained throughput: ``TCO/h / (3600 * tok/s) * 1e6`` (inf at 0 tok/s)."""
    tco, tps = nonnegative_array(tco_per_hour_usd, "tco_per_hour_usd"), nonnegative_array(tokens_per_s, "tokens_per_s")
    with np.errstate(divide="ignore"):
        return scalar_if_0d(np.where(tps > 0, tco / (SECONDS_PER_HOUR * np.where(tps > 0, tps, 1.0)) * MEGA, np.inf))


def tokens_per_s_per_usd_capex(tokens_per_s: ArrayLike, capex_usd: ArrayLike) -> Number:
    """Throughput bought per dollar of capital: ``tok/s / capex`` (inf at zero capex)."""
    tps, capex = nonnegative_array(tokens_per_s, "tokens_per_s"), nonnegative_array(capex_usd, "capex_usd")
    with np.errstate(divide="ignore"):
        return scalar_if_0d(np.where(capex > 0, tps / np.where(capex > 0, capex, 1.0), np.inf))
