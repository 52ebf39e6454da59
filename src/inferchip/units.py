"""Unit conventions.

Inside the package every quantity is in SI base units and its name ends with the
unit: ``_s``, ``_bytes``, ``_flop``, ``_flop_per_s``, ``_bytes_per_s``, ``_j``,
``_w``, ``_hz``, ``_usd``. Rates use decimal prefixes (1 TB/s = 1e12 B/s); YAML keys
name them ``_tb_per_s``/``_gb_per_s`` (bytes, never bits). Memory capacities are
converted the way their source means them, through the one table
:data:`CAPACITY_UNIT_BYTES` (``GB`` decimal, ``GiB`` binary; HBM and DRAM stack
capacities are binary, GiB). Conversions happen only in the catalogue loader and in
the formatting helpers of the interfaces.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

# what the percent helpers take and give back: a float, or a numpy array of them (they work elementwise)
FloatOrArray = TypeVar("FloatOrArray", float, "npt.NDArray[np.float64]")

KILO = 1e3
MEGA = 1e6
GIGA = 1e9
TERA = 1e12
PETA = 1e15

KIB = 2**10
MIB = 2**20
GIB = 2**30
TIB = 2**40

MICRO = 1e-6
MILLI = 1e-3
PICO = 1e-12

SECONDS_PER_HOUR = 3600.0
HOURS_PER_YEAR = 8766.0  # 365.25 days

CAPACITY_UNIT_BYTES: dict[str, float] = {
    "MB": MEGA,  # decimal (SI): SRAM as vendors publish it, storage
    "GB": GIGA,
    "TB": TERA,
    "MiB": float(MIB),  # binary (IEC 80000-13): what runtimes report (nvidia-smi counts MiB)
    "GiB": float(GIB),
    "TiB": float(TIB),
}
"""Bytes in one unit of memory capacity, for every capacity unit a spec may name: the one table."""

ON_DIE_CAPACITY_UNITS: frozenset[str] = frozenset({"MB", "MiB"})
"""Capacity units that mean on-die SRAM (MB-class), not off-chip DRAM/HBM stacks."""


def capacity_bytes(value: float, unit: str) -> float:
    """A memory capacity in bytes, converted the way its source means it (``GB`` decimal, ``GiB`` binary).

    Raises KeyError for a unit not in :data:`CAPACITY_UNIT_BYTES` (specs restrict the unit first).
    """
    return value * CAPACITY_UNIT_BYTES[unit]


def percent(fraction: FloatOrArray) -> FloatOrArray:
    """A fraction (0.25) as a percentage (25.0): the one place the factor 100 lives.

    Works elementwise on numpy arrays. Use it wherever a fraction is shown or stored as
    percent (``f"{percent(x):.0f}%"``), so no module writes its own ``* 100``.
    """
    return fraction * 100.0


def percent_error(predicted: FloatOrArray, measured: FloatOrArray) -> FloatOrArray:
    """Signed error of a prediction in percent of the measurement: ``percent((p - m) / m)``."""
    return percent((predicted - measured) / measured)
