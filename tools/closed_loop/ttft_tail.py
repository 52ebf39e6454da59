"""The tail of the closed-loop TTFT errors: rows whose leave-one-accelerator-out error exceeds a
threshold (35 %, the p90 target), classified by engine, chip, layout (disaggregated, attention DP,
MTP, tp / ep), concurrency band, input / output lengths and sign, with counts and signed medians.

LOAO errors are computed as in tools/closed_loop/closed_loop_tables.py (engine host times refitted without the
row's accelerator by the first-order moves of tools/closed_loop/fit_engines.py).

    python tools/closed_loop/ttft_tail.py validate.json [--threshold 35] [--metric ttft_ms] [--by engine,chip;...]
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fit_engines import errors, loao_fits, row_prediction, rows_of  # noqa: E402

_ID = re.compile(r"-(\d+)-(\d+)-c(\d+)-r")
BANDS = ((1, 8), (9, 32), (33, 128), (129, 512), (513, 100_000))
DEFAULT_BY = ("engine;chip;layout;conc;len;sign;engine,chip;engine,layout;engine,conc;engine,len,sign;"
              "engine,chip,layout,len,sign")


def band(c: int) -> str:
    for lo, hi in BANDS:
        if lo <= c <= hi:
            return f"c{lo}-{hi}" if hi < 100_000 else f"c{lo}+"
    return "c?"


def layout(cid: str) -> str:
    """disagg / dpa / tp (aggregated without attention DP), + mtp, + ep>1 for aggregated rows."""
    mtp = "+mtp" if "-mtp-" in cid else ""
    if "-disagg-" in cid:
        return "disagg" + ("-dpa" if "dpa" in cid.split("-disagg-")[-1] else "") + mtp
    m = re.search(r"-tp(\d+)ep(\d+)", cid)
    ep = "+ep" if m and int(m.group(2)) > 1 else ""
    return ("dpa" if "-dpa" in cid else "tp") + ep + mtp


def rows_with_ids(path: str) -> list[dict]:
    """fit_engines.rows_of, with the chip's short name, the lengths, the concurrency band, the layout and the
    simulated queue wait."""
    out = []
    for x in rows_of(path):
        m = _ID.search(x["case_id"])
        isl, osl, conc = (int(m.group(1)), int(m.group(2)), int(m.group(3))) if m else (0, 1024, 1)
        out.append(dict(x, chip=x["chip"].replace("nvidia-", "").replace("amd-", ""), len=f"{isl}/{osl}",
                        band=band(conc), layout=layout(x["case_id"]), queue_ms=x["sim"]["queue_ms"]))
    return out


def loao_errors(rows: list[dict]) -> list[tuple[dict, float, float]]:
    """(row, LOAO signed error %, LOAO prediction) for every row."""
    out = []
    for held, p in loao_fits(rows):
        for x, e in errors(held, p):
            out.append((x, e, row_prediction(x, p)))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("validate_json")
    ap.add_argument("--metric", default="ttft_ms")
    ap.add_argument("--threshold", type=float, default=35.0)
    ap.add_argument("--by", default=DEFAULT_BY)
    ap.add_argument("--list", type=int, default=0, help="also list the N largest errors")
    a = ap.parse_args()
    allrows = [t for t in loao_errors(rows_with_ids(a.validate_json)) if t[0]["metric"] == a.metric]
    tail = [t for t in allrows if abs(t[1]) > a.threshold]
    e_all = np.array([e for _, e, _ in allrows])
    print(f"{a.metric}: {len(allrows)} rows, LOAO median |e| {np.median(np.abs(e_all)):.1f} %, "
          f"p90 {np.percentile(np.abs(e_all), 90):.1f} %; {len(tail)} rows with |e| > {a.threshold:g} % "
          f"({sum(e > 0 for _, e, _ in tail)} over, {sum(e < 0 for _, e, _ in tail)} under)")
    for spec in a.by.split(";"):
        keys = spec.split(",")
        g: dict = defaultdict(list)
        tot: dict = defaultdict(int)
        for x, e, p in allrows:
            x = dict(x, sign="over" if e > 0 else "under", conc=x["band"])
            k = tuple(x[k] for k in keys)
            tot[k] += 1
            if abs(e) > a.threshold:
                g[k].append((x, e, p))
        print(f"\nby {spec}: group, tail rows / all rows, signed median of the tail, median pred / meas (ms)")
        for k in sorted(g, key=lambda k: -len(g[k])):
            v = g[k]
            e = np.array([t[1] for t in v])
            print(f"  {'/'.join(map(str, k)):60s} {len(v):4d} / {tot[k]:4d}  {np.median(e):+7.1f} %  "
                  f"{np.median([t[2] for t in v]):9.4g} / {np.median([t[0]['meas'] for t in v]):9.4g}  "
                  f"queue {np.median([t[0]['queue_ms'] for t in v]):8.4g}")
    for x, e, p in sorted(tail, key=lambda t: -abs(t[1]))[:a.list]:
        print(f"  {e:+8.1f} %  {p:9.4g} / {x['meas']:9.4g}  {x['case_id']}")


if __name__ == "__main__":
    main()
