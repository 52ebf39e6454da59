"""inferchip against AIConfigurator on the same InferenceMAX rows: markdown tables for
docs/serving_validation.md.

Inputs: the peer's CSV written by ``tools/peer/aiconfigurator_peer.py`` (run in its own virtualenv) and
inferchip's ``validate --format json`` of ``inferencemax_cases.csv``. inferchip is scored twice:
in sample (the JSON as run: the engine host times in the shipped catalogue were fitted on these
rows, among others) and leave one accelerator out (each chip's rows predicted with the engine host
times refitted without that chip, the first-order refit of ``tools/closed_loop/fit_engines.py`` that
``tools/closed_loop/closed_loop_tables.py`` reports). AIConfigurator is neither fitted nor refitted here: its
kernel tables were measured on the NVIDIA chips, so it is an in-sample tool on its side too.

For each group (all, per accelerator, per engine, per metric) over the rows both predict: rows,
median / p90 absolute error % and signed median error % of each, and the share of rows where
inferchip's prediction is closer to the measurement than AIConfigurator's (ties count half).

    python tools/peer/aiconfigurator_compare.py docs/data/aiconfigurator_peer_0.12.0.csv \\
        closed.json
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "closed_loop"))  # tools/closed_loop/fit_engines.py
from fit_engines import errors, loao_fits, rows_of  # noqa: E402

METRICS = ("output_tokens_per_s_total", "ttft_ms", "tpot_ms")
SHORT = {"output_tokens_per_s_total": "throughput", "ttft_ms": "TTFT", "tpot_ms": "TPOT", "all three": "all three"}
CHIP = {"nvidia-h100-sxm-80gb": "H100", "nvidia-h200-sxm-141gb": "H200", "nvidia-b200-180gb": "B200",
        "nvidia-gb200-186gb": "GB200", "amd-mi300x": "MI300X", "amd-mi355x": "MI355X"}


def engine_short(stratum_engine: str) -> str:
    e = stratum_engine.lower()
    if "dynamo" in e:
        return "Dynamo+TRT-LLM" if "tensorrt" in e else "Dynamo+SGLang"
    if "disagg" in e:
        return "SGLang disagg (AMD)"
    if "tensorrt" in e:
        return "TRT-LLM"
    return "ATOM" if "atom" in e else stratum_engine.strip()


def load(peer_csv: str, validate_json: str) -> list[dict]:
    """One record per sampled case row: measured, AIConfigurator's prediction (or None and why),
    inferchip's in-sample and LOAO predictions (or None)."""
    ours = {c["case_id"]: c for c in json.load(open(validate_json))["cases"]}
    loao = {x["case_id"]: x["meas"] * (1.0 + e / 100.0)
            for held, p in loao_fits(rows_of(validate_json)) for x, e in errors(held, p)}
    out = []
    for r in csv.DictReader(open(peer_csv)):
        chip, eng = r["stratum"].split(" | ")[:2]
        c = ours.get(r["case_id"], {})
        ok = c.get("status") == "ok" and c.get("predicted") is not None
        out.append({"case_id": r["case_id"], "metric": r["metric"], "chip": CHIP.get(chip, chip),
                    "engine": engine_short(eng), "meas": float(r["measured"]),
                    "aic": float(r["predicted"]) if r["predicted"] else None, "why": r["why_not_predicted"],
                    "ic": float(c["predicted"]) if ok else None, "ic_loao": loao.get(r["case_id"])})
    return out


def err(p: float, m: float) -> float:
    return 100.0 * (p / m - 1.0)


def stats(e: list[float]) -> str:
    a = np.abs(e)
    return f"{np.median(a):.1f} / {np.percentile(a, 90):.1f} / {np.median(e):+.1f}"


def head_to_head(rows: list[dict], key: str, ours: str, title: str) -> None:
    """Markdown table over the rows both predict, grouped by ``key`` and metric."""
    g: dict = defaultdict(list)
    for x in rows:
        if x["aic"] is not None and x[ours] is not None:
            g[(x[key], x["metric"])].append(x)
            if key != "all":
                g[("all", x["metric"])].append(x)
    print(f"\n{title}\n")
    print("| group | metric | rows | AIConfigurator median / p90 / signed % | inferchip median / p90 / signed % "
          "| inferchip closer |")
    print("|---|---|---|---|---|---|")
    for k in sorted({k for k, _ in g}, key=lambda s: (s != "all", s)):
        for m in METRICS + (("all three",) if k == "all" else ()):
            xs = g.get((k, m)) if m in METRICS else [x for mm in METRICS for x in g.get((k, mm), [])]
            if not xs:
                continue
            ea = [err(x["aic"], x["meas"]) for x in xs]
            eo = [err(x[ours], x["meas"]) for x in xs]
            closer = sum(1.0 if abs(o) < abs(a) else 0.5 if abs(o) == abs(a) else 0.0
                         for a, o in zip(ea, eo, strict=True))
            print(f"| {k} | {SHORT[m]} | {len(xs)} | {stats(ea)} | {stats(eo)} | {100 * closer / len(xs):.0f} % |")


def coverage(rows: list[dict]) -> None:
    g: dict = defaultdict(lambda: [0, 0, 0, 0])
    for x in rows:
        for k in ("all", x["chip"]):
            c = g[k]
            c[0] += 1
            c[1] += x["aic"] is not None
            c[2] += x["ic"] is not None
            c[3] += x["ic_loao"] is not None
    print("\nCoverage (case rows):\n")
    print("| group | sampled | AIConfigurator predicts | inferchip predicts (in sample) | inferchip LOAO |")
    print("|---|---|---|---|---|")
    for k in sorted(g, key=lambda s: (s != "all", s)):
        n, a, o, lo = g[k]
        print(f"| {k} | {n} | {a} | {o} | {lo} |")
    why: dict = defaultdict(int)
    for x in rows:
        if x["aic"] is None:
            w = x["why"]
            w = ("no AMD system" if "ships no system" in w else w.split(":")[0] if "adapter" in w
                 else " ".join(w.split()[:4]) if w.startswith("cli_estimate") else w[:60])
            why[w] += 1
    print("\nWhy AIConfigurator did not predict (case rows):\n")
    print("| reason | rows |")
    print("|---|---|")
    for w, n in sorted(why.items(), key=lambda t: -t[1]):
        print(f"| {w} | {n} |")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("peer_csv")
    ap.add_argument("validate_json")
    a = ap.parse_args()
    rows = load(a.peer_csv, a.validate_json)
    for x in rows:
        x["all"] = "all"
    coverage(rows)
    head_to_head(rows, "chip", "ic", "Per accelerator, inferchip in sample:")
    head_to_head(rows, "engine", "ic", "Per engine, inferchip in sample:")
    head_to_head(rows, "chip", "ic_loao", "Per accelerator, inferchip leave one accelerator out:")
    head_to_head(rows, "engine", "ic_loao", "Per engine, inferchip leave one accelerator out:")
    g: dict = defaultdict(list)
    for x in rows:
        if x["ic"] is not None and x["aic"] is None:
            g[(x["chip"], x["metric"])].append(err(x["ic"], x["meas"]))
    print("\ninferchip (in sample) on the sampled rows AIConfigurator does not predict:\n")
    print("| accelerator | metric | rows | median / p90 / signed % |")
    print("|---|---|---|---|")
    for (k, m), e in sorted(g.items()):
        print(f"| {k} | {SHORT[m]} | {len(e)} | {stats(e)} |")


if __name__ == "__main__":
    main()
