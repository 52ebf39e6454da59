"""Fit each engine's two host times (``step_overhead_s``, ``request_overhead_s``) and, given runs that say how its rows
depend on them, its kernel efficiencies per class (``kernel_efficiency``), on closed-loop rows: the JSON of ``inferchip
validate FILE --format json`` run with the current engine catalogue. Each simulated row is moved to new host times by
first-order sensitivities (a step's host time adds to every decode step of a request, a request's host time to its TTFT
and end-to-end time; throughput follows the end-to-end time by Little's law), and per engine the pair minimising the sum
of ``|ln(pred / meas)|`` over its throughput, TTFT and TPOT rows is found on a grid within the bounds below. ``--loao``
also refits without each accelerator and reports its rows' errors (leave one accelerator out). ``--write`` stores the
fitted values in catalog/engines.yaml.

``--sens CLASS=MULT:FILE`` (repeatable) names a second validate JSON of the same rows run with every engine's
``kernel_efficiency.CLASS`` at ``MULT``. From the pair, each row's share ``w`` of its figure at that class's rate is
read (``t(m1) / t(m0) = 1 + w (m0 / m1 - 1)``), and the class's multiplier (within ``KERNEL_BOUNDS``) is fitted with
the host times, for an engine only where its median TPOT share in that class is at least ``MIN_SHARE``. Rows on one of
the engine's ``recipe_request_paths`` carry its ``recipe_request_overhead_s`` too (:func:`_host_profile`).

A front end's rows that cross a worker engine's request path too (record ``worker_engine``; catalogue
``worker_request_paths``) wait that engine's fitted request time (a fold's refit under LOAO) plus the front end's own
``request_overhead_s``, fitted on top of it (:func:`fit_all`, :func:`own_rows`) on its rows of at most
``FRONT_OWN_MAX_CLIENTS`` clients, its step time on all (:func:`fit_front`). ``--stream`` (reported only) also fits a
host time per client in flight, ``k`` (request time ``r + k C`` at ``C`` clients); on the public rows it lands on its
1 ms bound for Dynamo and SGLang (docs/serving_validation.md, Results).

    python tools/closed_loop/fit_engines.py validate.json [--sens memory=0.85:m.json ...] [--loao] [--write | --stream]
"""

from __future__ import annotations

import argparse
import datetime
import itertools
import json
import re
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import numpy as np
from scipy.optimize import minimize

STEP_BOUNDS_S = (0.0, 0.005)  # host time per engine iteration: 0 (fully overlapped) to 5 ms
REQUEST_BOUNDS_S = (0.0, 1.0)  # host time per request before its first token: 0 to 1 s
STEP_GRID = np.linspace(*STEP_BOUNDS_S, 101)
STREAM_BOUNDS_S = (0.0, 0.001)  # host time per request per client in flight: 0 to 1 ms
REQUEST_GRID = np.concatenate([[0.0], np.geomspace(1e-3, REQUEST_BOUNDS_S[1], 120)])
STREAM_GRID = np.array([0.0])  # --stream: np.linspace(*STREAM_BOUNDS_S, 21)
# Multipliers on the calibration's attainable fractions (the calibration: MLPerf rows, tuned harnesses). Memory:
# an engine's kernels stream weights and KV at 0.5-1.2 x the calibration's 0.74 of peak (the product stays below
# the ~0.9 of peak HBM reaches in STREAM-like copies). Attention: its decode kernel at 0.5-2 x the calibration's
# fitted fraction. GEMM: 0.5-1.2 x. All within spec/engine.KernelEfficiency's (0.2, 2].
KERNEL_BOUNDS = {"memory": (0.5, 1.2), "attention": (0.5, 2.0), "gemm": (0.5, 1.2), "link": (0.5, 2.0)}
MIN_SHARE = 0.02  # a class is fitted for an engine only if its TPOT rows spend at least this share in it (median)
# A front end's own request time (one path per request) is fitted where the simulated pools hardly queue (band 1-8): on
# every band it stands for a residual growing with the clients (Dynamo 0/12/98/419/1000 ms; docs/serving_journal.md)
FRONT_OWN_MAX_CLIENTS = 8
ENGINES = Path(__file__).resolve().parents[2] / "src" / "inferchip" / "catalog" / "engines.yaml"
_LEN = re.compile(r"-(\d+)-(\d+)-c(\d+)-")
# What the fit matches of each row (its figure unless set; ttft_spread.py medianfit: a stated median, median_view)
FIT_VIEW: Callable[[dict], dict] | None = None
_SIM_FIGURE = {"ttft_ms": "ttft_ms", "tpot_ms": "tpot_ms", "output_tokens_per_s_total": "output_tokens_per_s"}


