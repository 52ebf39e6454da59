"""The review's cost views: one declared basis each, never mixed.

* ``street``: every chip at its street (or, where no street price is reported, list) price
  from the dated, sourced price table (:func:`inferchip.catalog.prices.load_prices`), with
  its low-high range; a user's own chip file (an id no catalogue chip has, ``ChipEntry.own_file``)
  at the price it states, ``price.usd``, as stated (a low/central/high range with its derivation,
  or one figure), its basis "chip file" (:func:`file_price`): a design has no dated street price,
  and its maker's price is the one its money figures can rest on (predict's too);
* ``modelled``: every chip at the silicon model's manufacturing cost
  (:func:`inferchip.cost.economics.manufacturing_cost_usd`; no margin, no NRE), at the low,
  central and high ends of its estimated figures.

A chip without a figure on a view's basis is listed as unpriced in that view, with the reason,
and left out of that view's money comparisons.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from inferchip.catalog.prices import FILE_BASIS, NO_FILE_PRICE, UsablePrice, usable_price
from inferchip.cost.tco import NPU_BOARD as TCO_NPU_BOARD
from inferchip.errors import InvalidSettingError
from inferchip.review.inputs import ChipEntry

if TYPE_CHECKING:
    from inferchip.cost.energy import HostSystem
    from inferchip.cost.tco import TcoTerms

VIEWS = ("street", "modelled")
VIEW_LABELS = {
    "street": "street or list price (dated price table)",
    "modelled": "modelled manufacturing cost (silicon model: no margin, no NRE)",
}


@dataclass(frozen=True)
class Price:
    """One chip's figure on one basis, USD, with its range and where it comes from."""

    usd: float
    low_usd: float
    high_usd: float
    basis: str  # "street", "list", "chip file" (a user's own chip file's price.usd) or "modelled"
    source: str
    date: str = ""
    note: str = ""
    covers: str = "accelerator"  # what the figure holds (cost.tco.COVERS): the chip alone or a system's share


@dataclass
class CostView:
    name: str
    label: str
    prices: dict[str, Price] = field(default_factory=dict)
    unpriced: dict[str, str] = field(default_factory=dict)  # chip id -> why

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "basis": self.label, "priced": sorted(self.prices), "unpriced": self.unpriced}


def _checked(chip_id: str, q: Any) -> Price:
    """A price-table row as a :class:`Price`; a row without a source or a range around its price is refused."""
    src = str(getattr(q, "source", "") or "").strip()
    if not src:
        raise InvalidSettingError(f"price table: chip {chip_id}: source is empty; every price names its source")
    usd, low, high = (float(getattr(q, k)) for k in ("price_usd", "low_usd", "high_usd"))
    if not all(math.isfinite(x) and x > 0 for x in (usd, low, high)) or not low <= usd <= high:
        raise InvalidSettingError(f"price table: chip {chip_id}: price {usd:g} USD must lie in its range "
                                  f"{low:g}-{high:g} USD, all positive")
    return Price(usd, low, high, str(getattr(q, "basis", "street")), src, str(getattr(q, "date", "") or ""),
                 str(getattr(q, "note", "") or ""), str(getattr(q, "covers", "accelerator")))


def price_table() -> dict[str, Any]:
    """The dated street/list price table (catalog.prices); {} where this catalogue has none."""
    try:
        from inferchip.catalog.prices import load_prices
    except ImportError:
        return {}
    return dict(load_prices())


def unpriced_reasons() -> dict[str, str]:
    """Why a chip has no street or list price (catalog.prices_unpriced.csv), with the source."""
    try:
        from inferchip.catalog.prices import load_unpriced
    except ImportError:
        return {}
    return {k: f"{u.reason} ({u.source}, {u.date})" for k, u in load_unpriced().items()}


FILE_LABEL = "; a chip file's own price.usd for a chip not in the catalogue"  # the street label's addition


def file_price(chip: ChipEntry) -> Price | None:
    """A user's own chip file's ``price.usd`` as a :class:`Price` (basis :data:`FILE_BASIS`): a range as stated
    (low, central, high, its derivation the source, an estimate), one figure as stated (no range); None where the
    file states none."""
    from inferchip.spec.bounds import Range

    price = getattr(chip.spec, "price", None)
    usd = getattr(price, "usd", None)
    if usd is None:
        return None
    whose = "the chip file's price.usd"
    if isinstance(usd, Range):
        src = f"{whose}, an estimate: {usd.derivation}"
        low, mid, high = float(usd.low), float(usd.central), float(usd.high)
    else:
        src = f"{whose}, one figure as stated (no range)"
        low = mid = high = float(usd)
    return Price(mid, low, high, FILE_BASIS, src, note=str(getattr(price, "note", None) or ""),
                 covers=str(getattr(price, "covers", "accelerator")))


