"""What one packaged chip costs to make, line by line with sources, checked against its price.

The silicon model (:mod:`inferchip.cost.silicon`, METHODS.md 2.11) gives, for a die area and a process node: dies
per wafer, negative-binomial yield, wafer price, good-die cost; then memory (GiB x price per GiB of its memory level),
package and final test (:func:`inferchip.cost.economics.manufacturing_cost_usd`), each line with its assumption
(``catalog/assumptions.yaml``).

Reality check: where a reported price is public, ``price / cost`` is shown with the implied gross margin
``1 - cost / price``. Where a cloud $/h is public, it is set beside the TCO per hour of owning the chip at its
manufacturing cost (:mod:`inferchip.cost.tco`, its system's terms, power at TDP with the chip's share of an
n-accelerator server, n = min(scale-up domain, 8)), so ``cloud / TCO-at-cost`` is the markup of the whole chain.

A chip without die area or node is costed by its reported price (status ``price_only``); one with neither gets
status ``unknown`` and a message saying so, never a zero. Wafer-scale parts (fewer than one die per wafer) are
outside the dies-per-wafer model and handled the same way, with the reason.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field
from typing import Any

from inferchip.cost import energy as en
from inferchip.cost import silicon as si
from inferchip.cost import tco
from inferchip.cost.constants import COWOS_INTERPOSER_RETICLES, HBM_STACK_FOOTPRINT_MM2
from inferchip.cost.economics import manufacturing_cost_usd, package_kind, package_source
from inferchip.errors import InvalidSettingError
from inferchip.spec import bounds as b
from inferchip.spec.assumptions import Assumptions
from inferchip.spec.chip import ChipSpec, EstimateLevel, Range, pick

SERVER_ACCELERATORS_MAX = 8  # the chip's share of a server of min(scale-up domain, 8) accelerators


@dataclass
class CostLine:
    """One line of the breakdown: a quantity, its unit and where it comes from."""

    item: str
    value: float | str | None
    unit: str
    source: str


@dataclass(frozen=True)
class InterposerCheck:
    """A CoWoS package's dies and HBM stacks against the largest interposer TSMC offers in the chip's year
    (``cost.constants.COWOS_INTERPOSER_RETICLES``). ``area_mm2`` (dies + stacks x footprint) is a lower bound: only
    the dies the spec lists take room (compute dies and ``silicon.base_dies``, :func:`package_dies_mm2`; no
    spacing), and where the stack count is not stated, the fewest stacks that hold the capacity and carry the
    bandwidth (``stack_count``, :func:`hbm_stacks`: what set the count and the stack figures it read).
    ``fits``: ``area_mm2 <= limit_mm2``."""

    kind: str
    year: int | None  # the chip's year; None: not stated, the largest interposer announced applies
    dies_mm2: float  # compute and base dies' footprint (package_dies_mm2)
    stacks: int
    stacks_stated: bool
    stack_footprint_mm2: float
    area_mm2: float
    limit_reticles: float
    limit_mm2: float
    fits: bool
    stack_count: StackCount


@dataclass
class ChipCost:
    chip_id: str
    name: str
    status: str  # "modelled", "price_only" or "unknown"
    message: str
    node_nm: float | None = None
    die_area_mm2: float | None = None
    lines: list[CostLine] = field(default_factory=list)
    manufacturing_cost_usd: float | None = None
    cost_used_usd: float | None = None  # modelled cost, else the price
    price_usd: float | None = None
    price_over_cost: float | None = None
    implied_gross_margin: float | None = None
    cloud_usd_per_hour: float | None = None
    tco_at_cost_usd_per_hour: float | None = None
    cloud_over_tco_at_cost: float | None = None
    breakdown_usd: dict[str, float] = field(default_factory=dict)
    interposer: InterposerCheck | None = None  # CoWoS parts only
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def __repr__(self) -> str:  # the dataclass's printed every line with its source: ~4,900 characters for an H100
        cost, price = ("-" if v is None else f"${v:,.0f}" for v in (self.manufacturing_cost_usd, self.price_usd))
        return (f"<ChipCost {self.chip_id} ({self.status}): manufacturing {cost}, price {price}; "
                f"{len(self.lines)} lines with sources: .lines, .breakdown_usd, .to_dict()>")


def _node_key(table: dict[str, float], node_nm: float) -> str:
    """The node class a lookup by node uses (smallest tabulated node >= node), for its citation."""
    keys = sorted(table, key=float)
    return next((k for k in keys if float(k) >= node_nm - 1e-9), keys[-1])


def _node_class(table: dict[str, float], key: str, node_nm: float) -> str:
    """The class ``key`` of ``table`` in words; a node below every class says it is costed at the smallest."""
    below = key == min(table, key=float) and node_nm < float(key) - 1e-9
    return f"{key} nm class" + (f" (the smallest tabulated: {node_nm:g} nm is costed as {key} nm)" if below else "")


def _cite(a: Assumptions, path: str) -> str:
    return a.constant(path).source.citation


def _figure_source(value: Any, what: str, spec: ChipSpec) -> str:
    if isinstance(value, Range):
        return f"{spec.id} {what}: estimate {value.low:g}-{value.high:g}, central used ({value.derivation})"
    return f"{spec.id} chip spec, {what}"


def memory_gib(spec: ChipSpec, level: EstimateLevel = "central") -> float:
    """Off-chip memory of a chip in GiB (0 for MB-class on-die SRAM)."""
    return spec.memory.off_chip_gib(level)  # the one capacity table, units.CAPACITY_UNIT_BYTES


STACK_FIGURE_ROUNDING = 0.01  # a datasheet's bandwidth is rounded (TPU v6e: 1,640 GB/s = 2 x 819.2 + 0.1 %)


@dataclass(frozen=True)
class StackCount:
    """HBM stacks of a package and what set the count: ``stated`` (``silicon.memory_stacks`` or the memory text),
    ``capacity`` or ``bandwidth`` (the fewest stacks of the generation's largest and fastest announced stack,
    ``silicon.hbm_stack_gib`` / ``silicon.hbm_stack_tb_per_s`` of the assumptions, that hold the capacity and carry
    the bandwidth: the larger count). ``by_capacity`` / ``by_bandwidth``: each count (0 where not derived)."""

    stacks: int
    set_by: str
    by_capacity: int = 0
    by_bandwidth: int = 0
    stack_gib: float = 0.0
    stack_tb_per_s: float = 0.0
    generation: str = ""  # the stack tables' key read (_stack_generation); "" for a stated count

    @property
    def stated(self) -> bool:
        return self.set_by == "stated"


def _memory_level(spec: ChipSpec) -> str:
    """The chip's memory level (cost.energy.memory_level of its memory type); "" where the type names none."""
    try:
        return en.memory_level(spec.memory.technology())
    except InvalidSettingError:
        return ""


