"""``inferchip validate --page`` with vision case files: their rows get a section of the page (alone, or beside
the LLM rows)."""

from __future__ import annotations

import re
from pathlib import Path

from inferchip.interfaces.cli import main

DATA = Path(__file__).parent / "data"


def _table_rows(text: str, heading: str) -> list[str]:
    part = text.split(heading, 1)[1].split("\n#", 1)[0]
    return [line for line in part.splitlines() if line.startswith("| ") and not line.startswith("| rows")
            and not line.startswith("| case")]


def test_a_vision_only_page(tmp_path):
    page = tmp_path / "docs" / "v.md"
    assert main(["validate", str(DATA / "vision_cases_subset.csv"), "--page", str(page)]) == 0
    text = page.read_text()
    assert "## Vision rows" in text and "| all performance rows |" in text
    n_rows = sum(1 for line in (DATA / "vision_cases_subset.csv").read_text().splitlines()[1:] if line.strip())
    worst = _table_rows(text, "### Worst vision rows")
    missing = _table_rows(text, "### Vision rows not expressed")
    assert 0 < len(worst) <= 15 and len(missing) >= 1
    m = re.search(r"^\| all performance rows \| (\d+) \|", text, re.M)
    assert m and int(m.group(1)) + len(missing) <= n_rows  # every row is counted at most once


def test_vision_rows_beside_the_llm_rows(tmp_path):
    page = tmp_path / "v.md"
    assert main(["validate", str(DATA / "validation_small.csv"), str(DATA / "vision_cases_subset.csv"),
                 "--server-model", "analytic", "--workers", "1", "--page", str(page)]) == 0
    text = page.read_text()
    assert text.index("## Summary") < text.index("## Vision rows") < text.index("## How a row is predicted")
