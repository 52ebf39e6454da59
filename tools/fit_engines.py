"""Fit each engine's two host times (``step_overhead_s``, ``request_overhead_s``) on closed-loop rows.

Input: the JSON of ``inferchip validate FILE --format json`` run with the current engine catalogue.
Each simulated row is moved to new host times by first-order sensitivities (a step's host time adds
to every decode step of a request, a request's host time to its TTFT and end-to-end time; throughput
follows the end-to-end time by Little's law), and per engine the pair minimising the sum of
``|ln(pred / meas)|`` over its throughput, TTFT and TPOT rows is found on a grid within the bounds
below. ``--loao`` also refits without each accelerator and reports its rows' errors (leave one
accelerator out). ``--write`` stores the fitted values in catalog/engines.yaml.

    python tools/fit_engines.py validate.json [--loao] [--write]
"""

from __future__ import annotations

import argparse
import json
import re
from collections import defaultdict
from pathlib import Path

import numpy as np

STEP_BOUNDS_S = (0.0, 0.005)  # host time per engine iteration: 0 (fully overlapped) to 5 ms
REQUEST_BOUNDS_S = (0.0, 1.0)  # host time per request before its first token: 0 to 1 s
STEP_GRID = np.linspace(*STEP_BOUNDS_S, 101)
REQUEST_GRID = np.concatenate([[0.0], np.geomspace(1e-3, REQUEST_BOUNDS_S[1], 120)])
ENGINES = Path(__file__).resolve().parents[1] / "src" / "inferchip" / "catalog" / "engines.yaml"
_LEN = re.compile(r"-(\d+)-(\d+)-c(\d+)-")


def rows_of(path: str) -> list[dict]:
    out = []
    for c in json.load(open(path))["cases"]:
        sim = c.get("sim") or {}
        if c["status"] != "ok" or sim.get("kind") != "closed_loop":
            continue
        m = _LEN.search(c["case_id"])
        osl = float(m.group(2)) if m else 1024.0
        out.append({"engine": sim["engine"], "chip": c["accelerator"], "metric": c["metric"], "meas": c["measured"],
                    "ttft": sim["ttft_ms"] / 1e3, "tpot": sim["tpot_ms"] / 1e3, "e2e": sim["e2e_ms"] / 1e3,
                    "tput": sim["output_tokens_per_s"], "s0": sim["step_overhead_s"], "r0": sim["request_overhead_s"],
                    "tau": sim["tokens_per_step"], "steps": (0.9 * osl - 1) / sim["tokens_per_step"]})
    return out


def predict(rows: list[dict], s: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Predictions (rows x grid) at step host time ``s`` and request host time ``r`` (broadcast)."""
    out = []
    for x in rows:
        ds, dr = s - x["s0"], r - x["r0"]
        if x["metric"] == "ttft_ms":
            v = (x["ttft"] + dr + ds) * 1e3
        elif x["metric"] == "tpot_ms":
            v = (x["tpot"] + ds / x["tau"]) * 1e3
        else:
            e2e = x["e2e"] + dr + ds * x["steps"]
            v = x["tput"] * x["e2e"] / np.maximum(e2e, 1e-9)
        out.append(np.broadcast_to(v, np.broadcast(s, r).shape))
    return np.array(out)


def fit(rows: list[dict]) -> tuple[float, float]:
    s, r = np.meshgrid(STEP_GRID, REQUEST_GRID, indexing="ij")
    pred = predict(rows, s, r)
    meas = np.array([x["meas"] for x in rows])[:, None, None]
    loss = np.abs(np.log(np.maximum(pred, 1e-12) / meas)).sum(axis=0)
    i, j = np.unravel_index(np.argmin(loss), loss.shape)
    return float(STEP_GRID[i]), float(REQUEST_GRID[j])


def errors(rows: list[dict], params: dict[str, tuple[float, float]]) -> list[tuple[dict, float]]:
    out = []
    for x in rows:
        s, r = params[x["engine"]]
        p = float(predict([x], np.array(s), np.array(r))[0])
        out.append((x, 100.0 * (p / x["meas"] - 1.0)))
    return out


def table(errs: list[tuple[dict, float]], key: str) -> None:
    g: dict = defaultdict(list)
    for x, e in errs:
        g[(x[key], x["metric"])].append(e)
        g[("all", x["metric"])].append(e)
    for k in sorted(g):
        v = np.array(g[k])
        print(f"  {k[0]:24s} {k[1]:26s} n={v.size:5d} median |e| {np.median(np.abs(v)):5.1f}%  "
              f"p90 {np.percentile(np.abs(v), 90):5.1f}%  bias {np.median(v):+6.1f}%")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("validate_json")
    ap.add_argument("--loao", action="store_true")
    ap.add_argument("--write", action="store_true")
    a = ap.parse_args()
    rows = rows_of(a.validate_json)
    engines = sorted({x["engine"] for x in rows})
    params = {e: fit([x for x in rows if x["engine"] == e]) for e in engines}
    for e, (s, r) in params.items():
        print(f"{e}: step_overhead_s {s:.5f}, request_overhead_s {r:.4f}")
    print("in sample:")
    table(errors(rows, params), "chip")
    if a.loao:
        loao = []
        for chip in sorted({x["chip"] for x in rows}):
            train = [x for x in rows if x["chip"] != chip]
            p = {e: fit([x for x in train if x["engine"] == e]) if any(x["engine"] == e for x in train)
                 else params[e] for e in engines}
            loao += errors([x for x in rows if x["chip"] == chip], p)
        print("leave one accelerator out:")
        table(loao, "chip")
        table(loao, "engine")
    if a.write:
        text = ENGINES.read_text()
        for e, (s, r) in params.items():
            block = re.search(rf"(  - id: {e}\n(?:    .*\n|      .*\n)*)", text)
            assert block is not None, e
            b = block.group(1)
            b = re.sub(r"    step_overhead_s: .*\n", f"    step_overhead_s: {s:.5f}\n", b)
            b = re.sub(r"    request_overhead_s: .*\n", f"    request_overhead_s: {r:.4f}\n", b)
            text = text.replace(block.group(1), b)
        ENGINES.write_text(text)
        print(f"written: {ENGINES}")


if __name__ == "__main__":
    main()