def _stack_generation(spec: ChipSpec, a: Assumptions) -> str:
    """The key of the stack tables a chip's memory reads: its memory type where tabulated (hbm2), else its energy
    level (:func:`_memory_level`); "" where neither names one."""
    tech = spec.memory.technology()
    return tech if tech in a.table("silicon.hbm_stack_gib") else _memory_level(spec)


def hbm_stacks(spec: ChipSpec, level: EstimateLevel = "central", assumptions: Assumptions | None = None
               ) -> StackCount:
    """The HBM stacks of a package: ``silicon.memory_stacks``, else the count the memory text gives ("HBM3e (8
    stacks)"), else the larger of capacity / stack capacity and bandwidth / stack bandwidth of the chip's memory
    generation (``assumptions`` ``silicon.hbm_stack_gib`` / ``hbm_stack_tb_per_s``, sourced there; None: the bundled
    file). A level without a stack figure (a memory type not named) takes JEDEC HBM4's largest stack
    (``spec.bounds.HBM_STACK_BYTES_MAX``) and no bandwidth count."""
    if spec.silicon.memory_stacks is not None:
        return StackCount(spec.silicon.memory_stacks, "stated")
    m = re.search(r"(\d+)\s*(?:x\s*)?stacks?\b", spec.memory.type, re.IGNORECASE)
    if m:
        return StackCount(int(m.group(1)), "stated")
    if assumptions is None:
        from inferchip.catalog.assumptions import load_assumptions

        assumptions = load_assumptions()
    lvl = _stack_generation(spec, assumptions)
    gib_per = assumptions.table("silicon.hbm_stack_gib").get(lvl, b.HBM_STACK_BYTES_MAX / 2.0**30)
    tb_per = assumptions.table("silicon.hbm_stack_tb_per_s").get(lvl)
    by_cap = math.ceil(memory_gib(spec, level) / gib_per - 1e-9)
    bw = pick(spec.memory.bandwidth_tb_per_s, level)
    by_bw = math.ceil(bw / (tb_per * (1.0 + STACK_FIGURE_ROUNDING))) if tb_per and bw else 0
    return StackCount(max(by_cap, by_bw), "bandwidth" if by_bw > by_cap else "capacity", by_cap, by_bw, gib_per,
                      tb_per or 0.0, lvl)


