"""How large a fixed per-request cost on the disaggregated hand-off path can be: the Dynamo runs' lightest load read
configuration by configuration (docs/serving_journal.md, "A fixed hand-off time per disaggregated request", branch
dyn42b, stop 42). Report only: it predicts nothing.

A time every disaggregated request pays on the way from the frontend to its first token (the router, the prefill
worker's request plane, the KV transfer's set-up, the decode worker's take-in, MTP's first draft) and that the model
lacks would show at the lightest load as a measured median TTFT above the simulated median by that time, in every
configuration that shares the path. So for each configuration with ``-disagg-`` in its case id the report takes the
runs of its fewest clients (at most ``--max-clients``) and their excess, measured median less simulated median
(the notes' "TTFT spread of the run" and ``sim.ttft_median_ms``; the median over the configuration's runs at that
load). It groups the configurations by **path**: the worker engine with the image the row names (its ``software``:
one Dynamo release and worker-engine build) and whether MTP drafts. A fixed cost shared by a path can be no larger
than the **smallest** excess of its configurations (``bound``), and no larger than the smallest excess of all
configurations of the worker engine if it is a Dynamo cost rather than an image's.

``--pairs`` prints the MTP-minus-plain medians of configurations that differ only in ``-mtp-``, at equal clients:
MTP's own addition to a request's TTFT, measured against simulated.

    python tools/ttft/handoff_bound.py validate.json [--cases inferencemax_cases.csv] [--max-clients 16] [--pairs]
"""

from __future__ import annotations

import argparse
import csv
import statistics
import sys
from collections import defaultdict
from pathlib import Path

_HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(_HERE))
sys.path.insert(0, str(_HERE.parent / "closed_loop"))
from dynamo_tail_configs import low_load_excess_ms, runs_by_configuration  # noqa: E402
from ttft_spread import SHIPPED  # noqa: E402


def image_of(software: str) -> str:
    """The image a row's ``software`` names (the text after ';'), else the whole text."""
    return software.split(";", 1)[1].strip() if ";" in software else software.strip()


def lightest(runs: list[dict], max_clients: int) -> tuple[int, float, float, float] | None:
    """The fewest clients among runs with both medians, if at most ``max_clients``: (clients, measured median,
    simulated median, excess), medians over that load's runs; None where no such run is light enough."""
    ok = [r for r in runs if r["meas_median"] is not None and r["sim_median"] is not None]
    if not ok:
        return None
    c = min(r["clients"] for r in ok)
    if c > max_clients:
        return None
    at = [r for r in ok if r["clients"] == c]
    meas = statistics.median(r["meas_median"] for r in at)
    sim = statistics.median(float(r["sim_median"]) for r in at)
    return c, meas, sim, low_load_excess_ms(meas, sim)


def light_rows(validate_json: str, cases_csv: str | Path, max_clients: int) -> list[dict]:
    """One row per disaggregated Dynamo configuration light enough to read: its path and lightest-load excess."""
    software = {r["case_id"]: r["software"] for r in csv.DictReader(open(cases_csv, encoding="utf-8"))}
    out = []
    for cfg, runs in runs_by_configuration(validate_json, cases_csv).items():
        if "-disagg-" not in cfg:
            continue
        low = lightest(runs, max_clients)
        if low is None:
            continue
        mtp = "-mtp-" in cfg
        out.append(dict(cfg=cfg, worker=runs[0]["worker"], image=image_of(software.get(runs[0]["case_id"], "")),
                        mtp=mtp, clients=low[0], meas=low[1], sim=low[2], excess=low[3]))
    return out


def bounds(rows: list[dict]) -> dict[tuple[str, str, bool], float]:
    """The smallest lightest-load excess per path (worker engine, image, MTP): the most a fixed cost every
    configuration of the path pays can be."""
    by: dict[tuple[str, str, bool], list[float]] = defaultdict(list)
    for r in rows:
        by[(r["worker"], r["image"], r["mtp"])].append(r["excess"])
    return {k: min(v) for k, v in by.items()}


def _medians_at(runs: list[dict], c: int) -> tuple[float, float] | None:
    """The measured and simulated medians of the runs at ``c`` clients (median over the runs), None without any."""
    at = [r for r in runs if r["clients"] == c and r["meas_median"] is not None and r["sim_median"] is not None]
    if not at:
        return None
    return statistics.median(r["meas_median"] for r in at), statistics.median(float(r["sim_median"]) for r in at)


def mtp_pairs(validate_json: str, cases_csv: str | Path) -> list[tuple[str, int, float, float]]:
    """(plain configuration, clients, measured MTP - plain, simulated MTP - plain) for every MTP configuration whose
    plain twin (the id without ``-mtp``) has a run at the same clients; medians over the runs at that load."""
    runs = runs_by_configuration(validate_json, cases_csv)
    out = []
    for cfg, rs in runs.items():
        plain = cfg.replace("-mtp-", "-")
        if "-mtp-" not in cfg or plain not in runs:
            continue
        for c in sorted({r["clients"] for r in rs} & {r["clients"] for r in runs[plain]}):
            a, b = _medians_at(rs, c), _medians_at(runs[plain], c)
            if a and b:
                out.append((plain, c, a[0] - b[0], a[1] - b[1]))
    return sorted(out)


def report(validate_json: str, cases_csv: str | Path, max_clients: int, pairs: bool) -> list[str]:
    rows = light_rows(validate_json, cases_csv, max_clients)
    lines = ["configuration | worker, MTP | clients | median TTFT meas / sim ms | excess ms"]
    for r in sorted(rows, key=lambda r: (r["worker"], r["image"], r["mtp"], r["excess"])):
        mtp = ", mtp" if r["mtp"] else ""
        lines.append(f"{r['cfg'].replace('imax-', '')} | {r['worker']}{mtp} | c{r['clients']} | "
                     f"{r['meas']:.1f} / {r['sim']:.1f} | {r['excess']:+.1f}")
    lines.append("")
    lines.append("path (worker engine, image, MTP) | configurations | bound on a fixed per-request cost, ms")
    count = defaultdict(int)
    for r in rows:
        count[(r["worker"], r["image"], r["mtp"])] += 1
    for k, b in sorted(bounds(rows).items()):
        lines.append(f"{k[0]}, {k[1]}, {'mtp' if k[2] else 'plain'} | {count[k]} | {b:+.1f}")
    if pairs:
        lines.append("")
        lines.append("MTP - plain at equal clients | clients | measured ms | simulated ms")
        for cfg, c, dm, ds in mtp_pairs(validate_json, cases_csv):
            lines.append(f"{cfg.replace('imax-', '')} | c{c} | {dm:+.1f} | {ds:+.1f}")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("validate_json")
    ap.add_argument("--cases", default=str(SHIPPED))
    ap.add_argument("--max-clients", type=int, default=16)
    ap.add_argument("--pairs", action="store_true")
    a = ap.parse_args()
    print("\n".join(report(a.validate_json, a.cases, a.max_clients, a.pairs)))


if __name__ == "__main__":
    main()
