"""Energy, power and money of a prediction: W per chip, tokens per joule, $ per million tokens.

Dynamic energy of a step = FLOP x e_flop(format, node) + DRAM bytes x e_byte(memory type)
+ link bytes x e_link (:mod:`inferchip.cost.energy`); board power = dynamic energy / step
time + static power; above TDP the step is stretched (``throttle``). Money follows
:mod:`inferchip.cost.tco`: the chip's reported price (or, where none is public, its
manufacturing cost from the silicon model, said so in the notes) plus its share of the
system, amortised, with electricity at an energy overhead and space rent, each by the chip's
system's terms (:func:`inferchip.cost.tco.tco_terms`: a server's data centre, an embedded module's device).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from inferchip.catalog.prices import UsablePrice, usable_price
from inferchip.cost import energy as en
from inferchip.cost import tco
from inferchip.cost.constants import VECTOR_WORK_FORMAT
from inferchip.cost.peaks import units_for
from inferchip.cost.silicon import NoSiliconDataError, base_dies_at, chip_cost_breakdown
from inferchip.cost.step import StepCost
from inferchip.errors import InvalidSettingError
from inferchip.spec.assumptions import Assumptions
from inferchip.spec.chip import ChipSpec, EstimateLevel, pick
from inferchip.spec.formats import WIDER
from inferchip.units import HOURS_PER_YEAR, KILO, MEGA, SECONDS_PER_HOUR, TERA

DEFAULT_NODE_NM = 7.0


@dataclass
class ChipMoney:
    price_usd: float | None
    price_source: str
    manufacturing_cost_usd: float | None
    notes: list[str] = field(default_factory=list)
    covers: str = "accelerator"  # what price_usd holds (ChipSpec.price.covers; a modelled cost: the accelerator's)


def node_nm(spec: ChipSpec | None) -> float:
    return spec.silicon.node_nm if spec is not None and spec.silicon.node_nm else DEFAULT_NODE_NM


def package_kind(spec: ChipSpec) -> str:
    """The chip file's ``silicon.package`` where stated; else CoWoS (S for one compute die, L for several) for HBM
    parts, an organic substrate otherwise (:func:`package_source` says which).

    The memory level decides, so "SRAM-only (no HBM/DRAM)" is organic; a memory type the
    energy model does not recognise is read as "names HBM or not".
    """
    if spec.silicon.package is not None:
        return spec.silicon.package
    try:
        hbm = en.memory_level(spec.memory.technology()).startswith("hbm")
    except InvalidSettingError:
        hbm = "hbm" in spec.memory.type.lower()
    if hbm:
        return "cowos-l" if spec.silicon.compute_die_count > 1 else "cowos-s"
    return "organic"


def package_source(spec: ChipSpec) -> str:
    """Where :func:`package_kind` came from: the chip file, or the rule it guessed by (which the file can override)."""
    if spec.silicon.package is not None:
        return f"{spec.id} chip spec, silicon.package"
    n = spec.silicon.compute_die_count
    return (f"not stated, guessed from the memory and {n} compute die(s) (HBM: CoWoS-S for one die, CoWoS-L for "
            "several; else organic); silicon.package states it")


def manufacturing_cost_usd(spec: ChipSpec, assumptions: Assumptions,
                           level: EstimateLevel = "central") -> dict[str, float]:
    """Silicon-model cost breakdown of one packaged chip (raises NoSiliconDataError when unknown)."""
    gib = spec.memory.off_chip_gib(level)  # the one capacity table, units.CAPACITY_UNIT_BYTES
    return chip_cost_breakdown(pick(spec.silicon.die_area_mm2, level), spec.silicon.compute_die_count,
                               spec.silicon.node_nm,
                               spec.memory.technology(), gib, package_kind(spec), assumptions, chip_id=spec.id,
                               base_dies=[(d.count, area, d.node_nm) for d, area in base_dies_at(spec, level)])


def chip_money(spec: ChipSpec | None, assumptions: Assumptions, level: EstimateLevel = "central") -> ChipMoney:
    """Price to use in TCO: the reported price, else the modelled manufacturing cost, else unknown."""
    if spec is None:
        return ChipMoney(None, "unknown", None, ["no chip spec: cost unavailable"])
    notes: list[str] = []
    try:
        made = manufacturing_cost_usd(spec, assumptions, level)["total_usd"]
    except NoSiliconDataError:
        made = None
    except InvalidSettingError as exc:  # e.g. a wafer-scale die, outside the dies-per-wafer model
        made = None
        notes.append(f"{spec.id}: no silicon cost ({str(exc).splitlines()[0]})")
    price = usable_price(spec)  # the one rule the review, cost and explore read (catalog.prices)
    if isinstance(price, UsablePrice):
        return ChipMoney(price.at(level), price.label(), made, covers=price.covers)
    if made is not None:
        return ChipMoney(made, "modelled manufacturing cost (no usable price; no vendor margin)", made,
                         [f"{spec.id}: {price.reason}; $ figures use the silicon model's manufacturing cost"])
    return ChipMoney(None, "unknown", None, [*notes, f"{spec.id}: {price.reason}; no silicon cost: no $ figures"])


def device_money(money: ChipMoney, devices_per_package: int) -> ChipMoney:
    """A package's price and silicon cost shared by the ``devices_per_package`` runtime devices it is to its runtime
    (ChipParams.devices_per_package, spec.params.runtime_device_view): every per-chip figure is then a device's."""
    n, cost = devices_per_package, money.manufacturing_cost_usd
    return money if n == 1 else replace(money, price_usd=money.price_usd and money.price_usd / n,
                                        manufacturing_cost_usd=cost and cost / n)


