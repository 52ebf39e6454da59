"""What moved between two `inferchip review` outputs: results.csv rows and the claim's verdicts.

Usage: python tools/report/review_compare.py BEFORE_DIR AFTER_DIR
(each the --out folder of a review: results.csv and results.json). Prints the rows added and removed (chip, model,
service level, setting), each row whose values changed (the changed columns, the reason column's text left out and
only counted), the columns added or removed, and each claim part's verdict and probability before -> after (its main
rival too), then each ledger entry present in only one of the two.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path
from typing import Any

KEY = ("chip_id", "model_id", "slo", "setting")


def rows_of(folder: Path) -> tuple[list[str], dict[tuple[str, ...], dict[str, str]]]:
    with (folder / "results.csv").open(newline="") as f:
        reader = csv.DictReader(f)
        rows = {tuple(r[k] for k in KEY): r for r in reader}
        return list(reader.fieldnames or []), rows


def changed_rows(before: dict[tuple[str, ...], dict[str, str]], after: dict[tuple[str, ...], dict[str, str]],
                 ) -> dict[tuple[str, ...], dict[str, tuple[str, str]]]:
    """Rows in both whose shared columns differ: key -> column -> (before, after)."""
    out = {}
    for k, b in before.items():
        a = after.get(k)
        if a is None:
            continue
        diff = {c: (v, a[c]) for c, v in b.items() if c in a and a[c] != v}
        if diff:
            out[k] = diff
    return out


def parts_of(folder: Path) -> dict[str, dict[str, Any]]:
    data = json.loads((folder / "results.json").read_text())
    return {p["part"] + (f" ({p['view']})" if p.get("view") else ""): p for p in data.get("claim_parts", [])}


def ledger_of(folder: Path) -> list[tuple[str, str]]:
    data = json.loads((folder / "results.json").read_text())
    return [(e["choice"], e["alternative"]) for e in data.get("ledger", [])]


def report(before: Path, after: Path) -> list[str]:
    cols_b, rb = rows_of(before)
    cols_a, ra = rows_of(after)
    lines = [f"rows: {len(rb)} -> {len(ra)}; columns added: {sorted(set(cols_a) - set(cols_b)) or '-'}; "
             f"removed: {sorted(set(cols_b) - set(cols_a)) or '-'}"]
    lines += [f"  added   {' | '.join(k)}" for k in sorted(set(ra) - set(rb))]
    lines += [f"  removed {' | '.join(k)}" for k in sorted(set(rb) - set(ra))]
    moved = changed_rows(rb, ra)
    lines.append(f"rows changed: {len(moved)}")
    for k, diff in sorted(moved.items()):
        shown = ", ".join(f"{c}: {v[0] or '-'} -> {v[1] or '-'}" for c, v in diff.items() if c != "reason")
        lines.append(f"  {' | '.join(k)}: {shown}" + (" (reason changed)" if "reason" in diff else ""))
    pb, pa = parts_of(before), parts_of(after)
    lines.append("claim parts (verdict, probability, rival): before -> after")
    for name in dict.fromkeys([*pb, *pa]):
        b, a = pb.get(name, {}), pa.get(name, {})
        lines.append(f"  {name}: {b.get('verdict')} {b.get('probability')} {b.get('rival')} -> "
                     f"{a.get('verdict')} {a.get('probability')} {a.get('rival')}"
                     + ("" if (b.get("verdict"), b.get("probability"), b.get("rival")) ==
                        (a.get("verdict"), a.get("probability"), a.get("rival")) else "   <- moved"))
    lb, la = ledger_of(before), ledger_of(after)
    lines += [f"ledger entry only after:  {c}: {alt}" for c, alt in la if (c, alt) not in lb]
    lines += [f"ledger entry only before: {c}: {alt}" for c, alt in lb if (c, alt) not in la]
    return lines


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("before", type=Path, metavar="BEFORE_DIR", help="the --out folder of the earlier review")
    ap.add_argument("after", type=Path, metavar="AFTER_DIR", help="the --out folder of the later review")
    a = ap.parse_args(argv)  # a wrong count exits 2 with the usage line
    print("\n".join(report(a.before, a.after)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