class Fit(NamedTuple):
    """One engine's fitted host times and kernel multipliers (only the classes fitted)."""

    s: float
    r: float
    k: float = 0.0
    kern: dict[str, float] = {}
    e: float = 0.0  # recipe_request_overhead_s: the extra request time of the rows on a recipe_request_paths entry


def _ok_closed_loop(path: str) -> list[dict]:
    return [c for c in json.load(open(path))["cases"]
            if c["status"] == "ok" and (c.get("sim") or {}).get("kind") == "closed_loop"]


def _time_of(case: dict) -> float:
    """The row's figure as a time (throughput inverted), from the simulation's own record."""
    v = float(case["sim"][_SIM_FIGURE.get(case["metric"], "output_tokens_per_s")])
    return 1.0 / v if case["metric"] not in ("ttft_ms", "tpot_ms") else v


def parse_sens(specs: list[str]) -> list[tuple[str, float, str]]:
    """``CLASS=MULT:FILE`` entries as (class, multiplier, file)."""
    out = []
    for spec in specs:
        m = re.fullmatch(r"(\w+)=([0-9.]+):(.+)", spec)
        if m is None or m.group(1) not in KERNEL_BOUNDS:
            raise SystemExit(f"--sens {spec!r}: expected CLASS=MULT:FILE with CLASS one of {', '.join(KERNEL_BOUNDS)}")
        out.append((m.group(1), float(m.group(2)), m.group(3)))
    return out


def rows_of(path: str, sens: list[tuple[str, float, str]] | None = None) -> list[dict]:
    """The simulated closed-loop rows of a ``validate --format json`` file, with what the fit moves (the case id
    and the simulation's own record kept for tools that break the errors down further); with ``sens``, each
    row's share ``w`` of its figure in each class's kernels (0 where the perturbed run lacks the row)."""
    out = []
    for c in _ok_closed_loop(path):
        if not (m := _LEN.search(c["case_id"])):
            raise SystemExit(f"{path}: case {c['case_id']}: no -ISL-OSL-cC- in its id (the fit reads lengths, clients)")
        sim, osl, conc = c["sim"], float(m.group(2)), float(m.group(3))
        out.append({"engine": sim["engine"], "chip": c["accelerator"], "metric": c["metric"], "meas": c["measured"],
                    "ttft": sim["ttft_ms"] / 1e3, "tpot": sim["tpot_ms"] / 1e3, "e2e": sim["e2e_ms"] / 1e3,
                    "tput": sim["output_tokens_per_s"], "s0": sim["step_overhead_s"], "r0": sim["request_overhead_s"],
                    "k0": sim.get("stream_overhead_s", 0.0), "conc": conc,
                    "x": 1.0 if sim.get("recipe_request_path") else 0.0,
                    "e0": float(sim.get("recipe_request_overhead_s", 0.0)) if sim.get("recipe_request_path") else 0.0,
                    "weng": sim.get("worker_engine") or "", "wr0": float(sim.get("worker_request_overhead_s", 0.0)),
                    "wx": 1.0 if sim.get("worker_recipe_request_path") else 0.0,  # the worker's recipe request path
                    "tau": sim["tokens_per_step"], "steps": (0.9 * osl - 1) / sim["tokens_per_step"],
                    "case_id": c["case_id"], "sim": sim, "m0": dict(sim.get("kernel_efficiency") or {}), "w": {}})
    for cls, mult, spath in sens or []:
        pert = {(c["case_id"], c["metric"]): _time_of(c) for c in _ok_closed_loop(spath)}
        for x in out:
            p = pert.get((x["case_id"], x["metric"]))
            base = _time_of({"metric": x["metric"], "sim": x["sim"]})
            m0 = float(x["m0"].get(cls, 1.0))
            x["w"][cls] = 0.0 if p is None or mult == m0 else (p / base - 1.0) / (m0 / mult - 1.0)
    return out


