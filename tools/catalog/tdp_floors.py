"""The catalogue's TDP arithmetic floors (catalog.chips.arithmetic_w), one row per chip, for before/after tables.

Each row: the chip, its node (nm; '-' where the YAML gives none and the floor assumes 2 nm), the peak that draws the
most bare arithmetic at the 'low' level (the floor load_chip refuses a TDP under) with that power in W, the TDP's
'high' value, and the central-level share of the central TDP (tdp_note's figure; a note above 0.25). Run it from a
checkout's root with that checkout's ``src`` first on PYTHONPATH to see that checkout's floors; ``--csv`` writes
comma-separated rows for a diff.

    python tools/catalog/tdp_floors.py [--csv]
"""

from __future__ import annotations

import argparse

from inferchip.catalog.chips import arithmetic_w, chip_ids, load_chip
from inferchip.spec.bounds import pick


def rows() -> list[tuple[str, str, str, float | None, float | None, float | None]]:
    """(chip, node, format, floor W at 'low', TDP W at 'high', central share) for every catalogue chip."""
    out = []
    for cid in chip_ids():
        s = load_chip(cid)
        node = s.silicon.node_nm if s.silicon is not None and s.silicon.node_nm else None
        low = arithmetic_w(s, "low")
        central = arithmetic_w(s, "central")
        tdp = s.power.tdp_w if s.power is not None else None
        tdp_high = float(pick(tdp, "high")) if tdp is not None else None
        share = central[0] / float(pick(tdp, "central")) if central and tdp is not None else None
        out.append((cid, f"{node:g}" if node else "-", low[1] if low else "-", low[0] if low else None, tdp_high,
                    share))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--csv", action="store_true", help="comma-separated rows")
    args = ap.parse_args()
    fmt = "{},{},{},{},{},{}" if args.csv else "{:32s} {:>5s} {:>11s} {:>9s} {:>8s} {:>6s}"
    print(fmt.format("chip", "node", "peak", "floor_w", "tdp_w", "share"))
    for cid, node, peak, w, tdp, share in rows():
        print(fmt.format(cid, node, peak, "-" if w is None else f"{w:.4g}", "-" if tdp is None else f"{tdp:g}",
                         "-" if share is None else f"{share:.3f}"))


if __name__ == "__main__":
    main()
