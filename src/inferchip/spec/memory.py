"""Memory technologies a chip can use, and how a datasheet's memory description names one.

A chip's ``memory.memory_type`` (:class:`~inferchip.spec.chip_sections.MemorySpec`) is one of
:data:`MEMORY_TYPES`. It selects the memory's energy per bit (``energy.memory_device_pj_per_bit``
in ``catalog/assumptions.yaml``, used by :mod:`inferchip.cost.energy`) and its price per GiB
(``silicon.memory_usd_per_gib``, used by :mod:`inferchip.cost.silicon`). A chip file that
gives only the free-text ``memory.type`` ("HBM3e (8 stacks)") gets the type its text names
(:func:`parse_memory_type`); a text naming none ("not disclosed") leaves it unset, and the
energy and silicon models then refuse the chip with a message asking for ``memory_type``.
"""

from __future__ import annotations

import re
from typing import Literal, get_args

MemoryType = Literal[
    "hbm2", "hbm2e", "hbm3", "hbm3e", "hbm4",
    "gddr6", "gddr6x", "gddr7",
    "lpddr4", "lpddr4x", "lpddr5", "lpddr5x",
    "ddr4", "ddr5",
    "sram",
]
MEMORY_TYPES: tuple[str, ...] = get_args(MemoryType)

# Longest names first, so "hbm3e" is not read as "hbm3" and "lpddr5x" not as "ddr5".
_TOKENS = re.compile(
    r"hbm\s*3\s*e|hbm\s*3\s*gen\s*2|hbm\s*4|hbm\s*3|hbm\s*2\s*e|hbm\s*2"
    r"|hbm|gddr\s*7|gddr\s*6\s*x|gddr\s*6|lpddr\s*5\s*x|lpddr\s*5|lpddr\s*4\s*x|lpddr\s*4|ddr\s*5|ddr\s*4"
)
_SPELLINGS = {
    "hbm3gen2": "hbm3e",  # Micron's name for its HBM3E
    "hbm": "hbm3",  # generation not stated: HBM3, the middle of the catalogue's HBM range (said in the docstring)
}


def parse_memory_type(text: str) -> str | None:
    """The memory type a datasheet's memory description names, or None when it names none.

    "HBM3e (8 stacks)" -> hbm3e; "LPDDR5X (unified)" -> lpddr5x; "SRAM-only (no HBM/DRAM)"
    -> sram. With several memories named ("HBM3e (GPU) + LPDDR5X (CPU)") the first DRAM named
    is the type, unless the part is SRAM-only. A generic "HBM" with no generation is read as
    hbm3, the middle of the HBM generations (2.8 to 6.3 pJ/bit): a chip file should state its
    generation in ``memory_type``, as every bundled one does.
    """
    s = text.strip().lower()
    if "sram-only" in s or "sram only" in s or s == "sram":
        return "sram"
    m = _TOKENS.search(s)
    if m:
        token = re.sub(r"\s+", "", m.group(0))
        return _SPELLINGS.get(token, token)
    return "sram" if "sram" in s else None


def fill_memory_type(data: object) -> object:
    """A chip file's ``memory`` mapping with ``memory_type`` read from ``type`` when absent and the text names one;
    and, the other way, the free-text ``type`` (a description only) from a ``memory_type`` given alone, as the
    README describes the two (a user's file with ``memory_type: hbm3e`` and no ``type`` was refused)."""
    if (isinstance(data, dict) and data.get("type") is None and isinstance(data.get("memory_type"), str)
            and data["memory_type"] in MEMORY_TYPES):
        return {**data, "type": data["memory_type"].upper()}
    if isinstance(data, dict) and data.get("memory_type") is None and isinstance(data.get("type"), str):
        named = parse_memory_type(data["type"])
        if named is not None:
            return {**data, "memory_type": named}
    return data