def street_view(chips: list[ChipEntry], table: dict[str, Any] | None = None) -> CostView:
    shared = table is None  # a given table: a test's or a restated basis's, read as before
    why = unpriced_reasons() if table is None else {}
    table = price_table() if table is None else table
    view = CostView("street", VIEW_LABELS["street"])
    for c in chips:
        if shared and c.spec is not None:  # the one rule predict, cost and explore read (catalog.prices)
            rule = usable_price(c.spec)
            if isinstance(rule, UsablePrice):
                view.prices[c.id] = Price(rule.usd, rule.low_usd, rule.high_usd, rule.basis, rule.source, rule.date,
                                          rule.note, rule.covers)
            else:
                view.unpriced[c.id] = rule.reason
            continue
        q = table.get(c.id)
        own = file_price(c) if q is None and c.own_file else None
        if q is not None:
            view.prices[c.id] = _checked(c.id, q)
        elif own is not None:
            view.prices[c.id] = own
        else:
            view.unpriced[c.id] = (NO_FILE_PRICE if c.own_file else
                                   why.get(c.id, "no street or list price in the price table"))
    if any(p.basis == FILE_BASIS for p in view.prices.values()):
        view.label += FILE_LABEL
    return view


def modelled_view(chips: list[ChipEntry]) -> CostView:
    from inferchip.catalog.assumptions import load_assumptions
    from inferchip.cost.economics import manufacturing_cost_usd
    from inferchip.cost.silicon import NoSiliconDataError

    a = load_assumptions()
    view = CostView("modelled", VIEW_LABELS["modelled"])
    for c in chips:
        if c.spec is None:
            view.unpriced[c.id] = "no chip spec (die area, node, memory) for the silicon model"
            continue
        try:
            lo, mid, hi = (float(manufacturing_cost_usd(c.spec, a, lv)["total_usd"])
                           for lv in ("low", "central", "high"))
        except NoSiliconDataError as exc:
            view.unpriced[c.id] = f"silicon model lacks data: {str(exc).splitlines()[0]}"
            continue
        except InvalidSettingError as exc:
            view.unpriced[c.id] = f"outside the silicon model: {str(exc).splitlines()[0]}"
            continue
        lo, hi = min(lo, mid, hi), max(lo, mid, hi)
        view.prices[c.id] = Price(mid, lo, hi, "modelled", "inferchip silicon model (cost.economics."
                                  "manufacturing_cost_usd, catalog/assumptions.yaml); estimate ends of the spec "
                                  "give the range" if hi > lo else "inferchip silicon model (no estimated figures)")
    return view


def cost_views(chips: list[ChipEntry], table: dict[str, Any] | None = None) -> list[CostView]:
    """Both views, street first."""
    return [street_view(chips, table), modelled_view(chips)]


def npu_board(chip_id: str) -> bool:
    """Is the chip deployed as a board of NPUs with a light host (catalog.competitors npu_board_chips)?"""
    try:
        from inferchip.catalog.competitors import npu_board_chips
    except ImportError:
        return False
    return chip_id in npu_board_chips()


def host_of(chip: ChipEntry, gpu_host: bool = False) -> HostSystem:
    """The host a chip sits in at the wall: the ``host.npu_board_*`` assumptions for an NPU-board chip (unless
    ``gpu_host``: the ledger's alternative), else its chip YAML ``system``'s host as predict takes it
    (:func:`inferchip.cost.energy.host_system`: a GPU server's, or an embedded module's own carrier and supply)."""
    from inferchip.catalog.assumptions import load_assumptions
    from inferchip.cost.energy import HostSystem, host_system

    a = load_assumptions()
    server = host_system("server", a)
    if gpu_host:
        return server
    idle, per = a.host.npu_board_host_idle_w, a.host.npu_board_host_per_accelerator_w
    if npu_board(chip.id) and idle is not None and per is not None:  # a pair (HostAssumptions)
        return HostSystem(NPU_BOARD, idle.value, per.value, server.fan_power_fraction, server.psu_efficiency, 1)
    return host_system(chip.spec.system if chip.spec is not None else chip.system, a)


NPU_BOARD = TCO_NPU_BOARD  # HostSystem.system of a board of NPUs with a light host (catalog.competitors)


def tco_terms_of(host: HostSystem, covers: str = "accelerator") -> TcoTerms:
    """The TCO terms of a chip's host's system (:func:`inferchip.cost.tco.tco_terms`, the rule predict uses), from
    the bundled assumptions: a server's, an NPU board's, an embedded module's; for a figure that covers ``covers``
    (:attr:`Price.covers`: a street price that is a rack's share adds only what the rack leaves out)."""
    from inferchip.catalog.assumptions import load_assumptions
    from inferchip.cost.tco import tco_terms

    return tco_terms(host.system, load_assumptions(), covers)


