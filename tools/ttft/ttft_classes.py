"""The leave-one-accelerator-out TTFT residuals of one engine on one chip, broken down by class (report only).

Reads the same LOAO errors as ``python tools/closed_loop/closed_loop_tables.py`` (``fit_engines.loao_fits``) and
keeps the TTFT rows of ``--engine`` on chips whose id contains ``--chip``; the runs the stalled-run rule flags
(``case_notes.measured_stall_s``: p99 - median TTFT >= 30 s) are counted apart and left out of the classes unless
``--all``. Per class (weights, lengths, clients, layout from the case id; then weights x layout x lengths): rows,
LOAO median / p90 |error| and signed median, rows over- and under-predicted beyond ``--threshold`` %, and how many of
the rows beyond the group's own p90 each class holds. Then per configuration (weights, layout, lengths) the median TTFT
slope the runs measure against the simulated one is left to ``tools/ttft/prefill_slope.py``.

    python tools/ttft/ttft_classes.py closed.json [--engine sglang] [--chip b200] [--threshold 20] [--all]
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "closed_loop"))
from fit_engines import errors, loao_fits, rows_of  # noqa: E402
from inferchip.validation.case_notes import measured_stall_s  # noqa: E402
from inferchip.validation.cases import read_cases  # noqa: E402

SHIPPED = Path(__file__).resolve().parents[2] / "src" / "inferchip" / "catalog" / "inferencemax_cases.csv"
_ID = re.compile(r"-(fp8|fp4|mxfp4|bf16)-([a-z0-9]+)-(\d+)-(\d+)-c(\d+)-")


def row_class(case_id: str) -> dict[str, str]:
    """Weights, layout, lengths and clients of an InferenceMAX case id (``...-fp8-tp8ep1-1024-8192-c32-r...``)."""
    m = _ID.search(case_id)
    if m is None:
        raise SystemExit(f"case {case_id!r}: no -WEIGHTS-LAYOUT-ISL-OSL-cC- in its id")
    return {"weights": m.group(1), "layout": m.group(2), "lengths": f"{m.group(3)}/{m.group(4)}",
            "clients": m.group(5)}


def summary(errs: list[float], threshold: float) -> str:
    a = np.abs(errs)
    over = sum(e > threshold for e in errs)
    under = sum(e < -threshold for e in errs)
    return (f"{len(errs):4d} rows  {np.median(a):5.1f} / {np.percentile(a, 90):5.1f} / {np.median(errs):+6.1f}  "
            f"over {over:3d}, under {under:3d} beyond {threshold:g} %")


def classes(rows: list[tuple[str, float]], threshold: float) -> list[str]:
    """Report lines: per single key and per weights x layout x lengths, with each class's rows beyond the p90."""
    p90 = float(np.percentile(np.abs([e for _, e in rows]), 90))
    out = [f"all: {summary([e for _, e in rows], threshold)}; p90 |e| = {p90:.1f} %"]
    for key in ("weights", "lengths", "clients", "layout", "weights+layout+lengths"):
        g: dict[str, list[float]] = defaultdict(list)
        for cid, e in rows:
            c = row_class(cid)
            g["+".join(c[k] for k in key.split("+"))].append(e)
        out.append(f"by {key}:")
        for k in sorted(g, key=lambda s: [int(x) if x.isdigit() else x for x in re.split(r"[+/]", s)]):
            tail = sum(abs(e) > p90 for e in g[k])
            out.append(f"  {k:28s} {summary(g[k], threshold)}, beyond p90 {tail}")
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("closed_json")
    ap.add_argument("--engine", default="sglang")
    ap.add_argument("--chip", default="b200")
    ap.add_argument("--cases", type=Path, default=SHIPPED)
    ap.add_argument("--threshold", type=float, default=20.0)
    ap.add_argument("--all", action="store_true", help="keep the flagged stalled runs in the classes")
    a = ap.parse_args()
    cases = {c.case_id: c for c in read_cases(a.cases)}
    chip = re.compile(rf"(^|-){re.escape(a.chip)}(-|$)")
    held = [(x, e) for fold, p in loao_fits(rows_of(a.closed_json)) for x, e in errors(fold, p)
            if x["metric"] == "ttft_ms" and x["engine"] == a.engine and chip.search(x["chip"])]
    flagged = [x["case_id"] for x, _ in held if x["case_id"] in cases and measured_stall_s(cases[x["case_id"]])]
    rows = [(x["case_id"], e) for x, e in held if a.all or x["case_id"] not in flagged]
    if not rows:
        raise SystemExit(f"{a.closed_json}: no {a.engine} TTFT rows on a chip named {a.chip!r}")
    print(f"{a.engine} on {a.chip}: {len(held)} TTFT rows, {len(flagged)} flagged stalled"
          f"{' (kept)' if a.all else ' (left out below)'}; LOAO median / p90 |error| / signed median %")
    print("\n".join(classes(rows, a.threshold)))


if __name__ == "__main__":
    main()