def package_dies_mm2(spec: ChipSpec, area_mm2: float, level: EstimateLevel = "central") -> float:
    """Interposer area the package's dies take: the compute dies, and each base-die class beside them; compute dies
    stacked on base dies (``under_compute_dies``) share their footprint, so the larger of the two counts."""
    compute = area_mm2 * spec.silicon.compute_die_count
    under = beside = 0.0
    for d in spec.silicon.base_dies:
        mm2 = float(pick(d.die_area_mm2, level) or 0.0) * d.count
        under, beside = (under + mm2, beside) if d.under_compute_dies else (under, beside + mm2)
    return max(compute, under) + beside


def interposer_check(spec: ChipSpec, area_mm2: float, level: EstimateLevel = "central",
                     assumptions: Assumptions | None = None) -> InterposerCheck | None:
    """The package's dies and stacks against TSMC's largest CoWoS interposer of the chip's year; None for a package
    that is not CoWoS (organic substrate). A chip whose stated bandwidth alone needs more stacks than the interposer
    holds beside its dies (where its capacity's stacks fit) is refused (InvalidSettingError naming the field, the
    value and the most the package carries): the stated rate cannot come from one package of that year."""
    kind = package_kind(spec)
    if kind not in COWOS_INTERPOSER_RETICLES:
        return None
    offered = COWOS_INTERPOSER_RETICLES[kind]
    reticles = max((r for y, r in offered if spec.year is None or y <= spec.year), default=offered[0][1])
    if assumptions is None:
        from inferchip.catalog.assumptions import load_assumptions

        assumptions = load_assumptions()
    count = hbm_stacks(spec, level, assumptions)
    footprint = HBM_STACK_FOOTPRINT_MM2.get(_memory_level(spec), min(HBM_STACK_FOOTPRINT_MM2.values()))
    dies = package_dies_mm2(spec, area_mm2, level)
    total, limit = dies + count.stacks * footprint, reticles * b.RETICLE_MM2
    room = max(0, math.floor((limit - dies) / footprint + 1e-9))
    when = f"in {spec.year}" if spec.year is not None else "announced"
    if count.set_by == "bandwidth" and count.by_capacity <= room < count.by_bandwidth:
        raise InvalidSettingError(
            f"{spec.id}: memory.bandwidth_tb_per_s = {pick(spec.memory.bandwidth_tb_per_s, level):g} TB/s needs at "
            f"least {count.by_bandwidth} {count.generation.upper()} stacks of {count.stack_tb_per_s:g} TB/s (the "
            "fastest announced, "
            f"silicon.hbm_stack_tb_per_s), but the largest {kind} interposer {when} ({limit:,.0f} mm2) holds {room} "
            f"beside its dies ({dies:,.0f} mm2); allowed: at most {room * count.stack_tb_per_s:g} TB/s, or "
            "state silicon.memory_stacks, fewer or smaller dies, or a later year")
    return InterposerCheck(kind=kind, year=spec.year, dies_mm2=dies, stacks=count.stacks,
                           stacks_stated=count.stated, stack_footprint_mm2=footprint, area_mm2=total,
                           limit_reticles=reticles, limit_mm2=limit, fits=total <= limit, stack_count=count)


