"""How the closed-loop TPOT residual (measured - simulated) grows with the requests one scheduler process holds, per
engine, accelerator, model and layout, over the aggregated (not disaggregated) runs of a validate JSON
(``inferchip validate ... --format json``).

Why (docs/serving_journal.md, branch seqhost42): a host time per running sequence and step that the model lacks (an
engine's Python scheduler and output processing: appending the token, stop checks, streaming) grows with the
sequences each scheduler process handles, whatever the model's size. Every tensor-parallel rank runs its own
scheduler over all of the replica's sequences; under attention DP each rank schedules only its own share. So such
a term, serial with the device step, shows as a residual slope of that many microseconds per sequence per process in
every engine's aggregated rows; hidden under an overlapped (async) scheduler, it shows only where it exceeds the
device step, and then as a step that no longer depends on the device work.

For each run: ``n`` = measured output tokens/s x measured TPOT / replicas / attention-DP ranks (Little's law), and
the TPOT residual in ms. One least-squares line ``residual = a + b n`` per group of at least ``--min-runs`` runs with
``n >= --min-per-process`` whose largest ``n`` is at least twice its smallest.

    python tools/ttft/seq_host_slope.py X.json [--min-per-process 3] [--min-runs 6]
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from decode_rank_line import fit_line  # noqa: E402  (one line fit for both tools)

_RUN = re.compile(r"^(?P<base>.+)-(?P<metric>tput|ttft|tpot)$")


def per_process_points(cases: list[dict[str, Any]]) -> dict[tuple[str, str, str, str], list[tuple[float, float]]]:
    """``(engine, accelerator, model, layout) -> [(sequences a scheduler process holds, TPOT residual ms)]`` over
    the aggregated runs whose throughput and TPOT are both predicted; layout ``dpa`` (attention DP: the TP ranks
    split the sequences) or ``tp``."""
    runs: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
    for c in cases:
        m = _RUN.match(c["case_id"])
        if m is not None and c.get("predicted") is not None and c.get("measured") is not None:
            runs[m["base"]][m["metric"]] = c
    out: dict[tuple[str, str, str, str], list[tuple[float, float]]] = defaultdict(list)
    for base, recs in runs.items():
        tput, tpot = recs.get("tput"), recs.get("tpot")
        if tput is None or tpot is None or "disagg" in base:
            continue
        ranks = int(tput.get("tp") or 1) if tput.get("attn_dp") else 1
        n = float(tput["measured"]) * float(tpot["measured"]) / 1e3 / int(tput.get("replicas") or 1) / ranks
        engine = (tpot.get("sim") or {}).get("engine", "?")
        key = (engine, tput["accelerator"], tput["model"].split("/")[-1], "dpa" if ranks > 1 else "tp")
        out[key].append((n, float(tpot["measured"]) - float(tpot["predicted"])))
    return out


def report(groups: dict[tuple[str, str, str, str], list[tuple[float, float]]], min_n: float,
           min_runs: int) -> list[str]:
    """One table row per group with enough spread: runs, range of ``n``, fitted ``a`` (ms) and ``b`` (us a
    sequence), and the median residual."""
    lines = ["| engine | accelerator | model | layout | runs | sequences a process | residual = a + b n | "
             "median residual ms |", "|---|---|---|---|---|---|---|---|"]
    for key, pts in sorted(groups.items()):
        use = [(x, y) for x, y in pts if x >= min_n]
        if len(use) < min_runs or max(x for x, _ in use) < 2 * min(x for x, _ in use):
            continue
        a, b = fit_line(use)
        lines.append(f"| {' | '.join(key)} | {len(use)} | {min(x for x, _ in use):.0f}-{max(x for x, _ in use):.0f} "
                     f"| {a:+.2f} ms {1e3 * b:+.1f} us x n | {statistics.median(y for _, y in use):+.2f} |")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("json", help="a closed-loop inferchip validate --format json file")
    ap.add_argument("--min-per-process", type=float, default=3.0, help="runs below this many sequences a scheduler "
                    "process are left out of the fit")
    ap.add_argument("--min-runs", type=int, default=6, help="groups with fewer fitted runs are not printed")
    a = ap.parse_args()
    with open(a.json) as f:
        groups = per_process_points(json.load(f)["cases"])
    if not groups:
        raise SystemExit(f"error: no aggregated run with throughput and TPOT predicted in {a.json}")
    print("\n".join(report(groups, a.min_per_process, a.min_runs)))


if __name__ == "__main__":
    main()
