"""tools/docs/journal_index.py: GitHub's heading anchors by hand, the index of docs/serving_journal.md in
docs/serving_validation.md is the one the tool writes, and every index link names a heading of the journal."""

from __future__ import annotations

import re
from pathlib import Path

from conftest import load_tool

ji = load_tool("journal_index")
DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_github_slug_by_hand():
    seen: dict[str, int] = {}
    # punctuation dropped ('>', '`', ',', '(', ')', ':', '/', '.'), each space a '-', '_' and '-' kept
    assert (
        ji.github_slug("TTFT 12.2 -> 11.0 (branch `dyn_40`, stop 40): a/b", seen)
        == "ttft-122---110-branch-dyn_40-stop-40-ab"
    )
    assert ji.github_slug("Speed and memory", seen) == "speed-and-memory"
    # a repeated heading gets -1, then -2
    assert ji.github_slug("Speed and memory", seen) == "speed-and-memory-1"
    assert ji.github_slug("Speed and memory", seen) == "speed-and-memory-2"


def test_index_groups_by_latest_stop_newest_first():
    journal = (
        "# J\n\n## A (branch `a`, stop 3)\n\n## B (stop 4, taken up in stop 5)\n\n```\n## not a heading\n```\n\n## C\n"
    )
    text = ji.index_text(journal)
    order = [line for line in text.splitlines() if line.startswith("**")]
    assert order == ["**Stop 5**", "**Stop 3**", "**Earlier (no stop in the heading)**"]
    assert "not a heading" not in text
    assert "(serving_journal.md#a-branch-a-stop-3)" in text


def test_index_on_the_page_is_the_journals():
    page = (DOCS / "serving_validation.md").read_text(encoding="utf-8")
    journal = (DOCS / "serving_journal.md").read_text(encoding="utf-8")
    assert ji.with_index(page, journal) == page, "run python tools/docs/journal_index.py --write"
    anchors = {slug for _, slug in ji.headings(journal)}
    linked = re.findall(r"\(serving_journal\.md#([^)]+)\)", page)
    assert len(linked) == len(anchors) > 100
    assert set(linked) == anchors
