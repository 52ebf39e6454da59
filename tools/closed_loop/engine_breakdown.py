"""One engine's closed-loop errors broken down by population: per chip, weight format, layout (aggregated TP,
TP with EP, disaggregated, attention DP ``-dpa``, MTP), input/output lengths and concurrency band, each group's
leave-one-accelerator-out median and p90 |error|, signed median, rows over / under 35 %, median prediction
and measurement and the simulated queue wait (LOAO as tools/closed_loop/closed_loop_tables.py computes it: engine host
times refitted without the row's accelerator).

    python tools/closed_loop/engine_breakdown.py validate.json [--engine sglang] [--metric ttft_ms]
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ttft_tail import loao_errors, rows_with_ids  # noqa: E402

_FORMAT = re.compile(r"-(fp8|fp4|mxfp4|nvfp4)-")
GROUPINGS: dict[str, Callable[[dict], tuple]] = {
    "chip": lambda x: (x["chip"],),
    "chip, format": lambda x: (x["chip"], x["format"]),
    "layout": lambda x: (x["layout"],),
    "concurrency band": lambda x: (x["band"],),
    "lengths": lambda x: (x["len"],),
    "chip, format, layout, lengths": lambda x: (x["chip"], x["format"], x["layout"], x["len"]),
    "chip, format, layout, lengths, band": lambda x: (x["chip"], x["format"], x["layout"], x["len"], x["band"]),
}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("validate_json")
    ap.add_argument("--engine", default="sglang")
    ap.add_argument("--metric", default="ttft_ms")
    a = ap.parse_args()
    rows = [(dict(x, format=(m.group(1) if (m := _FORMAT.search(x["case_id"])) else "?")), e, p)
            for x, e, p in loao_errors(rows_with_ids(a.validate_json))
            if x["metric"] == a.metric and x["engine"] == a.engine]
    print(f"{a.engine} {a.metric}: {len(rows)} rows")
    for name, key in GROUPINGS.items():
        groups: dict[tuple, list] = defaultdict(list)
        for t in rows:
            groups[key(t[0])].append(t)
        print(f"\nby {name}: rows, LOAO median / p90 |e| %, signed median %, rows over / under 35 %, "
              "median predicted / measured, median simulated queue")
        for k in sorted(groups):
            v = groups[k]
            e = np.array([t[1] for t in v])
            print(f"  {' / '.join(map(str, k)):48s} {len(v):4d} {np.median(abs(e)):6.1f} "
                  f"{np.percentile(abs(e), 90):6.1f} {np.median(e):+7.1f}  "
                  f"{int(sum(e > 35)):3d} / {int(sum(e < -35)):3d}  "
                  f"{np.median([t[2] for t in v]):8.4g} / {np.median([t[0]['meas'] for t in v]):8.4g}  "
                  f"queue {np.median([t[0]['queue_ms'] for t in v]):7.4g}")


if __name__ == "__main__":
    main()