@dataclass(frozen=True)
class UnitEnergies:
    """Energy per event of one chip: J per FLOP by format (filled as formats are met), J per DRAM and link byte.

    ``rating``: (power limit W, idle W, dense peak FLOP/s by format) of a chip that publishes its TDP
    and peaks: its per-FLOP energy then comes from its own rating point
    (:func:`~inferchip.cost.energy.rated_energy_per_flop_j`); otherwise, and for a format the chip
    does not rate, from the node-scaled catalogue figure, rated at the datasheet peak, less the busy floor.
    ``peaks``: the chip's dense peaks by format (FLOP/s): a format it has no units for costs what it runs as
    (``cost.peaks.units_for``): a wider format's energy per FLOP, or an emulation's narrower units' times the
    passes, the energy of the FLOP the chip executes (stop 43 charged the wanted format's)."""

    node_nm: float
    assumptions: Assumptions
    per_byte_dram_j: float
    per_byte_link_j: float
    per_flop_j: dict[str, float] = field(default_factory=dict)
    rating: tuple[float, float, dict[str, float]] | None = None
    peaks: dict[str, float] = field(default_factory=dict)

    def flop_j(self, fmt: str) -> float:
        """J per FLOP in ``fmt`` beyond the busy floor; ``VECTOR_WORK_FORMAT``: per FLOP-equivalent of work
        timed at the chip's FP32 vector rate (:func:`~inferchip.cost.energy.vector_work_energy_per_flop_j`)."""
        v = self.per_flop_j.get(fmt)
        if v is None and fmt == VECTOR_WORK_FORMAT:
            e = self.assumptions.energy
            peak = None if self.rating is None else self.rating[2].get("fp32")
            if self.rating is not None and peak:
                v = float(en.vector_work_energy_per_flop_j(self.rating[0], self.rating[1], peak, e.busy_fraction))
            else:  # the catalogue's FP32 figure, rated at the datasheet FP32 peak
                v = float(en.energy_per_flop_j("fp32", self.node_nm, self.assumptions)) \
                    * en.rated_flop_energy_factor(e.busy_fraction)
            self.per_flop_j[fmt] = v
        if v is None and fmt in WIDER:
            units, passes = units_for(self.peaks, fmt)
            if units != fmt:  # the FLOP run as ``passes`` FLOP of the units' format (one where it widens)
                v = self.per_flop_j[fmt] = self.flop_j(units) * passes
        if v is None:
            e = self.assumptions.energy
            peak = None if self.rating is None else self.rating[2].get(fmt)
            if self.rating is not None and peak:
                v = float(en.rated_energy_per_flop_j(self.rating[0], self.rating[1], peak, e.busy_fraction,
                                                     e.gemm_fraction))
            else:  # the catalogue figure, rated at the datasheet peak (flop_pj_at_reference_node)
                scale = en.rated_flop_energy_factor(e.busy_fraction)
                v = float(en.energy_per_flop_j(fmt, self.node_nm, self.assumptions)) * scale
            self.per_flop_j[fmt] = v
        return v


_UNITS: dict[tuple[int, float, str, str], UnitEnergies] = {}