def _cols(rows: list[dict], classes: tuple[str, ...] = ()) -> dict[str, np.ndarray]:
    col = {f: np.array([x[f] for x in rows], float)
           for f in ("s0", "r0", "k0", "conc", "ttft", "tpot", "tau", "e2e", "tput", "steps", "meas")}
    for f in ("x", "e0"):  # rows on a recipe request path, and the recipe request time they were run with
        col[f] = np.array([x.get(f, 0.0) for x in rows], float)
    col["metric"] = np.array([{"ttft_ms": 0, "tpot_ms": 1}.get(x["metric"], 2) for x in rows])
    col["w"] = np.array([[x["w"].get(c, 0.0) for c in classes] for x in rows], float).reshape(len(rows), -1)
    col["m0"] = np.array([[float(x["m0"].get(c, 1.0)) for c in classes] for x in rows], float).reshape(len(rows), -1)
    return col


def _factor(col: dict[str, np.ndarray], kern: np.ndarray) -> np.ndarray:
    """Each row's time factor at multipliers ``kern`` (one per class of ``col``): ``1 + sum w (m0 / m - 1)``."""
    if col["w"].shape[1] == 0:
        return np.ones(col["w"].shape[0])
    return np.maximum(1.0 + (col["w"] * (col["m0"] / kern[None, :] - 1.0)).sum(axis=1), 0.05)


def _predict_cols(col: dict[str, np.ndarray], s: np.ndarray, r: np.ndarray, k: float | np.ndarray,
                  g: np.ndarray, e: float = 0.0) -> np.ndarray:
    s, r, k = np.asarray(s, float), np.asarray(r, float), np.asarray(k, float)
    shape = np.broadcast(s, r, k).shape
    c = {f: v.reshape((-1,) + (1,) * len(shape)) for f, v in col.items() if v.ndim == 1}
    gg = g.reshape((-1,) + (1,) * len(shape))
    ds = s - c["s0"]
    dr = r + e * c["x"] - c["r0"] + (k - c["k0"]) * c["conc"]
    ttft = (c["ttft"] * gg + dr + ds) * 1e3
    tpot = (c["tpot"] * gg + ds / c["tau"]) * 1e3
    tput = c["tput"] * c["e2e"] / np.maximum(c["e2e"] * gg + dr + ds * c["steps"], 1e-9)
    out = np.where(c["metric"] == 0, ttft, np.where(c["metric"] == 1, tpot, tput))
    return np.broadcast_to(out, (len(col["s0"]),) + shape)


def predict(rows: list[dict], s: np.ndarray, r: np.ndarray, k: float | np.ndarray = 0.0,
            kern: dict[str, float] | None = None, e: float = 0.0) -> np.ndarray:
    """Predictions (rows x grid) at step host time ``s``, request host time ``r``, host time per
    client in flight ``k`` (broadcast), kernel multipliers ``kern`` (classes not named: as run) and
    recipe request time ``e`` (added to ``r`` on the rows of a recipe request path)."""
    classes = tuple(sorted(kern or {}))
    col = _cols(rows, classes)
    return _predict_cols(col, s, r, k, _factor(col, np.array([kern[c] for c in classes], float)) if kern
                         else np.ones(len(rows)), e)


def _host_profile(col: dict[str, np.ndarray], g: np.ndarray) -> tuple[float, float, float, float, float]:
    """Least summed ``|ln(pred / meas)|`` over the host-time grid at time factors ``g``: (loss, s, r, k, e).
    Where rows are on a recipe request path, their whole request time ``R = r + e`` has a grid of its own
    (the request grid): at each step time the rows off the path depend on ``r`` only and those on it on ``R``
    only, so the two losses add over the pairs ``r <= R`` and the least of all is exact on the grids."""
    s, r = np.meshgrid(STEP_GRID, REQUEST_GRID, indexing="ij")
    on = col["x"] > 0
    off_rows = {f: v[~on] for f, v in col.items()}
    on_rows = {f: v[on] for f, v in col.items()}
    below = REQUEST_GRID[:, None] <= REQUEST_GRID[None, :]  # r <= R: the path never shortens the wait
    best = (np.inf, 0.0, 0.0, 0.0, 0.0)
    for k in STREAM_GRID:
        l_off = _grid_loss(off_rows, g[~on], s, r, k)
        if not on.any():
            i, j = np.unravel_index(np.argmin(l_off), l_off.shape)
            cand = (float(l_off[i, j]), float(STEP_GRID[i]), float(REQUEST_GRID[j]), float(k), 0.0)
        else:
            # rows on the path were run with r0 = r + e0: at e = 0 the grid's r is their whole request time R
            l_on = _grid_loss({**on_rows, "x": np.zeros(int(on.sum()))}, g[on], s, r, k)
            tot = np.where(below[None], l_off[:, :, None] + l_on[:, None, :], np.inf)
            i, j, m = np.unravel_index(np.argmin(tot), tot.shape)
            cand = (float(tot[i, j, m]), float(STEP_GRID[i]), float(REQUEST_GRID[j]), float(k),
                    float(REQUEST_GRID[m] - REQUEST_GRID[j]))
        if cand[0] < best[0] - 1e-9:
            best = cand
    return best


