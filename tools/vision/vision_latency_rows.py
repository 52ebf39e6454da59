"""The vision latency-scenario rows (SingleStream, MultiStream, ConstantStream) of a validate JSON, one line each,
sorted by their leave-one-accelerator-out signed error: chip, network, runtime, precision, batch of the operating
point, metric, measured, predicted (LOAO), signed errors (LOAO and in sample), and how far each scenario is from
the issue 14 targets (median and p90 APE within 15 / 35 %); rows validate flags (the measurement contradicts the
row's own setting) stay in those figures, and a line gives the figures without them.

    inferchip validate src/inferchip/catalog/vision/vision_cases.csv --format json > after.json
    python tools/vision/vision_latency_rows.py after.json [--before before.json] [--cases FILE.csv]
    python tools/vision/vision_latency_rows.py after.json --exact cpu: [--exact ~cpu:] [--tail-only]

Signed error = predicted / measured - 1 (%): positive is a latency predicted too long, or an fps predicted too high.
``--exact SPEC`` (repeatable) adds, per scenario, the median / p90 the rows would give if the rows of the chips SPEC
selects were predicted exactly (SPEC: a chip-id prefix, ``~PREFIX`` for the chips without it); with ``--tail-only``
only those rows beyond the p90 target: what fixing a group of rows buys against the targets (arithmetic, no model).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

LATENCY_SCENARIOS = ("single_stream", "multi_stream", "constant_stream")
DEFAULT_CASES = Path(__file__).resolve().parents[2] / "src" / "inferchip" / "catalog" / "vision" / "vision_cases.csv"
MEDIAN_TARGET_PCT = 15.0
P90_TARGET_PCT = 35.0


def runtime(software: str) -> str:
    """The runtime a row's software column names first (``TensorRT 10.8, CUDA 12.9; ...`` -> ``TensorRT 10.8``)."""
    return software.replace(";", ",").split(",")[0].strip()


def latency_rows(results: list[dict[str, Any]], software: dict[str, str]) -> list[dict[str, Any]]:
    """The predicted latency-scenario rows of a validate JSON's ``vision.cases`` (power rows left out), sorted by
    LOAO signed error (in sample where a row has no LOAO prediction)."""
    out = []
    for r in results:
        if r.get("scenario") not in LATENCY_SCENARIOS or r.get("status") != "ok" or r.get("unit") == "W":
            continue
        signed = r.get("loao_signed_error_pct")
        if signed is None:
            signed = r.get("signed_error_pct")
        if signed is None or not math.isfinite(signed):
            continue
        point = r.get("operating_point") or {}
        out.append({"case_id": r["case_id"], "scenario": r["scenario"], "chip": r["accelerator"],
                    "chips": r.get("num_accelerators", 1), "model": r["model"], "precision": r.get("precision", ""),
                    "runtime": runtime(software.get(r["case_id"], "")), "batch": point.get("batch"),
                    "metric": r["metric"], "measured": r["measured"],
                    "predicted": r.get("loao_predicted") if r.get("loao_predicted") is not None else r["predicted"],
                    "signed_pct": float(signed), "in_sample_pct": r.get("signed_error_pct"),
                    "flag": r.get("flag") or ""})
    return sorted(out, key=lambda x: x["signed_pct"])


def summary(rows: list[dict[str, Any]], scenario: str) -> dict[str, float]:
    """Median and p90 of |signed error| of one scenario's rows, and how many are within the median target."""
    e = np.abs([r["signed_pct"] for r in rows if r["scenario"] == scenario])
    if e.size == 0:
        return {"rows": 0.0}
    return {"rows": float(e.size), "median_ape": float(np.median(e)), "p90_ape": float(np.percentile(e, 90)),
            "within_median_target": float(np.sum(e <= MEDIAN_TARGET_PCT)),
            "beyond_p90_target": float(np.sum(e > P90_TARGET_PCT))}


def chip_selected(chip: str, spec: str) -> bool:
    """True when ``chip`` matches ``spec``: a chip-id prefix (``cpu:``), or ``~prefix`` for the chips without it."""
    return not chip.startswith(spec[1:]) if spec.startswith("~") else chip.startswith(spec)


def what_if(rows: list[dict[str, Any]], scenario: str, specs: list[str], *,
            tail_only: bool = False) -> dict[str, float]:
    """:func:`summary` of ``scenario`` with the rows of the chips any of ``specs`` selects (:func:`chip_selected`)
    counted as exact (0 %); with ``tail_only`` only those beyond the p90 target. ``fixed`` counts them."""
    out, fixed = [], 0
    for r in rows:
        hit = any(chip_selected(r["chip"], s) for s in specs) and (
            not tail_only or abs(r["signed_pct"]) > P90_TARGET_PCT)
        fixed += int(hit and r["scenario"] == scenario)
        out.append({**r, "signed_pct": 0.0} if hit else r)
    return {**summary(out, scenario), "fixed": float(fixed)}


