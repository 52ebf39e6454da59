"""The catalogue's small vision tables (``catalog/vision/*.csv``, one header row): every row parsed by the table's
own rule, a bad row stopped with the file and its line.

A rule raises ``ValueError`` saying which field is wrong, with its value and what is allowed; :func:`read_table`
turns that into the table's own error class, prefixed ``<file>:<line>:`` (line 1 is the header).
"""

from __future__ import annotations

import csv
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
