"""Accelerator specification, as a datasheet states it, plus micro-architecture defaults.

A :class:`ChipSpec` is the chip's identity, one record per section (:mod:`inferchip.spec.chip_sections`:
compute, memory, SRAM, interconnect, power, silicon, price) and its sources. YAML keys carry the unit
the datasheet uses (``_tflops``, ``_tb_per_s``, ``_gb_per_s``, ``_w``, ``_mm2``, ``_usd``; rates are
bytes per second with decimal prefixes, 1 TB/s = 1e12 B/s); :func:`chip_params` converts once, with the
family's :class:`FamilyDefaults`, to SI for the cost models. Every number has a finite, physical bound
(:mod:`inferchip.spec.bounds`). Peak throughputs are DENSE (no 2:4 sparsity). A figure that is only
announced or estimated may be a :class:`Range` (low, central, high, derivation); predictions use the
central value unless asked for ``low`` or ``high``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, ClassVar, Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from inferchip.sources import Source
from inferchip.spec import bounds as b
from inferchip.spec.bounds import EstimateLevel, Figure, Frozen, Range, check_id, cross_field_error, pick
from inferchip.spec.chip_sections import (
    ComputeSpec,
    InterconnectSpec,
    MemorySpec,
    PowerSpec,
    PriceSpec,
    SiliconSpec,
    SramSpec,
)
from inferchip.spec.params import DEFAULT_VECTOR_WIDTH_BITS, PCIE5_X16_GB_PER_S_PER_DIRECTION, ChipParams, stack_chips
from inferchip.spec.stream import stream_share
from inferchip.spec.vision import is_cpu_family
from inferchip.units import GIB, GIGA, MICRO, TERA, capacity_bytes

__all__ = [
    "PCIE5_X16_GB_PER_S_PER_DIRECTION", "ChipParams", "EstimateLevel", "Figure", "Frozen", "MemoryCapacity", "Range",
    "chip_params", "memory_capacity", "pick", "stack_chips",
]

RENAMED_NOTE = {"_tb_per_s": "TB/s = 1e12 bytes/s", "_gb_per_s": "GB/s = 1e9 bytes/s"}


def _renamed(old_new: dict[str, str]) -> dict[str, tuple[str, str]]:
    """old dotted key -> (new dotted key, what the unit means)."""
    out = {}
    for old, new in old_new.items():
        note = next(v for k, v in RENAMED_NOTE.items() if k in new)
        out[old] = (new, note)
    return out


# Micro-architecture generations a chip file may name (ChipSpec.architecture), for the facts that differ inside a
# catalogue family (cost.constants.MMA_FLOP_PER_EXP_16BIT: Blackwell Ultra doubles Blackwell's exponential units).
ARCHITECTURES = ("ampere", "ada", "hopper", "blackwell", "blackwell-ultra", "rubin")


def _figure(v: float | None) -> str:
    """Three significant figures at least, thousands separated, never an exponent (1,979; 3.35; 0.0896)."""
    return "-" if v is None else f"{v:,.0f}" if v >= 100 else f"{v:,.3g}"


class ChipSpec(Frozen):
    """A chip as its YAML states it, in datasheet units (TFLOP/s, TB/s, GB/s, W, USD): what ``ic.load_chip`` returns
    and every call taking a chip accepts. Frozen: a variant is ``spec.model_copy(update={...})``."""

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
    architecture: str | None = Field(
        None, description="The vendor's micro-architecture generation (one of ARCHITECTURES, e.g. blackwell-ultra for "
        "B300), where facts differ inside a family; None: not stated (no such fact applies).")
    category: str = "accelerator"
    system: Literal["server", "embedded_soc"] = Field(
        "server", description="What surrounds the chip at the wall: server (a host of CPUs and DRAM shared by up to "
        "8 accelerators, assumptions host.*) or embedded_soc (a module whose power holds its own CPU cores and DRAM, "
        "on a carrier board: assumptions host.embedded_soc).")
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

    def __repr__(self) -> str:  # pydantic's printed every section and source: ~4,700 characters for an H100
        peaks = ", ".join(f"{f} {_figure(v)}" for f, v in ((f, pick(x)) for f, x in self.compute.dense_tflops.items())
                          if v)
        tdp, bw = pick(self.power.tdp_w), pick(self.memory.bandwidth_tb_per_s)
        return "\n".join([
            f"<ChipSpec {self.id}: {self.name} ({self.vendor}, {self.family}){' (estimate)' * self.estimate}",
            f"  dense TFLOP/s: {peaks or '-'}",
            f"  memory {pick(self.memory.capacity):,g} {self.memory.capacity_unit} {self.memory.type} at "
            f"{_figure(bw)} TB/s" + ("" if self.memory.measured_bandwidth is None else  # the rate the model streams
                                     f", modelled at its measured {self.memory.measured_bandwidth.tb_per_s:g}"),
            f"  TDP {'-' if tdp is None else f'{tdp:,.0f} W'}; every field: .model_dump()>"])

    @field_validator("id")
    @classmethod
    def _id(cls, v: str) -> str:
        return check_id(v)

    @field_validator("architecture")
    @classmethod
    def _architecture(cls, v: str | None) -> str | None:
        if v is not None and v not in ARCHITECTURES:
            raise ValueError(f"architecture {v!r}: not a known architecture; allowed: {', '.join(ARCHITECTURES)} "
                             "(or leave it out)")
        return v

    @model_validator(mode="after")
    def _sram_fits_its_silicon(self) -> ChipSpec:
        """The SRAM cannot take more area than the compute dies have (b.SRAM_MB_PER_MM2_MAX): a size in KB for MB,
        or a die area in cm2, is named here instead of priced as a chip that keeps whole networks on chip."""
        mb, area = pick(self.sram.capacity_mb, "low"), pick(self.silicon.die_area_mm2, "high")
        if mb is None or area is None:
            return self
        mm2 = area * self.silicon.compute_die_count
        if mb > b.SRAM_MB_PER_MM2_MAX * mm2:
            raise cross_field_error(
                "sram.capacity_mb", self.sram.capacity_mb,
                f"{mb:,.6g} MB on {mm2:,.6g} mm2 of compute die (silicon.die_area_mm2 x compute_die_count) is "
                f"{mb / mm2:,.4g} MB/mm2, above the {b.SRAM_MB_PER_MM2_MAX:g} MB/mm2 no SRAM array reaches (twice "
                "TSMC N2's 38 Mb/mm2); allowed: at most "
                f"{b.SRAM_MB_PER_MM2_MAX * mm2:,.6g} MB here. Is it in KB, or the die area too small?")
        return self

    @model_validator(mode="after")
    def _scaleup_link_plausible(self) -> ChipSpec:
        """The scale-up link per direction lies within b.SCALEUP_GB_PER_S_PER_DIE_MAX per compute die and at least
        b.SCALEUP_PER_DRAM_BANDWIDTH_MIN of the chip's DRAM bandwidth: a rate typed in TB/s (or MB/s) for the
        field's GB/s is named here instead of priced as a link a thousand times slower (or faster)."""
        link = self.interconnect.scaleup_bw_gb_per_s_per_direction
        low, high = pick(link, "low"), pick(link, "high")
        if low is None or high is None:
            return self
        field, dies = "interconnect.scaleup_bw_gb_per_s_per_direction", self.silicon.compute_die_count
        ceiling = b.SCALEUP_GB_PER_S_PER_DIE_MAX * dies
        dram = pick(self.memory.bandwidth_tb_per_s, "high") if b.dram_kind(self.memory.memory_type) else None
        floor = b.SCALEUP_PER_DRAM_BANDWIDTH_MIN * dram * 1e3 if dram else 0.0
        allowed = f"allowed: {floor:,.6g} to {ceiling:,.6g} GB/s per direction here"
        if high > ceiling:
            raise cross_field_error(
                field, link, f"{high:,.6g} GB/s per direction is above {ceiling:,.6g} GB/s, ten times NVLink 5's "
                f"1.8 TB/s per GPU for each of the {dies} compute die(s) (silicon.compute_die_count); {allowed}. "
                "The field is in GB/s (1e9 bytes/s) per direction: is the figure in MB/s or Gb/s?")
        if low < floor:
            raise cross_field_error(
                field, link, f"{low:,.6g} GB/s per direction is below {floor:,.6g} GB/s, 1/200 of the "
                f"{dram:g} TB/s of {self.memory.memory_type} DRAM (memory.bandwidth_tb_per_s), slower than any "
                f"scale-up link a DRAM chip ships with (PCIe 3.0 x16 is 15.75 GB/s); {allowed}. The field is in GB/s "
                "(1e9 bytes/s) per direction: is the figure in TB/s?")
        return self

    @model_validator(mode="after")
    def _scaleout_link_plausible(self) -> ChipSpec:
        """The scale-out (NIC) rate per chip and direction lies within b.SCALEOUT_GB_PER_S_PER_CHIP_MAX and at least
        b.SCALEOUT_PER_DRAM_BANDWIDTH_MIN of the chip's DRAM bandwidth: a NIC's Gb/s typed for the field's GB/s (x8),
        or a rate in TB/s, is named here instead of priced. 0 (not stated: the family default) is not checked."""
        link = self.interconnect.scaleout_bw_gb_per_s_per_direction
        low, high = pick(link, "low"), pick(link, "high")
        field, ceiling = "interconnect.scaleout_bw_gb_per_s_per_direction", b.SCALEOUT_GB_PER_S_PER_CHIP_MAX
        dram = pick(self.memory.bandwidth_tb_per_s, "high") if b.dram_kind(self.memory.memory_type) else None
        floor = b.SCALEOUT_PER_DRAM_BANDWIDTH_MIN * dram * 1e3 if dram else 0.0
        allowed = f"allowed: {floor:,.4g} to {ceiling:,.6g} GB/s per direction here"
        if high and high > ceiling:
            raise cross_field_error(
                field, link, f"{high:,.6g} GB/s per direction per chip is above {ceiling:,.6g} GB/s, the most "
                "scale-out any announced accelerator attaches per chip (three 800 GbE NICs per AMD MI450X, 2.4 Tb/s); "
                f"{allowed}. The field is in GB/s (1e9 bytes/s: a NIC's Gb/s divided by 8) per direction: is the "
                f"figure in Gb/s ({high:,.6g} Gb/s is {high / 8:,.6g} GB/s)?")
        if low and low < floor:
            raise cross_field_error(
                field, link, f"{low:,.6g} GB/s per direction per chip is below {floor:,.4g} GB/s, 1/10,000 of the "
                f"{dram:g} TB/s of {self.memory.memory_type} DRAM (memory.bandwidth_tb_per_s), slower than two 10 GbE "
                f"ports shared by eight GPUs; {allowed}. The field is in GB/s (1e9 bytes/s) per direction: is the "
                "figure in TB/s?")
        return self

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
    host_step_us: Annotated[float, b.LATENCY_US] | None = Field(
        None, description="Host time per iteration of a statically scheduled (compiler-scheduled) family's own "
        "runtime, which replaces the calibration's host time per step and per sequence (a GPU serving engine's "
        "Python scheduling and launches); None: the calibration's.")
    layer_pipeline: bool = Field(
        False, strict=True, description="The family's compiler pipelines a model's layers over as many chips as "
        "it needs, every weight resident in on-chip SRAM (no DRAM to spill to): the layout search takes pipeline "
        "depths up to the model's layer count, not the 16 stages it searches for DRAM chips (mapping/layout.py).")
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
        scaleup_node_chips=i.scaleup_node_chips or 0,
        gemm_tile_m=tile[0],
        gemm_tile_n=tile[1],
        gemm_tiles_in_flight=in_flight,
        sm_count=float(c.sm_count or 0),
        kernel_overhead_s=fam.kernel_overhead_us * MICRO,
        host_step_s=float("nan") if fam.host_step_us is None else fam.host_step_us * MICRO,
        layer_pipeline=fam.layer_pipeline,
        tdp_w=tdp if tdp is not None else float("nan"),
        idle_w=idle if idle is not None else (tdp * fam.idle_power_fraction_of_tdp if tdp else float("nan")),
        vector_flop_per_s=(vec * TERA) if vec else max(peaks.values()) / 16,
        link_direct_all_reduce=float(i.scaleup_direct_all_reduce if i.scaleup_direct_all_reduce is not None
                                     else fam.scaleup_direct_all_reduce),
        expert_a2a_kernel_bytes_per_s=fam.expert_a2a_kernel_gb_per_s * GIGA,
        expert_a2a_decode_floor_s=fam.expert_a2a_decode_floor_us[0] * MICRO,
        expert_a2a_decode_per_peer_s=fam.expert_a2a_decode_floor_us[1] * MICRO,
        vector_width_bits=float(c.vector_width_bits or DEFAULT_VECTOR_WIDTH_BITS),
        runtime_devices=1 if m.runtime_devices is None else m.runtime_devices.count,
        package_link_bytes_per_s=(0.0 if m.runtime_devices is None
                                  else (pick(m.runtime_devices.link_gb_per_s_per_direction, level) or 0.0) * GIGA),
        family=spec.family,
        architecture=spec.architecture or "",
        notes=tuple(notes),
    )


