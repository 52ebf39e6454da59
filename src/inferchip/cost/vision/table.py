"""The catalogue's small vision tables (``catalog/vision/*.csv``, one header row): every row parsed by the table's
own rule, a bad row stopped with the file and its line.

A rule raises ``ValueError`` saying which field is wrong, with its value and what is allowed; :func:`read_table`
turns that into the table's own error class, prefixed ``<file>:<line>:`` (line 1 is the header). The checks the
chip tables share (a unique chip id, a stated source, a positive finite number) are :func:`unique_chip_id`,
:func:`stated_source` and :func:`positive_number`.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from inferchip.errors import InferchipError

T = TypeVar("T")


def read_table(path: Path, error: type[InferchipError], parse: Callable[[dict[str, str]], T]) -> list[T]:
    """``parse`` of each row of ``path``, in file order; a row it rejects (``ValueError``) stops the read with
    ``error("<path>:<line>: <its message>")``."""
    out: list[T] = []
    with open(path, encoding="utf-8", newline="") as fh:
        for line, row in enumerate(csv.DictReader(fh), start=2):
            try:
                out.append(parse(row))
            except ValueError as e:
                raise error(f"{path}:{line}: {e}") from None
    return out


def unique_chip_id(row: dict[str, str], seen: set[str]) -> str:
    """The row's ``chip_id``, stripped and added to ``seen``; empty or already in ``seen`` -> ``ValueError``."""
    chip = (row.get("chip_id") or "").strip()
    if not chip or chip in seen:
        raise ValueError(f"chip_id {chip!r} is empty or repeats")
    seen.add(chip)
    return chip


def stated_source(row: dict[str, str], what: str) -> str:
    """The row's ``source``, stripped; empty -> ``ValueError`` ("every <what> needs its source")."""
    source = (row.get("source") or "").strip()
    if not source:
        raise ValueError(f"source is empty; every {what} needs its source")
    return source


def positive_number(row: dict[str, str], field: str, kind: str) -> float:
    """``row[field]`` as a finite number > 0, in the table's own unit; otherwise ``ValueError`` ("<field> must be
    <kind> > 0, got <value>", ``kind`` e.g. "a clock in GHz")."""
    try:
        v = float(row[field])
    except (KeyError, TypeError, ValueError):
        raise ValueError(f"{field} must be {kind} > 0, got {row.get(field)!r}") from None
    if not math.isfinite(v) or v <= 0:
        raise ValueError(f"{field} must be {kind} > 0, got {v!r}")
    return v
