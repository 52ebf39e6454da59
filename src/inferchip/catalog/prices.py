"""Street and list prices of the chips a review compares, each sourced and dated (``prices.csv``).

One row per chip: the price basis (``street``: what buyers reportedly pay; ``list``: a vendor's
published price), what the price covers (``accelerator``: the chip alone; ``system_share``: its share
of a rack's or system's price, as the chip YAML's ``price.covers``), a price with its low-high
range, the source (whose figure, with the URL in ``url``), the date of the source (ISO 8601:
``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD``, as precise as the source is), whether it is an estimate
(derived by someone from other figures; the source says whose) and a note. A chip that is not sold
(rented only, or built for its maker's own use) has no price: it is listed in ``prices_unpriced.csv``
with the reason and its source, so a money view can leave it out visibly instead of guessing.

The modelled manufacturing cost of a chip is not here: it comes from the silicon model
(:mod:`inferchip.cost.chip_cost`), a different basis. :func:`load_prices` and
:func:`load_unpriced` raise :class:`~inferchip.errors.SpecError` naming the file, the row (its
line in the file), the column and what is allowed.
"""

from __future__ import annotations

import csv
import math
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from inferchip.catalog.yaml_io import describe_validation_error
from inferchip.errors import SpecError
from inferchip.spec.bounds import Range
from inferchip.spec.chip import ChipSpec
from inferchip.spec.chip_sections import PriceCovers

PRICES_CSV = Path(__file__).with_name("prices.csv")
UNPRICED_CSV = Path(__file__).with_name("prices_unpriced.csv")

PriceBasis = Literal["street", "list"]
_ISO_DATE = re.compile(r"^\d{4}(-(0[1-9]|1[0-2])(-(0[1-9]|[12]\d|3[01]))?)?$")
_PRICE_COLUMNS = ("chip_id", "basis", "covers", "price_usd", "low_usd", "high_usd", "estimate", "source", "url", "date",
                  "note")
_UNPRICED_COLUMNS = ("chip_id", "reason", "source", "url", "date")


def _check_date(v: str) -> str:
    if not _ISO_DATE.match(v):
        raise ValueError("must be an ISO 8601 date: YYYY, YYYY-MM or YYYY-MM-DD (as precise as the source is)")
    return v


class PriceQuote(BaseModel):
    """A chip's reported price in USD with its range, basis, source and date."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    chip_id: str = Field(min_length=1)
    basis: PriceBasis
    covers: PriceCovers = Field(description="What the price holds: the accelerator alone, or its share of a rack's "
                                "or system's price (the chip YAML's price.covers; cost.tco.tco_terms).")
    price_usd: float = Field(gt=0, allow_inf_nan=False)
    low_usd: float = Field(gt=0, allow_inf_nan=False)
    high_usd: float = Field(gt=0, allow_inf_nan=False)
    source: str = Field(min_length=1, description="Whose figure; an estimate says whose.")
    date: str = Field(min_length=1, description="ISO 8601 date of the source: YYYY, YYYY-MM or YYYY-MM-DD.")
    url: str = ""
    estimate: bool = False
    note: str = ""

    @field_validator("date")
    @classmethod
    def _date(cls, v: str) -> str:
        return _check_date(v)

    @model_validator(mode="after")
    def _ordered(self) -> PriceQuote:
        if not self.low_usd <= self.price_usd <= self.high_usd:
            raise ValueError(f"need low_usd <= price_usd <= high_usd, got {self.low_usd:g} <= {self.price_usd:g} "
                             f"<= {self.high_usd:g}")
        return self


class Unpriced(BaseModel):
    """A chip with no street or list price, and why (with the source that says so)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    chip_id: str = Field(min_length=1)
    reason: str = Field(min_length=1)
    source: str = Field(min_length=1)
    date: str = Field(min_length=1)
    url: str = ""

    @field_validator("date")
    @classmethod
    def _date(cls, v: str) -> str:
        return _check_date(v)