def _rating(spec: ChipSpec | None, assumptions: Assumptions) -> tuple[float, float, dict[str, float]] | None:
    """(TDP W, idle W, dense peak FLOP/s by format) of a chip that publishes a TDP; None otherwise."""
    if spec is None:
        return None
    tdp = pick(spec.power.tdp_w)
    if not tdp or not np.isfinite(tdp):
        return None
    idle = pick(spec.power.idle_w)
    if idle is None:  # as chip_params: the family's idle share of the TDP, else the assumptions' default
        from inferchip.catalog.chips import family_defaults
        from inferchip.errors import SpecError

        try:
            idle = float(tdp) * family_defaults(spec.family).idle_power_fraction_of_tdp
        except SpecError:
            idle = float(en.static_power_w(tdp, assumptions))
    peaks: dict[str, float] = {}
    for k, v in spec.compute.dense_tflops.items():
        peak = pick(v)
        if peak:
            peaks[k] = float(peak) * TERA
    return float(tdp), min(float(idle), float(tdp)), peaks


def unit_energies(spec: ChipSpec | None, memory_type: str, assumptions: Assumptions) -> UnitEnergies:
    """Per-event energies of a chip, memoised (the node interpolation costs more than a whole step's sums).
    DRAM bytes carry the memory's own energy plus the on-chip way to the cores
    (:func:`~inferchip.cost.energy.onchip_energy_per_dram_byte_j`)."""
    node = node_nm(spec)
    key = (id(assumptions), node, memory_type, spec.id if spec is not None else "")
    u = _UNITS.get(key)
    if u is None or u.assumptions is not assumptions:
        if len(_UNITS) > 256:
            _UNITS.clear()
        dram = float(en.memory_energy_per_byte_j(memory_type, assumptions, node_nm=node))
        if en.memory_level(memory_type) != "sram":
            dram += en.onchip_energy_per_dram_byte_j(assumptions)
        peaks = {} if spec is None else {k: float(p) * TERA for k, v in spec.compute.dense_tflops.items()
                                         if (p := pick(v))}
        u = _UNITS[key] = UnitEnergies(node, assumptions, dram, float(en.link_energy_j(1.0, assumptions)),
                                       rating=_rating(spec, assumptions), peaks=peaks)
    return u


def step_dynamic_energy_j(cost: StepCost, spec: ChipSpec | None, memory_type: str,
                          assumptions: Assumptions) -> np.ndarray:
    """Dynamic energy of one stage step on one chip, J: FLOP x J/FLOP by format + DRAM bytes x J/B
    + link bytes x J/B."""
    u = unit_energies(spec, memory_type, assumptions)
    e: np.ndarray = np.zeros(())
    for fmt, flop in cost.flop_by_format.items():
        e = e + en.nonnegative_array(flop, "flop") * u.flop_j(fmt)
    e = e + en.nonnegative_array(cost.dram_bytes, "dram bytes") * u.per_byte_dram_j
    e = e + en.nonnegative_array(cost.link_bytes, "link bytes") * u.per_byte_link_j
    return np.asarray(e, dtype=float)


def _idle(tdp_w: float, idle_w: float, assumptions: Assumptions) -> float:
    return idle_w if np.isfinite(idle_w) else float(en.static_power_w(tdp_w, assumptions))


def active_static_power_w(tdp_w: float, idle_w: float, assumptions: Assumptions) -> float:
    """Power of a chip while it runs kernels, before their work is counted, W: the idle floor
    (``idle_w``, else ``static_power_fraction_of_tdp`` x TDP) plus ``energy.busy_power_fraction``
    of the range up to the power limit ``tdp_w`` (:func:`~inferchip.cost.energy.busy_static_power_w`)."""
    idle = _idle(tdp_w, idle_w, assumptions)
    return float(en.busy_static_power_w(min(idle, tdp_w), tdp_w, assumptions.energy.busy_fraction))


def idle_power_w(tdp_w: float, idle_w: float, assumptions: Assumptions) -> float:
    """Power of a chip that runs nothing (an idle replica's chip), W: the idle floor of
    :func:`active_static_power_w` (``idle_w``, else ``static_power_fraction_of_tdp`` x TDP), at most ``tdp_w``."""
    return float(min(_idle(tdp_w, idle_w, assumptions), tdp_w))


@dataclass
class PowerResult:
    time_s: np.ndarray
    power_w: np.ndarray
    throttled: np.ndarray
    energy_j: np.ndarray  # per chip, dynamic + static over the (possibly stretched) step