def chip_cost(spec: ChipSpec, assumptions: Assumptions, level: EstimateLevel = "central") -> ChipCost:
    """Silicon cost breakdown of one chip with sources, beside its reported price and cloud rate."""
    a = assumptions
    price = pick(spec.price.usd, level)
    cloud = pick(spec.price.cloud_usd_per_hour, level)
    area = pick(spec.silicon.die_area_mm2, level)
    node = spec.silicon.node_nm
    out = ChipCost(chip_id=spec.id, name=spec.name, status="unknown", message="", node_nm=node, die_area_mm2=area,
                   price_usd=price, cloud_usd_per_hour=cloud)
    why_not = None
    if area is None or node is None:
        missing = [n for n, v in (("die area", area), ("process node", node)) if v is None]
        why_not = f"no {' or '.join(missing)} in the chip spec"
    else:
        try:
            made = manufacturing_cost_usd(spec, a, level)
        except InvalidSettingError as exc:
            why_not = str(exc)
        else:
            _modelled_lines(out, spec, a, area, node, made, level)
    if why_not is not None:
        if price:
            out.status, out.cost_used_usd = "price_only", price
            out.message = f"{spec.id}: {why_not}; the silicon model does not apply: cost taken as the reported price"
        else:
            advice = ("add silicon.die_area_mm2 and silicon.node_nm, or price.usd, to the chip YAML"
                      if area is None or node is None else "or give price.usd in the chip YAML")
            out.message = f"{spec.id}: {why_not}; no reported price either: its cost is unknown ({advice})"
    if price is not None:
        out.lines.append(CostLine("reported price", price, "USD", _figure_source(spec.price.usd, "price.usd", spec)
                                  + (f"; {spec.price.note}" if spec.price.note else "")))
    if out.manufacturing_cost_usd and price:
        out.price_over_cost = price / out.manufacturing_cost_usd
        out.implied_gross_margin = 1.0 - out.manufacturing_cost_usd / price
    if cloud is not None:
        out.lines.append(CostLine("cloud rate", cloud, "USD/h", _figure_source(spec.price.cloud_usd_per_hour,
                                                                             "price.cloud_usd_per_hour", spec)))
        _cloud_check(out, spec, a, level)
    return out


