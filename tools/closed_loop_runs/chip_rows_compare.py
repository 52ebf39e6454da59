"""Compare two closed-loop runs (``inferchip validate ... --format json``) on chosen accelerators, and splice one run's
rows of those accelerators into another (stop 36, branch tpj-scope: 16-bit split-K on the Hopper vLLM and SGLang rows).

``bands BASE.json NEW.json [--chips ...]``: per accelerator, engine, metric and clients per replica (<= 8, 9-128,
> 128, all), the rows and the signed and absolute median errors of both runs (rows ``ok`` in both).

``splice NEW.json BASE.json OUT.json [--chips ...]``: NEW with its rows on ``--chips`` taken from BASE. Where a change
moves only those chips' rows and the base's other rows moved since (other merges), OUT is the base code's output at
NEW's other rows: the branch's own effect is OUT -> NEW (``closed_loop_tables.py`` on both; its leave-one-out
refit reads the rows of the file it is given).
"""

from __future__ import annotations

import argparse
import json
import statistics
from collections import defaultdict
from typing import Any

HOPPER = ("nvidia-h100-sxm-80gb", "nvidia-h200-sxm-141gb")
ENGINES = ("dynamo", "sglang", "vllm", "trt", "atom")  # case id fragments, the front end first


def engine_of(case_id: str) -> str:
    """The engine fragment of an InferenceMAX case id (``-vllm-``), the front end first; '?' if none."""
    return next((e for e in ENGINES if f"-{e}-" in case_id), "?")


def band(clients: float) -> str:
    return "<=8" if clients <= 8 else "9-128" if clients <= 128 else ">128"


def _cases(path: str) -> dict[str, dict[str, Any]]:
    with open(path, encoding="utf-8") as fh:
        return {c["case_id"]: c for c in json.load(fh)["cases"]}


def bands(base: dict[str, dict[str, Any]], new: dict[str, dict[str, Any]], chips: tuple[str, ...]) -> list[str]:
    """Markdown rows: accelerator, engine, metric, clients per replica, rows, signed median base -> new, APE median
    base -> new."""
    groups: dict[tuple[str, str, str, str], tuple[list[float], list[float]]] = defaultdict(lambda: ([], []))
    for cid, c in new.items():
        o = base.get(cid)
        if c["accelerator"] not in chips or o is None or "ok" not in (c.get("status"), o.get("status")) or \
                c.get("status") != o.get("status"):
            continue
        for b in (band(float(c.get("concurrency_per_replica") or 0.0)), "all"):
            x, y = groups[(c["accelerator"], engine_of(cid), c["metric"], b)]
            x.append(float(o["signed_error_pct"]))
            y.append(float(c["signed_error_pct"]))
    out = ["| accelerator | engine | metric | clients per replica | rows | signed median % base -> new | "
           "APE median % base -> new |", "|---|---|---|---|---|---|---|"]
    for key in sorted(groups):
        x, y = groups[key]
        out.append(f"| {' | '.join(key)} | {len(x)} | {statistics.median(x):+.1f} -> {statistics.median(y):+.1f} | "
                   f"{statistics.median(map(abs, x)):.1f} -> {statistics.median(map(abs, y)):.1f} |")
    return out


def splice(new: dict[str, Any], base: dict[str, dict[str, Any]], chips: tuple[str, ...]) -> dict[str, Any]:
    """``new`` (a whole validate output) with its rows on ``chips`` replaced by ``base``'s; a row of those chips that
    ``base`` lacks is an error naming it."""
    cases = []
    for c in new["cases"]:
        if c["accelerator"] in chips:
            if c["case_id"] not in base:
                raise SystemExit(f"splice: case {c['case_id']} ({c['accelerator']}) is not in the base run")
            c = base[c["case_id"]]
        cases.append(c)
    return {**new, "cases": cases}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("bands")
    b.add_argument("base")
    b.add_argument("new")
    s = sub.add_parser("splice")
    s.add_argument("new")
    s.add_argument("base")
    s.add_argument("out")
    for p in (b, s):
        p.add_argument("--chips", nargs="+", default=list(HOPPER), help="accelerator ids (default: H100, H200)")
    a = ap.parse_args(argv)
    chips = tuple(a.chips)
    if a.cmd == "bands":
        print("\n".join(bands(_cases(a.base), _cases(a.new), chips)))
    else:
        with open(a.new, encoding="utf-8") as fh:
            new = json.load(fh)
        with open(a.out, "w", encoding="utf-8") as fh:
            json.dump(splice(new, _cases(a.base), chips), fh)


if __name__ == "__main__":
    main()
