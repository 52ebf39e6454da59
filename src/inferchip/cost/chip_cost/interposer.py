"""A package's dies and HBM stacks against the largest CoWoS interposer of the chip's year: the dies' footprint
(compute dies and base-die classes, :func:`package_dies_mm2`), the HBM stacks (stated, else the fewest of the
generation's largest and fastest announced stack that hold the capacity and carry the bandwidth, :func:`hbm_stacks`)
and the check (:func:`interposer_check`; TSMC's interposer sizes as reported: ``cost.constants``)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from inferchip.cost import energy as en
from inferchip.cost.constants import COWOS_INTERPOSER_RETICLES, HBM_STACK_FOOTPRINT_MM2
from inferchip.cost.economics import package_kind
from inferchip.cost.silicon import base_dies_at
from inferchip.errors import InvalidSettingError
from inferchip.spec import bounds as b
from inferchip.spec.assumptions import Assumptions
from inferchip.spec.chip import ChipSpec, EstimateLevel, pick


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
    if assumptions is None:
        from inferchip.catalog.assumptions import load_assumptions

        assumptions = load_assumptions()
    lvl = _stack_generation(spec, assumptions)
    gib_per = assumptions.table("silicon.hbm_stack_gib").get(lvl, b.HBM_STACK_BYTES_MAX / 2.0**30)
    tb_per = assumptions.table("silicon.hbm_stack_tb_per_s").get(lvl)
    by_cap = math.ceil(memory_gib(spec, level) / gib_per - 1e-9)
    bw = pick(spec.memory.bandwidth_tb_per_s, level)
    by_bw = math.ceil(bw / (tb_per * (1.0 + STACK_FIGURE_ROUNDING))) if tb_per and bw else 0
    need = StackCount(max(by_cap, by_bw), "bandwidth" if by_bw > by_cap else "capacity", by_cap, by_bw, gib_per,
                      tb_per or 0.0, lvl)
    m = re.search(r"(\d+)\s*(?:x\s*)?stacks?\b", spec.memory.type, re.IGNORECASE)
    stated = {k: v for k, v in (("silicon.memory_stacks", spec.silicon.memory_stacks),
                                ("memory.type", int(m.group(1)) if m else None)) if v is not None}
    return need if not stated else _stated_stacks(spec, stated, need)


def _stated_stacks(spec: ChipSpec, stated: dict[str, int], need: StackCount) -> StackCount:
    """A stated count (``silicon.memory_stacks``, else the memory text's "N stacks"), refused where the two disagree
    or where it is fewer than the generation's largest and fastest announced stacks need (``need``): a count that
    cannot hold the capacity or carry the bandwidth drew an interposer too small (architect50)."""
    field, count = next(iter(stated.items()))
    if len(set(stated.values())) > 1:
        raise InvalidSettingError(f"{spec.id}: silicon.memory_stacks = {count} but memory.type {spec.memory.type!r} "
                                  f"says {stated['memory.type']}; allowed: one count (state it once, or the same)")
    if count < need.stacks:
        by_cap = need.set_by == "capacity"
        why = (f"{need.by_capacity} to hold memory.capacity (stacks of {need.stack_gib:g} GiB, silicon.hbm_stack_gib)"
               if by_cap else f"{need.by_bandwidth} to carry memory.bandwidth_tb_per_s (stacks of "
               f"{need.stack_tb_per_s:g} TB/s, silicon.hbm_stack_tb_per_s)")
        raise InvalidSettingError(
            f"{spec.id}: {field} = {count} stacks: too few; the largest and fastest announced "
            f"{need.generation.upper() or 'HBM'} stacks need {why}; allowed: at least {need.stacks} stacks, or a "
            f"smaller {'memory.capacity' if by_cap else 'memory.bandwidth_tb_per_s'}")
    return StackCount(count, "stated")


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


def package_dies_mm2(spec: ChipSpec, area_mm2: float, level: EstimateLevel = "central") -> float:
    """Interposer area the package's dies take: the compute dies, and each base-die class beside them; compute dies
    stacked on base dies (``under_compute_dies``) share their footprint, so the larger of the two counts."""
    compute = area_mm2 * spec.silicon.compute_die_count
    under = beside = 0.0
    for d, one_mm2 in base_dies_at(spec, level):
        mm2 = one_mm2 * d.count
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
