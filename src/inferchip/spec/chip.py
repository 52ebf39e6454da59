"""Accelerator specification, as a datasheet states it, plus micro-architecture defaults.

YAML keys carry the unit the datasheet uses (``_tflops``, ``_tbps``, ``_gbps``, ``_w``,
``_mm2``, ``_usd``); :meth:`ChipSpec.params` converts once to SI for the cost models.
Peak throughputs are DENSE (no 2:4 sparsity). A figure that is only announced or
estimated may be a :class:`Range` (low, central, high, derivation); predictions use the
central value unless asked for ``low`` or ``high``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from inferchip.sources import Source
from inferchip.spec.formats import ALL_FORMATS, WIDER
from inferchip.units import GIB, GIGA, MICRO, TERA

EstimateLevel = Literal["low", "central", "high"]


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Range(Frozen):
    """An estimated figure: low, central and high value with the derivation written out."""

    low: float = Field(ge=0)
    central: float = Field(ge=0)
    high: float = Field(ge=0)
    derivation: str

    @model_validator(mode="after")
    def _ordered(self) -> Range:
        if not self.low <= self.central <= self.high:
            raise ValueError(f"need low <= central <= high, got {self.low}, {self.central}, {self.high}")
        return self


Figure = float | Range


def pick(value: Figure | None, level: EstimateLevel = "central") -> float | None:
    """The number to use for a figure at an estimate level."""
    if value is None:
        return None
    if isinstance(value, Range):
        return getattr(value, level)
    return float(value)


class ComputeSpec(Frozen):
    dense_tflops: dict[str, Figure] = Field(
        description="Dense peak per number format in TFLOP/s (TOPS for integer formats), no sparsity."
    )
    vector_tflops: Figure | None = Field(None, description="Non-matrix (vector/SIMT) fp32 peak, TFLOP/s.")
    clock_ghz: Figure | None = None
    matrix_unit_count: int | None = Field(None, ge=1, description="Matrix units (tensor cores, MXUs, systolic arrays).")
    matrix_units_description: str | None = None
    gemm_tile: tuple[int, int] | None = Field(
        None, description="Output tile (M, N) of the chip's main GEMM kernel; overrides the family default."
    )
    gemm_tiles_in_flight: int | None = Field(
        None, ge=1, description="Output tiles computed concurrently (SMs x tiles per SM); family default if absent."
    )

    @field_validator("dense_tflops")
    @classmethod
    def _formats(cls, v: dict[str, Figure]) -> dict[str, Figure]:
        bad = [k for k in v if k not in ALL_FORMATS]
        if bad:
            raise ValueError(f"unknown number format(s) {bad}; allowed: {', '.join(ALL_FORMATS)}")
        if not v:
            raise ValueError("at least one number format with its dense peak is needed")
        return v


class MemorySpec(Frozen):
    type: str = Field(description="HBM3, HBM3e, LPDDR5X, GDDR6, SRAM, ...")
    capacity: Figure = Field(description="Capacity as the source states it, in `capacity_unit`.")
    capacity_unit: Literal["GB", "GiB", "MB", "MiB", "TB"] = Field(
        description="How the source means the capacity: HBM/DRAM stacks are binary (GiB)."
    )
    usable_capacity_gib: Figure | None = Field(
        None, description="What the runtime reports as usable (e.g. nvidia-smi total); family reserve if absent."
    )
    bandwidth_tbps: Figure = Field(description="Peak off-chip (or, for SRAM-only parts, on-chip) bandwidth, TB/s.")


class SramSpec(Frozen):
    capacity_mb: Figure | None = Field(None, description="On-chip SRAM (L2 + shared + scratchpads), MB as published.")
    bandwidth_tbps: Figure | None = None


class InterconnectSpec(Frozen):
    scaleup_name: str | None = None
    scaleup_bw_gbps_per_direction: Figure | None = Field(None, description="Per chip, per direction, GB/s.")
    scaleup_latency_us: Figure | None = Field(None, description="One-hop latency (alpha); family default if absent.")
    max_scaleup_domain: int | None = Field(None, ge=1)
    scaleout_bw_gbps_per_direction: Figure | None = Field(None, description="Per chip NIC bandwidth, GB/s.")


class PowerSpec(Frozen):
    tdp_w: Figure | None = None
    idle_w: Figure | None = None


class SiliconSpec(Frozen):
    process_node: str | None = None
    node_nm: float | None = Field(None, gt=0, description="Nominal node for energy and wafer-cost scaling.")
    die_area_mm2: Figure | None = Field(None, description="Area of ONE compute die.")
    compute_die_count: int = Field(1, ge=1)
    transistors_billion: Figure | None = None
    memory_stacks: int | None = Field(None, ge=0)


class PriceSpec(Frozen):
    usd: Figure | None = Field(None, description="Reported unit price (street or list), USD.")
    cloud_usd_per_hour: Figure | None = None
    note: str | None = None


class ChipSpec(Frozen):
    id: str
    name: str
    vendor: str
    family: str = Field(description="Selects micro-architecture defaults in catalog/families.yaml.")
    category: str = "accelerator"
    status: str = "shipping"
    year: int | None = None
    estimate: bool = Field(False, description="True when the figures are announced or estimated, not measured.")
    compute: ComputeSpec
    memory: MemorySpec
    sram: SramSpec = SramSpec()
    interconnect: InterconnectSpec = InterconnectSpec()
    power: PowerSpec = PowerSpec()
    silicon: SiliconSpec = SiliconSpec()
    price: PriceSpec = PriceSpec()
    sources: list[Source] = Field(min_length=1, description="Every chip names its sources.")
    notes: str | None = None

    def figures(self) -> dict[str, Figure]:
        """Every figure of the spec by dotted path, for listing estimates."""
        out: dict[str, Figure] = {}

        def walk(prefix: str, obj: object) -> None:
            if isinstance(obj, Range):
                out[prefix[:-1]] = obj
            elif isinstance(obj, BaseModel):
                for k in type(obj).model_fields:
                    walk(f"{prefix}{k}.", getattr(obj, k))
            elif isinstance(obj, dict):
                for k, v in obj.items():
                    walk(f"{prefix}{k}.", v)
            elif isinstance(obj, (int, float)) and not isinstance(obj, bool):
                out[prefix[:-1]] = obj

        for part in ("compute", "memory", "sram", "interconnect", "power", "silicon", "price"):
            walk(f"{part}.", getattr(self, part))
        return out

    def estimated_fields(self) -> dict[str, Range]:
        return {k: v for k, v in self.figures().items() if isinstance(v, Range)}


class FamilyDefaults(Frozen):
    """Micro-architecture defaults below the datasheet level, per chip family, each sourced."""

    gemm_tile: tuple[int, int] = (128, 128)
    gemm_tiles_in_flight_per_unit: float = Field(0.25, gt=0, description="Concurrent output tiles per matrix unit.")
    kernel_overhead_us: float = Field(3.0, ge=0, description="Fixed time per kernel (launch, prologue, tail).")
    scaleup_latency_us: float = Field(3.0, ge=0)
    scaleup_bw_gbps_per_direction: float | None = Field(
        None, gt=0, description="Used when a chip states no scale-up bandwidth; else PCIe Gen5 x16 is assumed."
    )
    scaleout_bw_gbps_per_direction: float = Field(50.0, ge=0)
    scaleout_latency_us: float = Field(10.0, ge=0)
    runtime_reserve_gib: float = Field(2.0, ge=0, description="Memory the runtime and context keep.")
    idle_power_fraction_of_tdp: float = Field(0.12, ge=0, le=1)
    software: str = "vendor stack"
    sources: list[Source] = Field(min_length=1)


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


PCIE5_X16_GBPS_PER_DIRECTION = 63.0  # 32 GT/s x 16 lanes, 128b/130b encoding (PCI-SIG PCIe 5.0 spec)

_CAPACITY_UNIT_BYTES = {"GB": GIGA, "GiB": float(GIB), "MB": 1e6, "MiB": float(2**20), "TB": TERA}


def chip_params(spec: ChipSpec, fam: FamilyDefaults, level: EstimateLevel = "central") -> ChipParams:
    """Convert a datasheet-level spec plus family defaults into SI parameters."""
    c, m, i, p = spec.compute, spec.memory, spec.interconnect, spec.power
    notes: list[str] = []
    peaks = {k: pick(v, level) * TERA for k, v in c.dense_tflops.items()}  # type: ignore[operator]
    capacity = pick(m.capacity, level) * _CAPACITY_UNIT_BYTES[m.capacity_unit]  # type: ignore[operator]
    usable = pick(m.usable_capacity_gib, level)
    usable_bytes = usable * GIB if usable is not None else max(capacity - fam.runtime_reserve_gib * GIB, 0.0)
    tile = c.gemm_tile or fam.gemm_tile
    units = c.matrix_unit_count or 128
    in_flight = c.gemm_tiles_in_flight or max(1.0, units * fam.gemm_tiles_in_flight_per_unit)
    link = pick(i.scaleup_bw_gbps_per_direction, level)
    if not link:
        link = fam.scaleup_bw_gbps_per_direction or PCIE5_X16_GBPS_PER_DIRECTION
        notes.append(f"no scale-up bandwidth in the spec: {link:g} GB/s per direction assumed "
                     f"({'family default' if fam.scaleup_bw_gbps_per_direction else 'PCIe Gen5 x16'})")
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
        memory_bytes_per_s=pick(m.bandwidth_tbps, level) * TERA,  # type: ignore[operator]
        memory_capacity_bytes=capacity,
        usable_memory_bytes=usable_bytes,
        sram_bytes=(sram or 0.0) * 1e6,
        link_bytes_per_s=(link or 0.0) * GIGA,
        link_latency_s=(link_lat if link_lat is not None else fam.scaleup_latency_us) * MICRO,
        scaleout_bytes_per_s=(pick(i.scaleout_bw_gbps_per_direction, level) or fam.scaleout_bw_gbps_per_direction)
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

    def arr(name: str):
        return np.array([getattr(c, name) for c in chips], dtype=float).reshape(shape)

    formats = sorted({f for c in chips for f in c.peak_flop_per_s})
    peaks = {f: np.array([c.peak_flop_per_s.get(f, 0.0) for c in chips], dtype=float).reshape(shape) for f in formats}
    numeric = [f for f in ChipParams.__dataclass_fields__ if f not in ("id", "peak_flop_per_s", "family", "notes")]
    kw = {f: arr(f) for f in numeric}
    return ChipParams(id=",".join(c.id for c in chips), peak_flop_per_s=peaks, family="mixed", notes=(), **kw)
