"""The branch journal of the closed-loop work and its index.

docs/serving_journal.md holds one section per branch (its question, sources, measurements and the lead's decision),
in the order they were written. docs/serving_validation.md keeps how a row is predicted, the calibration
parameters and the results, and an index of the journal between two markers, grouped by stop, newest first.

Usage (from the repository root):
  python tools/docs/journal_index.py            check: exit 1 when the index is not the journal's
  python tools/docs/journal_index.py --write    rewrite the index from the journal
  python tools/docs/journal_index.py --add FILE append FILE (one section, starting with '## ') to the journal, then
                                                rewrite the index
"""

from __future__ import annotations

import argparse
import re
import sys
import unicodedata
from collections import defaultdict
from pathlib import Path

from inferchip.atomic_io import write_all

REPO = Path(__file__).resolve().parents[2]
JOURNAL = REPO / "docs" / "serving_journal.md"
PAGE = REPO / "docs" / "serving_validation.md"
BEGIN = "<!-- journal index: written by tools/docs/journal_index.py, do not edit by hand -->"
END = "<!-- end of journal index -->"
STOP = re.compile(r"\bstops? (\d+)")


def github_slug(heading: str, seen: dict[str, int]) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped (letters, digits, marks, '_' and '-'
    kept), each space a '-', a repeated anchor suffixed -1, -2, ... (github-slugger's rule)."""
    kept = []
    for ch in heading.strip().lower():
        cat = unicodedata.category(ch)
        if ch in "-_" or ch == " " or cat[0] in "LNM":
            kept.append("-" if ch == " " else ch)
    slug = "".join(kept)
    n = seen.get(slug, 0)
    seen[slug] = n + 1
    return slug if n == 0 else f"{slug}-{n}"


def headings(journal: str) -> list[tuple[str, str]]:
    """Each '## ' heading of the journal (outside code blocks) with its anchor, in file order."""
    seen: dict[str, int] = {}
    out = []
    fenced = False
    for line in journal.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        if fenced:
            continue
        if line.startswith("#") and not line.startswith("## "):
            github_slug(line.lstrip("#").strip(), seen)  # other levels share the page's anchors
        elif line.startswith("## "):
            title = line[3:].strip()
            out.append((title, github_slug(title, seen)))
    return out


def index_text(journal: str) -> str:
    """The index: one list per stop named in the heading (the latest stop it names), newest first."""
    groups: dict[int, list[str]] = defaultdict(list)
    for title, slug in headings(journal):
        stops = [int(s) for s in STOP.findall(title)]
        groups[max(stops) if stops else 0].append(f"* [{title}](serving_journal.md#{slug})")
    lines = [BEGIN, ""]
    for stop in sorted(groups, reverse=True):
        lines.append(f"**Stop {stop}**" if stop else "**Earlier (no stop in the heading)**")
        lines.append("")
        lines.extend(groups[stop])
        lines.append("")
    lines.append(END)
    return "\n".join(lines)


def with_index(page: str, journal: str) -> str:
    start, end = page.index(BEGIN), page.index(END) + len(END)
    return page[:start] + index_text(journal) + page[end:]


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 epilog="without an option: check, exit 1 when the index is not the journal's")
    what = ap.add_mutually_exclusive_group()
    what.add_argument("--write", action="store_true", help="rewrite the index from the journal")
    what.add_argument("--add", type=Path, metavar="FILE",
                      help="append FILE (one section, starting with '## ') to the journal, then rewrite the index")
    a = ap.parse_args(argv)
    journal = JOURNAL.read_text(encoding="utf-8")
    page = PAGE.read_text(encoding="utf-8")
    if a.add is not None:
        section = a.add.read_text(encoding="utf-8").strip()
        if not section.startswith("## "):
            print(f"{a.add}: a journal section starts with '## ' (its heading)", file=sys.stderr)
            return 2
        journal = journal.rstrip() + "\n\n" + section + "\n"
    if a.add is not None or a.write:  # the journal and its index replaced together or not at all
        write_all([(JOURNAL, journal), (PAGE, with_index(page, journal))])
        return 0
    if with_index(page, journal) != page:
        print("docs/serving_validation.md: the journal index is stale; run python tools/docs/journal_index.py --write")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
