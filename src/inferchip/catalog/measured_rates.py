"""Measured attainable ceilings of chips (``measured_rates.csv``): microbenchmark results, sourced and dated.

A row gives, for one chip and its software stack, the best rate a kernel class was measured to reach:
``gemm`` (a dense GEMM at one number format, in TFLOP/s; e.g. AMD's max-achievable FLOPs, run at the
clock the chip sustains under dense matrix load rather than the boost clock its datasheet peak assumes)
or ``memory`` (a streaming copy, in TB/s). Decimal prefixes: 1 TFLOP/s = 1e12 FLOP/s, 1 TB/s = 1e12 B/s.

How the cost model uses them (:func:`inferchip.cost.peaks.capped_rate`): the attainable rate is
``min(calibrated fraction x datasheet peak, measured ceiling)``. A microbenchmark is the best any kernel
attains on that chip, so it is an upper bound for a real kernel; the global fraction keeps its meaning
(kernel inefficiency against peak) wherever it already lies below the ceiling, and a chip or format with
no row keeps the global fraction. :func:`read_measured_rates` raises :class:`~inferchip.errors.SpecError`
naming the file, the line, the column and what is allowed.
"""

from __future__ import annotations

import dataclasses
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from inferchip.catalog.prices import _check_date, _rows
from inferchip.catalog.yaml_io import describe_validation_error
from inferchip.errors import SpecError
from inferchip.spec.chip import ChipParams
from inferchip.spec.formats import ALL_FORMATS
from inferchip.units import TERA

MEASURED_RATES_CSV = Path(__file__).with_name("measured_rates.csv")
COLUMNS = ("chip_id", "kernel_class", "format", "rate", "unit", "source", "url", "date", "note")
KernelClass = Literal["gemm", "memory"]
UNIT_OF: dict[str, str] = {"gemm": "TFLOP/s", "memory": "TB/s"}


class MeasuredRate(BaseModel):
    """One measured ceiling: a chip, a kernel class (and for ``gemm`` its number format), the rate in
    the class's unit, and whose measurement it is, when."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    chip_id: str = Field(min_length=1)
    kernel_class: KernelClass
    format: str = Field("", description="Number format of a gemm row (bf16, fp8, ...); empty for memory.")
    rate: float = Field(gt=0, allow_inf_nan=False, description="In TFLOP/s (gemm) or TB/s (memory).")
    unit: str
    source: str = Field(min_length=1, description="Whose measurement, with its setup.")
    url: str = ""
    date: str = Field(min_length=1, description="ISO 8601 date of the measurement or its source.")
    note: str = ""

    @field_validator("date")
    @classmethod
    def _date(cls, v: str) -> str:
        return _check_date(v)

    @model_validator(mode="after")
    def _consistent(self) -> MeasuredRate:
        want = UNIT_OF[self.kernel_class]
        if self.unit != want:
            raise ValueError(f"unit {self.unit!r} does not fit kernel_class {self.kernel_class}: use {want}")
        if self.kernel_class == "gemm" and self.format not in ALL_FORMATS:
            raise ValueError(f"format {self.format!r} of a gemm row must be one of {', '.join(ALL_FORMATS)}")
        if self.kernel_class == "memory" and self.format:
            raise ValueError(f"format {self.format!r}: a memory row has no number format; leave it empty")
        return self

    @property
    def si_rate(self) -> float:
        """FLOP/s or B/s."""
        return self.rate * TERA

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.chip_id, self.kernel_class, self.format)


def read_measured_rates(path: Path, known_chips: list[str] | None = None) -> list[MeasuredRate]:
    """Rows of a measured-rates CSV; a bad row -> SpecError naming file, line, column and value.

    ``known_chips``: when given, a chip id outside it is refused (a typo would silently do nothing)."""
    out: dict[tuple[str, str, str], MeasuredRate] = {}
    for lineno, row in _rows(path, COLUMNS):
        where = f"{path}: line {lineno} (chip {row['chip_id'] or '?'})"
        try:
            entry = MeasuredRate.model_validate(row)
        except ValidationError as exc:
            raise SpecError(describe_validation_error(exc, where)) from None
        if known_chips is not None and entry.chip_id not in known_chips:
            raise SpecError(f"{where}: chip_id = {entry.chip_id!r}: not a catalogue chip (inferchip catalog chips)")
        if entry.key in out:
            raise SpecError(f"{where}: {entry.kernel_class} {entry.format or ''} of {entry.chip_id} appears twice; "
                            "keep one ceiling (the higher measurement)")
        out[entry.key] = entry
    return list(out.values())


@lru_cache(maxsize=1)
def load_measured_rates(known_chips: tuple[str, ...]) -> tuple[MeasuredRate, ...]:
    """The bundled table (``catalog/measured_rates.csv``), its chip ids checked against ``known_chips``
    (the catalogue's, :func:`inferchip.catalog.chips.measured_ceilings`)."""
    return tuple(read_measured_rates(MEASURED_RATES_CSV, list(known_chips)))


def with_measured_ceilings(params: ChipParams, rates: tuple[MeasuredRate, ...] | list[MeasuredRate]) -> ChipParams:
    """``params`` with the measured ceilings of its chip id attached (unchanged when it has none)."""
    mine = [r for r in rates if r.chip_id == params.id]
    if not mine:
        return params
    flops = {**params.measured_flop_per_s, **{r.format: r.si_rate for r in mine if r.kernel_class == "gemm"}}
    memory = [r.si_rate for r in mine if r.kernel_class == "memory"]
    return dataclasses.replace(params, measured_flop_per_s=flops,
                               measured_memory_bytes_per_s=memory[0] if memory else params.measured_memory_bytes_per_s)
