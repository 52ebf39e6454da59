"""Where the Dynamo (disaggregated GB200) closed-loop errors sit: median |error| / p90 / signed median of TTFT,
TPOT and throughput per group of the case id (worker engine, model, weights, MTP, ISL/OSL; prefill and decode
layout; concurrency band), for one validate JSON or a before -> after pair; ``--intake`` adds, per
configuration, the measured prompt intake per prefill chip at its highest concurrency (Little's law on the
row's mean E2E: ``C L / E2E``, ``L`` the mean prompt 0.9 x ISL) beside the simulated one, and the requests/s
per prefill worker (``C / E2E`` over the workers the notes name) (docs/serving_journal.md, "Dynamo TTFT
round", "Dynamo prefill ceiling round"); ``--own`` adds, per group, what Dynamo's own request term stands for
there: the term fitted on that group's rows alone (``fit_engines.fit`` on ``own_rows`` at the all-row fits of the
worker engines, all three metrics and TTFT alone) and the median term its TTFT rows imply (measured TTFT less the
simulated TTFT without its request time, less the worker engine's time); ``--queue`` sets, per group, that implied
term beside the simulated wait before the prefill (the record's ``queue_ms``: arrival to the first prefill iteration
that takes the request) and the least-squares line ``implied = a + b x wait`` through its TTFT rows: ``b`` near 1
says the measured wait before the prefill is about twice the simulated one; ``--shapes`` screens, to first order
(``fit_engines``' sensitivities, the own term refitted on the Dynamo rows for each), a flat own term against one
plus ``k`` x the simulated wait and one plus a time per client in flight (docs/serving_journal.md, "Dynamo's
load-growing TTFT residual"); ``--little`` splits, per group, each TTFT row's error into the part its mean E2E error
carries and the part its decode time (E2E less TTFT) error takes away, both in % of the measured TTFT (in a closed
loop of C clients the mean E2E is ``C / X`` less the think time, so TTFT is what the loop's cycle leaves after the
decode), beside the measured and simulated decode occupancy ``C (E2E - TTFT) / E2E`` (docs/serving_journal.md,
"Dynamo at high load: what drains the prefill queue").

    python tools/closed_loop/dynamo_breakdown.py validate.json [after.json]
        [--by family|layout|band|family-band] [--intake CASES.csv] [--own] [--queue] [--shapes]
        [--little CASES.csv]
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fit_engines import fit, fit_all, own_rows, predict, rows_of, worker_time_s  # noqa: E402

METRICS = (("ttft_ms", "TTFT"), ("tpot_ms", "TPOT"), ("output_tokens_per_s_total", "throughput"))
_ID = re.compile(r"imax-(?P<model>.+?)-gb200-dynamo-(?P<worker>trt|sglang)-(?P<fmt>[a-z0-9]+)-(?P<mtp>mtp-)?"
                 r"disagg-(?P<pre>p[^-]+)-(?P<dec>d[^-]+)-(?P<isl>\d+)-(?P<osl>\d+)-c(?P<c>\d+)-r\d+")
_E2E = re.compile(r"mean E2E latency ([\d.]+) s")
_PREFILL_WORKERS = re.compile(r"\d+ prefill GPUs \((\d+) worker")


def parse(case_id: str) -> dict[str, str] | None:
    """The groups a Dynamo case id names (None for any other row)."""
    m = _ID.match(case_id)
    return m.groupdict() if m else None


def band(clients: int) -> str:
    """The concurrency band of ``clients`` (those of docs/serving_journal.md's TTFT tail tables)."""
    for top, name in ((8, "1-8"), (64, "9-64"), (512, "65-512"), (2048, "513-2048")):
        if clients <= top:
            return name
    return "2049+"


def group_of(f: dict[str, str], by: str) -> str:
    fam = f"{f['worker']} {f['model'][:6]} {f['fmt']}{' mtp' if f['mtp'] else ''} {f['isl']}/{f['osl']}"
    if by == "family":
        return fam
    if by == "layout":
        return f"{fam} {f['pre']}-{f['dec']}"
    if by == "family-band":
        return f"{f['worker']} {f['model'][:6]} {band(int(f['c']))}"
    return f"{f['worker']} {band(int(f['c']))}"


def rows(path: str) -> dict[str, dict[str, Any]]:
    """The Dynamo rows of a validate JSON that have an error, by case id."""
    out = {}
    for c in json.load(open(path))["cases"]:
        if c.get("status") == "ok" and c.get("signed_error_pct") is not None and parse(c["case_id"]):
            out[c["case_id"]] = c
    return out


def stats(errors: list[float]) -> str:
    a = np.asarray(errors, dtype=float)
    return f"{np.median(np.abs(a)):.1f} / {np.percentile(np.abs(a), 90):.1f} / {np.median(a):+.1f}"


def table(runs: list[dict[str, dict[str, Any]]], by: str) -> list[str]:
    groups: dict[str, list[str]] = defaultdict(list)
    for cid in runs[0]:
        groups[group_of(parse(cid) or {}, by)].append(cid)
        groups["all Dynamo"].append(cid)
    head = "| group | " + " | ".join(f"{s} (rows)" for _, s in METRICS) + " |"
    lines = [head, "|---" * (len(METRICS) + 1) + "|"]
    for g in sorted(groups, key=lambda k: (k != "all Dynamo", k)):
        cells = []
        for metric, _ in METRICS:
            ids = [k for k in groups[g] if runs[0][k]["metric"] == metric]
            if not ids:
                cells.append("")
                continue
            parts = [stats([r[k]["signed_error_pct"] for k in ids if k in r]) for r in runs]
            cells.append(" -> ".join(parts) + f" ({len(ids)})")
        lines.append(f"| {g} | " + " | ".join(cells) + " |")
    return lines


def prompt_rates(clients: int, isl: int, e2e_s: float, chips: int, workers: int) -> tuple[float, float]:
    """(prompt tokens/s per prefill chip, requests/s per prefill worker) of a closed loop by Little's law:
    ``C / E2E`` requests/s in all, each of the mean prompt ``0.9 ISL`` (lengths uniform in [0.8 L, L])."""
    requests_per_s = clients / e2e_s
    return requests_per_s * 0.9 * isl / chips, requests_per_s / workers


def intake(cases_csv: str, run: dict[str, dict[str, Any]]) -> list[str]:
    """Measured and simulated prompt intake per prefill chip at each configuration's highest concurrency, and
    the measured requests/s per prefill worker (docs/serving_journal.md, "Dynamo prefill ceiling round")."""
    top: dict[str, tuple[int, str, float, int]] = {}
    for r in csv.DictReader(open(cases_csv)):
        f = parse(r["case_id"])
        m = _E2E.search(r.get("notes", ""))
        if f is None or m is None or r["metric"] != "ttft_ms":
            continue
        key = f"{f['worker']} {f['model'][:6]} {f['fmt']}{' mtp' if f['mtp'] else ''} {f['pre']}-{f['dec']} {f['isl']}"
        c = int(f["c"])
        w = _PREFILL_WORKERS.search(r.get("notes", ""))
        if key not in top or c > top[key][0]:
            top[key] = (c, r["case_id"], float(m.group(1)), int(w.group(1)) if w else 1)
    lines = ["| configuration | clients | intake per prefill chip, measured / simulated (k tokens/s) | prefill "
             "workers | requests/s per prefill worker, measured / simulated |", "|---|---|---|---|---|"]
    for key, (c, cid, e2e_s, workers) in sorted(top.items()):
        f = parse(cid) or {}
        chips = int(re.match(r"p(\d+)", f["pre"]).group(1))  # type: ignore[union-attr]
        isl = int(f["isl"])
        sim = run.get(cid, {}).get("sim") or {}
        meas, meas_rps = prompt_rates(c, isl, e2e_s, chips, workers)
        simk, sim_rps = (prompt_rates(c, isl, sim["e2e_ms"] / 1e3, chips, workers) if sim.get("e2e_ms")
                         else (float("nan"), float("nan")))
        lines.append(f"| {key} | {c} | {meas / 1e3:.1f} / {simk / 1e3:.1f} | {workers} | {meas_rps:.1f} / "
                     f"{sim_rps:.1f} |")
    return lines


def little_split(meas_ttft_s: float, meas_e2e_s: float, sim_ttft_s: float, sim_e2e_s: float) -> tuple[float, float]:
    """A TTFT row's signed error (% of the measured TTFT) as the sum of two parts: ``(sim E2E - meas E2E)``, the
    loop's cycle, and ``-(sim decode - meas decode)``, the decode time (E2E less TTFT) that takes the cycle's rest
    away; the two add up to ``100 (sim TTFT / meas TTFT - 1)``."""
    e2e = 100.0 * (sim_e2e_s - meas_e2e_s) / meas_ttft_s
    decode = -100.0 * ((sim_e2e_s - sim_ttft_s) - (meas_e2e_s - meas_ttft_s)) / meas_ttft_s
    return e2e, decode


def decode_occupancy(clients: int, ttft_s: float, e2e_s: float) -> float:
    """Requests a closed loop of ``clients`` holds past their first token (Little's law on one cycle):
    ``C (E2E - TTFT) / E2E``."""
    return clients * (e2e_s - ttft_s) / e2e_s


def little(cases_csv: str, run: dict[str, dict[str, Any]], by: str) -> list[str]:
    """Per group of the Dynamo TTFT rows whose notes give the measured mean E2E (medians over the rows): the signed
    errors of TTFT, mean E2E and decode time (E2E less TTFT), the measured TTFT's share of E2E, the
    :func:`little_split` parts and the decode occupancy, simulated over measured."""
    e2e_of = {r["case_id"]: float(m.group(1)) for r in csv.DictReader(open(cases_csv))
              if (m := _E2E.search(r.get("notes", "")))}
    groups: dict[str, list[tuple[float, ...]]] = defaultdict(list)
    for cid, x in run.items():
        f = parse(cid)
        sim = x.get("sim") or {}
        if f is None or x["metric"] != "ttft_ms" or cid not in e2e_of or not sim.get("e2e_ms"):
            continue
        c, mt, me = int(f["c"]), x["measured"] / 1e3, e2e_of[cid]
        st, se = x["predicted"] / 1e3, sim["e2e_ms"] / 1e3
        e2e, dec = little_split(mt, me, st, se)
        point = (x["signed_error_pct"], 100.0 * (se / me - 1.0), 100.0 * ((se - st) / (me - mt) - 1.0), mt / me,
                 e2e, dec, decode_occupancy(c, st, se) / decode_occupancy(c, mt, me))
        groups[group_of(f, by)].append(point)
        groups["all Dynamo"].append(point)
    lines = ["| group | TTFT rows | TTFT signed (%) | E2E signed (%) | decode time signed (%) | measured TTFT / E2E | "
             "TTFT error's parts, E2E / decode time (% of TTFT) | decode occupancy, simulated / measured |",
             "|---|---|---|---|---|---|---|---|"]
    for g in ["all Dynamo"] + sorted(k for k in groups if k != "all Dynamo"):
        a = np.median(np.array(groups[g]), axis=0)
        lines.append(f"| {g} | {len(groups[g])} | {a[0]:+.1f} | {a[1]:+.1f} | {a[2]:+.1f} | {a[3]:.2f} | "
                     f"{a[4]:+.0f} / {a[5]:+.0f} | {a[6]:.2f} |")
    return lines


def implied_own_s(x: dict[str, Any], worker_s: float) -> float:
    """The own request term a TTFT row ``x`` (a ``fit_engines.rows_of`` row) implies: its measured TTFT less the
    simulated TTFT without the request time it was run with (``r0``), less the worker engine's time ``worker_s``."""
    return x["meas"] / 1e3 - (x["ttft"] - x["r0"]) - worker_s


def own_terms(path: str, by: str) -> list[str]:
    """Per group of the Dynamo rows of ``path``: the own request term fitted on the group's rows alone (all
    metrics; TTFT rows alone) with the worker engines at their fit on all rows, and the median own term the
    group's TTFT rows imply (:func:`implied_own_s`); the first line is the fit on all Dynamo rows."""
    every = rows_of(path)
    params = fit_all(every)
    dyn = [x for x in every if parse(x["case_id"])]
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for x in dyn:
        groups[group_of(parse(x["case_id"]) or {}, by)].append(x)
    lines = ["| group | rows | own term fitted, all metrics (ms) | own term fitted, TTFT rows (ms) | own term the TTFT "
             "rows imply, median (ms) |", "|---|---|---|---|---|"]
    for g in ["all Dynamo"] + sorted(groups):
        rs = dyn if g == "all Dynamo" else groups[g]
        ttft = [x for x in rs if x["metric"] == "ttft_ms"]
        own_all = fit(own_rows(rs, params)).r
        own_ttft = fit(own_rows(ttft, params)).r if ttft else float("nan")
        implied = float(np.median([implied_own_s(x, worker_time_s(x, params)) for x in ttft])) if ttft else float("nan")
        lines.append(f"| {g} | {len(rs)} | {own_all * 1e3:.1f} | {own_ttft * 1e3:.1f} | {implied * 1e3:.1f} |")
    return lines


def wait_line(wait_s: np.ndarray, implied_s: np.ndarray) -> tuple[float, float, float]:
    """Least-squares ``implied = a + b wait`` through the points: ``(a, b, R^2)`` (R^2 0 where ``implied`` is flat,
    ``b`` 0 where ``wait`` is)."""
    w, y = np.asarray(wait_s, float), np.asarray(implied_s, float)
    if np.ptp(w) == 0.0:
        return float(y.mean()), 0.0, 0.0
    b, a = np.polyfit(w, y, 1)
    ss = float(np.sum((y - y.mean()) ** 2))
    r2 = 1.0 - float(np.sum((a + b * w - y) ** 2)) / ss if ss > 0 else 0.0
    return float(a), float(b), r2


def queue_terms(path: str, by: str, max_clients: int = 512) -> list[str]:
    """Per group of the Dynamo TTFT rows of ``path`` at up to ``max_clients`` clients (below the saturated pools):
    the median simulated wait before the prefill, the median own term the rows imply (:func:`implied_own_s`, worker
    engines at their fit on all rows) and :func:`wait_line`."""
    every = rows_of(path)
    params = fit_all(every)
    groups: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for x in every:
        f = parse(x["case_id"])
        if f and x["metric"] == "ttft_ms" and int(f["c"]) <= max_clients:
            if "queue_ms" not in x["sim"]:
                raise SystemExit(f"{path}: row {x['case_id']}: its sim record has no queue_ms (a validate JSON of "
                                 "an older inferchip: rerun inferchip validate --format json)")
            point = (x["sim"]["queue_ms"] / 1e3, implied_own_s(x, worker_time_s(x, params)))
            groups[group_of(f, by)].append(point)
            groups["all Dynamo"].append(point)
    lines = [f"| group (up to {max_clients} clients) | TTFT rows | simulated wait before the prefill, median (ms) | "
             "own term implied, median (ms) | implied = a + b x wait: a (ms) / b / R^2 |", "|---|---|---|---|---|"]
    if not groups:
        raise SystemExit(f"{path}: no Dynamo TTFT row at up to {max_clients} clients")
    for g in ["all Dynamo"] + sorted(k for k in groups if k != "all Dynamo"):
        w, y = (np.array(v) for v in zip(*groups[g], strict=True))
        a, b, r2 = wait_line(w, y)
        lines.append(f"| {g} | {len(w)} | {np.median(w) * 1e3:.1f} | {np.median(y) * 1e3:.1f} | "
                     f"{a * 1e3:.1f} / {b:.2f} / {r2:.2f} |")
    return lines


def with_wait(rows: list[dict[str, Any]], extra_s: np.ndarray) -> list[dict[str, Any]]:
    """``rows`` (``fit_engines.rows_of``) as if each request waited ``extra_s`` more before its first token, outside
    the engines (as a request time does): TTFT and E2E longer by it, throughput lower by Little's law."""
    return [dict(x, ttft=x["ttft"] + d, e2e=x["e2e"] + d, tput=x["tput"] * x["e2e"] / (x["e2e"] + d))
            for x, d in zip(rows, extra_s, strict=True)]


def shapes(path: str, wait_factors: tuple[float, ...] = (0.5, 1.0),
           per_client_s: tuple[float, ...] = (0.2e-3, 0.33e-3)) -> list[str]:
    """First-order screen of the own term's shape on the Dynamo rows of ``path``: flat (as run), plus ``k`` x the
    simulated wait before the prefill, plus a time per client in flight; the own term refitted for each (worker
    engines at their fit on all rows). Errors in sample: median |error| / p90 / signed median (%)."""
    every = rows_of(path)
    params = fit_all(every)
    dyn = own_rows([x for x in every if parse(x["case_id"])], params)
    wait = np.array([x["sim"]["queue_ms"] / 1e3 for x in dyn])
    conc = np.array([x["conc"] for x in dyn])
    metric = np.array([x["metric"] for x in dyn])
    meas = np.array([x["meas"] for x in dyn])
    ttft = metric == "ttft_ms"
    cases = [("flat", np.zeros(len(dyn)))] + [(f"+ {k:g} x the simulated wait", k * wait) for k in wait_factors] + \
        [(f"+ {b * 1e3:g} ms per client", b * conc) for b in per_client_s]
    lines = ["| own term | fitted (ms) | TTFT | TTFT rows beyond 35 % | TTFT 1-8 clients | TTFT 9-512 clients | "
             "throughput |", "|---|---|---|---|---|---|---|"]
    for name, extra in cases:
        rs = with_wait(dyn, extra)
        f = fit(rs)
        err = 100.0 * (predict(rs, np.array(f.s), np.array(f.r), f.k, f.kern, f.e) / meas - 1.0)
        low, mid = ttft & (conc <= 8), ttft & (conc > 8) & (conc <= 512)
        lines.append(f"| {name} | {f.r * 1e3:.1f} | {stats(list(err[ttft]))} | {int((abs(err[ttft]) > 35).sum())} | "
                     f"{stats(list(err[low]))} | {stats(list(err[mid]))} | "
                     f"{stats(list(err[metric == 'output_tokens_per_s_total']))} |")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("json", nargs="+", help="one validate JSON, or before and after")
    ap.add_argument("--by", choices=("family", "layout", "band", "family-band"), default="family")
    ap.add_argument("--intake", metavar="CASES_CSV", help="add the intake table (the cases file the JSON ran)")
    ap.add_argument("--own", action="store_true", help="add the own request term per group (the last JSON)")
    ap.add_argument("--queue", action="store_true", help="add the implied own term against the simulated wait")
    ap.add_argument("--shapes", action="store_true", help="add the first-order screen of the own term's shapes")
    ap.add_argument("--little", metavar="CASES_CSV", help="add the TTFT error's E2E and decode-time parts")
    args = ap.parse_args()
    runs = [rows(p) for p in args.json]
    print("\n".join(table(runs, args.by)))
    if args.intake:
        print()
        print("\n".join(intake(args.intake, runs[-1])))
    if args.own:
        print()
        print("\n".join(own_terms(args.json[-1], args.by)))
    if args.queue:
        print()
        print("\n".join(queue_terms(args.json[-1], args.by)))
    if args.shapes:
        print()
        print("\n".join(shapes(args.json[-1])))
    if args.little:
        print()
        print("\n".join(little(args.little, runs[-1], args.by)))


if __name__ == "__main__":
    main()
