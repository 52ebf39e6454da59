"""Markdown tables of closed-loop serving errors for docs/validation.md: per metric, per accelerator
and per engine (median and p90 APE, signed median bias), in sample (the validate JSON as run) and
leave one accelerator out (each accelerator's rows predicted with engine host times refitted
without it, by the first-order moves of tools/closed_loop/fit_engines.py; with ``--sens`` runs, the engines' kernel
multipliers are refitted with them in each fold).

With ``--groups REGEX`` it adds the leave-one-out table of the rows whose case id matches, grouped by the
pattern's first capture (``--groups 'dynamo-sglang-(fp[48])-'``: the Dynamo + SGLang rows by weight format,
docs/serving_journal.md, branches ``dyn-decode-rank`` and ``fp8-decode``).

    python tools/closed_loop/closed_loop_tables.py after.json [--before before.json] [--sens CLASS=MULT:FILE ...]
        [--groups REGEX]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fit_engines import errors, loao_fits, parse_sens, rows_of  # noqa: E402

METRICS = ("output_tokens_per_s_total", "ttft_ms", "tpot_ms")
SHORT = {"output_tokens_per_s_total": "throughput", "ttft_ms": "TTFT", "tpot_ms": "TPOT"}


DECIMALS = [1]  # --decimals: the figures' decimals (1 as the tables have always been printed)


def stats(v: list[float]) -> str:
    a, d = np.abs(v), DECIMALS[0]
    return f"{len(v)} | {np.median(a):.{d}f} | {np.percentile(a, 90):.{d}f} | {np.median(v):+.{d}f}"


def table(title: str, errs: list[tuple[str, str, float]]) -> None:
    g: dict = defaultdict(list)
    for key, metric, e in errs:
        g[(key, metric)].append(e)
    print(f"\n{title}\n")
    print("| group | metric | rows | median APE % | p90 APE % | signed median % |")
    print("|---|---|---|---|---|---|")
    for key in sorted({k for k, _ in g}):
        for m in METRICS:
            if (key, m) in g:
                print(f"| {key} | {SHORT[m]} | {stats(g[(key, m)])} |")


def grouped(loao: list[tuple[dict, float]], pattern: str) -> list[tuple[str, str, float]]:
    """(the pattern's first group, metric, signed error %) of the LOAO rows whose case id matches ``pattern``."""
    rx = re.compile(pattern)
    if rx.groups < 1:
        raise ValueError(f"--groups {pattern!r} has no capture group; allowed: a regex with one, "
                         "e.g. 'dynamo-sglang-(fp[48])-'")
    return [(m.group(1), x["metric"], e) for x, e in loao if (m := rx.search(x["case_id"]))]


def from_json(path: str) -> list[dict]:
    out = []
    for c in json.load(open(path))["cases"]:
        if c["status"] == "ok" and c["metric"] in METRICS and c.get("signed_error_pct") is not None:
            out.append(c)
    return out


def engine_of(case_id: str, sim: dict | None) -> str:
    return (sim or {}).get("engine") or case_id.split("-")[3]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("after")
    ap.add_argument("--before")
    ap.add_argument("--sens", action="append", default=[], metavar="CLASS=MULT:FILE",
                    help="sensitivity runs (tools/closed_loop/fit_engines.py --sens): LOAO refits the kernel "
                         "multipliers too")
    ap.add_argument("--groups", metavar="REGEX", help="add the LOAO table of the rows whose case id matches, "
                                                      "by the pattern's first capture group")
    ap.add_argument("--decimals", type=int, choices=(1, 2, 3), default=1, help="decimals of the figures (default 1)")
    a = ap.parse_args()
    DECIMALS[0] = a.decimals
    after = from_json(a.after)
    rows = [(c, c["signed_error_pct"]) for c in after]
    table("In sample, all rows (the shipped engine catalogue):",
          [("all", c["metric"], e) for c, e in rows])
    table("In sample, per accelerator:", [(c["accelerator"], c["metric"], e) for c, e in rows])
    table("In sample, per engine:", [(engine_of(c["case_id"], c.get("sim")), c["metric"], e) for c, e in rows])
    fr = rows_of(a.after, parse_sens(a.sens))
    loao = [t for held, p in loao_fits(fr) for t in errors(held, p)]
    table("Leave one accelerator out, all rows:", [("all", x["metric"], e) for x, e in loao])
    table("Leave one accelerator out, per accelerator:", [(x["chip"], x["metric"], e) for x, e in loao])
    table("Leave one accelerator out, per engine:", [(x["engine"], x["metric"], e) for x, e in loao])
    if a.groups:
        try:
            table(f"Leave one accelerator out, rows matching {a.groups!r}:", grouped(loao, a.groups))
        except (ValueError, re.error) as exc:
            ap.error(str(exc))
    if a.before:
        before = from_json(a.before)
        table("Before (main, analytic closed loop), all rows:", [("all", c["metric"], c["signed_error_pct"])
                                                                for c in before])
        table("Before, per accelerator:", [(c["accelerator"], c["metric"], c["signed_error_pct"]) for c in before])


if __name__ == "__main__":
    main()