def _modelled_lines(out: ChipCost, spec: ChipSpec, a: Assumptions, area: float, node: float,
                    made: dict[str, float], level: EstimateLevel) -> None:
    diameter, edge = a.number("silicon.wafer_diameter_mm"), a.number("silicon.edge_exclusion_mm")
    scribe, alpha = a.number("silicon.scribe_width_mm"), a.number("silicon.yield_cluster_alpha")
    dpw = float(si.dies_per_wafer(area, diameter, edge, scribe))
    d0 = si.defect_density_per_cm2(node, a)
    y = float(si.yield_negative_binomial(area, d0, alpha))
    wafer = si.wafer_price_usd(node, a)
    good_die = wafer / (dpw * y)
    n_dies = spec.silicon.compute_die_count
    d0_table, w_table = a.table("silicon.defect_density_per_cm2"), a.table("silicon.wafer_price_usd")
    d0_key, w_key = _node_key(d0_table, node), _node_key(w_table, node)
    kind = package_kind(spec)
    gib = memory_gib(spec, level)
    lines = [
        CostLine("process node", f"{spec.silicon.process_node or ''} ({node:g} nm)".strip(), "",
                 f"{spec.id} chip spec, silicon.node_nm"),
        CostLine("die area (one compute die)", area, "mm2", _figure_source(spec.silicon.die_area_mm2,
                                                                           "silicon.die_area_mm2", spec)),
        CostLine("compute dies per package", n_dies, "", f"{spec.id} chip spec, silicon.compute_die_count"),
        CostLine("dies per wafer (gross)", dpw, "", f"pi r^2/A - pi d/sqrt(2A), d = {diameter:g} mm: "
                 f"{_cite(a, 'silicon.wafer_diameter_mm')}"),
        CostLine("defect density D0", d0, "1/cm2", f"{_node_class(d0_table, d0_key, node)}: "
                 f"{_cite(a, f'silicon.defect_density_per_cm2.{d0_key}')}"),
        CostLine("die yield (negative binomial)", y, "fraction", f"(1 + A D0/alpha)^-alpha, alpha = {alpha:g}: "
                 f"{_cite(a, 'silicon.yield_cluster_alpha')}"),
        CostLine("wafer price", wafer, "USD", f"{_node_class(w_table, w_key, node)}: "
                 f"{_cite(a, f'silicon.wafer_price_usd.{w_key}')}"),
        CostLine("good-die cost", good_die, "USD", "wafer price / (dies per wafer x yield)"),
        CostLine("logic dies", made["logic_dies_usd"], "USD", f"{n_dies} x good-die cost"),
    ]
    lines += [_die_class_line(a, d.role, d.count, float(pick(d.die_area_mm2, level) or 0.0), d.node_nm, d.source)
              for d in spec.silicon.base_dies]
    mem_src = "on-die SRAM only: no external memory cost"
    if made["memory_usd"] > 0:
        lvl = en.memory_level(spec.memory.technology())
        mem_src = f"{gib:,.0f} GiB {lvl} x {a.table('silicon.memory_usd_per_gib')[lvl]:g} USD/GiB: " \
                  f"{_cite(a, f'silicon.memory_usd_per_gib.{lvl}')}"
    lines += [
        CostLine(f"memory ({spec.memory.type}, {gib:,.0f} GiB)", made["memory_usd"], "USD", mem_src),
        CostLine(f"packaging ({kind})", made["packaging_usd"], "USD",
                 f"{package_source(spec)}; {_cite(a, f'silicon.packaging_usd.{kind}')}"),
        CostLine(f"test and assembly ({kind})", made["test_assembly_usd"], "USD",
                 _cite(a, f"silicon.test_assembly_usd.{kind}")),
        CostLine("total manufacturing cost", made["total_usd"], "USD", "sum of the lines above (no NRE, no margin)"),
    ]
    out.lines += lines
    out.status, out.manufacturing_cost_usd, out.cost_used_usd = "modelled", made["total_usd"], made["total_usd"]
    out.breakdown_usd = dict(made)
    out.message = f"{spec.id}: modelled manufacturing cost ${made['total_usd']:,.0f}"
    _interposer_lines(out, spec, area, level, a)
    out.notes.append("harvesting (selling partly enabled dies) is not modelled: big-die costs are upper estimates")
    out.notes.append("only the compute dies are costed: I/O or base dies, if any, are not in the spec"
                     if not spec.silicon.base_dies else "each die class is costed as a good die at its own node; "
                     "die stacking (hybrid bonding) and its yield loss are not modelled")


def _die_class_line(a: Assumptions, role: str, count: int, area: float, node: float, source: str) -> CostLine:
    """One line for a class of non-compute dies: count x good-die cost at its own node, with its figures' sources."""
    d0, wafer = si.defect_density_per_cm2(node, a), si.wafer_price_usd(node, a)
    y = float(si.yield_negative_binomial(area, d0, a.number("silicon.yield_cluster_alpha")))
    good = float(si.good_die_cost_usd(area, node, a))
    w_key = _node_key(a.table("silicon.wafer_price_usd"), node)
    return CostLine(f"{role}: {count} x {area:g} mm2, {node:g} nm", good * count, "USD",
                    f"{count} x good die ${good:,.0f} (wafer ${wafer:,.0f}, {w_key} nm class; D0 {d0:g}/cm2, yield "
                    f"{y:.3f}); {source}")