def left_out_note(spec: ChipSpec, fam: FamilyDefaults, params: ChipParams) -> str | None:
    """One note naming each field a user's chip file leaves out that the prediction fills with a default, and the
    value it takes (the family's, or the rule of :func:`chip_params`); None where the file states every one.
    An architect's file left them out without a word: idle power 15 % of TDP, a NIC of 50 GB/s, 1/16 of the peak as
    vector rate, no scale-up domain (architect50)."""
    c, m, i, p = spec.compute, spec.memory, spec.interconnect, spec.power
    said = [text for left_out, text in (
        (c.matrix_unit_count is None, "compute.matrix_unit_count: 128 matrix units"),
        (c.gemm_tile is None, f"compute.gemm_tile: {params.gemm_tile_m} x {params.gemm_tile_n}"),
        (c.gemm_tiles_in_flight is None, f"compute.gemm_tiles_in_flight: {params.gemm_tiles_in_flight:,.4g} "
                                         f"({fam.gemm_tiles_in_flight_per_unit:g} a matrix unit, at least 1)"),
        (c.vector_tflops is None, f"compute.vector_tflops: {params.vector_flop_per_s / TERA:,.4g} TFLOP/s (1/16 of "
                                  "the largest dense peak)"),
        (m.usable_capacity_gib is None, f"memory.usable_capacity_gib: the capacity less a {fam.runtime_reserve_gib:g}"
                                        " GiB runtime reserve"),
        (i.max_scaleup_domain is None, "interconnect.max_scaleup_domain: 1 (no tensor parallel across chips "
                                       "within a node)"),
        (i.scaleup_latency_us is None, f"interconnect.scaleup_latency_us: {fam.scaleup_latency_us:g} us a hop"),
        (i.scaleup_direct_all_reduce is None, "interconnect.scaleup_direct_all_reduce: "
                                              f"{str(fam.scaleup_direct_all_reduce).lower()}"),
        (i.scaleout_bw_gb_per_s_per_direction is None, "interconnect.scaleout_bw_gb_per_s_per_direction: "
                                                       f"{fam.scaleout_bw_gb_per_s_per_direction:g} GB/s"),
        (p.idle_w is None and p.tdp_w is not None, f"power.idle_w: {fam.idle_power_fraction_of_tdp:.0%} of "
                                                   f"power.tdp_w = {params.idle_w:,.0f} W"),
    ) if left_out]
    if not said:
        return None
    whose = " (an inferchip assumption)" if {s.kind for s in fam.sources} == {"assumption"} else ""
    return (f"{spec.id}: left out of the chip file, so taken from the {spec.family} family's defaults{whose} "
            f"(catalog/families.yaml, with their sources) or the default rule: {'; '.join(said)}; state them in the "
            "file where known")
