"""Finite, physical bounds for every number a spec file may hold, enforced while validating,
and the estimated figures (:class:`Range`) they apply to.

A bound is an annotation on a pydantic field::

    bandwidth_tb_per_s: Annotated[Figure, Bound(0, 1e6, "TB/s")]

A value outside it, a non-finite float (inf, NaN), a bool (YAML ``true``), a string or an
integer too large for a float is rejected with a message in the user's words, ``must be a
finite number between 0 (exclusive) and 1e+06 (TB/s)``; the catalogue loader prefixes file,
field and value (:func:`inferchip.catalog.yaml_io.describe_validation_error`). A
:class:`~inferchip.spec.chip.Range` figure has each of ``low``, ``central`` and ``high``
checked against the same bound.

The bounds are physical envelopes, not plausibility checks: each sits one to two orders of
magnitude above the largest real part in the catalogue (the Cerebras WSE-3 wafer for most
figures), so a real chip never hits one and a typo (a unit slip of 1e3 or more, an overflow,
a stray bool) always does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    create_model,
    model_validator,
)
from pydantic_core import PydanticCustomError, core_schema

TAG_NUMBER = "@number"
TAG_RANGE = "@range"
"""Tags of the number-or-Range union; they appear in pydantic's error locations and the
error formatter drops every location part that starts with ``@``."""


def _g(x: float) -> str:
    if abs(x) >= 1e7:
        return f"{x:g}"
    return f"{x:,.0f}" if x == int(x) else f"{x:,.1f}"


@dataclass(frozen=True)
class Bound:
    """Allowed interval of one field: ``low < x <= high`` (``low <= x`` when ``low_inclusive``).

    ``integer`` asks for a whole number (a float such as ``64.0`` is accepted as 64). ``hint`` follows the allowed
    interval in the message (what to write instead).
    """

    low: float
    high: float
    unit: str
    low_inclusive: bool = False
    integer: bool = False
    hint: str = ""

    def allowed(self) -> str:
        kind = "a whole number" if self.integer else "a finite number"
        low = _g(self.low) if self.low_inclusive else f"{_g(self.low)} (exclusive)"
        return f"must be {kind} between {low} and {_g(self.high)} ({self.unit}){'; ' + self.hint if self.hint else ''}"

    def check(self, value: Any) -> float | int:
        """The value as float (or int) when it lies in the bound; else a PydanticCustomError."""
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise PydanticCustomError("out_of_bounds", self.allowed())
        if isinstance(value, float):
            if not math.isfinite(value):
                raise PydanticCustomError("out_of_bounds", self.allowed())
            if self.integer:
                if not value.is_integer():
                    raise PydanticCustomError("out_of_bounds", self.allowed())
                value = int(value)
        too_low = value < self.low if self.low_inclusive else value <= self.low
        if too_low or value > self.high:  # int comparisons are exact, even for huge integers
            raise PydanticCustomError("out_of_bounds", self.allowed())
        return int(value) if self.integer else float(value)

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        number = core_schema.no_info_plain_validator_function(self.check)
        if source is int or source is float:
            return number
        # A figure: a plain number or a Range whose three values each lie in the bound. The Range
        # class of the bound is built when a Range is first given here, not when the model using
        # the bound is defined: most chips give no Range, and building one class per bound at
        # import took a tenth of a cold start's own work. Its errors keep their places
        # (``field.high``): pydantic adds a nested ValidationError's locations to the field's.
        def ranged(value: Any) -> Range:
            bounded = bounded_range(self)
            if isinstance(value, Range) and not isinstance(value, bounded):
                value = value.model_dump()  # a plain Range built in Python is checked against this bound too
            return bounded.model_validate(value)

        def which(value: Any) -> str:
            return TAG_RANGE if isinstance(value, (dict, Range)) else TAG_NUMBER

        return core_schema.tagged_union_schema(
            {TAG_NUMBER: number, TAG_RANGE: core_schema.no_info_plain_validator_function(ranged)}, discriminator=which)


# ---------------------------------------------------------------- estimated figures

EstimateLevel = Literal["low", "central", "high"]


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Range(Frozen):
    """An estimated figure: low, central and high value with the derivation written out.

    The values are finite and >= 0 here; a field's own bound (:mod:`inferchip.spec.bounds`)
    narrows them through :func:`bounded_range`.
    """

    low: float = Field(ge=0, allow_inf_nan=False, strict=True)
    central: float = Field(ge=0, allow_inf_nan=False, strict=True)
    high: float = Field(ge=0, allow_inf_nan=False, strict=True)
    derivation: str = Field(min_length=1)

    @model_validator(mode="after")
    def _ordered(self) -> Range:
        if not self.low <= self.central <= self.high:
            raise ValueError(f"need low <= central <= high, got {self.low}, {self.central}, {self.high}")
        return self


Figure = float | Range


@cache
def bounded_range(bound: Bound) -> type[Range]:
    """A :class:`Range` subclass whose three values each lie in ``bound``."""
    value = Annotated[float, bound]
    model: type[Range] = create_model(
        "Range",  # shown as Range(...); pydantic tells the per-bound subclasses apart by identity
        __base__=Range,
        low=(value, ...),
        central=(value, ...),
        high=(value, ...),
    )
    return model


def pick(value: Figure | None, level: EstimateLevel = "central") -> float | None:
    """The number to use for a figure at an estimate level."""
    if value is None:
        return None
    if isinstance(value, Range):
        return float(getattr(value, level))
    return float(value)


@dataclass(frozen=True)
class Choice:
    """A whole-number field that takes one of a few ``values`` only (``meaning``: what each stands for); anything
    else (another number, a bool, a string) is rejected with the list, in the user's words."""

    values: tuple[int, ...]
    meaning: str

    def allowed(self) -> str:
        return f"must be one of {', '.join(str(v) for v in self.values)} ({self.meaning})"

    def check(self, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value not in self.values:
            raise PydanticCustomError("not_a_choice", self.allowed())
        return int(value)

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        return core_schema.no_info_plain_validator_function(self.check)


def cross_field_error(field_name: str, value: Any, message: str) -> PydanticCustomError:
    """An error about one field found by a model validator; the loader names ``field_name``."""
    return PydanticCustomError("cross_field", "{message}", {"field": field_name, "value": value, "message": message})


# ---------------------------------------------------------------- the envelopes, each with its reason

# Throughput: WSE-3 is 1.25e5 TFLOP/s on one wafer; 1e6 TFLOP/s (1 EFLOP/s per part) is 8x that.
TFLOPS = Bound(0, 1e6, "TFLOP/s")
CLOCK_GHZ = Bound(0, 10, "GHz")  # no shipping logic clocks above ~6 GHz
COUNT_UNITS = Bound(1, 1e7, "units", low_inclusive=True, integer=True)  # WSE-3: 900,000 cores
TILE = Bound(1, 65536, "elements", low_inclusive=True, integer=True)
# Capacity in the file's own unit (44,000 MB for WSE-3); the byte total is bounded separately.
CAPACITY = Bound(0, 1e9, "in memory.capacity_unit")
CAPACITY_BYTES_MAX = 2.0**50  # 1 PiB on one part: 1,000x a 1 TB HBM package
# HBM on one package: a physical construction bound, stacks x the largest stack. JEDEC's HBM4 (JESD270-4; JEDEC
# press release of 2024-07-10) allows 16-high stacks of 32 Gb dies, 64 GiB a stack; the most stacks announced on one
# package are 16 (NVIDIA Rubin Ultra, GTC 2025). 64 stacks (four times that) x 64 GiB = 4 TiB, an estimate
# (inferchip): no HBM part comes near it, and a capacity typed in TB for GB (x1,000) of any HBM part does.
HBM_STACKS_MAX = 64
HBM_STACK_BYTES_MAX = 64 * 2.0**30
HBM_CAPACITY_BYTES_MAX = HBM_STACKS_MAX * HBM_STACK_BYTES_MAX
USABLE_GIB = Bound(0, 2.0**20, "GiB")  # <= 1 PiB, and never above the physical capacity
RESERVE_GIB = Bound(0, 2.0**20, "GiB", low_inclusive=True)
# Bandwidth: WSE-3 on-wafer SRAM is 21,000 TB/s.
TB_PER_S = Bound(0, 1e6, "TB/s")
# Off-chip DRAM bandwidth on one package: a construction bound, data pins x the fastest JEDEC rate per pin of the
# memory's kind, so a rate typed in GB/s for TB/s (x1,000) of any DRAM part is refused while SRAM keeps TB_PER_S.
#   HBM: HBM_STACKS_MAX stacks x 2,048 data pins (JEDEC HBM4, JESD270-4; JEDEC press release 2025-04-16) x 16 Gb/s,
#        twice HBM4's 8 Gb/s, an estimate (inferchip): Rubin's announced 22 TB/s over 8 stacks is ~10.7 Gb/s a pin.
#   Other DRAM: 4,096 data pins, four times the widest DRAM bus shipped on one package (Apple M2 Ultra's 1,024-bit
#        LPDDR5, 800 GB/s; Apple Newsroom 2023-06-05), an estimate (inferchip), at GDDR7's 48 Gb/s a pin (JESD239:
#        192 GB/s per 32-bit device; JEDEC press release 2024-03-05) for GDDR, and at LPDDR6's 14.4 Gb/s (JESD209-6;
#        JEDEC press release 2025-07-09; DDR5's JEDEC rates are lower) for LPDDR and DDR.
# The catalogue's fastest of each kind sits far below: Rubin HBM4 22 TB/s (bound 262), RTX 4090 GDDR6X 1.0 (24.6),
# Tesla AI6 LPDDR5X 2.4 (7.4, an estimate itself).
DRAM_PINS_MAX = 4096
HBM_PINS_PER_STACK = 2048
DRAM_TB_PER_S_MAX: dict[str, float] = {
    "hbm": HBM_STACKS_MAX * HBM_PINS_PER_STACK * 16e9 / 8 / 1e12,
    "gddr": DRAM_PINS_MAX * 48e9 / 8 / 1e12,
    "lpddr": DRAM_PINS_MAX * 14.4e9 / 8 / 1e12,
    "ddr": DRAM_PINS_MAX * 14.4e9 / 8 / 1e12,
}
DRAM_BUS_WHY: dict[str, str] = {
    "hbm": f"{HBM_STACKS_MAX} stacks of 2,048 pins at 16 Gb/s, twice JEDEC HBM4's rate",
    "gddr": f"{DRAM_PINS_MAX:,} data pins, four times the widest DRAM bus shipped, at GDDR7's 48 Gb/s",
    "lpddr": f"{DRAM_PINS_MAX:,} data pins, four times the widest DRAM bus shipped, at LPDDR6's 14.4 Gb/s",
    "ddr": f"{DRAM_PINS_MAX:,} data pins, four times the widest DRAM bus shipped, at LPDDR6's 14.4 Gb/s",
}


def dram_kind(memory_type: str | None) -> str | None:
    """The key of :data:`DRAM_TB_PER_S_MAX` a memory type falls under (``lpddr5x`` -> ``lpddr``); None for SRAM
    or no type."""
    t = memory_type or ""
    for kind in ("hbm", "gddr", "lpddr", "ddr"):
        if t.startswith(kind):
            return kind
    return None


TB_PER_S_OR_NONE = Bound(0, 1e6, "TB/s", low_inclusive=True)
SRAM_MB = Bound(0, 1e9, "MB", low_inclusive=True)
# On-chip SRAM per mm2 of compute die: twice the densest SRAM array announced, TSMC N2 high-density SRAM at 38 Mb/mm2
# (0.0175 um2 bitcell; TSMC's IEDM 2024 paper, as reported by Tom's Hardware 2024-10-31, "SRAM scaling isn't dead
# after all"): 38e6 / 8 bytes x 2 = 9.5 MB/mm2, an estimate (inferchip) of the most a die could hold with no logic.
# The catalogue's densest part is Cerebras WSE-3 at 0.95 MB/mm2 (44 GB on 46,225 mm2); an SRAM size typed in KB for
# MB (x1,000) on any part is far above it.
SRAM_MB_PER_MM2_MAX = 38e6 / 8 / 1e6 * 2
GB_PER_S = Bound(0, 1e6, "GB/s", low_inclusive=True)  # 0 = not stated; 1 PB/s per direction at most
GB_PER_S_POSITIVE = Bound(0, 1e6, "GB/s")
# Scale-up link per chip and direction, a plausibility range (ChipSpec checks it; newuser43a), so a rate typed in TB/s
# for GB/s (x1/1,000) or in MB/s (x1,000) is named instead of priced:
#   Ceiling: ten times NVLink 5's 1.8 TB/s per Blackwell GPU (both directions; NVIDIA GB200 NVL72 product page: "1.8
#   TB/s of GPU-to-GPU interconnect"), 18,000 GB/s per direction, per compute die (silicon.compute_die_count), an
#   estimate (inferchip): no shipped link comes near it; the catalogue's fastest per die are Rubin's NVLink 6 (1,800
#   over 2 dies), MI455X's high reading (3,600 over 2) and the 25-die Dojo training tile (36,000 over 25: 1,440).
#   Floor: 1/200 of the chip's DRAM bandwidth (off-chip DRAM only: an SRAM part's on-die rate is no yardstick), an
#   estimate (inferchip) four times below the slowest links a DRAM chip ships with: PCIe 3.0 x16 (15.75 GB/s; PCI-SIG)
#   on a P100 PCIe's 732 GB/s of HBM2 (NVIDIA Tesla P100 datasheet), 0.022, and the catalogue's lowest, Tesla AI5's
#   estimated 32 GB/s (low) over 1.2 TB/s of LPDDR5X, 0.027. A TB/s slip divides the ratio by 1,000: the catalogue's
#   highest, the Dojo tile's 18,000 GB/s over 4.5 TB/s = 4.0, falls to 0.004, below the floor.
SCALEUP_GB_PER_S_PER_DIE_MAX = 10 * 1800.0
SCALEUP_PER_DRAM_BANDWIDTH_MIN = 1 / 200
# Scale-out (NIC) rate per chip and direction, a plausibility range (ChipSpec checks it; cli44), so a NIC's Gb/s typed
# for GB/s (x8) or a rate in TB/s (x1/1,000) is named instead of priced:
#   Ceiling: the most any announced accelerator attaches per chip, three 800 GbE Pensando NICs per AMD MI450X, 2.4 Tb/s
#   = 300 GB/s (Tom's Hardware 2025-06, "AMD's first rack-scale MI450X IF128 ...": "up to three 800GbE Pensando network
#   cards for each GPU ... 2.4 Tb/s per device"; the catalogue's amd-mi455x states it). NVIDIA's are below it: one
#   ConnectX-8 SuperNIC, 800 Gb/s = 100 GB/s, per GB300 GPU (NVIDIA ConnectX-8 SuperNIC product page); ConnectX-9,
#   1.6 Tb/s = 200 GB/s, per Rubin GPU (NVIDIA Vera Rubin NVL144 announcement). The usual 400 Gb/s share per H100/B200
#   (ConnectX-7, 50 GB/s) typed in Gb/s is 400, above it; a share of 300 Gb/s or less typed so is not caught. A later
#   part with more raises this figure with its source.
#   Floor: 1/10,000 of the chip's DRAM bandwidth (off-chip DRAM only), an estimate (inferchip) below the slowest share
#   a server gives a chip: two 10 GbE ports for eight PCIe GPUs, 0.31 GB/s a chip, is 1/2,765 of an L40S's 864 GB/s of
#   GDDR6 (NVIDIA L40S datasheet). A TB/s slip divides the rate by 1,000: an H100's 50 GB/s typed 0.05 is 1/67,000.
SCALEOUT_GB_PER_S_PER_CHIP_MAX = 3 * 800 / 8
SCALEOUT_PER_DRAM_BANDWIDTH_MIN = 1 / 10_000
LATENCY_US = Bound(0, 1e6, "us", low_inclusive=True)  # up to one second per hop
DOMAIN = Bound(1, 1e6, "chips", low_inclusive=True, integer=True)
WATTS = Bound(0, 1e6, "W")  # a CS-3 system draws 23 kW
WATTS_OR_ZERO = Bound(0, 1e6, "W", low_inclusive=True)
# A process node's name in nm: imec's published logic roadmap ends at A2 (0.2 nm, after 2035); a smaller figure is a
# slip or an overflow (1e-268 nm overflowed the peak-density check's (3 nm / node)^2 into an internal error).
NODE_NM = Bound(0.2, 1000, "nm", low_inclusive=True)
# One die is at most one scanner field, 26 mm x 33 mm = 858 mm2 (ASML EUV/DUV exposure field);
# a wafer-scale part (silicon.wafer_scale: true) is at most a 300 mm wafer, pi x 150^2 mm2.
RETICLE_MM2 = 26.0 * 33.0
WAFER_MM2 = math.pi * 150.0**2
DIE_AREA = Bound(0, WAFER_MM2, "mm2")
DIE_COUNT = Bound(1, 1000, "dies", low_inclusive=True, integer=True)
TRANSISTORS_BILLION = Bound(0, 1e5, "billion")  # WSE-3: 4,000 billion
STACKS = Bound(0, 1000, "stacks", low_inclusive=True, integer=True)
# A price or rate of 0 is not one: the schema's word for unknown is leaving the field out (quality42; no catalogue
# chip gives 0, and catalog/prices.csv asks price_usd > 0). Before, 0 loaded, skipped the price check and read as
# no price in cost.economics.chip_money but as a 'reported price' of 0 USD in `inferchip cost`.
USD = Bound(0, 1e9, "USD", hint="a price of 0 is not a price: leave price.usd out where none is known")
USD_PER_HOUR = Bound(0, 1e6, "USD/h",
                     hint="a price of 0 is not a price: leave price.cloud_usd_per_hour out where none is known")
YEAR = Bound(1950, 2100, "year", low_inclusive=True, integer=True)
FRACTION = Bound(0, 1, "fraction", low_inclusive=True)
PER_UNIT = Bound(0, 1e3, "tiles per unit")
ID_MAX_BYTES = 255  # a chip id is a file name: NAME_MAX of ext4, APFS, NTFS
# Widest fp32 SIMD register a core executes: SSE / Arm NEON 128, AVX2 256, AVX-512 512 bits (Intel 64 and IA-32
# Architectures Software Developer's Manual vol. 1, ch. 5 / 14 / 15: XMM, YMM and ZMM registers).
SIMD_WIDTH_BITS = Choice((128, 256, 512), "bits: 128 SSE / NEON, 256 AVX2, 512 AVX-512")


def check_id(value: str) -> str:
    """A chip id is a file name: non-empty, at most 255 bytes in UTF-8, no path separator."""
    if not value.strip():
        raise ValueError("must not be empty")
    if len(value.encode("utf-8")) > ID_MAX_BYTES:
        raise ValueError(f"must be at most {ID_MAX_BYTES} bytes in UTF-8 (a file name), got {len(value.encode())}")
    if any(c in value for c in "/\\\0") or value in (".", ".."):
        raise ValueError("must be a file name: no '/', '\\' or NUL, not '.' or '..'")
    return value