def step_power(cost: StepCost, replica_step_s: np.ndarray, pp: int, spec: ChipSpec | None, memory_type: str,
               tdp_w: float, idle_w: float, assumptions: Assumptions) -> PowerResult:
    """Board power of one chip while the replica repeats this step (each chip runs its stage ``pp`` times).

    Static power of the busy chip: :func:`active_static_power_w` (idle floor plus the busy share of
    the range up to ``tdp_w``, the enforced power limit: a capped chip, at lower voltage, has a
    lower floor); the FLOPs cost the rest of the rating point (:class:`UnitEnergies`).
    """
    e_dyn = step_dynamic_energy_j(cost, spec, memory_type, assumptions) * pp
    static = active_static_power_w(tdp_w, idle_w, assumptions)
    t, p, thr = en.throttle(replica_step_s, e_dyn, static, tdp_w)
    t = np.asarray(t, float)
    return PowerResult(t, np.asarray(p, float), np.asarray(thr), e_dyn + static * t)


def money_per_token(output_tokens_per_s_per_chip: float, power_w_per_chip: float, money: ChipMoney,
                    num_accelerators: int, assumptions: Assumptions, system: str = "server",
                    devices_per_package: int = 1) -> dict[str, float | None]:
    """$/h per chip (TCO), $ per million output tokens, and tokens/s per $ of capex; ``system``: the chip's
    (``ChipSpec.system``), whose host the wall power adds (:func:`~inferchip.cost.energy.host_system`).
    ``devices_per_package``: the runtime devices a package is (the chips counted are devices, a host slot a
    package: :meth:`~inferchip.cost.energy.HostSystem.per_device`)."""
    if money.price_usd is None:
        return {"tco_usd_per_hour_per_chip": None, "usd_per_million_tokens": None,
                "output_tokens_per_s_per_usd_capex": None}
    # A server's host is shared: a system smaller than one server is charged its share of an
    # 8-accelerator server's host (HGX/OAM servers hold 8), not a whole host per chip; a module is its own host.
    host = en.host_system(system, assumptions).per_device(devices_per_package)
    n = max(num_accelerators, host.min_accelerators)
    wall = float(en.wall_power_w(power_w_per_chip * n, n, assumptions, system=system)) / n if (
        devices_per_package == 1) else host.wall_w(power_w_per_chip * n, n) / n
    terms = tco.tco_terms(system, assumptions, money.covers)  # the one TCO rule, the price's basis
    per_h = float(terms.breakdown_per_hour_usd(money.price_usd, wall)["total_usd_per_h"])
    return {
        "tco_usd_per_hour_per_chip": per_h,
        "usd_per_million_tokens": float(tco.usd_per_million_tokens(per_h, output_tokens_per_s_per_chip)),
        "output_tokens_per_s_per_usd_capex": float(tco.tokens_per_s_per_usd_capex(  # per $ the capex recovers
            output_tokens_per_s_per_chip, terms.system_price_usd(money.price_usd))),
        "wall_power_w_per_chip": wall,
    }


def _nonnegative(x: float, name: str) -> float:
    """:func:`~inferchip.cost.energy.nonnegative_array` for one float (the same errors)."""
    if x != x:
        raise InvalidSettingError(f"{name}: value is not known (NaN)")
    if x < 0:
        raise InvalidSettingError(f"{name}: must not be negative, got {x:g}")
    return x