def _grid_loss(col: dict[str, np.ndarray], g: np.ndarray, s: np.ndarray, r: np.ndarray, k: float) -> np.ndarray:
    """Summed ``|ln(pred / meas)|`` of ``col``'s rows on the host-time grid ``(s, r)`` at ``k`` and time factors
    ``g`` (rows taken 64 at a time so that the grid of every row is never held at once)."""
    loss = np.zeros(s.shape)
    for i in range(0, len(col["s0"]), 64):
        part = {f: v[i:i + 64] for f, v in col.items()}
        pred = _predict_cols(part, s, r, k, g[i:i + 64])
        loss += np.abs(np.log(np.maximum(pred, 1e-12) / part["meas"][:, None, None])).sum(axis=0)
    return loss


def fitted_classes(rows: list[dict]) -> tuple[str, ...]:
    """The classes whose multiplier these rows can fit: a sensitivity is known and their TPOT rows spend a
    median share of at least ``MIN_SHARE`` in them."""
    names = sorted({c for x in rows for c in x["w"]})
    tpot = [x for x in rows if x["metric"] == "tpot_ms"]
    return tuple(c for c in names if tpot and np.median([abs(x["w"].get(c, 0.0)) for x in tpot]) >= MIN_SHARE)


def fit(rows: list[dict]) -> Fit:
    """Host times on their grid and, where ``rows`` carry sensitivities, the kernel multipliers of
    :func:`fitted_classes` within ``KERNEL_BOUNDS`` (a coarse grid over the multipliers, then Nelder-Mead
    on their logarithms from the best point; the host times profiled out at each)."""
    classes = fitted_classes(rows)
    col = _cols([FIT_VIEW(x) for x in rows] if FIT_VIEW else rows, classes)
    if not classes:
        _, s, r, k, e = _host_profile(col, np.ones(len(rows)))
        return Fit(s, r, k, {}, e)
    lo, hi = (np.log([KERNEL_BOUNDS[c][i] for c in classes]) for i in (0, 1))
    cache: dict[tuple[float, ...], tuple[float, float, float, float, float]] = {}

    def at(logm: np.ndarray) -> tuple[float, float, float, float, float]:
        key = tuple(np.round(np.clip(logm, lo, hi), 4))
        if key not in cache:
            cache[key] = _host_profile(col, _factor(col, np.exp(np.array(key))))
        return cache[key]

    starts = itertools.product(*[np.linspace(a, b, 5) for a, b in zip(lo, hi, strict=True)])
    x0 = min((np.array(p) for p in starts), key=lambda p: at(p)[0])
    minimize(lambda p: at(p)[0], x0, method="Nelder-Mead", options={"xatol": 5e-3, "fatol": 1e-3, "maxfev": 60})
    best = min(cache, key=lambda key: cache[key][0])  # every point Nelder-Mead tried is in the cache
    _, s, r, k, e = cache[best]
    return Fit(s, r, k, {c: float(np.exp(v)) for c, v in zip(classes, best, strict=True)}, e)


def worker_time_s(x: dict, params: dict[str, Fit]) -> float:
    """The worker engine's request time on row ``x`` at ``params`` (``r``, plus ``e`` on the worker's recipe request
    path); as run (``wr0``) where ``params`` holds no fit of that engine."""
    f = params.get(x["weng"])
    return x["wr0"] if f is None else f.r + f.e * x.get("wx", 0.0)


