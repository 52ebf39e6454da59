"""Fit each engine's two host times (``step_overhead_s``, ``request_overhead_s``) on closed-loop rows.

Input: the JSON of ``inferchip validate FILE --format json`` run with the current engine catalogue.
Each simulated row is moved to new host times by first-order sensitivities (a step's host time adds
to every decode step of a request, a request's host time to its TTFT and end-to-end time; throughput
follows the end-to-end time by Little's law), and per engine the pair minimising the sum of
``|ln(pred / meas)|`` over its throughput, TTFT and TPOT rows is found on a grid within the bounds
below. ``--loao`` also refits without each accelerator and reports its rows' errors (leave one
accelerator out). ``--write`` stores the fitted values in catalog/engines.yaml.

``--stream`` (reported only) also fits a host time per client in flight, ``k``: each request's host
time becomes ``request_overhead_s + k C`` at ``C`` clients (a frontend and benchmark client that
serve all ``C`` streams in one event loop). It is not an engine field: on the public rows it lands
on its 1 ms bound for Dynamo and SGLang, where it stands in for their decode-step and offset errors
(docs/serving_validation.md, Results).

    python tools/fit_engines.py validate.json [--loao] [--write | --stream]
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
STREAM_BOUNDS_S = (0.0, 0.001)  # host time per request per client in flight: 0 to 1 ms
REQUEST_GRID = np.concatenate([[0.0], np.geomspace(1e-3, REQUEST_BOUNDS_S[1], 120)])
STREAM_GRID = np.array([0.0])  # --stream: np.linspace(*STREAM_BOUNDS_S, 21)
ENGINES = Path(__file__).resolve().parents[1] / "src" / "inferchip" / "catalog" / "engines.yaml"
_LEN = re.compile(r"-(\d+)-(\d+)-c(\d+)-")


def rows_of(path: str) -> list[dict]:
    """The simulated closed-loop rows of a ``validate --format json`` file, with what the fit moves (the case id
    and the simulation's own record kept for tools that break the errors down further)."""
    out = []
    for c in json.load(open(path))["cases"]:
        sim = c.get("sim") or {}
        if c["status"] != "ok" or sim.get("kind") != "closed_loop":
            continue
        m = _LEN.search(c["case_id"])
        osl = float(m.group(2)) if m else 1024.0
        conc = float(m.group(3)) if m else 1.0
        out.append({"engine": sim["engine"], "chip": c["accelerator"], "metric": c["metric"], "meas": c["measured"],
                    "ttft": sim["ttft_ms"] / 1e3, "tpot": sim["tpot_ms"] / 1e3, "e2e": sim["e2e_ms"] / 1e3,
                    "tput": sim["output_tokens_per_s"], "s0": sim["step_overhead_s"], "r0": sim["request_overhead_s"],
                    "k0": sim.get("stream_overhead_s", 0.0), "conc": conc,
                    "tau": sim["tokens_per_step"], "steps": (0.9 * osl - 1) / sim["tokens_per_step"],
                    "case_id": c["case_id"], "sim": sim})
    return out


def predict(rows: list[dict], s: np.ndarray, r: np.ndarray, k: float | np.ndarray = 0.0) -> np.ndarray:
    """Predictions (rows x grid) at step host time ``s``, request host time ``r`` and host time per
    client in flight ``k`` (broadcast)."""
    s, r, k = np.asarray(s, float), np.asarray(r, float), np.asarray(k, float)
    shape = np.broadcast(s, r, k).shape
    col = {f: np.array([x[f] for x in rows], float).reshape((-1,) + (1,) * len(shape))
           for f in ("s0", "r0", "k0", "conc", "ttft", "tpot", "tau", "e2e", "tput", "steps")}
    metric = np.array([x["metric"] for x in rows]).reshape((-1,) + (1,) * len(shape))
    ds = s - col["s0"]
    dr = r - col["r0"] + (k - col["k0"]) * col["conc"]
    ttft = (col["ttft"] + dr + ds) * 1e3
    tpot = (col["tpot"] + ds / col["tau"]) * 1e3
    tput = col["tput"] * col["e2e"] / np.maximum(col["e2e"] + dr + ds * col["steps"], 1e-9)
    out = np.where(metric == "ttft_ms", ttft, np.where(metric == "tpot_ms", tpot, tput))
    return np.broadcast_to(out, (len(rows),) + shape)


def fit(rows: list[dict]) -> tuple[float, float, float]:
    """The grid point of least summed ``|ln(pred / meas)|`` over ``rows`` (rows taken 64 at a time
    so that the grid of every row is never held at once)."""
    s, r = np.meshgrid(STEP_GRID, REQUEST_GRID, indexing="ij")
    best = (np.inf, 0.0, 0.0, 0.0)
    for k in STREAM_GRID:
        loss = np.zeros(s.shape)
        for i in range(0, len(rows), 64):
            part = rows[i:i + 64]
            meas = np.array([x["meas"] for x in part])[:, None, None]
            loss += np.abs(np.log(np.maximum(predict(part, s, r, k), 1e-12) / meas)).sum(axis=0)
        i, j = np.unravel_index(np.argmin(loss), loss.shape)
        if loss[i, j] < best[0] - 1e-9:
            best = (float(loss[i, j]), float(STEP_GRID[i]), float(REQUEST_GRID[j]), float(k))
    return best[1], best[2], best[3]


def errors(rows: list[dict], params: dict[str, tuple[float, float, float]]) -> list[tuple[dict, float]]:
    out = []
    for x in rows:
        s, r, k = params[x["engine"]]
        p = float(predict([x], np.array(s), np.array(r), k)[0])
        out.append((x, 100.0 * (p / x["meas"] - 1.0)))
    return out


def loao_fits(rows: list[dict], params: dict[str, tuple[float, float, float]] | None = None
              ) -> list[tuple[list[dict], dict[str, tuple[float, float, float]]]]:
    """Per accelerator (sorted): its rows and every engine's host times fitted without them; an engine with no
    rows elsewhere keeps its fit on all rows (``params``, fitted here when not given)."""
    engines = sorted({x["engine"] for x in rows})
    if params is None:
        params = {e: fit([x for x in rows if x["engine"] == e]) for e in engines}
    folds = []
    for chip in sorted({x["chip"] for x in rows}):
        train = [x for x in rows if x["chip"] != chip]
        p = {e: fit([x for x in train if x["engine"] == e]) if any(x["engine"] == e for x in train) else params[e]
             for e in engines}
        folds.append(([x for x in rows if x["chip"] == chip], p))
    return folds


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
    ap.add_argument("--stream", action="store_true",
                    help="also fit a host time per client in flight (0-1 ms; reported only)")
    a = ap.parse_args()
    if a.stream:
        global STREAM_GRID
        STREAM_GRID = np.linspace(*STREAM_BOUNDS_S, 21)
        if a.write:
            ap.error("--stream is reported only: the engine catalogue has no per-client host time to write")
    rows = rows_of(a.validate_json)
    engines = sorted({x["engine"] for x in rows})
    params = {e: fit([x for x in rows if x["engine"] == e]) for e in engines}
    for e, (s, r, k) in params.items():
        print(f"{e}: step_overhead_s {s:.5f}, request_overhead_s {r:.4f}"
              + (f", per client in flight {k * 1e3:.3f} ms" if a.stream else ""))
    print("in sample:")
    table(errors(rows, params), "chip")
    if a.loao:
        loao = [t for held, p in loao_fits(rows, params) for t in errors(held, p)]
        print("leave one accelerator out:")
        table(loao, "chip")
        table(loao, "engine")
    if a.write:
        text = ENGINES.read_text()
        for e, (s, r, _k) in params.items():
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