def _interposer_lines(out: ChipCost, spec: ChipSpec, area: float, level: EstimateLevel, a: Assumptions) -> None:
    """The interposer line (saying what set the stack count), and a flag where the package fits no CoWoS interposer
    of its year."""
    check = interposer_check(spec, area, level, a)
    out.interposer = check
    if check is None:
        return
    when = f"in {check.year}" if check.year is not None else "announced (the chip states no year)"
    n = check.stack_count
    gen = n.generation.upper()
    stacks = {"stated": f"{check.stacks} HBM stacks",
              "capacity": f"at least {check.stacks} HBM stacks (count not stated: set by the capacity, the fewest "
                          f"{gen} stacks of {n.stack_gib:g} GiB that hold it; the bandwidth needs {n.by_bandwidth})",
              "bandwidth": f"at least {check.stacks} HBM stacks (count not stated: set by the bandwidth, not the "
                           f"capacity: {pick(spec.memory.bandwidth_tb_per_s, level):g} TB/s needs {check.stacks} "
                           f"{gen} stacks of {n.stack_tb_per_s:g} TB/s, the capacity {n.by_capacity})"
              }[n.set_by]
    out.lines.append(CostLine(
        "interposer area (dies + HBM stacks)", float(round(check.area_mm2)), "mm2",
        f"{_dies_text(spec, area, level)} + {stacks} x {check.stack_footprint_mm2:.0f} mm2; "
        f"{check.kind} largest {when}: {check.limit_reticles:g} x {b.RETICLE_MM2:g} mm2 reticle = "
        f"{check.limit_mm2:,.0f} mm2 (TSMC, as reported: cost.constants.COWOS_INTERPOSER_RETICLES)"))
    if not check.fits:
        out.message += (f"; its dies and HBM stacks ({check.area_mm2:,.0f} mm2) exceed the largest "
                        f"{check.kind} interposer {when} ({check.limit_mm2:,.0f} mm2)")
        out.notes.append(
            f"package over the interposer: {check.area_mm2:,.0f} mm2 of dies and stacks > {check.limit_mm2:,.0f} mm2 "
            f"({check.kind}, {check.limit_reticles:g} x reticle {when}); no CoWoS package of that year holds it, so "
            "its packaging line prices a package that cannot be built (wafer-scale packaging such as TSMC's "
            "InFO-SoW is not modelled), and a design needs fewer or smaller dies or fewer stacks")


def _dies_text(spec: ChipSpec, area: float, level: EstimateLevel) -> str:
    text = f"{spec.silicon.compute_die_count} x {area:g} mm2"
    for d in spec.silicon.base_dies:
        text += (f" {'under' if d.under_compute_dies else '+'} {d.count} x {pick(d.die_area_mm2, level):g} mm2 "
                 f"{d.role}")
    return text if not spec.silicon.base_dies else f"{text} = {package_dies_mm2(spec, area, level):,.0f} mm2"


def _cloud_check(out: ChipCost, spec: ChipSpec, a: Assumptions, level: EstimateLevel) -> None:
    tdp = pick(spec.power.tdp_w, level)
    if out.manufacturing_cost_usd is None or tdp is None:
        out.notes.append("cloud rate shown without a check: needs a modelled cost and a TDP")
        return
    n = min(spec.interconnect.max_scaleup_domain or 1, SERVER_ACCELERATORS_MAX)
    wall_per_chip = float(en.wall_power_w(tdp * n, n, a, system=spec.system)) / n
    terms = tco.tco_terms(spec.system, a)  # the one TCO rule predict, serve and the review use
    per_h = float(terms.breakdown_per_hour_usd(out.manufacturing_cost_usd, wall_per_chip)["total_usd_per_h"])
    out.tco_at_cost_usd_per_hour = per_h
    out.cloud_over_tco_at_cost = (out.cloud_usd_per_hour / per_h
                                if per_h > 0 and out.cloud_usd_per_hour is not None else None)
    host = (f"1/{n} of a {n}-accelerator server's host" if spec.system == "server"
            else "its carrier board (host.embedded_soc)")
    out.lines.append(CostLine("TCO per hour at manufacturing cost", per_h, "USD/h",
                              f"power at TDP with {host} at the wall; {terms.describe()}"))
