"""The sections of a chip specification, one record each: compute, memory, on-chip SRAM, interconnect, power,
silicon and price, as a datasheet states them (units in the key names; see :mod:`inferchip.spec.chip`).

Each section checks what it can check alone: known number formats with a dense peak, a measured bandwidth
at most the datasheet peak, usable memory at most the physical capacity, idle power at most TDP, one die at
most the reticle field. :class:`~inferchip.spec.chip.ChipSpec` holds one of each.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from inferchip.spec import bounds as b
from inferchip.spec.bounds import EstimateLevel, Figure, Frozen, cross_field_error, pick
from inferchip.spec.formats import ALL_FORMATS, canonical_format
from inferchip.spec.memory import MEMORY_TYPES, MemoryType, fill_memory_type
from inferchip.spec.stream import MeasuredBandwidth, implausible_share
from inferchip.units import GIB, ON_DIE_CAPACITY_UNITS, capacity_bytes

LEVELS: tuple[EstimateLevel, ...] = ("low", "central", "high")


def _levels(value: Figure | None) -> list[float]:
    return [] if value is None else [p for p in (pick(value, lv) for lv in LEVELS) if p is not None]


def _within_reticle(die_area_mm2: Figure | None, die: str, advice: str) -> None:
    """Refuse a ``die_area_mm2`` (any of its levels) above the reticle field: ``die`` names the die, ``advice`` what
    to give instead."""
    for area in _levels(die_area_mm2):
        if area > b.RETICLE_MM2:
            raise cross_field_error("die_area_mm2", area, f"{die} is at most the {b.RETICLE_MM2:g} mm2 reticle field "
                                    f"(26 x 33 mm scanner field); {advice}")


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
        named = {k: canonical_format(k) for k in v}  # a format in any case (FP8 is fp8)
        bad = [k for k in v if named[k] not in ALL_FORMATS]
        if bad:
            raise ValueError(f"unknown number format(s) {bad}; allowed: {', '.join(ALL_FORMATS)}")
        twice = sorted(k for k in v if list(named.values()).count(named[k]) > 1)
        if twice:
            raise ValueError(f"number format given twice, in different case or under another name (nvfp4 is fp4): "
                             f"{twice}; allowed: each format once")
        if not v:
            raise ValueError("at least one number format with its dense peak is needed")
        return {named[k]: f for k, f in v.items()}


CapacityUnit = Literal["MB", "GB", "TB", "MiB", "GiB", "TiB"]


class RuntimeDevices(Frozen):
    """A package its runtime enumerates as several devices, each with an even share of the memory (an MI250X's two
    GCDs, two 64 GiB GPUs to ROCm): what a serving engine's per-device rule reads (``EngineSpec.caps_on``)."""

    count: int = Field(ge=2, le=64, description="Devices the runtime enumerates for one package.")
    source: str = Field(min_length=1, description="Where the vendor says so.")
    link_gb_per_s_per_direction: Annotated[Figure, b.GB_PER_S_POSITIVE] | None = Field(
        None, description="The in-package link between the devices, GB/s (1e9 bytes/s) per direction: what a tp "
        "group inside one package all-reduces over (none: the chip's scale-up link).")
    link_name: str | None = Field(None, min_length=1, description="That link as the vendor names it.")


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
    runtime_devices: RuntimeDevices | None = Field(None, description="Where the runtime sees the package as several "
        "devices sharing the memory evenly, their count and source (none: one device).")

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
        kind = b.dram_kind(self.memory_type)
        rate = pick(self.bandwidth_tb_per_s, "high")
        if kind is not None and rate is not None and rate > b.DRAM_TB_PER_S_MAX[kind]:
            raise cross_field_error("bandwidth_tb_per_s", rate, (
                f"{rate:g} TB/s of {self.memory_type} is above the {b.DRAM_TB_PER_S_MAX[kind]:,.1f} TB/s one package "
                f"of it can stream ({b.DRAM_BUS_WHY[kind]}; spec/bounds.py); allowed: up to that; is it in GB/s?"))
        for level in LEVELS:
            total = self.capacity_bytes(level)
            if total > b.CAPACITY_BYTES_MAX:
                raise cross_field_error("capacity", pick(self.capacity, level),
                                        f"{total:.4g} bytes is above 1 PiB on one part (2**50 bytes)")
            if (self.memory_type or "").startswith("hbm") and total > b.HBM_CAPACITY_BYTES_MAX:
                raise cross_field_error("capacity", pick(self.capacity, level), (
                    f"{pick(self.capacity, level):g} {self.capacity_unit} of {self.memory_type} is "
                    f"{total / 2**40:,.1f} TiB, above the {b.HBM_CAPACITY_BYTES_MAX / 2**40:g} TiB one HBM package "
                    f"can hold (at most {b.HBM_STACKS_MAX} stacks of JEDEC HBM4's largest, "
                    f"{b.HBM_STACK_BYTES_MAX / 2**30:g} GiB; spec/bounds.py); allowed: up to that; is "
                    "memory.capacity_unit one step too large (TB for GB)?"))
            usable = pick(self.usable_capacity_gib, level)
            if usable is not None and usable * GIB > total * (1 + 1e-12):
                raise cross_field_error("usable_capacity_gib", usable, f"the usable capacity ({usable * GIB / 1e9:,.2f}"
                    f" GB) must not exceed the physical capacity memory.capacity = {pick(self.capacity, level):g} "
                    f"{self.capacity_unit} ({total / 1e9:,.2f} GB)")
        return self