def _rows(path: Path, columns: tuple[str, ...]) -> list[tuple[int, dict[str, str]]]:
    """(line number, row) of a CSV file whose header has exactly ``columns``; '#' lines are comments."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SpecError(f"{path}: cannot read file ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise SpecError(f"{path}: not UTF-8 text") from None
    lines = [(i + 1, ln) for i, ln in enumerate(text.splitlines()) if ln.strip() and not ln.lstrip().startswith("#")]
    if not lines:
        raise SpecError(f"{path}: empty; the header must be {','.join(columns)}")
    reader = csv.reader([ln for _, ln in lines], strict=True)
    try:
        table = list(reader)
    except csv.Error as exc:
        raise SpecError(f"{path}: not valid CSV ({exc})") from None
    header = [h.strip() for h in table[0]]
    if tuple(header) != columns:
        missing = [c for c in columns if c not in header]
        extra = [c for c in header if c not in columns]
        raise SpecError(f"{path}: header must be {','.join(columns)}"
                        + (f"; missing {', '.join(missing)}" if missing else "")
                        + (f"; unknown {', '.join(extra)}" if extra else ""))
    out = []
    for (lineno, _), cells in zip(lines[1:], table[1:], strict=True):
        if len(cells) != len(columns):
            raise SpecError(f"{path}: line {lineno}: {len(cells)} cells, the header has {len(columns)}")
        out.append((lineno, {c: v.strip() for c, v in zip(columns, cells, strict=True)}))
    return out


def _number(path: Path, lineno: int, column: str, text: str) -> float:
    try:
        x = float(text.replace(",", "").replace("_", ""))
    except ValueError:
        raise SpecError(f"{path}: line {lineno}: {column} = {text!r}: must be a number of US dollars") from None
    if not math.isfinite(x):
        raise SpecError(f"{path}: line {lineno}: {column} = {text!r}: must be a finite number of US dollars")
    return x


def _where(path: Path, lineno: int, chip_id: str) -> str:
    return f"{path}: line {lineno} (chip {chip_id or '?'})"


def read_prices(path: Path) -> dict[str, PriceQuote]:
    """Price quotes of a prices CSV by chip id; a bad row -> SpecError naming file, line, column and value."""
    out: dict[str, PriceQuote] = {}
    for lineno, row in _rows(path, _PRICE_COLUMNS):
        where = _where(path, lineno, row["chip_id"])
        flag = row["estimate"].lower()
        if flag not in ("yes", "no", "true", "false"):
            raise SpecError(f"{where}: estimate = {row['estimate']!r}: must be yes or no")
        data = {**row, "estimate": flag in ("yes", "true")}
        for col in ("price_usd", "low_usd", "high_usd"):
            data[col] = _number(path, lineno, col, row[col])
        try:
            quote = PriceQuote.model_validate(data)
        except ValidationError as exc:
            raise SpecError(describe_validation_error(exc, where)) from None
        if quote.chip_id in out:
            raise SpecError(f"{where}: chip_id {quote.chip_id!r} appears twice; keep one quote per chip")
        out[quote.chip_id] = quote
    return out


def read_unpriced(path: Path) -> dict[str, Unpriced]:
    """Unpriced chips of a CSV by chip id; a bad row -> SpecError naming file, line and column."""
    out: dict[str, Unpriced] = {}
    for lineno, row in _rows(path, _UNPRICED_COLUMNS):
        where = _where(path, lineno, row["chip_id"])
        try:
            entry = Unpriced.model_validate(row)
        except ValidationError as exc:
            raise SpecError(describe_validation_error(exc, where)) from None
        if entry.chip_id in out:
            raise SpecError(f"{where}: chip_id {entry.chip_id!r} appears twice")
        out[entry.chip_id] = entry
    return out


@lru_cache(maxsize=1)
def load_prices() -> dict[str, PriceQuote]:
    """The bundled price table (``catalog/prices.csv``): one quote per chip id."""
    prices = read_prices(PRICES_CSV)
    both = sorted(set(prices) & set(load_unpriced()))
    if both:
        raise SpecError(f"{PRICES_CSV}: chip(s) {', '.join(both)} also listed as unpriced in {UNPRICED_CSV}")
    return prices


@lru_cache(maxsize=1)
def load_unpriced() -> dict[str, Unpriced]:
    """Chips the bundled price table deliberately leaves without a price (``catalog/prices_unpriced.csv``)."""
    return read_unpriced(UNPRICED_CSV)


def price_quote(chip_id: str) -> PriceQuote | None:
    """The quote of a chip, or None when it has none (then :func:`load_unpriced` says why, if listed)."""
    return load_prices().get(chip_id)


@dataclass(frozen=True)
class UsablePrice:
    """A price every money figure may use (:func:`usable_price`): USD with its range, its basis (``street``,
    ``list``, or :data:`FILE_BASIS` for a user's own chip file), what it covers and whose figure it is."""

    low_usd: float
    usd: float
    high_usd: float
    basis: str
    covers: str
    source: str
    date: str = ""  # the source's (ISO 8601); "" for a chip file's price
    note: str = ""
    estimate: bool = False

    def label(self) -> str:
        """What the price is, short: a money figure's ``chip_price_source``."""
        return f"{self.basis} price of {self.date}" if self.date else "the chip file's price.usd"

    def whose(self) -> str:
        """The source with its date, one phrase."""
        return f"{self.source}, {self.date}" if self.date else self.source

    def at(self, level: str) -> float:
        """The price at an estimate level (``low``, ``central``, ``high``)."""
        return {"low": self.low_usd, "high": self.high_usd}.get(level, self.usd)


@dataclass(frozen=True)
class NoPrice:
    """Why a chip has no usable price (:func:`usable_price`): what predict, serve, cost, the review and explore
    print in place of its $ figures."""

    reason: str


FILE_BASIS = "chip file"  # UsablePrice.basis of a user's own chip file's price.usd
NO_FILE_PRICE = ("no street or list price: not a catalogue chip, and the chip file states no price.usd; add price.usd, "
                 "USD per chip (a number, or low, central, high and derivation for an estimate), to judge it on money")


def usable_price(spec: ChipSpec) -> UsablePrice | NoPrice:
    """The one rule for whether a chip has a price money figures may use (predict, serve, curve, cost, the review's
    street view and ranking, explore): a catalogue chip's dated street or list price in ``prices.csv``; a user's own
    chip file (an id no catalogue chip has) its ``price.usd``; else none, with the reason (``prices_unpriced.csv``'s,
    or that the table has no row). A catalogue chip file's ``price.usd`` is not a price on its own: a figure with no
    dated source (Cerebras WSE-3's $2-3M estimate) is listed unpriced with why."""
    from inferchip.catalog.chips import chip_ids

    q = load_prices().get(spec.id)
    if q is not None:
        return UsablePrice(q.low_usd, q.price_usd, q.high_usd, q.basis, q.covers, q.source, q.date, q.note, q.estimate)
    u = load_unpriced().get(spec.id)
    if u is not None:
        return NoPrice(f"{u.reason} ({u.source}, {u.date})")
    if spec.id in chip_ids():
        return NoPrice("no street or list price in the price table")
    usd = spec.price.usd
    if usd is None:
        return NoPrice(NO_FILE_PRICE)
    whose, note = "the chip file's price.usd", str(spec.price.note or "")
    if isinstance(usd, Range):
        return UsablePrice(float(usd.low), float(usd.central), float(usd.high), FILE_BASIS, spec.price.covers,
                           f"{whose}, an estimate: {usd.derivation}", note=note, estimate=True)
    return UsablePrice(float(usd), float(usd), float(usd), FILE_BASIS, spec.price.covers,
                       f"{whose}, one figure as stated (no range)", note=note)
