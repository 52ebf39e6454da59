"""Designs (and real chips) as arrays of what the evaluation reads: peaks, bandwidth, memory,
links, area, power and cost.

A design's figures follow from its parameters (:mod:`inferchip.spec.design_space`):
``macs = units x dim^2``, ``P_bf16 = 2 macs clock``, ``P_fp8 = 2 P_bf16`` and ``P_fp4 = 4 P_bf16``
where supported, memory bandwidth and capacity from the per-stack / per-channel table, the
vector rate a fixed fraction of the bf16 peak; area, TDP and cost from
:mod:`inferchip.cost.design.model` with the coefficients fitted on real dies.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import numpy as np

from inferchip.catalog.yaml_io import read_mapping
from inferchip.cost.design import constants as c
from inferchip.cost.design import model as dm
from inferchip.cost.design.fit import fitted
from inferchip.spec.assumptions import Assumptions
from inferchip.spec.design_space import PARAMETERS, DesignSpace, design_ids
from inferchip.spec.stream import MEDIAN_MEASURED_SHARE, attainable_memory_bytes_per_s
from inferchip.units import GIB

RUNTIME_RESERVE_BYTES = 2.0 * GIB  # generic family default (catalog/families.yaml runtime_reserve_gib)


def load_space(path: str | Path) -> DesignSpace:
    """The design space of a YAML (or JSON) space file, read as every spec file is
    (:func:`~inferchip.catalog.yaml_io.read_mapping`: unreadable, non-UTF-8, empty, duplicate keys,
    bad syntax or absurd nesting -> SpecError naming the file), then validated by
    :meth:`DesignSpace.from_dict`."""
    return DesignSpace.from_dict(read_mapping(Path(path)), str(path))


@dataclass
class Chips:
    """Many chips as arrays (one entry per chip)."""

    ids: np.ndarray
    peak_bf16: np.ndarray  # FLOP/s
    peak_fp8: np.ndarray  # FLOP/s (0: none, bf16 used)
    vector: np.ndarray  # FLOP/s
    memory_bytes_per_s: np.ndarray
    usable_bytes: np.ndarray
    link_bytes_per_s: np.ndarray
    tile: np.ndarray  # GEMM tile side the tables use
    chips_per_board: np.ndarray
    tdp_w: np.ndarray
    cost_usd: np.ndarray
    area_mm2: np.ndarray  # compute silicon per package (all dies)
    dies: np.ndarray
    feasible: np.ndarray  # bool: within the reticle / die limit
    params: dict[str, np.ndarray] = field(default_factory=dict)
    # measured / datasheet DRAM bandwidth of catalogue chips (spec.stream); None: a design, the measured median
    stream_share: np.ndarray | None = None
    # the system each chip sits in (ChipSpec.system: server or embedded_soc), which sets its TCO terms
    # (cost.tco.tco_terms); None: every chip a server (a design)
    system: np.ndarray | None = None
    # what each chip's cost_usd holds (cost.tco.COVERS): a rack's share where the cost is a system-share price
    # (a chip the silicon model cannot cost); None: every figure the accelerator's
    covers: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.ids)

    def take(self, sel: Any) -> Chips:
        optional = ("params", "stream_share", "system", "covers")
        kw = {f.name: getattr(self, f.name)[sel] for f in fields(self) if f.name not in optional}
        share = None if self.stream_share is None else self.stream_share[sel]
        system = None if self.system is None else self.system[sel]
        covers = None if self.covers is None else self.covers[sel]
        return Chips(**kw, params={k: v[sel] for k, v in self.params.items()}, stream_share=share, system=system,
                     covers=covers)

    def attainable_bytes_per_s(self, fraction: float) -> np.ndarray:
        """DRAM rate kernels reach, bytes/s: ``fraction`` of the measured streaming rate (spec.stream)."""
        share = MEDIAN_MEASURED_SHARE if self.stream_share is None else self.stream_share
        return np.asarray(attainable_memory_bytes_per_s(self.memory_bytes_per_s, share, fraction), dtype=float)


def design_physics(params: dict[str, np.ndarray], a: Assumptions, max_dies: int) -> dict[str, np.ndarray]:
    """Peaks, memory, links, area (by part), dies, TDP and cost (by part) of designs given by value arrays."""
    coef = fitted(a)
    units, dim = params["matrix_units"].astype(float), params["matrix_unit_dim"].astype(float)
    macs_per_unit = dim * dim
    clock = params["clock_ghz"].astype(float) * 1e9
    fmts = params["formats"].astype(str)
    p_bf16 = 2.0 * units * macs_per_unit * clock
    has_fp8 = np.char.find(fmts, "fp8") >= 0
    mtype = params["memory_type"].astype(str)
    mu = params["memory_units"].astype(float)
    bw = c.memory_unit(mtype, "bytes_per_s") * mu
    gib = c.memory_unit(mtype, "gib") * mu
    link = params["link_count"].astype(float) * params["link_gb_per_s"].astype(float) * 1e9
    node = params["node_nm"].astype(float)
    parts = dm.area_parts_mm2(coef, units, macs_per_unit, fmts, node, params["sram_mb"], mtype, mu, link,
                              params["cpu_cores"].astype(float), params["soc_other_mm2"].astype(float))
    area = np.sum(np.stack(list(parts.values())), axis=0)
    dies, per_die, ok = dm.split_dies(area, max_dies)
    per_die_cost_area = np.where(ok, per_die, np.minimum(per_die, c.RETICLE_MM2.value))
    cost = dm.cost_parts_usd(dies, per_die_cost_area, node, mtype, gib, a)
    host_io = ((mu > 0) | (link > 0)).astype(float)  # as the area model's uncore (cost/design/model.py)
    tdp = dm.tdp_w(coef, p_bf16, node, mtype, bw, link, area * np.where(dies > 1, 1.0 + c.D2D_AREA_FRACTION.value, 1.0),
                   a, vector_flop_per_s=p_bf16 * c.VECTOR_FRACTION_OF_BF16.value, host_io=host_io)
    out = {"peak_bf16": p_bf16, "peak_fp8": np.where(has_fp8, 2.0 * p_bf16, 0.0),
           "vector": p_bf16 * c.VECTOR_FRACTION_OF_BF16.value, "memory_bytes_per_s": bw,
           "usable_bytes": np.maximum(gib * GIB - RUNTIME_RESERVE_BYTES, 0.0), "link_bytes_per_s": link,
           "area_mm2": area * np.where(dies > 1, 1.0 + c.D2D_AREA_FRACTION.value, 1.0), "dies": dies,
           "feasible": ok, "tdp_w": tdp, "cost_usd": np.sum(np.stack(list(cost.values())), axis=0)}
    out.update(parts)
    out.update(cost)
    return out


def designs_from_index(space: DesignSpace, idx: np.ndarray, a: Assumptions) -> Chips:
    """Chips of the designs at index vectors ``idx`` (n x parameters) of ``space``."""
    params = space.decode(idx)
    ph = design_physics(params, a, space.max_dies)
    return Chips(ids=design_ids(params), peak_bf16=ph["peak_bf16"], peak_fp8=ph["peak_fp8"], vector=ph["vector"],
                 memory_bytes_per_s=ph["memory_bytes_per_s"], usable_bytes=ph["usable_bytes"],
                 link_bytes_per_s=ph["link_bytes_per_s"], tile=params["matrix_unit_dim"].astype(int),
                 chips_per_board=params["chips_per_board"].astype(int), tdp_w=ph["tdp_w"],
                 cost_usd=ph["cost_usd"], area_mm2=ph["area_mm2"], dies=ph["dies"], feasible=ph["feasible"],
                 params=params)


def catalogue_chips(chip_ids: list[str], a: Assumptions, tile: int) -> Chips:
    """Real chips as :class:`Chips` (datasheet peaks, bandwidth, usable memory, links, TDP; cost the
    modelled manufacturing cost, else the reported price), on GEMM tables of side ``tile``."""
    from inferchip.catalog.chips import get_chip_params, load_chip
    from inferchip.cost.chip_cost import chip_cost
    from inferchip.review.inputs import domain_chips
    from inferchip.spec.bounds import pick

    rows: dict[str, list[Any]] = {k: [] for k in ("ids", "peak_bf16", "peak_fp8", "vector", "memory_bytes_per_s",
                                                 "usable_bytes", "link_bytes_per_s", "chips_per_board", "tdp_w",
                                                 "cost_usd", "area_mm2", "dies", "stream_share", "system", "covers")}
    for cid in chip_ids:
        spec, cp = load_chip(cid), get_chip_params(cid)
        peaks = cp.peak_flop_per_s
        bf16 = float(peaks.get("bf16") or peaks.get("fp16") or max(peaks.values()))
        costed = chip_cost(spec, a)
        cost = costed.cost_used_usd
        covers = costed.price_covers if costed.status == "price_only" else "accelerator"  # what it holds
        area = pick(spec.silicon.die_area_mm2, "central")
        for k, v in (("ids", cid), ("peak_bf16", bf16), ("peak_fp8", float(peaks.get("fp8", 0.0))),
                     ("vector", float(cp.vector_flop_per_s)), ("memory_bytes_per_s", float(cp.memory_bytes_per_s)),
                     ("usable_bytes", float(cp.usable_memory_bytes)), ("link_bytes_per_s", float(cp.link_bytes_per_s)),
                     ("chips_per_board", domain_chips(cp.max_scaleup_domain, 8)), ("tdp_w", float(cp.tdp_w or np.nan)),
                     ("cost_usd", float(cost) if cost else np.nan),
                     ("area_mm2", float(area) * spec.silicon.compute_die_count if area else np.nan),
                     ("dies", float(spec.silicon.compute_die_count)),
                     ("stream_share", float(cp.memory_stream_share)), ("system", spec.system), ("covers", covers)):
            rows[k].append(v)
    arr = {k: np.asarray(v) for k, v in rows.items()}
    n = len(chip_ids)
    return Chips(ids=arr["ids"].astype(object), peak_bf16=arr["peak_bf16"], peak_fp8=arr["peak_fp8"],
                 vector=arr["vector"], memory_bytes_per_s=arr["memory_bytes_per_s"], usable_bytes=arr["usable_bytes"],
                 link_bytes_per_s=arr["link_bytes_per_s"], tile=np.full(n, tile),
                 chips_per_board=arr["chips_per_board"].astype(int), tdp_w=arr["tdp_w"], cost_usd=arr["cost_usd"],
                 area_mm2=arr["area_mm2"], dies=arr["dies"], feasible=np.ones(n, bool),
                 stream_share=arr["stream_share"], system=arr["system"].astype(object),
                 covers=arr["covers"].astype(object))


def with_changes(chips: Chips, **scale: np.ndarray) -> Chips:
    """Copies of ``chips`` with fields multiplied (for what-if changes of a real chip)."""
    return replace(chips, **{k: getattr(chips, k) * v for k, v in scale.items()})


__all__ = ["PARAMETERS", "Chips", "catalogue_chips", "design_physics", "designs_from_index", "with_changes"]
