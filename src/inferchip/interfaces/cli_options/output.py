"""What the commands print: every documented JSON key in every answer, tables that never cut.

A chip that publishes no TDP has no power, energy or money figures; its JSON answer still
holds those keys, with ``null`` (:func:`with_all_keys`), so a script reads the same keys of
every chip. :func:`console` gives a console whose tables wrap long cells instead of cutting
them on a terminal, and lays them out at their natural width when the output goes to a file
or a pipe (no terminal width to respect). :func:`print_text` prints a line of prose (a note, a source, the
money terms) wrapped at the terminal's width, or at :data:`TEXT_WIDTH` columns in a pipe or file.
:func:`tco_text` states the terms a $ per million tokens rests on, the one text ``predict``, ``serve`` and ``curve``
print as their ``money:`` line and answer as JSON ``tco_assumptions``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Hashable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from inferchip.performance.prediction import ENERGY_AND_MONEY_KEYS

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

    from inferchip.spec.assumptions import Assumptions

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


TEXT_WIDTH = TABLE_WIDTH_MAX  # prose lines in a pipe or file: wrapped here (COLUMNS, where set, overrides)


def text_width() -> int:
    """The width a line of prose is wrapped at in a pipe or file: ``COLUMNS`` where it is a positive whole number
    (as a terminal's shell sets it), else :data:`TEXT_WIDTH`."""
    given = os.environ.get("COLUMNS", "")
    return int(given) if given.isdigit() and int(given) > 0 else TEXT_WIDTH


def print_text(con: Console, text: str, label: str | None = None, style: str | None = None) -> None:
    """One line of prose, ``label: text`` (``label`` in ``style`` where given), wrapped at the width of the
    terminal ``con`` writes to, else at :func:`text_width` columns (a pipe or a file: the tables' console is
    :data:`PIPE_WIDTH` wide there, and a note on it was one line of up to 600 characters); the text is printed as
    given (no markup read in it), words never broken."""
    from rich.text import Text

    line = Text()
    if label is not None:
        line.append(f"{label}:", style=style or "")
        line.append(" ")
    line.append(text)
    if con.is_terminal:
        con.print(line, highlight=False, overflow="fold")
        return
    from rich.console import Console

    # a console of the width the line wraps at, on the same stream (rich clamps a print's width to its console's)
    Console(file=con.file, width=text_width(), emoji=False).print(line, highlight=False, overflow="fold")


UTILISATION_TEXT = ("$ per million output tokens = TCO per chip-hour / {whose} output tokens per chip-hour: the "
                    "chips busy at this load every hour of their lifetime (100 % utilisation; a fleet busy a fraction "
                    "u of its hours pays about 1/u as much a token, less the energy its idle hours save)")


def tco_text(system: str, assumptions: Assumptions, whose: str = "the run's", covers: str = "accelerator") -> str:
    """The TCO terms a $ per million output tokens rests on, in words with the assumption each comes from
    (``cost.tco.TcoTerms.describe``: system share, lifetime and cost of capital, electricity price and PUE, space
    rent; sourced in the assumptions file the output names) for a chip in ``system`` (``ChipSpec.system``), and the
    utilisation it assumes (``whose``: the throughput it divides by, "the run's", "the prediction's"), for a price
    that covers ``covers`` (``cost.tco.price_covers``: the accelerator alone, or a share of a system's price)."""
    from inferchip.cost.tco import tco_terms

    return (f"TCO per chip-hour: {tco_terms(system, assumptions, covers).describe()}; "
            + UTILISATION_TEXT.format(whose=whose))
