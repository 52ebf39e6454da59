"""The body of the closed-loop TTFT error distribution: which rows set the leave-one-accelerator-out (LOAO) median, and
how far the median would move if one group's first wave (spread part) or steady request (median part) were exact.
(report only; it changes no prediction)

The LOAO errors are those of tools/closed_loop/closed_loop_tables.py (engine host times refitted without each
accelerator, fit_engines.loao_fits). For a target median ``T`` it prints how many TTFT rows lie at or below ``T`` and
how many more must, then per group (engine, engine and chip, engine and clients band, engine and lengths) the rows,
LOAO median / signed median and the rows in the body, ``T < |e| <= 30 %``, under- and over-predicted. Last, per engine
and per engine and clients band, the LOAO median of all rows with that group's rows' error taken without their
spread part, then without their median part (ttft_spread.error_parts: the run's stated median and p99 TTFT in the
notes of the cases file; a row without a stated spread keeps its error): the size of the lever, not a prediction.

    python tools/ttft/ttft_body.py closed.json [--target 12] [--cases CASES.csv]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "closed_loop"))
from fit_engines import errors, loao_fits, rows_of  # noqa: E402
from ttft_spread import SHIPPED, error_parts, notes_spread  # noqa: E402

BODY_TOP_PCT = 30.0  # the body's upper edge: rows beyond it are the tail (p90 territory), not the median's
_ID = re.compile(r"-(\d+)-(\d+)-c(\d+)-")
GROUPS = ("engine", "engine,chip", "engine,band", "engine,len")


def band(clients: int) -> str:
    return "c1-8" if clients <= 8 else "c9-32" if clients <= 32 else "c33-128" if clients <= 128 else "c129+"


def keys_of(case_id: str, engine: str, chip: str) -> dict[str, str]:
    m = _ID.search(case_id)
    if not m:
        raise SystemExit(f"case {case_id}: no -ISL-OSL-cC- in its id")
    return {"engine": engine, "chip": chip.split("-", 1)[-1], "band": band(int(m.group(3))),
            "len": f"{m.group(1)}/{m.group(2)}"}


def needed(errs: list[float], target_pct: float) -> tuple[int, int]:
    """(rows with |e| <= target, rows more that must be for the median |e| to reach the target)."""
    a = np.abs(np.asarray(errs, float))
    at = int(np.sum(a <= target_pct))
    return at, max(0, (a.size + 1) // 2 - at)


def body_counts(errs: list[float], target_pct: float, top_pct: float = BODY_TOP_PCT) -> tuple[int, int]:
    """(under-predicted, over-predicted) rows with ``target < |e| <= top``."""
    e = np.asarray(errs, float)
    inside = (np.abs(e) > target_pct) & (np.abs(e) <= top_pct)
    return int(np.sum(inside & (e < 0))), int(np.sum(inside & (e > 0)))


def median_without(errs: list[float], parts: list[tuple[float, float] | None], chosen: list[bool],
                   drop: int) -> float:
    """Median |e| of all rows, the chosen rows' error taken without part ``drop`` (0: median part, 1: spread part)
    of their (median part, spread part); rows without parts keep their error."""
    out = [e - p[drop] if c and p is not None else e for e, p, c in zip(errs, parts, chosen, strict=True)]
    return float(np.median(np.abs(out)))


def loao_ttft(path: str) -> list[tuple[dict, float]]:
    return [(x, e) for held, p in loao_fits(rows_of(path)) for x, e in errors(held, p) if x["metric"] == "ttft_ms"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("validate_json")
    ap.add_argument("--target", type=float, default=12.0, help="target LOAO median |e| (%%)")
    ap.add_argument("--cases", default=str(SHIPPED), help="cases file whose notes state each run's TTFT spread")
    a = ap.parse_args()
    rows = loao_ttft(a.validate_json)
    errs = [e for _, e in rows]
    keys = [keys_of(x["case_id"], x["engine"], x["chip"]) for x, _ in rows]
    at, more = needed(errs, a.target)
    print(f"TTFT LOAO: {len(errs)} rows, median {np.median(np.abs(errs)):.2f} %, signed {np.median(errs):+.2f} %; "
          f"{at} rows at or below {a.target:g} %, {more} more needed for the median to reach it")
    for spec in GROUPS:
        g: dict = defaultdict(list)
        for k, e in zip(keys, errs, strict=True):
            g[tuple(k[f] for f in spec.split(","))].append(e)
        print(f"\nby {spec}: rows, LOAO median |e| / signed, body ({a.target:g} < |e| <= {BODY_TOP_PCT:g} %) "
              "under / over")
        for k in sorted(g):
            v = g[k]
            u, o = body_counts(v, a.target)
            print(f"  {'/'.join(k):34s} {len(v):5d} {np.median(np.abs(v)):6.1f} {np.median(v):+6.1f}   {u:4d} / {o:4d}")
    spread = notes_spread(a.cases)
    sims = {c["case_id"]: c for c in json.load(open(a.validate_json))["cases"]
            if c["metric"] == "ttft_ms" and c["status"] == "ok" and c.get("sim")}
    parts: list[tuple[float, float] | None] = []
    for x, _ in rows:
        s, c = spread.get(x["case_id"]), sims.get(x["case_id"])
        parts.append(error_parts(c["measured"], s[0], c["sim"]["ttft_ms"], c["sim"]["ttft_median_ms"])
                     if s and c else None)
    print(f"\nlevers: all rows' LOAO median |e| with one group's rows taken without their spread part / median part "
          f"({sum(p is not None for p in parts)} of {len(parts)} rows state a spread)")
    for spec in ("engine", "engine,band"):
        names = sorted({tuple(k[f] for f in spec.split(",")) for k in keys})
        fields = spec.split(",")
        for name in names:
            chosen = [tuple(k[f] for f in fields) == name for k in keys]
            spread_out, median_out = (median_without(errs, parts, chosen, d) for d in (1, 0))
            print(f"  {'/'.join(name):34s} {sum(chosen):5d}   spread exact {spread_out:6.2f}"
                  f"   median exact {median_out:6.2f}")


if __name__ == "__main__":
    main()
