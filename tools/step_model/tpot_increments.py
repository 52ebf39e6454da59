"""Where an engine's closed-loop TPOT error lives, and how its step grows with the batch: for one engine's rows of a
closed-loop ``inferchip validate --format json`` run,

* ``loao``: the leave-one-accelerator-out signed TPOT (or ``--metric``) error by chip x TP x clients and by chip x
  TP x ISL/OSL (the folds of ``fit_engines.loao_fits``, as ``tools/closed_loop/closed_loop_tables.py`` prints them);
* ``increments``: per chip, TP and ISL/OSL, the measured TPOT and the simulated one at each client count (means
  over the runs), and between neighbouring client counts the measured increment over the simulated one. A ratio
  below 1 says the simulated step grows faster with the batch than the measured one (docs/serving_journal.md,
  branch ``vllm-decode38``: about 0.8 from 4 to 32 clients on every chip and TP of the vLLM gpt-oss rows, at or
  above 1 beyond).

    python tools/step_model/tpot_increments.py X.json [--engine vllm] [--metric tpot_ms] [loao|increments ...]
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

_LEN = re.compile(r"-(\d+)-(\d+)-c(\d+)-")
_TP = re.compile(r"-tp(\d+)")


def parts(case_id: str) -> tuple[int, int, int, int]:
    """(tp, ISL, OSL, clients) of a closed-loop case id (tp 0 where the id names none: disaggregated layouts);
    SystemExit naming the id where it has no -ISL-OSL-cC-."""
    m = _LEN.search(case_id)
    if not m:
        raise SystemExit(f"case {case_id}: no -ISL-OSL-cC- in its id")
    t = _TP.search(case_id)
    isl, osl, c = (int(g) for g in m.groups())
    return (int(t.group(1)) if t else 0), isl, osl, c


def stats(v: list[float]) -> str:
    a = np.asarray(v, dtype=float)
    return f"{len(a)} | {np.median(np.abs(a)):.1f} | {np.percentile(np.abs(a), 90):.1f} | {np.median(a):+.1f}"


def loao_tables(path: str, engine: str, metric: str) -> None:
    fr = rows_of(path)
    held = [(x, e) for h, p in loao_fits(fr) for x, e in errors(h, p)
            if x["engine"] == engine and x["metric"] == metric]
    if not held:
        raise SystemExit(f"{path}: no {engine} rows of metric {metric}")
    for title, key in (("chip x TP x clients", lambda x: (x["chip"], *parts(x["case_id"])[::3])),
                       ("chip x TP x ISL/OSL", lambda x: (x["chip"], *parts(x["case_id"])[:3]))):
        g: dict = defaultdict(list)
        for x, e in held:
            g[key(x)].append(e)
        print(f"\nLOAO {metric} of engine {engine}, by {title}\n")
        print("| group | rows | median APE % | p90 APE % | signed % |")
        print("|---|---|---|---|---|")
        for k in sorted(g):
            print(f"| {' '.join(str(p) for p in k)} | {stats(g[k])} |")


def increment_table(path: str, engine: str) -> None:
    runs: dict = defaultdict(lambda: defaultdict(list))
    for c in json.load(open(path))["cases"]:
        sim = c.get("sim") or {}
        if c.get("status") != "ok" or c["metric"] != "tpot_ms" or sim.get("engine") != engine:
            continue
        tp, isl, osl, clients = parts(c["case_id"])
        runs[(c["accelerator"], tp, isl, osl)][clients].append((c["measured"], c["predicted"]))
    if not runs:
        raise SystemExit(f"{path}: no {engine} TPOT rows")
    print(f"\nTPOT (ms) of engine {engine} by client count, means over runs; increments between neighbouring counts\n")
    print("| chip | TP | ISL/OSL | clients | measured | simulated | measured increment | simulated increment | ratio |")
    print("|---|---|---|---|---|---|---|---|---|")
    for (chip, tp, isl, osl), by_c in sorted(runs.items()):
        prev = None
        for clients in sorted(by_c):
            meas, sim = (float(np.mean([v[i] for v in by_c[clients]])) for i in (0, 1))
            cells = ["", "", ""]
            if prev is not None:
                dm, ds = meas - prev[0], sim - prev[1]
                cells = [f"{dm:+.2f}", f"{ds:+.2f}", f"{dm / ds:.2f}" if abs(ds) > 1e-9 else "-"]
            print(f"| {chip} | {tp} | {isl}/{osl} | {clients} | {meas:.2f} | {sim:.2f} | {' | '.join(cells)} |")
            prev = (meas, sim)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("json", help="closed-loop validate JSON")
    ap.add_argument("what", nargs="*", default=["loao", "increments"], choices=["loao", "increments"])
    ap.add_argument("--engine", default="vllm")
    ap.add_argument("--metric", default="tpot_ms", choices=["tpot_ms", "ttft_ms", "output_tokens_per_s_total"])
    a = ap.parse_args()
    if "loao" in a.what:
        loao_tables(a.json, a.engine, a.metric)
    if "increments" in a.what:
        increment_table(a.json, a.engine)


if __name__ == "__main__":
    main()
