"""Where the closed-loop serving errors sit: signed and absolute errors of the simulated
InferenceMAX rows grouped by engine, accelerator, concurrency band, ISL/OSL and the case id's
marks (DP attention, MTP, disaggregation), with the simulated queue wait and running batch
beside them, so a systematic gap (a metric too low at high concurrency on one engine) shows.

Input: the JSON of ``inferchip validate FILE --format json --server-model sim``.

    python tools/closed_loop/closed_loop_errors.py validate.json [--metric ttft_ms] [--by engine,conc]
"""

from __future__ import annotations

import argparse
import json
import re
from collections import defaultdict

import numpy as np

_ID = re.compile(r"-(\d+)-(\d+)-c(\d+)-")
BANDS = ((1, 8), (9, 32), (33, 128), (129, 100_000))


def band(c: int) -> str:
    for lo, hi in BANDS:
        if lo <= c <= hi:
            return f"c{lo}-{hi}" if hi < 100_000 else f"c{lo}+"
    return "c?"


def rows(path: str, metric: str) -> list[dict]:
    out = []
    for c in json.load(open(path))["cases"]:
        sim = c.get("sim") or {}
        if c["status"] != "ok" or sim.get("kind") != "closed_loop" or c["metric"] != metric:
            continue
        m = _ID.search(c["case_id"])
        isl, osl, conc = (int(m.group(1)), int(m.group(2)), int(m.group(3))) if m else (0, 0, 0)
        cid = c["case_id"]
        kind = "disagg" if "-disagg-" in cid else ("dpa" if "-dpa" in cid else "agg")
        out.append({"engine": sim["engine"], "chip": c["accelerator"].replace("nvidia-", "").replace("amd-", ""),
                    "conc": band(conc), "len": f"{isl}/{osl}", "kind": kind + ("+mtp" if "-mtp-" in cid else ""),
                    "err": 100.0 * (c["predicted"] / c["measured"] - 1.0), "queue_ms": sim["queue_ms"],
                    "running": sim["running_mean"], "pred": c["predicted"], "meas": c["measured"]})
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("validate_json")
    ap.add_argument("--metric", default="ttft_ms")
    ap.add_argument("--by", default="engine;engine,conc;engine,len;engine,kind;chip,engine")
    a = ap.parse_args()
    rs = rows(a.validate_json, a.metric)
    for spec in a.by.split(";"):
        keys = spec.split(",")
        g: dict = defaultdict(list)
        for r in rs:
            g[tuple(r[k] for k in keys)].append(r)
        print(f"\n{a.metric} by {spec}")
        print(f"  {'group':40s} {'n':>5s} {'|e| med':>8s} {'p90':>7s} {'bias':>7s} {'pred':>9s} {'meas':>9s} "
              f"{'queue':>8s} {'run':>6s}")
        for k in sorted(g):
            v = g[k]
            e = np.array([r["err"] for r in v])
            print(f"  {'/'.join(map(str, k)):40s} {e.size:5d} {np.median(np.abs(e)):7.1f}% "
                  f"{np.percentile(np.abs(e), 90):6.1f}% {np.median(e):+6.1f}% "
                  f"{np.median([r['pred'] for r in v]):9.4g} {np.median([r['meas'] for r in v]):9.4g} "
                  f"{np.median([r['queue_ms'] for r in v]):8.3g} {np.median([r['running'] for r in v]):6.1f}")


if __name__ == "__main__":
    main()