def own_rows(rows: list[dict], params: dict[str, Fit]) -> list[dict]:
    """``rows`` with the request time run (``r0``) less the worker engine's at ``params`` (rows without one as they
    are): the front end's own term then moves as any request time; a row waits ``r + worker_time_s``."""
    return [dict(x, r0=x["r0"] - worker_time_s(x, params)) if x.get("weng") else x for x in rows]


def fit_front(rows: list[dict], params: dict[str, Fit]) -> Fit:
    """A front end's fit on :func:`own_rows` at the worker fits ``params``: step time, kernels, recipe path time ``e``
    on all its rows, then its own request time at those on its rows of at most ``FRONT_OWN_MAX_CLIENTS`` clients."""
    f = fit(own := own_rows(rows, params))
    low = [FIT_VIEW(x) if FIT_VIEW else x for x in own if x["conc"] <= FRONT_OWN_MAX_CLIENTS]
    if not low:
        return f
    pred = predict(low, np.array(f.s), REQUEST_GRID, f.k, f.kern, f.e)
    loss = np.abs(np.log(np.maximum(pred, 1e-12) / np.array([x["meas"] for x in low])[:, None])).sum(axis=0)
    return f._replace(r=float(REQUEST_GRID[int(np.argmin(loss))]))


def fit_all(rows: list[dict]) -> dict[str, Fit]:
    """Every engine's fit on its rows: the engines whose rows name no worker engine first, then the others on
    :func:`own_rows` at those fits (a front end's own request time on top of its workers' fitted one)."""
    fronts = {x["engine"] for x in rows if x.get("weng")}
    params = {e: fit([x for x in rows if x["engine"] == e]) for e in sorted({x["engine"] for x in rows} - fronts)}
    for e in sorted(fronts):
        params[e] = fit_front([x for x in rows if x["engine"] == e], params)
    return params


def row_prediction(x: dict, params: dict[str, Fit]) -> float:
    """Row ``x``'s prediction at ``params`` (its engine's fit; its worker engine's for the worker part)."""
    f = params[x["engine"]]
    return float(predict(own_rows([x], params), np.array(f.s), np.array(f.r), f.k, f.kern, f.e)[0])


def errors(rows: list[dict], params: dict[str, Fit]) -> list[tuple[dict, float]]:
    return [(x, 100.0 * (row_prediction(x, params) / x["meas"] - 1.0)) for x in rows]


def loao_fits(rows: list[dict], params: dict[str, Fit] | None = None) -> list[tuple[list[dict], dict[str, Fit]]]:
    """Per accelerator (sorted): its rows and every engine's host times (and kernel multipliers, where the rows
    carry sensitivities) fitted without them; an engine with no rows elsewhere keeps its fit on all rows
    (``params``, :func:`fit_all` when not given). The held rows' worker engines are refitted too: a front end's
    rows take the fold's worker time under their own term (refitted on :func:`own_rows` where it has rows elsewhere)."""
    engines = sorted({x["engine"] for x in rows})
    fronts = {x["engine"] for x in rows if x.get("weng")}
    if params is None:
        params = fit_all(rows)
    folds = []
    for chip in sorted({x["chip"] for x in rows}):
        train = [x for x in rows if x["chip"] != chip]
        held = [x for x in rows if x["chip"] == chip]
        refit = {x["engine"] for x in held} | {x["weng"] for x in held if x.get("weng")}
        trained = {x["engine"] for x in train}
        p = {e: fit([x for x in train if x["engine"] == e]) if e in refit & trained else params[e]
             for e in engines if e not in fronts}
        for e in sorted(fronts):
            p[e] = fit_front([x for x in train if x["engine"] == e], p) if e in refit & trained else params[e]
        folds.append((held, p))
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


def _describe(f: Fit) -> str:
    return (f"step_overhead_s {f.s:.5f}, request_overhead_s {f.r:.4f}"
            + (f", recipe_request_overhead_s {f.e:.4f}" if f.e > 0 else "")
            + "".join(f", {c} x{m:.3f}" for c, m in sorted(f.kern.items())))


