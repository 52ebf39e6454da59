"""Silicon cost: die area -> dies per wafer -> yield -> wafer price -> memory, packaging, test.

Equations (METHODS.md 2.11, 3.8; PrincetonUniversity/ttm-cas supply_chain_model.py):

* dies per wafer ``DPW = pi (d/2)^2 / A - pi d / sqrt(2 A)`` (d: usable wafer diameter,
  A: die area plus scribe);
* yield: negative binomial ``Y = (1 + A D0 / alpha)^-alpha``, Murphy ``((1 - e^-AD)/AD)^2``,
  Poisson ``e^-AD`` (A in cm^2, D0 in defects/cm^2);
* ``cost per good die = wafer price / (DPW * Y)``.

Harvesting (shipping partly enabled dies) raises effective yield and is not modelled:
the cost of big dies is therefore an upper estimate. Multi-die packages multiply the
good-die cost by the die count, and add each other die class (I/O or base dies) at its own
node; package-assembly yield loss is not modelled.
Prices and D0 are looked up by node class: the smallest tabulated node >= the node
(4 nm uses the 5 nm entry, 6 nm the 7 nm one, 12/14 nm the 16 nm one).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike

from inferchip.cost.energy import memory_level, nonnegative_array, scalar_if_0d
from inferchip.errors import InferchipError, InvalidSettingError
from inferchip.spec.assumptions import Assumptions
from inferchip.spec.bounds import EstimateLevel, pick

if TYPE_CHECKING:
    from inferchip.spec.chip import ChipSpec
    from inferchip.spec.chip_sections import BaseDieSpec

Number = float | np.ndarray

MM2_PER_CM2 = 100.0


class NoSiliconDataError(InferchipError):
    """A chip lacks the die area or process node a silicon cost needs; callers fall back to a price."""


def dies_per_wafer(
    die_area_mm2: ArrayLike, wafer_diameter_mm: float = 300.0, edge_exclusion_mm: float = 0.0, scribe_mm: float = 0.0
) -> Number:
    """Gross die candidates per wafer (not rounded; 0 where the die does not fit).

    ``pi r^2 / A - pi d / sqrt(2 A)`` with ``d = diameter - 2 * edge_exclusion`` and the
    die grown by the scribe line on each axis, ``A = (sqrt(area) + scribe)^2`` (square die).
    The second term counts the partial dies lost around the edge.
    """
    area = nonnegative_array(die_area_mm2, "die_area_mm2")
    if np.any(area <= 0):
        raise InvalidSettingError("die_area_mm2: must be positive")
    d = wafer_diameter_mm - 2.0 * edge_exclusion_mm
    if d <= 0:
        raise InvalidSettingError("edge_exclusion_mm: leaves no usable wafer")
    a = (np.sqrt(area) + scribe_mm) ** 2
    dpw = np.pi * (d / 2.0) ** 2 / a - np.pi * d / np.sqrt(2.0 * a)
    return scalar_if_0d(np.maximum(dpw, 0.0))


def _ad(area_mm2: ArrayLike, d0_per_cm2: ArrayLike) -> np.ndarray:
    ad: np.ndarray = nonnegative_array(area_mm2, "area_mm2") / MM2_PER_CM2 * nonnegative_array(d0_per_cm2, "d0_per_cm2")
    return ad


def yield_negative_binomial(area_mm2: ArrayLike, d0_per_cm2: ArrayLike, alpha: float = 3.0) -> Number:
    """Negative-binomial (clustered defects) die yield ``(1 + A D0 / alpha)^-alpha``."""
    if not alpha > 0:
        raise InvalidSettingError(f"alpha: clustering parameter must be positive, got {alpha}")
    return scalar_if_0d((1.0 + _ad(area_mm2, d0_per_cm2) / alpha) ** (-alpha))


def yield_poisson(area_mm2: ArrayLike, d0_per_cm2: ArrayLike) -> Number:
    """Poisson (uniform random defects) die yield ``exp(-A D0)``."""
    return scalar_if_0d(np.exp(-_ad(area_mm2, d0_per_cm2)))


def yield_murphy(area_mm2: ArrayLike, d0_per_cm2: ArrayLike) -> Number:
    """Murphy's die yield ``((1 - exp(-A D0)) / (A D0))^2`` (1 when A D0 = 0)."""
    ad = _ad(area_mm2, d0_per_cm2)
    with np.errstate(divide="ignore", invalid="ignore"):
        y = np.where(ad > 0, (-np.expm1(-ad) / np.where(ad > 0, ad, 1.0)) ** 2, 1.0)
    return scalar_if_0d(y)


def _by_node_class(table: dict[str, float], node_nm: float, what: str) -> float:
    nodes = sorted(table, key=float)
    for n in nodes:
        if float(n) >= node_nm - 1e-9:
            return table[n]
    raise InvalidSettingError(
        f"node_nm {node_nm:g}: no {what} for nodes above {nodes[-1]} nm; add one to the assumptions file"
    )


def wafer_price_usd(node_nm: float, assumptions: Assumptions) -> float:
    """Price of one processed 300 mm wafer at ``node_nm`` (by node class), USD."""
    return _by_node_class(assumptions.table("silicon.wafer_price_usd"), _node(node_nm), "wafer price")


def defect_density_per_cm2(node_nm: float, assumptions: Assumptions) -> float:
    """Defect density D0 at ``node_nm`` (by node class), defects/cm^2."""
    return _by_node_class(assumptions.table("silicon.defect_density_per_cm2"), _node(node_nm), "defect density")


def _node(node_nm: float) -> float:
    if node_nm is None or not np.isfinite(node_nm) or node_nm <= 0:
        raise InvalidSettingError(f"node_nm: must be a positive process node in nm, got {node_nm}")
    return float(node_nm)


