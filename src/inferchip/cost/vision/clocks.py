"""The clock a GPU or a desktop CPU actually runs at, where a source says it differs from the datasheet's
(``catalog/vision/sustained_clocks.csv``).

A GeForce datasheet quotes a "boost clock" that is a typical figure, not a ceiling: GPU Boost raises the
clock along the chip's voltage-frequency curve as long as power and temperature allow, and a stock RTX 4090
runs 2.81-2.85 GHz in a game against its 2.52 GHz datasheet boost (the table's source). The catalogue's
dense peaks are the datasheet's, i.e. at the datasheet boost clock, so on such a card every compute rate
(matrix and vector) is scaled by sustained / datasheet clock. Memory bandwidth is a separate clock and is
not touched. Where the board is power-limited the cost model's TDP throttle (``frame.call_cost``,
``rows.RowModel.latency_s``) still caps the rate, so a card held to its TDP under load gains nothing.

Desktop CPUs are the same case (vision-stream revision): the catalogue quotes a CPU's peaks at its base clock,
but a desktop board runs all cores at the part's turbo clocks while the package stays within its power limit
(the Ryzen 9 7950X holds 5.0 GHz with all cores loaded against its 4.5 GHz base; the Core i9-13900K's P- and
E-cores turbo to 5.4 and 4.3 GHz against 3.0 and 2.2), so their vector rates (the fp32 reference runs) are
scaled the same way. A workstation or server Xeon held to its TDP under all-core AVX-512/AMX load runs near
its base clock and has no row.

Only chips with a row in the table are scaled (a measured clock, or an estimate that says it is one and
whose); every other chip keeps its datasheet peaks. Data-centre parts (H100, H200, L4) are not in the table:
no source states a sustained clock above the one their peaks are quoted at, and the fitted matrix fraction
describes them.
"""

from __future__ import annotations

import dataclasses
from functools import lru_cache
from pathlib import Path

from inferchip.cost.vision.table import positive_number, read_table, stated_source, unique_chip_id
from inferchip.errors import InferchipError
from inferchip.spec.params import ChipParams

SUSTAINED_CLOCKS_FILE = Path(__file__).resolve().parents[2] / "catalog" / "vision" / "sustained_clocks.csv"
CLOCK_KINDS = ("measured", "estimate")


class SustainedClockFileError(InferchipError):
    """``sustained_clocks.csv`` is malformed."""


@dataclasses.dataclass(frozen=True)
class SustainedClock:
    datasheet_ghz: float  # the clock the chip's catalogue peaks are quoted at
    sustained_ghz: float  # the clock it runs at
    kind: str  # "measured" | "estimate"
    source: str

    @property
    def factor(self) -> float:
        """Compute rates at the sustained clock over those at the datasheet clock."""
        return self.sustained_ghz / self.datasheet_ghz


def _clock(row: dict[str, str], field: str) -> float:
    return positive_number(row, field, "a clock in GHz")


@lru_cache(maxsize=4)
def load_sustained_clocks(path: Path = SUSTAINED_CLOCKS_FILE) -> dict[str, SustainedClock]:
    """chip id -> its sustained clock; a bad row stops with file, line, field and what is allowed."""
    seen: set[str] = set()

    def parse(row: dict[str, str]) -> tuple[str, SustainedClock]:
        chip = unique_chip_id(row, seen)
        kind = (row.get("kind") or "").strip()
        if kind not in CLOCK_KINDS:
            raise ValueError(f"kind {kind!r} not allowed; allowed: " + ", ".join(CLOCK_KINDS))
        source = stated_source(row, "clock")
        return chip, SustainedClock(_clock(row, "datasheet_clock_ghz"), _clock(row, "sustained_clock_ghz"), kind,
                                    source)

    return dict(read_table(path, SustainedClockFileError, parse))


def clock_factor(chip_id: str) -> float:
    """Sustained over datasheet clock of ``chip_id`` (1 for a chip not in the table)."""
    hit = load_sustained_clocks().get(chip_id)
    return 1.0 if hit is None else hit.factor


def at_sustained_clock(chip: ChipParams) -> ChipParams:
    """``chip`` with its dense peaks and vector rate at the sustained clock: rate x :func:`clock_factor`. A chip
    not in the table is returned as it is. Hand check: the RTX 4090's 660.6 int8 TOPS at 2.52 GHz become
    660.6 x 2.81 / 2.52 = 736.6 TOPS."""
    f = clock_factor(chip.id)
    if f == 1.0:
        return chip
    return dataclasses.replace(chip, peak_flop_per_s={k: v * f for k, v in chip.peak_flop_per_s.items()},
                               vector_flop_per_s=chip.vector_flop_per_s * f)
