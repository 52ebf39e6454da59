"""The closed-loop TTFT tail, row by row, classed by what the run's own median says (report only).

A row's value is the run's mean TTFT; its notes give the same record's median (``TTFT spread of the run: median X
ms, p99 Y ms``, InferenceMAX ``agg_bmk.json`` ``median_ttft``). The simulation reports its own median
(``sim.ttft_median_ms`` in the validate JSON). Each tail row (leave-one-accelerator-out error beyond the threshold,
LOAO as tools/closed_loop/ttft_tail.py computes it) is set in one class by comparing the two medians:

* ``wave`` (under-predicted, measured median at most ``1 + t`` times the simulated one): the run's steady
  requests are no slower than simulated; the mean's excess is a wait of a few requests, i.e. the first wave
  (mean - median = share of waiting requests x their wait; tools/closed_loop/first_wave_runs.py reads both);
* ``steady-slow`` (under-predicted, measured median above ``1 + t`` times the simulated one): most requests wait
  longer than simulated, e.g. a prefill pool that drains slower than priced;
* ``steady-fast`` (over-predicted, measured median below the simulated one over ``1 + t``): the simulated steady
  request carries time the run's requests do not (e.g. a fitted host time standing in for another run's wave);
* ``other`` (over-predicted, and the measured median not below the simulated one over ``1 + t``: the medians
  within the band, or the measured one above it) and ``no-record`` (no spread in the notes, or no simulated median
  in the validate JSON).

The LOAO refit moves every simulated request of a row by the same host time, so the simulated median is moved by
the LOAO prediction minus the in-sample one. ``t`` is the threshold as a fraction (0.35 by default).

    python tools/closed_loop/tail_classes.py validate.json [--cases inferencemax_cases.csv] [--threshold 35]
        [--engine sglang] [--chip mi355x] [--list]
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ttft_spread import SHIPPED, notes_spread  # noqa: E402
from ttft_tail import loao_errors, rows_with_ids  # noqa: E402

CLASSES = ("wave", "steady-slow", "steady-fast", "other", "no-record")
_FORMAT = re.compile(r"-(fp8|fp4|mxfp4|nvfp4)-")


def row_class(error_pct: float, meas_median_ms: float | None, sim_median_ms: float, threshold_pct: float) -> str:
    """The class of one tail row from its LOAO signed error (%), the run's measured median and the simulated median
    moved by the LOAO refit (ms); the band is ``1 + threshold_pct / 100`` either way."""
    if meas_median_ms is None:
        return "no-record"
    band = 1.0 + threshold_pct / 100.0
    if error_pct < 0:
        return "wave" if meas_median_ms <= band * sim_median_ms else "steady-slow"
    return "steady-fast" if meas_median_ms * band < sim_median_ms else "other"


def tail_rows(path: str, cases_csv: str | Path, threshold_pct: float) -> list[dict]:
    """The TTFT rows beyond the threshold (LOAO), each with its class, LOAO prediction, measured mean and median,
    simulated median (LOAO-moved), format and lengths."""
    spread = notes_spread(cases_csv)
    out = []
    for x, e, p in loao_errors(rows_with_ids(path)):
        if x["metric"] != "ttft_ms" or abs(e) <= threshold_pct:
            continue
        sim_raw = x["sim"].get("ttft_median_ms")
        sim_med = float("nan") if sim_raw is None else float(sim_raw) + (p - x["ttft"] * 1e3)
        meas_med = spread[x["case_id"]][0] if x["case_id"] in spread and sim_raw is not None else None
        m = _FORMAT.search(x["case_id"])
        out.append(dict(case_id=x["case_id"], engine=x["engine"], chip=x["chip"], layout=x["layout"], len=x["len"],
                        fmt=m.group(1) if m else "?", error=e, pred=p, meas=x["meas"], meas_median=meas_med,
                        sim_median=sim_med, cls=row_class(e, meas_med, sim_med, threshold_pct)))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("validate_json")
    ap.add_argument("--cases", default=str(SHIPPED))
    ap.add_argument("--threshold", type=float, default=35.0)
    ap.add_argument("--engine", default="")
    ap.add_argument("--chip", default="")
    ap.add_argument("--list", action="store_true", help="also list every row")
    a = ap.parse_args()
    rows = [r for r in tail_rows(a.validate_json, a.cases, a.threshold)
            if a.engine in r["engine"] and a.chip in r["chip"]]
    print(f"ttft_ms rows with LOAO |e| > {a.threshold:g} %: {len(rows)}; "
          + ", ".join(f"{c} {n}" for c, n in Counter(r["cls"] for r in rows).most_common()))
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for r in rows:
        groups[(r["engine"], r["chip"], r["fmt"], r["layout"], r["len"])].append(r)
    print("engine / chip / format / layout / lengths: rows; classes; median of pred / meas mean / meas median / "
          "sim median (ms)")
    for k in sorted(groups, key=lambda k: -len(groups[k])):
        v = groups[k]
        med = sorted(v, key=lambda r: r["error"])[len(v) // 2]
        cls = ", ".join(f"{c} {n}" for c, n in Counter(r["cls"] for r in v).most_common())
        mm = f"{med['meas_median']:.0f}" if med["meas_median"] is not None else "-"
        print(f"  {'/'.join(k):52s} {len(v):4d}; {cls:32s} {med['pred']:8.0f} / {med['meas']:8.0f} / {mm:>8s} / "
              f"{med['sim_median']:8.0f}")
    if a.list:
        for r in sorted(rows, key=lambda r: (r["cls"], r["error"])):
            mm = f"{r['meas_median']:.0f}" if r["meas_median"] is not None else "-"
            print(f"  {r['cls']:12s} {r['error']:+7.1f} %  {r['pred']:8.0f} / {r['meas']:8.0f} / {mm:>8s} / "
                  f"{r['sim_median']:8.0f}  {r['case_id']}")


if __name__ == "__main__":
    main()