def write(params: dict[str, Fit], rows: list[dict], path: Path = ENGINES) -> None:
    """Store the fitted values in the engine catalogue: host times, the fitted kernel multipliers (merged
    into the record's ``kernel_efficiency``), and ``fitted_on`` where multipliers were fitted."""
    text = path.read_text()
    today = datetime.date.today().isoformat()
    for e, f in params.items():
        block = re.search(rf"(  - id: {e}\n(?:    .*\n|      .*\n)*)", text)
        assert block is not None, e
        b = block.group(1)
        b = re.sub(r"    step_overhead_s: .*\n", f"    step_overhead_s: {f.s:.5f}\n", b)
        b = re.sub(r"    request_overhead_s: .*\n", f"    request_overhead_s: {f.r:.4f}\n", b)
        if any(x["engine"] == e and x.get("x", 0.0) > 0 for x in rows):
            b = re.sub(r"    recipe_request_overhead_s: .*\n", f"    recipe_request_overhead_s: {f.e:.4f}\n", b)
        if f.kern:
            old = re.search(r"    kernel_efficiency: \{(.*)\}\n", b)
            kern = dict(re.findall(r"(\w+): ([0-9.]+)", old.group(1))) if old else {}
            kern.update({c: f"{m:.3f}" for c, m in f.kern.items()})
            line = "    kernel_efficiency: {" + ", ".join(f"{c}: {v}" for c, v in sorted(kern.items())) + "}\n"
            b = b.replace(old.group(0), line) if old else re.sub(r"(    graph_max_batch: .*\n)", rf"\1{line}", b)
            n = sum(x["engine"] == e for x in rows)
            fitted = (f'    fitted_on: "{n} InferenceMAX closed-loop rows (inferencemax_cases.csv), {today}, by '
                      f'tools/closed_loop/fit_engines.py --sens: host times and kernel_efficiency '
                      f'{", ".join(sorted(f.kern))} jointly"\n')
            b = re.sub(r"    fitted_on: .*\n", "", b)
            b = re.sub(r"(    kernel_efficiency: .*\n)", rf"\1{fitted}", b)
        text = text.replace(block.group(1), b)
    path.write_text(text)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("validate_json")
    ap.add_argument("--sens", action="append", default=[], metavar="CLASS=MULT:FILE", help="see the module text")
    ap.add_argument("--loao", action="store_true")
    ap.add_argument("--max-step-s", type=float, default=None, help="cap the step host time below its bound (e.g. 5e-4)")
    ap.add_argument("--write", action="store_true")
    ap.add_argument("--stream", action="store_true", help="also fit a host time per client in flight (reported only)")
    a = ap.parse_args()
    if a.stream:
        global STREAM_GRID
        STREAM_GRID = np.linspace(*STREAM_BOUNDS_S, 21)
        if a.write:
            ap.error("--stream is reported only: the engine catalogue has no per-client host time to write")
    if a.max_step_s is not None:
        global STEP_GRID
        STEP_GRID = STEP_GRID[STEP_GRID <= a.max_step_s + 1e-12]
    rows = rows_of(a.validate_json, parse_sens(a.sens))
    engines = sorted({x["engine"] for x in rows})
    for e in engines:
        tpot = [x for x in rows if x["engine"] == e and x["metric"] == "tpot_ms"]
        for c in sorted({c for x in tpot for c in x["w"]}):
            v = np.array([x["w"][c] for x in tpot])
            print(f"{e}: TPOT share in {c} kernels median {np.median(v):.3f} (p10 {np.percentile(v, 10):.3f}, "
                  f"p90 {np.percentile(v, 90):.3f})")
    params = fit_all(rows)
    for e, f in params.items():
        print(f"{e}: {_describe(f)}" + (f", per client in flight {f.k * 1e3:.3f} ms" if a.stream else ""))
    print("in sample:")
    table(errors(rows, params), "chip")
    if a.loao:
        folds = loao_fits(rows, params)
        for (held, p) in folds:
            print(f"without {held[0]['chip']}: " + "; ".join(f"{e} {_describe(p[e])}" for e in sorted(
                {x['engine'] for x in held})))
        loao = [t for held, p in folds for t in errors(held, p)]
        print("leave one accelerator out:")
        table(loao, "chip")
        table(loao, "engine")
    if a.write:
        write(params, rows)
        print(f"written: {ENGINES}")


if __name__ == "__main__":
    main()
