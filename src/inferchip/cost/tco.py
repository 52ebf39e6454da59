"""Total cost of ownership per accelerator-hour and per token.

``TCO/h = capex/h + energy/h + hosting/h`` per accelerator (METHODS.md 2.11, 3.7):

* capex/h: accelerator price times ``(1 + system_overhead_fraction)`` plus an absolute system cost
  (server, network, installation), recovered over the lifetime with a capital-recovery factor
  ``CRF = r (1+r)^n / ((1+r)^n - 1)`` (straight-line ``1/n`` when r = 0), per hour of a year;
* energy/h: average wall power times the energy overhead (a data centre's PUE) times the electricity price;
* hosting/h: rent per kW of provisioned IT power per month (a data centre's colocation rent).

The terms depend on the system the chip sits in (:func:`tco_terms`, resolved once into a :class:`TcoTerms`): a
server in a data centre (``system_overhead_fraction`` x its price, ``tco.pue``, ``tco.colocation_usd_per_kw_month``),
a board of NPUs (``tco.npu_board_system_usd_per_chip``, in a data centre), or an embedded module in the car, robot or
box it serves (``tco.embedded_soc_*``: its carrier's cost, no facility overhead, no rented space). ``predict``,
``serve``, ``curve``, ``cost``, ``explore`` and the review all price a chip by this one rule.

What the price covers decides what is added around it (``covers``, the chip YAML's ``price.covers`` and
``prices.csv``'s column): an ``accelerator`` price (the chip, its module or card) gets the server around it,
``tco.system_overhead_fraction`` x the price; a ``system_share`` price (GB200 at an NVL72 rack's price / 72, which
holds the Grace CPUs, NVLink switch trays and rack; Cerebras WSE-3 at its CS-3 system's) gets only what the system
leaves out, ``tco.system_price_outside_fraction`` x the price (scale-out switches and optics, storage,
installation): the system is counted once.

``$/Mtok = TCO/h / (3600 * tokens/s) * 1e6``. All functions broadcast with numpy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from inferchip.cost.energy import nonnegative_array, scalar_if_0d
from inferchip.errors import InvalidSettingError
from inferchip.spec.assumptions import Assumptions
from inferchip.spec.chip import ChipSpec
from inferchip.units import HOURS_PER_YEAR, KILO, MEGA, SECONDS_PER_HOUR

Number = float | np.ndarray

MONTHS_PER_YEAR = 12.0
SYSTEMS = ("server", "embedded_soc", "npu_board")  # the systems :func:`tco_terms` prices (cost.energy.HostSystem)
NPU_BOARD = "npu_board"  # a board of NPUs with a light host (catalog/competitors.yaml npu_board_chips; the review)
COVERS = ("accelerator", "system_share")  # what a price holds (spec.chip_sections.PRICE_COVERS)
_FRACTION_KEYS = ("tco.system_overhead_fraction", "tco.system_price_outside_fraction")


@dataclass(frozen=True)
class TcoTerms:
    """The TCO rule's terms for one system, resolved once from the assumptions; ``keys``: term -> the assumption
    (``catalog/assumptions.yaml`` dotted path) it came from, for breakdowns."""

    system: str
    overhead_fraction: float  # system around the chip as a fraction of its price (0 where system_usd is used)
    system_usd: float  # system around the chip as an absolute figure per chip, USD (0 where the fraction is used)
    lifetime_years: float
    annual_rate: float
    usd_per_kwh: float
    energy_overhead: float  # facility energy over IT energy (a data centre's PUE; 1: no facility)
    space_usd_per_kw_month: float  # rent per kW of provisioned IT power and month (colocation)
    keys: tuple[tuple[str, str], ...] = ()
    covers: str = "accelerator"  # what the price holds (COVERS): the chip alone, or its share of a system's price

    @property
    def absolute_system(self) -> bool:
        """Whether the system around the chip is an absolute figure (``system_usd``), not a fraction of its price."""
        return dict(self.keys).get("system", "") not in _FRACTION_KEYS

    def system_price_usd(self, chip_price_usd: ArrayLike) -> Number:
        """The capital one chip is charged, USD: its price plus its share of the system around it
        (:func:`system_price_usd`); what the capex term recovers and every per-$ figure divides by."""
        return system_price_usd(chip_price_usd, self.overhead_fraction, self.system_usd)

    def capex_per_hour_usd(self, chip_price_usd: ArrayLike) -> Number:
        return capex_per_hour_usd(chip_price_usd, self.overhead_fraction, self.lifetime_years, self.annual_rate,
                                  self.system_usd)

    def breakdown_per_hour_usd(self, chip_price_usd: ArrayLike, avg_power_w: ArrayLike,
                               provisioned_power_w: ArrayLike | None = None) -> dict[str, Number]:
        """TCO per accelerator-hour by part (capex, energy, hosting, total), USD/h."""
        capex = self.capex_per_hour_usd(chip_price_usd)
        energy = energy_cost_per_hour_usd(avg_power_w, self.energy_overhead, self.usd_per_kwh)
        hosting = hosting_per_hour_usd(avg_power_w if provisioned_power_w is None else provisioned_power_w,
                                       self.space_usd_per_kw_month)
        total = scalar_if_0d(np.asarray(capex) + np.asarray(energy) + np.asarray(hosting))
        return {"capex_usd_per_h": capex, "energy_usd_per_h": energy, "hosting_usd_per_h": hosting,
                "total_usd_per_h": total}

    def describe(self) -> str:
        """The terms in words, each named by what it is, with its unit and the assumption it comes from (a TCO
        line's source: ``predict``'s, ``serve``'s and ``curve``'s ``money:`` line and JSON ``tco_assumptions``,
        ``cost``'s TCO line). The cost of capital is the interest the capital-recovery factor charges on the capital
        over the lifetime, not a depreciation rate (the capital is recovered over the lifetime as a whole)."""
        k = dict(self.keys)
        system = (f"system ${self.system_usd:,.0f} a chip ({k['system']})" if self.absolute_system
                  else f"system {self.overhead_fraction:g} x the price ({k['system']})")
        basis = ("price (a share of a rack's or system's price, price.covers system_share: what the system holds "
                 "is not added again)" if self.covers == "system_share" else "price (the accelerator alone)")
        crf = float(capital_recovery_factor(self.annual_rate, self.lifetime_years))
        overhead = "PUE" if k["energy_overhead"] == "tco.pue" else "energy overhead"
        return (f"{self.system}: capital, USD = {basis} + {system}; capex, USD/h = capital x capital-recovery "
                f"factor {crf:.4f}/year / {HOURS_PER_YEAR:,g} h/year (lifetime {self.lifetime_years:g} years, "
                f"tco.lifetime_years; cost of capital {self.annual_rate:.0%}/year, tco.annual_cost_of_capital: "
                "interest on the capital, not a depreciation rate); energy, USD/h = wall power, kW (board + host "
                f"share) x electricity ${self.usd_per_kwh:g}/kWh (tco.usd_per_kwh) x {overhead} "
                f"{self.energy_overhead:g} ({k['energy_overhead']}); space, USD/h = wall power, kW x rent "
                f"${self.space_usd_per_kw_month:g}/(kW month) ({k['space']}) x 12 months/year / "
                f"{HOURS_PER_YEAR:,g} h/year")


# What each TCO assumption is, in words (TcoTerms.describe, and the report's assumptions table): the names say
# what a figure prices, so the cost of capital (a rate of interest) is not read as a depreciation rate.
TERM_WHAT = {
    "tco.system_overhead_fraction": "the server around an accelerator: chassis, CPUs, DRAM, NICs, switches, a "
                                    "fraction of its price",
    "tco.system_price_outside_fraction": "what a system-share price leaves out: scale-out switches and optics, "
                                         "storage, installation, a fraction of the price",
    "tco.npu_board_system_usd_per_chip": "a board of NPUs' host and board, USD per chip",
    "tco.embedded_soc_system_usd_per_module": "an embedded module's carrier and supply, USD per module",
    "tco.lifetime_years": "lifetime: the years the capital is recovered over",
    "tco.annual_cost_of_capital": "cost of capital: the interest rate of the capital-recovery factor, a fraction a "
                                  "year (not a depreciation rate)",
    "tco.usd_per_kwh": "electricity price, USD per kWh at the wall",
    "tco.pue": "energy overhead: a data centre's PUE, facility energy over IT energy",
    "tco.embedded_soc_energy_overhead": "energy overhead of an embedded module (no facility): a ratio",
    "tco.colocation_usd_per_kw_month": "space: colocation rent per kW of IT power and month",
    "tco.embedded_soc_space_usd_per_kw_month": "space of an embedded module: rent per kW and month",
}


def tco_terms(system: str, assumptions: Assumptions, covers: str = "accelerator") -> TcoTerms:
    """The TCO terms of a chip's system (``ChipSpec.system``, or ``npu_board``, the review's board of NPUs) for a
    price that covers ``covers`` (:data:`COVERS`: the chip YAML's ``price.covers``; a modelled manufacturing cost is
    the accelerator's).

    * ``server``: ``tco.system_overhead_fraction`` x an accelerator's price, or ``tco.system_price_outside_fraction``
      x a system share's (what the rack or system leaves out); ``tco.pue``, ``tco.colocation_usd_per_kw_month``;
    * ``npu_board``: ``tco.npu_board_system_usd_per_chip`` (the fraction where not given), in a data centre;
    * ``embedded_soc``: ``tco.embedded_soc_system_usd_per_module``, ``tco.embedded_soc_energy_overhead`` and
      ``tco.embedded_soc_space_usd_per_kw_month`` (each the server's where the assumptions give none).
    """
    if system not in SYSTEMS:
        raise InvalidSettingError(f"TCO system {system!r}: unknown; allowed: {', '.join(SYSTEMS)}")
    if covers not in COVERS:
        raise InvalidSettingError(f"price covers {covers!r}: unknown; allowed: {', '.join(COVERS)}")
    t = assumptions.tco
    keys = {"system": "tco.system_overhead_fraction", "energy_overhead": "tco.pue",
            "space": "tco.colocation_usd_per_kw_month"}
    fraction, usd = t.system_overhead_fraction.value, 0.0
    if covers == "system_share":  # the rack or system is in the price: only what it leaves out is added
        if t.system_price_outside_fraction is None:
            raise InvalidSettingError("a price that covers a system share (price.covers: system_share) needs "
                                      "tco.system_price_outside_fraction in the assumptions (what the system "
                                      "leaves out, a fraction of its price); the assumptions give none")
        fraction, keys["system"] = t.system_price_outside_fraction.value, "tco.system_price_outside_fraction"
    pue, space = t.pue.value, t.colocation_usd_per_kw_month.value
    absolute = {NPU_BOARD: ("npu_board_system_usd_per_chip", t.npu_board_system_usd_per_chip),
                "embedded_soc": ("embedded_soc_system_usd_per_module", t.embedded_soc_system_usd_per_module)}
    name, given = absolute.get(system, ("", None))
    if given is not None:
        fraction, usd, keys["system"] = 0.0, float(given.value), f"tco.{name}"
    if system == "embedded_soc":
        if t.embedded_soc_energy_overhead is not None:
            pue, keys["energy_overhead"] = t.embedded_soc_energy_overhead.value, "tco.embedded_soc_energy_overhead"
        if t.embedded_soc_space_usd_per_kw_month is not None:
            space = t.embedded_soc_space_usd_per_kw_month.value
            keys["space"] = "tco.embedded_soc_space_usd_per_kw_month"
    return TcoTerms(system, fraction, usd, t.lifetime_years.value, t.annual_cost_of_capital.value,
                    t.usd_per_kwh.value, pue, space, tuple(keys.items()), covers)



def price_covers(spec: ChipSpec | None) -> str:
    """What the price a chip's money figures use holds (:data:`COVERS`): its usable price's
    (:func:`inferchip.catalog.prices.usable_price`, the price table's ``covers`` or a user's file's ``price.covers``)
    where it has one, else "accelerator" (the silicon model's manufacturing cost is one chip's); the basis every
    command's TCO reads (:func:`tco_terms`)."""
    from inferchip.catalog.prices import UsablePrice, usable_price

    rule = usable_price(spec) if spec is not None else None
    return rule.covers if isinstance(rule, UsablePrice) else "accelerator"


def capital_recovery_factor(annual_rate: ArrayLike, lifetime_years: ArrayLike) -> Number:
    """Fraction of a capital sum to pay each year to repay it with interest over the lifetime."""
    r, n = nonnegative_array(annual_rate, "annual_rate"), nonnegative_array(lifetime_years, "lifetime_years")
    if np.any(n <= 0):
        raise InvalidSettingError("lifetime_years: must be positive")
    with np.errstate(divide="ignore", invalid="ignore"):
        growth = (1.0 + r) ** n
        crf = np.where(r > 0, r * growth / (growth - 1.0), 1.0 / n)
    return scalar_if_0d(crf)


def system_price_usd(chip_price_usd: ArrayLike, system_overhead_fraction: ArrayLike,
                     system_usd: ArrayLike = 0.0) -> Number:
    """The capital one accelerator is charged, USD: ``price x (1 + system_overhead_fraction) + system_usd``, its
    price plus its share of the system around it (a server's fraction, what a rack-share price leaves out, or an
    absolute board or carrier figure: :func:`tco_terms`). The one price the TCO's capex recovers
    (:func:`capex_per_hour_usd`) and tokens/s per $ divides by (:func:`tokens_per_s_per_usd_capex`)."""
    price = nonnegative_array(chip_price_usd, "chip_price_usd")
    overhead = nonnegative_array(system_overhead_fraction, "system_overhead_fraction")
    extra = nonnegative_array(system_usd, "system_usd")
    return scalar_if_0d(price * (1.0 + overhead) + extra)


def capex_per_hour_usd(
    chip_price_usd: ArrayLike,
    system_overhead_fraction: ArrayLike,
    lifetime_years: ArrayLike,
    annual_rate: ArrayLike = 0.0,
    system_usd: ArrayLike = 0.0,
) -> Number:
    """Capital cost of one accelerator and its share of the system, per hour of its life, USD/h:
    ``system_price_usd(price, system_overhead_fraction, system_usd) x CRF / hours per year``."""
    capital = np.asarray(system_price_usd(chip_price_usd, system_overhead_fraction, system_usd))
    crf = np.asarray(capital_recovery_factor(annual_rate, lifetime_years))
    return scalar_if_0d(capital * crf / HOURS_PER_YEAR)


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
    system: str = "server",
    covers: str = "accelerator",
) -> dict[str, Number]:
    """TCO per accelerator-hour by part (capex, energy, hosting, total), USD/h, from the assumptions' terms for
    ``system`` and a price that covers ``covers`` (:func:`tco_terms`).

    ``avg_power_w`` is the wall power attributed to one accelerator (see
    :func:`inferchip.cost.energy.wall_power_w`); ``provisioned_power_w`` the capacity rented
    for it (defaults to ``avg_power_w``; pass the wall power at TDP to rent for the peak).
    """
    return tco_terms(system, assumptions, covers).breakdown_per_hour_usd(chip_price_usd, avg_power_w,
                                                                         provisioned_power_w)


def tco_per_hour_usd(
    chip_price_usd: ArrayLike,
    avg_power_w: ArrayLike,
    provisioned_power_w: ArrayLike | None = None,
    *,
    assumptions: Assumptions,
    system: str = "server",
    covers: str = "accelerator",
) -> Number:
    """Total cost of ownership of one accelerator per hour, USD/h (sum of :func:`tco_breakdown_per_hour_usd`)."""
    parts = tco_breakdown_per_hour_usd(chip_price_usd, avg_power_w, provisioned_power_w, assumptions=assumptions,
                                       system=system, covers=covers)
    return parts["total_usd_per_h"]


def usd_per_million_tokens(tco_per_hour_usd: ArrayLike, tokens_per_s: ArrayLike) -> Number:
    """Cost of a million tokens at a sustained throughput: ``TCO/h / (3600 * tok/s) * 1e6`` (inf at 0 tok/s)."""
    tco, tps = nonnegative_array(tco_per_hour_usd, "tco_per_hour_usd"), nonnegative_array(tokens_per_s, "tokens_per_s")
    with np.errstate(divide="ignore"):
        return scalar_if_0d(np.where(tps > 0, tco / (SECONDS_PER_HOUR * np.where(tps > 0, tps, 1.0)) * MEGA, np.inf))


def tokens_per_s_per_usd_capex(tokens_per_s: ArrayLike, capex_usd: ArrayLike) -> Number:
    """Throughput bought per dollar of capital: ``tok/s / capex`` (inf at zero capex); ``capex_usd``: the chip's
    price with its share of the system, as the TCO charges it (:meth:`TcoTerms.system_price_usd`), so a rack-share
    price and a bare accelerator's are set on one basis."""
    tps, capex = nonnegative_array(tokens_per_s, "tokens_per_s"), nonnegative_array(capex_usd, "capex_usd")
    with np.errstate(divide="ignore"):
        return scalar_if_0d(np.where(capex > 0, tps / np.where(capex > 0, capex, 1.0), np.inf))
