"""What the commands print: every documented JSON key in every answer, tables that never cut.

A chip that publishes no TDP has no power, energy or money figures; its JSON answer still
holds those keys, with ``null`` (:func:`with_all_keys`), so a script reads the same keys of
every chip. :func:`console` gives a console whose tables wrap long cells instead of cutting
them on a terminal, and lays them out at their natural width when the output goes to a file
or a pipe (no terminal width to respect).
"""

from __future__ import annotations

import sys
from collections.abc import Hashable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from inferchip.performance.prediction import ENERGY_AND_MONEY_KEYS

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

Key = TypeVar("Key", bound=Hashable)  # a summary's keys (str), or a data frame record's column labels

# Keys `predict --format json` gives when the chip has a TDP (power) and a price (money): the one list, which the
# Python API's Prediction also answers by attribute (None where the chip lacks the figure)
PREDICT_ENERGY_KEYS = ENERGY_AND_MONEY_KEYS
# Keys `serve --format json` (and each point of `curve`) gives when the chip has a TDP and a price.
SERVE_ENERGY_KEYS = (
    "energy_j", "energy_window_j", "power_w_per_chip", "output_tokens_per_j", "j_per_output_token",
    "chip_price_usd", "chip_price_source", "tco_usd_per_hour_per_chip", "usd_per_million_tokens",
    "output_tokens_per_s_per_usd_capex", "wall_power_w_per_chip",
)


def with_all_keys(d: Mapping[Key, Any], keys: tuple[Key, ...]) -> dict[Key, Any]:
    """``d`` with every key of ``keys`` present (``None`` where the chip lacks the figure)."""
    out = dict(d)
    for k in keys:
        out.setdefault(k, None)
    return out


PIPE_WIDTH = 10_000  # tables at their natural width when nobody's terminal is there to fit


def console(stderr: bool = False) -> Console:
    """A rich console: the terminal's width on a terminal, natural widths in a pipe or file."""
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    # emoji=False: text is printed as given (no ':name:' codes replaced; rich's emoji table not loaded)
    if stream.isatty():
        return Console(stderr=stderr, emoji=False)
    return Console(stderr=stderr, width=PIPE_WIDTH, emoji=False)


TABLE_WIDTH_MAX = 100  # columns a table takes in a pipe at most (a terminal narrower than that fits it anyway)


def fit_width(table: Table, width: int = TABLE_WIDTH_MAX) -> Table:
    """``table`` (a rich Table) held to ``width`` columns where its natural width is more, its cells wrapping, never
    cut: every column folds a word longer than its share instead of ending it in an ellipsis."""
    from rich.console import Console

    for column in table.columns:
        column.overflow = "fold"
    if Console(width=PIPE_WIDTH).measure(table).maximum > width:
        table.width = width
    return table