def without_flagged(rows: list[dict[str, Any]], scenario: str) -> tuple[int, dict[str, float]]:
    """How many of ``scenario``'s rows carry a flag (validate's ``flag``: the measurement contradicts the row's own
    setting, validation/vision/waited.py), and :func:`summary` of the rest: a reading aid, the figures keep them."""
    flagged = [r for r in rows if r["scenario"] == scenario and r.get("flag")]
    return len(flagged), summary([r for r in rows if not r.get("flag")], scenario)


def tail_groups(rows: list[dict[str, Any]], scenario: str) -> str:
    """The rows beyond the p90 target of one scenario, grouped by chip: ``chip: +49.5, -38.1``."""
    groups: dict[str, list[float]] = {}
    for r in rows:
        if r["scenario"] == scenario and abs(r["signed_pct"]) > P90_TARGET_PCT:
            groups.setdefault(r["chip"], []).append(r["signed_pct"])
    return "; ".join(f"{c}: " + ", ".join(f"{e:+.1f}" for e in v) for c, v in sorted(groups.items()))


def _fmt(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def markdown(rows: list[dict[str, Any]], before: dict[str, float] | None = None, exact: list[str] | None = None,
             tail_only: bool = False) -> str:
    """One table per scenario, then its median / p90 against the targets, the rows beyond the p90 target by chip,
    and with ``exact`` the :func:`what_if` figures."""
    lines = []
    for scen in LATENCY_SCENARIOS:
        sel = [r for r in rows if r["scenario"] == scen]
        if not sel:
            continue
        head = "| chip | x | network | runtime | precision | batch | metric | measured | predicted | signed % |"
        lines += [f"\n### {scen}\n", head + (" before % |" if before else " in sample % |"),
                  "|" + "---|" * (11)]
        for r in sel:
            last = before.get(r["case_id"]) if before else r["in_sample_pct"]
            lines.append(f"| {r['chip']} | {r['chips']} | {r['model']} | {r['runtime']} | {r['precision']} | "
                         f"{_fmt(r['batch'])} | {r['metric']} | {_fmt(r['measured'])} | {_fmt(r['predicted'])} | "
                         f"{r['signed_pct']:+.1f} | {'' if last is None else f'{last:+.1f}'} |")
        s = summary(rows, scen)
        need = math.ceil(s["rows"] / 2)
        lines.append(f"\nmedian {s['median_ape']:.1f} % / p90 {s['p90_ape']:.1f} % (targets {MEDIAN_TARGET_PCT:g} / "
                     f"{P90_TARGET_PCT:g}); {s['within_median_target']:.0f} of {s['rows']:.0f} rows within "
                     f"{MEDIAN_TARGET_PCT:g} % (the median needs {need}); {s['beyond_p90_target']:.0f} beyond "
                     f"{P90_TARGET_PCT:g} % (the p90 allows {math.floor(s['rows'] * 0.1):.0f})")
        lines.append(f"\nbeyond {P90_TARGET_PCT:g} % by chip: {tail_groups(rows, scen) or 'none'}")
        n_flag, rest = without_flagged(rows, scen)
        if n_flag:
            lines.append(f"\nflagged (measurement contradicts the row's setting; kept in the figures above): {n_flag} "
                         f"row(s); without them median {rest['median_ape']:.1f} % / p90 {rest['p90_ape']:.1f} % "
                         f"({rest['beyond_p90_target']:.0f} of {rest['rows']:.0f} beyond {P90_TARGET_PCT:g} %)")
        if exact:
            w = what_if(rows, scen, exact, tail_only=tail_only)
            lines.append(f"\nwhat if {', '.join(exact)}{' (tail only)' if tail_only else ''} were exact "
                         f"({w['fixed']:.0f} rows): median {w['median_ape']:.1f} % / p90 {w['p90_ape']:.1f} %")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("after", type=Path)
    ap.add_argument("--before", type=Path)
    ap.add_argument("--cases", type=Path, default=DEFAULT_CASES)
    ap.add_argument("--exact", action="append", default=[], metavar="SPEC",
                    help="chip-id prefix (or ~prefix: the chips without it) whose rows count as exact")
    ap.add_argument("--tail-only", action="store_true", help="with --exact: only the rows beyond the p90 target")
    args = ap.parse_args(argv)
    with open(args.cases, encoding="utf-8", newline="") as fh:
        software = {row["case_id"]: row.get("software", "") for row in csv.DictReader(fh)}
    rows = latency_rows(json.loads(args.after.read_text(encoding="utf-8"))["vision"]["cases"], software)
    before = None
    if args.before:
        old = latency_rows(json.loads(args.before.read_text(encoding="utf-8"))["vision"]["cases"], software)
        before = {r["case_id"]: r["signed_pct"] for r in old}
    print(markdown(rows, before, args.exact, args.tail_only))


if __name__ == "__main__":
    main()
