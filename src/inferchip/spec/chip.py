"""Accelerator specification, as a datasheet states it, plus micro-architecture defaults.

YAML keys carry the unit the datasheet uses (``_tflops``, ``_tb_per_s``, ``_gb_per_s``,
``_w``, ``_mm2``, ``_usd``; rates are bytes per second with decimal prefixes, 1 TB/s =
1e12 B/s); :func:`~inferchip.spec.params.chip_params` converts once to SI for the cost models. Every number
has a finite, physical bound (:mod:`inferchip.spec.bounds`). Peak throughputs are DENSE
(no 2:4 sparsity). A figure that is only announced or estimated may be a :class:`Range`
(low, central, high, derivation); predictions use the central value unless asked for
``low`` or ``high``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, ClassVar, Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from inferchip.sources import Source
from inferchip.spec import bounds as b
from inferchip.spec.bounds import EstimateLevel, Figure, Frozen, Range, check_id, cross_field_error, pick
from inferchip.spec.formats import ALL_FORMATS
from inferchip.spec.memory import MEMORY_TYPES, MemoryType, fill_memory_type
from inferchip.spec.params import DEFAULT_VECTOR_WIDTH_BITS, PCIE5_X16_GB_PER_S_PER_DIRECTION, ChipParams, stack_chips
from inferchip.spec.stream import MeasuredBandwidth, implausible_share, stream_share
from inferchip.spec.vision import is_cpu_family
from inferchip.units import (
    GIB,
    GIGA,
    MICRO,
    ON_DIE_CAPACITY_UNITS,
    TERA,
    capacity_bytes,
)

__all__ = [
    "PCIE5_X16_GB_PER_S_PER_DIRECTION", "ChipParams", "EstimateLevel", "Figure", "Frozen", "MemoryCapacity", "Range",
    "chip_params", "memory_capacity", "pick", "stack_chips",
]

LEVELS: tuple[EstimateLevel, ...] = ("low", "central", "high")

RENAMED_NOTE = {"_tb_per_s": "TB/s = 1e12 bytes/s", "_gb_per_s": "GB/s = 1e9 bytes/s"}


def _renamed(old_new: dict[str, str]) -> dict[str, tuple[str, str]]:
    """old dotted key -> (new dotted key, what the unit means)."""
    out = {}
    for old, new in old_new.items():
        note = next(v for k, v in RENAMED_NOTE.items() if k in new)
        out[old] = (new, note)
    return out


def _levels(value: Figure | None) -> list[float]:
    return [] if value is None else [p for p in (pick(value, lv) for lv in LEVELS) if p is not None]


class ComputeSpec(Frozen):
    dense_tflops: dict[str, Annotated[Figure, b.TFLOPS]] = Field(
        description="Dense peak per number format in TFLOP/s (TOPS for integer formats), no sparsity."
    )
    vector_tflops: Annotated[Figure, b.TFLOPS] | None = Field(
        None, description="Non-matrix (vector/SIMT) fp32 peak, TFLOP/s."
    )
    clock_ghz: Annotated[Figure, b.CLOCK_GHZ] | None = None
    matrix_unit_count: Annotated[int, b.COUNT_UNITS] | None = Field(
        None, description="Matrix units (tensor cores, MXUs, systolic arrays)."
    )
    matrix_units_description: str | None = None
    sm_count: Annotated[int, b.COUNT_UNITS] | None = Field(None, description="Streaming multiprocessors (NVIDIA).")
    gemm_tile: tuple[Annotated[int, b.TILE], Annotated[int, b.TILE]] | None = Field(
        None, description="Output tile (M, N) of the chip's main GEMM kernel; overrides the family default."
    )
    gemm_tiles_in_flight: Annotated[int, b.COUNT_UNITS] | None = Field(
        None, description="Output tiles computed concurrently (SMs x tiles per SM); family default if absent."
    )
    vector_width_bits: Annotated[int, b.SIMD_WIDTH_BITS] | None = Field(
        None, description="CPUs: widest fp32 SIMD register the cores execute (256 AVX2 only, 512 AVX-512)."
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


CapacityUnit = Literal["MB", "GB", "TB", "MiB", "GiB", "TiB"]


class MemorySpec(Frozen):
    type: str = Field(min_length=1, description="The memory as the source describes it: 'HBM3e (8 stacks)', ...")
    memory_type: MemoryType | None = Field(
        None, description="Memory technology (selects energy per bit and price per GiB): "
        + ", ".join(MEMORY_TYPES) + ". Read from `type` when absent (spec.memory.parse_memory_type)."
    )
    capacity: Annotated[Figure, b.CAPACITY] = Field(
        description="Physical (marketing) capacity as the source states it, in `capacity_unit`."
    )
    capacity_unit: CapacityUnit = Field(
        description="How the source means the capacity (units.CAPACITY_UNIT_BYTES): HBM/DRAM stacks are binary (GiB)."
    )
    usable_capacity_gib: Annotated[Figure, b.USABLE_GIB] | None = Field(
        None, description="What the runtime reports as usable (e.g. nvidia-smi total, MiB-based so GiB); "
        "family runtime reserve subtracted from the physical capacity if absent."
    )
    bandwidth_tb_per_s: Annotated[Figure, b.TB_PER_S] = Field(
        description="Peak off-chip (or, for SRAM-only parts, on-chip) bandwidth, TB/s (1e12 bytes/s)."
    )
    measured_bandwidth: MeasuredBandwidth | None = Field(None, description="Sustained rate a published "
        "microbenchmark measured, with its source (spec.stream); kept apart from the datasheet peak.")

    _type_from_text = model_validator(mode="before")(fill_memory_type)

    def technology(self) -> str:
        """``memory_type``, else the free text (the energy and silicon models refuse one naming no known type)."""
        return self.memory_type or self.type

    def capacity_bytes(self, level: EstimateLevel = "central") -> float:
        """Physical capacity in bytes, converted the way the source means its unit."""
        return capacity_bytes(pick(self.capacity, level) or 0.0, self.capacity_unit)

    def is_on_die(self) -> bool:
        """True when the capacity is MB-class on-die SRAM (MB/MiB), not off-chip DRAM/HBM."""
        return self.capacity_unit in ON_DIE_CAPACITY_UNITS

    def off_chip_gib(self, level: EstimateLevel = "central") -> float:
        """Off-chip (DRAM/HBM) capacity in GiB, for memory cost; 0 for MB-class on-die SRAM."""
        return 0.0 if self.is_on_die() else self.capacity_bytes(level) / GIB

    @model_validator(mode="after")
    def _physical(self) -> MemorySpec:
        peak, got = pick(self.bandwidth_tb_per_s, "high"), self.measured_bandwidth
        if got is not None and peak is not None and got.tb_per_s > peak * (1 + 1e-9):
            raise cross_field_error("measured_bandwidth", got.tb_per_s, f"above the datasheet peak {peak:g} TB/s")
        if got is not None and (why := implausible_share(got.tb_per_s, pick(self.bandwidth_tb_per_s, "low"))):
            raise cross_field_error("measured_bandwidth", got.tb_per_s, why)
        for level in LEVELS:
            total = self.capacity_bytes(level)
            if total > b.CAPACITY_BYTES_MAX:
                raise cross_field_error("capacity", pick(self.capacity, level),
                                        f"{total:.4g} bytes is above 1 PiB on one part (2**50 bytes)")
            usable = pick(self.usable_capacity_gib, level)
            if usable is not None and usable * GIB > total * (1 + 1e-12):
                raise cross_field_error("usable_capacity_gib", usable, f"the usable capacity ({usable * GIB / 1e9:,.2f}"
                    f" GB) must not exceed the physical capacity memory.capacity = {pick(self.capacity, level):g} "
                    f"{self.capacity_unit} ({total / 1e9:,.2f} GB)")
        return self


class SramSpec(Frozen):
    capacity_mb: Annotated[Figure, b.SRAM_MB] | None = Field(
        None, description="On-chip SRAM (L2 + shared + scratchpads), MB (1e6 bytes) as published."
    )
    bandwidth_tb_per_s: Annotated[Figure, b.TB_PER_S_OR_NONE] | None = None


class InterconnectSpec(Frozen):
    scaleup_name: str | None = None
    scaleup_bw_gb_per_s_per_direction: Annotated[Figure, b.GB_PER_S] | None = Field(
        None, description="Per chip, per direction, GB/s (1e9 bytes/s)."
    )
    scaleup_latency_us: Annotated[Figure, b.LATENCY_US] | None = Field(
        None, description="One-hop latency (alpha); family default if absent."
    )
    max_scaleup_domain: Annotated[int, b.DOMAIN] | None = None
    scaleup_direct_all_reduce: bool | None = Field(
        None, strict=True, description="Every scale-up peer one hop away and one-/two-shot peer-to-peer "
        "all-reduce kernels in the serving engines (cost/network.py); family default if absent."
    )
    scaleout_bw_gb_per_s_per_direction: Annotated[Figure, b.GB_PER_S] | None = Field(
        None, description="Per chip NIC bandwidth, GB/s (1e9 bytes/s)."
    )


class PowerSpec(Frozen):
    tdp_w: Annotated[Figure, b.WATTS] | None = None
    idle_w: Annotated[Figure, b.WATTS_OR_ZERO] | None = None

    @model_validator(mode="after")
    def _idle_below_tdp(self) -> PowerSpec:
        for level in LEVELS:
            tdp, idle = pick(self.tdp_w, level), pick(self.idle_w, level)
            if tdp is not None and idle is not None and idle > tdp:
                raise cross_field_error("idle_w", idle, f"idle power must not exceed power.tdp_w = {tdp:g} W")
        return self


class SiliconSpec(Frozen):
    process_node: str | None = None
    node_nm: Annotated[float, b.NODE_NM] | None = Field(
        None, description="Nominal node for energy and wafer-cost scaling."
    )
    die_area_mm2: Annotated[Figure, b.DIE_AREA] | None = Field(
        None, description="Area of ONE compute die, at most the 858 mm2 reticle field unless wafer_scale."
    )
    compute_die_count: Annotated[int, b.DIE_COUNT] = 1
    wafer_scale: bool = Field(False, strict=True, description="One die stitched across the wafer (Cerebras WSE).")
    transistors_billion: Annotated[Figure, b.TRANSISTORS_BILLION] | None = None
    memory_stacks: Annotated[int, b.STACKS] | None = None

    @model_validator(mode="after")
    def _reticle(self) -> SiliconSpec:
        if self.wafer_scale:
            return self
        for area in _levels(self.die_area_mm2):
            if area > b.RETICLE_MM2:
                raise cross_field_error(
                    "die_area_mm2", area,
                    f"one die is at most the {b.RETICLE_MM2:g} mm2 reticle field (26 x 33 mm scanner field); "
                    "give the area of ONE die with compute_die_count for a multi-die part, or set "
                    "silicon.wafer_scale: true for a wafer-scale part (then up to a 300 mm wafer, "
                    f"{b.WAFER_MM2:,.0f} mm2)",
                )
        return self


class PriceSpec(Frozen):
    usd: Annotated[Figure, b.USD] | None = Field(None, description="Reported unit price (street or list), USD.")
    cloud_usd_per_hour: Annotated[Figure, b.USD_PER_HOUR] | None = None
    note: str | None = None


class ChipSpec(Frozen):
    renamed_fields: ClassVar[dict[str, tuple[str, str]]] = _renamed({
        "memory.bandwidth_tbps": "memory.bandwidth_tb_per_s",
        "sram.bandwidth_tbps": "sram.bandwidth_tb_per_s",
        "interconnect.scaleup_bw_gbps_per_direction": "interconnect.scaleup_bw_gb_per_s_per_direction",
        "interconnect.scaleout_bw_gbps_per_direction": "interconnect.scaleout_bw_gb_per_s_per_direction",
    })

    id: str
    name: str = Field(min_length=1)
    vendor: str = Field(min_length=1)
    family: str = Field(min_length=1, description="Selects micro-architecture defaults in catalog/families.yaml.")
    category: str = "accelerator"
    status: str = "shipping"
    year: Annotated[int, b.YEAR] | None = None
    estimate: bool = Field(
        False, strict=True, description="True when the figures are announced or estimated, not measured."
    )
    compute: ComputeSpec
    memory: MemorySpec
    sram: SramSpec = SramSpec()
    interconnect: InterconnectSpec = InterconnectSpec()
    power: PowerSpec = PowerSpec()
    silicon: SiliconSpec = SiliconSpec()
    price: PriceSpec = PriceSpec()
    sources: list[Source] = Field(min_length=1, description="Every chip names its sources.")
    notes: str | None = None

    @field_validator("id")
    @classmethod
    def _id(cls, v: str) -> str:
        return check_id(v)
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

    renamed_fields: ClassVar[dict[str, tuple[str, str]]] = _renamed({
        "scaleup_bw_gbps_per_direction": "scaleup_bw_gb_per_s_per_direction",
        "scaleout_bw_gbps_per_direction": "scaleout_bw_gb_per_s_per_direction",
    })

    gemm_tile: tuple[Annotated[int, b.TILE], Annotated[int, b.TILE]] = (128, 128)
    gemm_tiles_in_flight_per_unit: Annotated[float, b.PER_UNIT] = Field(
        0.25, description="Concurrent output tiles per matrix unit.")
    kernel_overhead_us: Annotated[float, b.LATENCY_US] = Field(
        3.0, description="Fixed time per kernel (launch, prologue, tail).")
    scaleup_latency_us: Annotated[float, b.LATENCY_US] = 3.0
    scaleup_direct_all_reduce: bool = Field(
        False, strict=True, description="Every scale-up peer one hop away (switch or full mesh) and the serving "
        "engines all-reduce with direct one-/two-shot peer-to-peer kernels (cost/network.py)."
    )
    scaleup_bw_gb_per_s_per_direction: Annotated[float, b.GB_PER_S_POSITIVE] | None = Field(
        None, description="Used when a chip states no scale-up bandwidth; else PCIe Gen5 x16 is assumed."
    )
    expert_a2a_kernel_gb_per_s: Annotated[float, b.GB_PER_S] = Field(0.0, description="Prefill (normal-mode) rate "
        "of the family's one-sided expert all-to-all kernels, all their bytes; 0: none (cost/network.py).")
    expert_a2a_decode_floor_us: tuple[Annotated[float, b.LATENCY_US], Annotated[float, b.LATENCY_US]] = Field(
        (0.0, 0.0), description="One low-latency (decode) expert all-to-all call: floor, per peer (cost/network.py).")
    scaleout_bw_gb_per_s_per_direction: Annotated[float, b.GB_PER_S] = 50.0
    scaleout_latency_us: Annotated[float, b.LATENCY_US] = 10.0
    runtime_reserve_gib: Annotated[float, b.RESERVE_GIB] = Field(
        2.0, description="Memory the runtime and context keep."
    )
    idle_power_fraction_of_tdp: Annotated[float, b.FRACTION] = 0.12
    software: str = "vendor stack"
    sources: list[Source] = Field(min_length=1)


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
        return MemoryCapacity(physical, stated, usable * GIB,
                              f"memory.usable_capacity_gib {usable:g} GiB (runtime figure)")
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
    # the measured share of the central datasheet figure, the same at every estimate level
    share, share_note = stream_share(pick(m.bandwidth_tb_per_s, "central") or 1.0, m.measured_bandwidth)
    notes += [share_note] if share_note else []
    if tdp is None:
        notes.append("no TDP published: power-related outputs unavailable")
    if c.vector_width_bits is None and is_cpu_family(spec.family):
        notes.append(f"no compute.vector_width_bits: {DEFAULT_VECTOR_WIDTH_BITS:g}-bit SIMD (AVX2) assumed (estimate)")
    return ChipParams(
        id=spec.id,
        peak_flop_per_s=peaks,
        memory_bytes_per_s=pick(m.bandwidth_tb_per_s, level) * TERA,  # type: ignore[operator]
        memory_stream_share=share,
        memory_capacity_bytes=cap.physical_bytes,
        usable_memory_bytes=cap.usable_bytes,
        sram_bytes=capacity_bytes(sram or 0.0, "MB"),
        link_bytes_per_s=(link or 0.0) * GIGA,
        link_latency_s=(link_lat if link_lat is not None else fam.scaleup_latency_us) * MICRO,
        scaleout_bytes_per_s=(pick(i.scaleout_bw_gb_per_s_per_direction, level)
                              or fam.scaleout_bw_gb_per_s_per_direction) * GIGA,
        scaleout_latency_s=fam.scaleout_latency_us * MICRO,
        max_scaleup_domain=i.max_scaleup_domain or 1,
        gemm_tile_m=tile[0],
        gemm_tile_n=tile[1],
        gemm_tiles_in_flight=in_flight,
        sm_count=float(c.sm_count or 0),
        kernel_overhead_s=fam.kernel_overhead_us * MICRO,
        tdp_w=tdp if tdp is not None else float("nan"),
        idle_w=idle if idle is not None else (tdp * fam.idle_power_fraction_of_tdp if tdp else float("nan")),
        vector_flop_per_s=(vec * TERA) if vec else max(peaks.values()) / 16,
        link_direct_all_reduce=float(i.scaleup_direct_all_reduce if i.scaleup_direct_all_reduce is not None
                                     else fam.scaleup_direct_all_reduce),
        expert_a2a_kernel_bytes_per_s=fam.expert_a2a_kernel_gb_per_s * GIGA,
        expert_a2a_decode_floor_s=fam.expert_a2a_decode_floor_us[0] * MICRO,
        expert_a2a_decode_per_peer_s=fam.expert_a2a_decode_floor_us[1] * MICRO,
        vector_width_bits=float(c.vector_width_bits or DEFAULT_VECTOR_WIDTH_BITS),
        family=spec.family,
        notes=tuple(notes),
    )
