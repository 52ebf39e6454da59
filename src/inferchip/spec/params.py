"""A chip in SI units for the cost models: :class:`ChipParams`, built from a spec plus family defaults.

The datasheet units of :class:`~inferchip.spec.chip.ChipSpec` are converted here once; memory
capacities go through the one table :data:`inferchip.units.CAPACITY_UNIT_BYTES`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from inferchip.spec.formats import WIDER
from inferchip.spec.range import EstimateLevel, pick
from inferchip.units import GIB, GIGA, MICRO, TERA, capacity_bytes

if TYPE_CHECKING:
    from inferchip.spec.chip import ChipSpec, FamilyDefaults


@dataclass(frozen=True)
class ChipParams:
    """A chip in SI units, ready for the cost models. Fields may be numpy arrays (a sweep of chips)."""

    id: str
    peak_flop_per_s: dict[str, float]
    memory_bytes_per_s: float
    memory_capacity_bytes: float
    usable_memory_bytes: float
    sram_bytes: float
    link_bytes_per_s: float
    link_latency_s: float
    scaleout_bytes_per_s: float
    scaleout_latency_s: float
    max_scaleup_domain: int
    gemm_tile_m: int
    gemm_tile_n: int
    gemm_tiles_in_flight: float
    kernel_overhead_s: float
    tdp_w: float
    idle_w: float
    vector_flop_per_s: float
    family: str = "generic"
    notes: tuple[str, ...] = field(default_factory=tuple)

    def peak_for(self, fmt: str) -> tuple[float, str]:
        """Peak FLOP/s for a compute format, falling back to the next wider format the chip has."""
        for f in WIDER[fmt]:
            if f in self.peak_flop_per_s and self.peak_flop_per_s[f] > 0:
                return self.peak_flop_per_s[f], f
        best = max(self.peak_flop_per_s, key=lambda k: self.peak_flop_per_s[k])
        return self.peak_flop_per_s[best], best


PCIE5_X16_GB_PER_S_PER_DIRECTION = 63.0  # 32 GT/s x 16 lanes, 128b/130b encoding (PCI-SIG PCIe 5.0 spec)

@dataclass(frozen=True)
class MemoryCapacity:
    """Physical (marketing) capacity and usable capacity (what the runtime leaves), each with its source."""

    physical_bytes: float
    physical_source: str
    usable_bytes: float
    usable_source: str


def memory_capacity(spec: ChipSpec, fam: FamilyDefaults, level: EstimateLevel = "central") -> MemoryCapacity:
    """Both capacities of a chip in bytes, through the one table ``units.CAPACITY_UNIT_BYTES``."""
    m = spec.memory
    physical = m.capacity_bytes(level)
    stated = f"memory.capacity {pick(m.capacity, level):g} {m.capacity_unit}"
    usable = pick(m.usable_capacity_gib, level)
    if usable is not None:
        return MemoryCapacity(physical, stated, usable * GIB, f"memory.usable_capacity_gib {usable:g} GiB (runtime figure)")
    reserve = fam.runtime_reserve_gib
    return MemoryCapacity(physical, stated, max(physical - reserve * GIB, 0.0),
                          f"{stated} less the {spec.family} family runtime reserve {reserve:g} GiB")


def chip_params(spec: ChipSpec, fam: FamilyDefaults, level: EstimateLevel = "central") -> ChipParams:
    """Convert a datasheet-level spec plus family defaults into SI parameters."""
    c, m, i, p = spec.compute, spec.memory, spec.interconnect, spec.power
    notes: list[str] = []
    peaks = {k: pick(v, level) * TERA for k, v in c.dense_tflops.items()}  # type: ignore[operator]
    cap = memory_capacity(spec, fam, level)
    tile = c.gemm_tile or fam.gemm_tile
    units = c.matrix_unit_count or 128
    in_flight = c.gemm_tiles_in_flight or max(1.0, units * fam.gemm_tiles_in_flight_per_unit)
    link = pick(i.scaleup_bw_gb_per_s_per_direction, level)
    if not link:
        link = fam.scaleup_bw_gb_per_s_per_direction or PCIE5_X16_GB_PER_S_PER_DIRECTION
        notes.append(f"no scale-up bandwidth in the spec: {link:g} GB/s per direction assumed "
                     f"({'family default' if fam.scaleup_bw_gb_per_s_per_direction else 'PCIe Gen5 x16'})")
    link_lat = pick(i.scaleup_latency_us, level)
    tdp = pick(p.tdp_w, level)
    idle = pick(p.idle_w, level)
    vec = pick(c.vector_tflops, level)
    sram = pick(spec.sram.capacity_mb, level)
    if tdp is None:
        notes.append("no TDP published: power-related outputs unavailable")
    return ChipParams(
        id=spec.id,
        peak_flop_per_s=peaks,
        memory_bytes_per_s=pick(m.bandwidth_tb_per_s, level) * TERA,  # type: ignore[operator]
        memory_capacity_bytes=cap.physical_bytes,
        usable_memory_bytes=cap.usable_bytes,
        sram_bytes=capacity_bytes(sram or 0.0, "MB"),
        link_bytes_per_s=(link or 0.0) * GIGA,
        link_latency_s=(link_lat if link_lat is not None else fam.scaleup_latency_us) * MICRO,
        scaleout_bytes_per_s=(pick(i.scaleout_bw_gb_per_s_per_direction, level) or fam.scaleout_bw_gb_per_s_per_direction)
        * GIGA,
        scaleout_latency_s=fam.scaleout_latency_us * MICRO,
        max_scaleup_domain=i.max_scaleup_domain or 1,
        gemm_tile_m=tile[0],
        gemm_tile_n=tile[1],
        gemm_tiles_in_flight=in_flight,
        kernel_overhead_s=fam.kernel_overhead_us * MICRO,
        tdp_w=tdp if tdp is not None else float("nan"),
        idle_w=idle if idle is not None else (tdp * fam.idle_power_fraction_of_tdp if tdp else float("nan")),
        vector_flop_per_s=(vec * TERA) if vec else max(peaks.values()) / 16,
        family=spec.family,
        notes=tuple(notes),
    )


def stack_chips(chips: list[ChipParams], axis_shape: tuple[int, ...] | None = None) -> ChipParams:
    """Many chips as one ``ChipParams`` whose numeric fields are arrays (for vectorised sweeps).

    A format a chip has no units for is 0 in its array (the cost model then falls back to a
    wider format chip by chip). ``axis_shape`` reshapes the chip axis, e.g. ``(-1, 1, 1)`` to
    broadcast against (batch, length) grids.
    """
    import numpy as np

    shape = axis_shape or (-1,)

    def arr(name: str) -> Any:
        return np.array([getattr(c, name) for c in chips], dtype=float).reshape(shape)

    formats = sorted({f for c in chips for f in c.peak_flop_per_s})
    peaks: dict[str, Any] = {f: np.array([c.peak_flop_per_s.get(f, 0.0) for c in chips], dtype=float).reshape(shape) for f in formats}
    numeric = [f for f in ChipParams.__dataclass_fields__ if f not in ("id", "peak_flop_per_s", "family", "notes")]
    kw = {f: arr(f) for f in numeric}
    return ChipParams(id=",".join(c.id for c in chips), peak_flop_per_s=peaks, family="mixed", notes=(), **kw)
