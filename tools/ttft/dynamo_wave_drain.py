"""Where the Dynamo rows' first-wave TTFT gap sits: the first wave's drain per request and prefill worker, measured
against simulated, per launch layout and clients (report only; it changes no prediction).

A closed-loop run sends ``C`` prompts at once, then one per finished request, ``P`` per client in all (the Dynamo
harnesses: 5 for SGLang workers, 8 for TensorRT-LLM; engines.yaml ``run_length``). The run's p99 TTFT falls inside
that first wave (it is the top ``1 / P`` of the requests, more than the 1 % above p99), so ``p99 - median`` is about
the time the first wave takes to drain through the prefill pool, and

    drain per request and prefill worker = (p99 - median) x W / C      (W: the row's prefill workers)

is the time one worker spends per prompt while the burst lasts. The measured figure comes from the run's stated
median and p99 (the cases file's "TTFT spread of the run" notes, docs/data/imax_dynamo_ttft_spread.csv), the simulated
one from the same run's simulated median and p99 (the validate JSON's ``sim``). Their ratio says how much slower the
served prefill pool drains a burst than the simulated one, per layout; it is independent of the decode pool where
the layouts that share a prefill pool give the same ratio. Per group (worker engine, model, input length, prefill
layout) the median ratio over its rows of at least ``--min-clients`` clients (a small wave is a few prefill steps).

    python tools/ttft/dynamo_wave_drain.py closed.json [--cases CASES.csv] [--min-clients 16] [--rows]
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
from ttft_spread import SHIPPED, notes_spread  # noqa: E402

_WORKERS = re.compile(r"disaggregated: (\d+) prefill worker\(s\) of (\d+) chips")
_ID = re.compile(r"^imax-(?P<model>[a-z0-9-]+?)-gb200-dynamo-(?P<eng>sglang|trt)-(?P<layout>.+)"
                 r"-(?P<isl>\d+)-(?P<osl>\d+)-c(?P<c>\d+)-r\d+-ttft$")


def drain_ms(median_ms: float, p99_ms: float, clients: int, workers: int) -> float:
    """First-wave drain per request and prefill worker (module doc): (p99 - median) x workers / clients."""
    if clients < 1 or workers < 1:
        raise ValueError(f"clients and workers must be >= 1, got {clients}, {workers}")
    return (p99_ms - median_ms) * workers / clients


def wave_rows(cases: list[dict], spread: dict[str, tuple[float, float]]) -> list[dict]:
    """The Dynamo TTFT rows with a stated spread: layout, clients, prefill workers, measured and simulated drain."""
    out = []
    for c in cases:
        m = _ID.match(c["case_id"])
        if not m or c.get("status") != "ok" or not c.get("sim") or c["case_id"] not in spread:
            continue
        w = next((_WORKERS.search(n) for n in c.get("notes", []) if _WORKERS.search(n)), None)
        if w is None:
            continue
        med, p99 = spread[c["case_id"]]
        clients, workers = int(m["c"]), int(w.group(1))
        sim = c["sim"]
        d_meas = drain_ms(med, p99, clients, workers)
        d_sim = drain_ms(sim["ttft_median_ms"], sim["ttft_p99_ms"], clients, workers)
        out.append({"id": c["case_id"], "engine": m["eng"], "model": m["model"], "layout": m["layout"],
                    "isl": int(m["isl"]), "clients": clients, "workers": workers, "chips": int(w.group(2)),
                    "meas_ms": d_meas, "sim_ms": d_sim, "ratio": d_meas / d_sim if d_sim > 0 else float("nan"),
                    "signed": float(c["signed_error_pct"])})
    return out


def prefill_layout(layout: str) -> str:
    """The prefill half of a layout id (``p16x1e1dpa-d48x1e1dpa`` -> ``p16x1e1dpa``), MTP kept as a tag."""
    mtp = "mtp-" if "mtp-" in layout else ""
    return mtp + layout.split("disagg-")[-1].split("-d")[0]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("validate_json")
    ap.add_argument("--cases", default=str(SHIPPED), help="cases file whose notes state each run's TTFT spread")
    ap.add_argument("--min-clients", type=int, default=16)
    ap.add_argument("--rows", action="store_true", help="also list every row")
    a = ap.parse_args()
    rows = wave_rows(json.load(open(a.validate_json))["cases"], notes_spread(a.cases))
    groups: dict = defaultdict(list)
    for r in rows:
        if r["clients"] >= a.min_clients:
            groups[(r["engine"], r["model"], r["isl"], prefill_layout(r["layout"]), r["workers"], r["chips"])].append(r)
    print(f"{len(rows)} Dynamo TTFT rows with a stated spread; groups of rows with >= {a.min_clients} clients:")
    print("engine model isl prefill-layout (workers x chips): rows, clients, drain per request and worker ms "
          "measured / simulated (medians), ratio median [min, max], TTFT signed % median")
    for k in sorted(groups, key=lambda k: -np.median([r["ratio"] for r in groups[k]])):
        g = groups[k]
        rat = [r["ratio"] for r in g]
        cl = sorted({r["clients"] for r in g})
        print(f"  {k[0]:6s} {k[1]:12s} {k[2]:5d} {k[3]:18s} ({k[4]} x {k[5]:2d}) {len(g):3d} c{cl[0]}-{cl[-1]:<6d} "
              f"{np.median([r['meas_ms'] for r in g]):7.1f} / {np.median([r['sim_ms'] for r in g]):7.1f}   "
              f"{np.median(rat):5.2f} [{min(rat):4.2f}, {max(rat):5.2f}]   {np.median([r['signed'] for r in g]):+6.1f}")
    if a.rows:
        for r in sorted(rows, key=lambda r: (r["layout"], r["isl"], r["clients"])):
            print(f"  {r['id']:100s} {r['meas_ms']:8.1f} / {r['sim_ms']:8.1f}  {r['ratio']:5.2f}  {r['signed']:+6.1f}")


if __name__ == "__main__":
    main()
