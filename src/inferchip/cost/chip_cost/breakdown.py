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

from dataclasses import asdict, dataclass, field
from typing import Any

from inferchip.catalog.prices import NoPrice, UsablePrice, usable_price
from inferchip.cost import energy as en
from inferchip.cost import silicon as si
from inferchip.cost import tco
from inferchip.cost.chip_cost.interposer import InterposerCheck, interposer_check, memory_gib, package_dies_mm2
from inferchip.cost.economics import manufacturing_cost_usd, package_kind, package_source
from inferchip.errors import InvalidSettingError
from inferchip.spec import bounds as b
from inferchip.spec.assumptions import Assumptions
from inferchip.spec.chip import ChipSpec, EstimateLevel, Range, pick
from inferchip.spec.chip_sections import BaseDieSpec

SERVER_ACCELERATORS_MAX = 8  # the chip's share of a server of min(scale-up domain, 8) accelerators


@dataclass
class CostLine:
    """One line of the breakdown: a quantity, its unit and where it comes from."""

    item: str
    value: float | str | None
    unit: str
    source: str


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
    implied_gross_margin: float | None = None  # None where the price is a system share: no chip's margin
    price_covers: str = "accelerator"  # what the reported price holds (price.covers): the margin's basis
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


def chip_cost(spec: ChipSpec, assumptions: Assumptions, level: EstimateLevel = "central") -> ChipCost:
    """Silicon cost breakdown of one chip with sources, beside its reported price and cloud rate."""
    a = assumptions
    rule = usable_price(spec)  # the one rule predict, the review and explore read (catalog.prices)
    price = rule.at(level) if isinstance(rule, UsablePrice) else None
    covers = rule.covers if isinstance(rule, UsablePrice) else spec.price.covers
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
            reason = rule.reason if isinstance(rule, NoPrice) else ""
            out.message = f"{spec.id}: {why_not}; no usable price either ({reason}): its cost is unknown ({advice})"
    if isinstance(rule, UsablePrice):
        out.price_covers = covers  # what the price holds: a system share's ratio sets a rack's share against one chip
        held = ("" if covers == "accelerator" else
                f"; covers a system share (price.covers: {spec.price.system_holds}): its TCO adds only what the "
                "system leaves out, and its ratio to one chip's silicon cost is not that chip's margin")
        out.lines.append(CostLine("reported price", rule.at(level), "USD", f"{rule.basis} price: {rule.whose()}"
                                  + held))
    if out.manufacturing_cost_usd and price:
        out.price_over_cost = price / out.manufacturing_cost_usd
        if out.price_covers == "accelerator":  # a margin only where the price and the cost are one chip's
            out.implied_gross_margin = 1.0 - out.manufacturing_cost_usd / price
        else:
            out.notes.append(f"the reported price is a share of a system's (price.covers: {out.price_covers}): "
                             f"its {out.price_over_cost:.1f}x over one chip's modelled silicon sets that share (the "
                             "chip with its share of the CPUs, switches and rack the system holds) against the chip "
                             "alone, so no gross margin of the chip is implied (implied_gross_margin: null)")
    if cloud is not None:
        out.lines.append(CostLine("cloud rate", cloud, "USD/h", _figure_source(spec.price.cloud_usd_per_hour,
                                                                             "price.cloud_usd_per_hour", spec)))
        _cloud_check(out, spec, a, level)
    return out


def _modelled_lines(out: ChipCost, spec: ChipSpec, a: Assumptions, area: float, node: float,
                    made: dict[str, float], level: EstimateLevel) -> None:
    diameter, alpha = a.number("silicon.wafer_diameter_mm"), a.number("silicon.yield_cluster_alpha")
    die = si.good_die(area, node, a)  # the rule of the total's logic dies (cost.silicon.chip_cost_breakdown)
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
        CostLine("dies per wafer (gross)", die.dies_per_wafer, "", f"pi r^2/A - pi d/sqrt(2A), d = {diameter:g} mm: "
                 f"{_cite(a, 'silicon.wafer_diameter_mm')}"),
        CostLine("defect density D0", die.d0_per_cm2, "1/cm2", f"{_node_class(d0_table, d0_key, node)}: "
                 f"{_cite(a, f'silicon.defect_density_per_cm2.{d0_key}')}"),
        CostLine("die yield (negative binomial)", die.yield_fraction, "fraction", f"(1 + A D0/alpha)^-alpha, alpha = "
                 f"{alpha:g}: {_cite(a, 'silicon.yield_cluster_alpha')}"),
        CostLine("wafer price", die.wafer_usd, "USD", f"{_node_class(w_table, w_key, node)}: "
                 f"{_cite(a, f'silicon.wafer_price_usd.{w_key}')}"),
        CostLine("good-die cost", die.cost_usd, "USD", "wafer price / (dies per wafer x yield)"),
        CostLine("logic dies", made["logic_dies_usd"], "USD", f"{n_dies} x good-die cost"),
    ]
    lines += [_die_class_line(a, d, one_mm2) for d, one_mm2 in si.base_dies_at(spec, level)]
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


def _die_class_line(a: Assumptions, d: BaseDieSpec, area: float) -> CostLine:
    """One line for a class of non-compute dies of ``area`` mm2 each: count x good-die cost at its own node, the good
    die the total sums (:func:`~inferchip.cost.silicon.good_die`), with its figures' sources."""
    die = si.good_die(area, d.node_nm, a)
    w_key = _node_key(a.table("silicon.wafer_price_usd"), d.node_nm)
    return CostLine(f"{d.role}: {d.count} x {area:g} mm2, {d.node_nm:g} nm", die.cost_usd * d.count, "USD",
                    f"{d.count} x good die ${die.cost_usd:,.0f} (wafer ${die.wafer_usd:,.0f}, {w_key} nm class; D0 "
                    f"{die.d0_per_cm2:g}/cm2, yield {die.yield_fraction:.3f}); {d.source}")


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
    for d, one_mm2 in si.base_dies_at(spec, level):
        text += f" {'under' if d.under_compute_dies else '+'} {d.count} x {one_mm2:g} mm2 {d.role}"
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
