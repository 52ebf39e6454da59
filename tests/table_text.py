"""A rich table's text read back by column, for tests of tables that wrap their cells to keep to 100 columns."""

from __future__ import annotations


def column_texts(text: str, header: bool = True) -> list[str]:
    """Each column's header (``header``) or body cells of every table in ``text``, joined top to bottom with
    spaces: a header rich wrapped over lines ("lowest_cost_silicon" / "(deployment)") reads back whole."""
    sep = "┃" if header else "│"
    cells = [[c.strip() for c in ln.strip().strip(sep).split(sep)] for ln in text.splitlines() if ln.startswith(sep)]
    if not cells:
        return []
    return [" ".join(row[j] for row in cells if j < len(row) and row[j]) for j in range(max(map(len, cells)))]