class SramSpec(Frozen):
    capacity_mb: Annotated[Figure, b.SRAM_MB] | None = Field(
        None, description="On-chip memory that keeps a layer's tensors from one kernel (op) to the next, summed "
        "over the chip, MB (1e6 bytes; a source's MiB is converted): a GPU's L2, or on a multi-XCD AMD part the "
        "Infinity Cache all XCDs share; a CPU's L2 + L3; a TPU's VMEM (+ CMEM); an ASIC's compiler-managed SRAM. Not "
        "per-kernel scratch (GPU shared memory / L1, AMD LDS) nor register files. Read by the vision cost "
        "(cost/vision/layers.py: a layer stays on chip when its working set fits in sram_usable_fraction of it) and "
        "explore's driving score; the die-area model's sram_mb (cost/design, design_dies.csv) counts every SRAM "
        "macro instead."
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
    scaleup_node_chips: Annotated[int, b.DOMAIN] | None = Field(
        None, description="Chips one node's local links join where the scale-up network spans nodes (GroqChip: a "
        "GroqNode's 8); a collective group wider than it reaches its peers over the node's global links, "
        "scaleout_bw_gb_per_s_per_direction (spec.params.across_nodes). Absent: the domain is one tier."
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


class BaseDieSpec(Frozen):
    """One class of non-compute die in the package (I/O or base dies), costed at its own node: ``count`` dies of
    ``die_area_mm2`` each on ``node_nm``; ``under_compute_dies``: the compute dies are 3D-stacked on these (AMD's
    IODs under the XCDs), so on the interposer they and the compute dies share one footprint."""

    role: str = Field(min_length=1, description="What the dies are, e.g. 'I/O die (IOD)'.")
    count: Annotated[int, b.DIE_COUNT]
    die_area_mm2: Annotated[Figure, b.DIE_AREA] = Field(description="Area of ONE die of this class, mm2.")
    node_nm: Annotated[float, b.NODE_NM]
    under_compute_dies: bool = Field(False, strict=True)
    source: str = Field(min_length=1, description="Where the count, area and node come from; an estimate says whose.")

    @model_validator(mode="after")
    def _reticle(self) -> BaseDieSpec:
        _within_reticle(self.die_area_mm2, "one base die", "give the area of ONE die with count")
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
    base_dies: tuple[BaseDieSpec, ...] = Field(
        (), description="The package's other die classes (I/O or base dies), each costed at its own node.")
    package: Literal["cowos-s", "cowos-l", "organic"] | None = Field(
        None, description="Package technology as the chip's sources state it (cost and interposer check); default: "
                          "CoWoS-S for one compute die with HBM, CoWoS-L for several, organic without HBM (a guess the "
                          "cost output names).")

    @model_validator(mode="after")
    def _reticle(self) -> SiliconSpec:
        if not self.wafer_scale:
            _within_reticle(self.die_area_mm2, "one die", "give the area of ONE die with compute_die_count for a "
                            "multi-die part, or set silicon.wafer_scale: true for a wafer-scale part (then up to a "
                            f"300 mm wafer, {b.WAFER_MM2:,.0f} mm2)")
        return self


PriceCovers = Literal["accelerator", "system_share"]
PRICE_COVERS: tuple[PriceCovers, ...] = ("accelerator", "system_share")  # what a price holds (cost.tco.tco_terms)


class PriceSpec(Frozen):
    usd: Annotated[Figure, b.USD] | None = Field(None, description="Reported unit price (street or list), USD.")
    covers: PriceCovers = Field(
        "accelerator", description="What price.usd holds: 'accelerator' (the chip, its module or card, without the "
        "server around it: TCO adds tco.system_overhead_fraction x the price) or 'system_share' (a share of a rack's "
        "or system's price that already holds its CPUs, switches and chassis: TCO adds only what the system leaves "
        "out, tco.system_price_outside_fraction x the price); system_holds says what the system holds.")
    system_holds: str | None = Field(
        None, description="With covers: system_share, what the priced system holds and how the share is taken, "
        "with its source (e.g. 'GB200 NVL72 rack: 72 GPUs, 36 Grace CPUs, 9 NVLink switch trays ... / 72').")
    cloud_usd_per_hour: Annotated[Figure, b.USD_PER_HOUR] | None = None
    note: str | None = None

    @model_validator(mode="after")
    def _system_holds(self) -> PriceSpec:
        if self.covers == "system_share" and not (self.system_holds or "").strip():
            raise cross_field_error("system_holds", self.system_holds, "a price that covers a system share says "
                                    "what the system holds and how the share is taken, with its source")
        return self
