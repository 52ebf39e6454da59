"""The README's energy accuracy sentence quotes the same medians and row counts as the energy rows of
docs/validation.md's summary table (written by `inferchip validate ... --page`), so the two cannot drift."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _page_energy(kind: str) -> tuple[int, str]:
    """(rows predicted, median APE text) of the `energy (kind)` row of docs/validation.md's summary."""
    for line in (ROOT / "docs" / "validation.md").read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells and cells[0] == f"energy ({kind})":
            return int(cells[2]), cells[3].rstrip("%")
    raise AssertionError(f"no 'energy ({kind})' row in docs/validation.md")


def test_readme_energy_medians_match_the_validation_page():
    text = " ".join((ROOT / "README.md").read_text().split())
    m = re.search(r"median APE ([\d.]+)% at the wall \((\d+) rows\) and ([\d.]+)% at the board \((\d+) rows\)", text)
    assert m, "the README's energy sentence is gone or reworded"
    assert (int(m.group(2)), m.group(1)) == _page_energy("wall")
    assert (int(m.group(4)), m.group(3)) == _page_energy("board")