def good_die_cost_usd(area_mm2: ArrayLike, node_nm: float, assumptions: Assumptions) -> Number:
    """Wafer cost of one good die: ``wafer price / (DPW * Y_NB)``, USD.

    Raises for dies too large for the dies-per-wafer formula (fewer than one candidate,
    e.g. wafer-scale parts), which need their own cost model.
    """
    a = assumptions
    area = nonnegative_array(area_mm2, "area_mm2")
    dpw = np.asarray(
        dies_per_wafer(
            area,
            a.number("silicon.wafer_diameter_mm"),
            a.number("silicon.edge_exclusion_mm"),
            a.number("silicon.scribe_width_mm"),
        )
    )
    if np.any(dpw < 1.0):
        big = float(np.max(area))
        raise InvalidSettingError(
            f"die area {big:g} mm2 gives fewer than one die per wafer; wafer-scale parts need their own cost model"
        )
    y = yield_negative_binomial(area, defect_density_per_cm2(node_nm, a), a.number("silicon.yield_cluster_alpha"))
    return scalar_if_0d(wafer_price_usd(node_nm, a) / (dpw * np.asarray(y)))


@dataclass(frozen=True)
class GoodDie:
    """One die's wafer economics at its node (:func:`good_die`): gross dies per wafer, the node class's defect density
    (1/cm2) and wafer price (USD), the negative-binomial yield, and ``cost_usd``, :func:`good_die_cost_usd`'s."""

    area_mm2: float
    node_nm: float
    dies_per_wafer: float
    d0_per_cm2: float
    yield_fraction: float
    wafer_usd: float
    cost_usd: float


def good_die(area_mm2: float, node_nm: float, assumptions: Assumptions) -> GoodDie:
    """The good die of ``area_mm2`` on ``node_nm`` with the figures its cost is made of: the one rule for a package's
    total (:func:`chip_cost_breakdown`) and its cost lines (``cost.chip_cost``). Raises as :func:`good_die_cost_usd`."""
    a = assumptions
    d0 = defect_density_per_cm2(node_nm, a)
    dpw = dies_per_wafer(area_mm2, a.number("silicon.wafer_diameter_mm"), a.number("silicon.edge_exclusion_mm"),
                         a.number("silicon.scribe_width_mm"))
    return GoodDie(area_mm2, node_nm, float(dpw), d0,
                   float(yield_negative_binomial(area_mm2, d0, a.number("silicon.yield_cluster_alpha"))),
                   wafer_price_usd(node_nm, a), float(good_die_cost_usd(area_mm2, node_nm, a)))


def base_dies_at(spec: ChipSpec, level: EstimateLevel = "central") -> list[tuple[BaseDieSpec, float]]:
    """The package's non-compute die classes (``silicon.base_dies``), each with one die's area (mm2) at the
    estimate corner ``level``: the one reading for the cost, the interposer footprint and the cost lines."""
    return [(d, float(pick(d.die_area_mm2, level) or 0.0)) for d in spec.silicon.base_dies]


def _package_key(package_kind: str, known: dict[str, float]) -> str:
    key = package_kind.strip().lower().replace("_", "-").replace(" ", "-")
    if key not in known:
        raise InvalidSettingError(f"package kind '{package_kind}': unknown; allowed: {', '.join(known)}")
    return key


def chip_cost_breakdown(
    die_area_mm2: float | None,
    die_count: int,
    node_nm: float | None,
    memory_type: str | None,
    memory_gib: float | None,
    package_kind: str,
    assumptions: Assumptions,
    *,
    chip_id: str = "this chip",
    base_dies: Sequence[tuple[int, float, float]] = (),
) -> dict[str, float]:
    """Manufacturing cost of one packaged accelerator, USD, by part.

    Returns ``logic_dies_usd`` (die_count good compute dies), ``base_dies_usd`` (the package's other die
    classes, ``base_dies`` as (count, area mm2, node nm), each a good die at its own node's wafer price, D0 and
    yield), ``memory_usd`` (memory_gib at the level's price; 0 for on-die SRAM), ``packaging_usd``,
    ``test_assembly_usd`` and ``total_usd``. Raises :class:`NoSiliconDataError` when area or node is unknown.
    """
    if die_area_mm2 is None or node_nm is None or not np.isfinite(die_area_mm2) or not np.isfinite(node_nm):
        raise NoSiliconDataError(f"no die area or node known for {chip_id}")
    if die_count < 1:
        raise InvalidSettingError(f"die_count: must be at least 1 for {chip_id}, got {die_count}")
    a = assumptions
    logic = float(good_die_cost_usd(die_area_mm2, node_nm, a)) * die_count
    base = sum(good_die(area, node, a).cost_usd * count for count, area, node in base_dies)
    memory = 0.0
    if memory_gib:
        if memory_gib < 0:
            raise InvalidSettingError(f"memory_gib: must not be negative for {chip_id}, got {memory_gib}")
        level = memory_level(memory_type or "")
        if level != "sram":
            prices = a.table("silicon.memory_usd_per_gib")
            if level not in prices:
                raise InvalidSettingError(
                    f"memory level '{level}' of {chip_id} has no price in the assumptions; known: {', '.join(prices)}"
                )
            memory = prices[level] * memory_gib
    pack_table = a.table("silicon.packaging_usd")
    kind = _package_key(package_kind, pack_table)
    packaging = pack_table[kind]
    test = a.table("silicon.test_assembly_usd")[kind]
    return {
        "logic_dies_usd": logic,
        "base_dies_usd": base,
        "memory_usd": memory,
        "packaging_usd": packaging,
        "test_assembly_usd": test,
        "total_usd": logic + base + memory + packaging + test,
    }
