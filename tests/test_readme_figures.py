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


def test_readme_catalogue_counts_match_the_catalogue():
    """The opening's catalogue counts and the review's default chip count are the catalogue's (stop 46, docs46: the
    README said the review runs 14 current datacenter chips; the 2025 competitor set holds 13)."""
    from inferchip.catalog import competitors
    from inferchip.catalog.chips import chip_ids
    from inferchip.catalog.vision_networks import vision_network_ids

    text = " ".join((ROOT / "README.md").read_text().split())
    m = re.search(r"one of the (\d+) chips of the catalogue", text)
    assert m and int(m.group(1)) == len(chip_ids())
    m = re.search(r"\((\d+) Hugging Face configs ship in the package\)", text)
    assert m and int(m.group(1)) == len(list((ROOT / "src" / "inferchip" / "catalog" / "models").glob("*.json")))
    m = re.search(r"a vision or driving network \((\d+) bundled", text)
    assert m and int(m.group(1)) == len(vision_network_ids())
    m = re.search(r"with its defaults: (\d+) current datacenter chips", text)
    assert m and int(m.group(1)) == len(competitors.competitors_for_year(competitors.DEFAULT_REVIEW_YEAR))