def system_usd_per_chip(host: HostSystem) -> float:
    """The system around one chip, USD, where it is an absolute figure: an NPU board's
    (``tco.npu_board_system_usd_per_chip``), an embedded module's carrier and supply
    (``tco.embedded_soc_system_usd_per_module``: no server rack); NaN for a server, whose system is
    ``tco.system_overhead_fraction`` x the chip's price (:func:`tco_terms_of`)."""
    t = tco_terms_of(host)
    return t.system_usd if t.absolute_system else float("nan")


def host_share(chips_used: float, host: HostSystem) -> float:
    """Accelerators sharing one host: a GPU server's 8 at least (``HostSystem.min_accelerators``); an NPU
    board's own chips; an embedded module's own (one module, one carrier)."""
    return max(chips_used, host.min_accelerators)


def restate_money(rows: list[dict[str, Any]], chips: list[ChipEntry], views: list[CostView],
                  price_mult: float = 1.0) -> None:
    """Put every row's money figures on the street view's basis (None where the chip is unpriced
    there), with the basis and source named, and add the modelled-cost view beside them; wall
    power per chip with the chip's own host (:func:`host_of`)."""
    from inferchip.review.judge import wall_power_per_chip_w

    by_id = {c.id: c for c in chips}
    street = next(v for v in views if v.name == "street")
    modelled = next(v for v in views if v.name == "modelled")
    for r in rows:
        c = by_id[r["chip_id"]]
        s, m = street.prices.get(c.id), modelled.prices.get(c.id)
        share = r.get("runtime_devices_per_package") or 1  # a package's money shared by its devices, as predict's
        r.update(chip_price_usd=s.usd / share if s else None, price_basis=s.basis if s else None,
                 price_source=s.source if s else street.unpriced.get(c.id),
                 manufacturing_cost_usd=m.usd / share if m else None, tco_usd_per_hour_per_chip=None,
                 usd_per_million_tokens=None, output_tokens_per_s_per_usd_capex=None,
                 usd_per_million_tokens_modelled=None)
        r.update(deployment_silicon(r, m))
        board, tput = r.get("power_w_per_chip"), r.get("output_tokens_per_s_per_chip")
        if r["status"] != "ok" or board is None or not tput:
            continue
        host = host_of(c).per_device(share)  # a host slot is a package: its devices share it
        n = host_share(float(r["num_chips"] or 1), host)
        wall = float(wall_power_per_chip_w(board, n, host.idle_w, host.per_accelerator_w,
                                           host.fan_power_fraction, host.psu_efficiency))
        r["wall_power_w_per_chip"] = wall
        for price, col in ((s, "usd_per_million_tokens"), (m, "usd_per_million_tokens_modelled")):
            if price is None:
                continue
            usd = price.usd * price_mult / share
            terms = tco_terms_of(host, price.covers)
            per_h = float(terms.breakdown_per_hour_usd(usd, wall)["total_usd_per_h"])
            r[col] = per_h / (3600.0 * tput) * 1e6
            if col == "usd_per_million_tokens":
                r["chip_price_usd"] = usd
                r["tco_usd_per_hour_per_chip"] = per_h
                # per $ of the capital the TCO recovers: the price with its system share, one basis for every chip
                r["output_tokens_per_s_per_usd_capex"] = tput / float(terms.system_price_usd(usd))


def deployment_silicon(row: dict[str, Any], cost: Price | None) -> dict[str, float | None]:
    """The modelled silicon cost of a row's deployment, USD, central and at the low / high ends of the silicon
    model's estimates: ``deployment_chips`` x the modelled manufacturing cost per chip (``cost``); None where the
    deployment does not serve the case (status not "ok") or the chip has no modelled cost
    (review.deploy.silicon)."""
    n = row.get("deployment_chips")
    if cost is None or row.get("status") != "ok" or not n:
        return dict.fromkeys(("deployment_silicon_cost_usd", "deployment_silicon_cost_low_usd",
                              "deployment_silicon_cost_high_usd"))
    return {"deployment_silicon_cost_usd": n * cost.usd, "deployment_silicon_cost_low_usd": n * cost.low_usd,
            "deployment_silicon_cost_high_usd": n * cost.high_usd}


def prediction_figures(p: Any, chip: ChipEntry, views: list[CostView], price_mult: float = 1.0) -> dict[str, Any]:
    """A prediction's figures of merit with its money on the street view's basis (as the rows)."""
    from inferchip.review.cases import figures

    row: dict[str, Any] = {"chip_id": chip.id, "status": "ok", "num_chips": p.num_chips,
                           "runtime_devices_per_package": p.runtime_devices_per_package, **figures(p)}
    restate_money([row], [chip], views, price_mult)
    return row