@dataclass(frozen=True)
class ChipEconomy:
    """What a prediction's power, energy and money need that depends only on the setting (chip,
    spec, memory type, assumptions, estimate corner), computed once: unit energies, the busy
    static power, the TDP, the price and the constants of wall power and TCO per hour (both
    affine in the board power). Its methods take plain floats and repeat :func:`step_power`
    and :func:`money_per_token` operation for operation, so they give the same numbers."""

    units: UnitEnergies
    static_w: float  # busy static power (active_static_power_w)
    tdp_w: float
    money: ChipMoney
    host: en.HostSystem  # the chip's system's host (ChipSpec.system)
    capex_usd_per_h: float | None  # None where the price is unknown
    capital_usd: float | None  # the price with its system share (tco.TcoTerms.system_price_usd); None likewise
    pue: float  # the system's energy overhead (tco.TcoTerms.energy_overhead)
    usd_per_kwh: float
    colocation_usd_per_kw_month: float  # the system's space rent (tco.TcoTerms.space_usd_per_kw_month)

    def step_power(self, flop_by_format: dict[str, float], dram_bytes: float, link_bytes: float,
                   replica_step_s: float, pp: int) -> tuple[float, float, bool, float]:
        """:func:`step_power` of one step: (time_s, power_w, throttled, energy_j)."""
        u = self.units
        return self.step_power_of([u.flop_j(f) for f in flop_by_format], list(flop_by_format.values()), dram_bytes,
                                  link_bytes, replica_step_s, pp)

    def step_power_of(self, flop_j: Sequence[float], flop: Sequence[float], dram_bytes: float, link_bytes: float,
                      replica_step_s: float, pp: int) -> tuple[float, float, bool, float]:
        """:meth:`step_power` with the FLOP as a sequence and ``flop_j`` the J per FLOP of each
        (``UnitEnergies.flop_j`` of their formats, in the same order)."""
        u = self.units
        e = 0.0
        for j, x in zip(flop_j, flop, strict=True):
            e = e + (x if x >= 0 else _nonnegative(x, "flop")) * j
        e = e + (dram_bytes if dram_bytes >= 0 else _nonnegative(dram_bytes, "dram bytes")) * u.per_byte_dram_j
        e = e + (link_bytes if link_bytes >= 0 else _nonnegative(link_bytes, "link bytes")) * u.per_byte_link_j
        e_dyn = e * pp
        t = float(replica_step_s)
        if not t >= 0:
            _nonnegative(t, "time_s")
        if not e_dyn >= 0:
            _nonnegative(e_dyn, "energy_dynamic_j")
        s, tdp = self.static_w, self.tdp_w
        p_dyn = e_dyn / t if t > 0 else (math.inf if e_dyn > 0 else 0.0)
        throttled = p_dyn + s > tdp
        if throttled:
            t = max(t, e_dyn / (tdp - s))
            power = tdp
        else:
            power = p_dyn + s
        return t, power, throttled, e_dyn + s * t

    def money_per_token(self, output_tokens_per_s_per_chip: float, power_w_per_chip: float,
                        num_accelerators: int) -> dict[str, float | None]:
        """:func:`money_per_token` with this setting's price and assumptions."""
        capital, capex = self.capital_usd, self.capex_usd_per_h
        if capital is None or capex is None:
            return {"tco_usd_per_hour_per_chip": None, "usd_per_million_tokens": None,
                    "output_tokens_per_s_per_usd_capex": None}
        h = self.host
        n = float(max(num_accelerators, h.min_accelerators))
        board = power_w_per_chip * n
        if not board >= 0:  # the checks of _nonnegative, called only to raise its error
            _nonnegative(board, "board_power_w_total")
        p = wall = h.wall_w(board, n) / n
        if not p >= 0:
            _nonnegative(p, "avg_power_w")
        per_h = capex + p / KILO * self.pue * self.usd_per_kwh + (
            p / KILO * self.colocation_usd_per_kw_month * tco.MONTHS_PER_YEAR / HOURS_PER_YEAR)
        tps = output_tokens_per_s_per_chip
        if not tps >= 0:
            _nonnegative(tps, "tokens_per_s")
        if not per_h >= 0:
            _nonnegative(per_h, "tco_per_hour_usd")
        return {
            "tco_usd_per_hour_per_chip": per_h,
            "usd_per_million_tokens": per_h / (SECONDS_PER_HOUR * tps) * MEGA if tps > 0 else math.inf,
            "output_tokens_per_s_per_usd_capex": tps / capital if capital > 0 else math.inf,
            "wall_power_w_per_chip": wall,
        }


def chip_economy(spec: ChipSpec | None, memory_type: str, tdp_w: float, idle_w: float, money: ChipMoney,
                 assumptions: Assumptions, devices_per_package: int = 1) -> ChipEconomy:
    """The :class:`ChipEconomy` of a setting (its constants checked here, once); ``devices_per_package``: the
    runtime devices a package is (its host slot shared by them: :meth:`~inferchip.cost.energy.HostSystem.per_device`).
    """
    a = assumptions
    static = active_static_power_w(tdp_w, idle_w, a)
    en.throttle(1.0, 0.0, static, tdp_w)  # refuses a TDP at or below the static power
    system = "server" if spec is None else spec.system
    terms = tco.tco_terms(system, a, money.covers)  # the one TCO rule (cost.tco), as money_per_token
    capex = capital = None
    if money.price_usd is not None:
        capex, capital = (float(f(money.price_usd)) for f in (terms.capex_per_hour_usd, terms.system_price_usd))
        terms.breakdown_per_hour_usd(0.0, 0.0)  # checks the energy overhead and the rent
    return ChipEconomy(unit_energies(spec, memory_type, a), static, float(tdp_w), money,
                       en.host_system(system, a).per_device(devices_per_package), capex, capital,
                       terms.energy_overhead, terms.usd_per_kwh, terms.space_usd_per_kw_month)
