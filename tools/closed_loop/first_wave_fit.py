"""One engine's request host time split into a steady time per request and one first-wave wait per run of
each engine build, amortised over the run's length (report only: nothing is written).

Why. An InferenceMAX row's TTFT is the *mean* over the run's ``P C`` requests (``P`` prompts per client,
``C`` clients). The run records (``mean_ttft``, ``median_ttft``, ``std_ttft``; docs/serving_journal.md,
"MI355X FP4 SGLang: the 21-25 s TTFT tail") show SGLang runs whose first wave of ``C`` requests waits once,
``W`` longer than the rest: the mean then carries ``W / P`` on top of the steady per-request time, and the
run's span ``W`` more (by Little's law, ``W / P`` more end-to-end time per request). The engine catalogue
fits one per-request time (``request_overhead_s``) plus one more on ``recipe_request_paths``
(``recipe_request_overhead_s``); this tool fits instead, on the same first-order moves as
tools/closed_loop/fit_engines.py, a steady time ``r`` for every row and one wait ``W_b`` per run of each build ``b``
(:data:`BUILDS`), each row's mean carrying ``W_b / P``. ``P`` is the row's stated "benchmark prompts per
client: N" in the cases file (the ``runner-prompts`` branch writes it: InferenceX
``runners/launch_mi355x-amd.sh`` @02f181b, 50 and 20 at OSL 8192 for DeepSeek-R1-0528), else 10.

Leave one accelerator out refits every value without the held-out chip's rows; a build left without rows
takes the wait of the build it runs on (:data:`NESTED_IN`; none: 0). The other engines' rows keep
tools/closed_loop/fit_engines.py's folds, so the all-row figures are those of
tools/closed_loop/closed_loop_tables.py with this engine's folds replaced.

A wait or the steady request time can be *given* instead of fitted (``--fixed-wait BUILD=SECONDS``,
``--request-s SECONDS``), as a sourced catalogue fact would be: every fold then keeps it. Why both: every row
but the MI355X ones runs 10 prompts per client, so on those rows ``r`` and ``W_b / 10`` move the mean alike and
only the MI355X rows (50 / 20) tell them apart; a fold without MI355X refits ``r`` to 165 ms and the
aiter FP8-KV wait is unknown there (docs/serving_journal.md, "SGLang's request time split by the path").

    python tools/closed_loop/first_wave_fit.py validate.json [--cases CASES.csv] [--engine sglang]
        [--fixed-wait rocm_fp8kv=19.5] [--request-s 0.03]
"""

from __future__ import annotations

import argparse
import csv
import re
import sys
from pathlib import Path
from typing import NamedTuple

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import fit_engines as fe  # noqa: E402

CASES = Path(__file__).resolve().parents[2] / "src" / "inferchip" / "catalog" / "inferencemax_cases.csv"
DEFAULT_PROMPTS_PER_CLIENT = 10  # InferenceMAX benchmark_serving --num-prompts 10 x concurrency (closed_loop_facts.py)
STEP_GRID_S = np.arange(0.0005, 0.0025 + 1e-9, 0.00005)  # around every engine's fitted 1.3-1.5 ms
REQUEST_GRID_S = fe.REQUEST_GRID[fe.REQUEST_GRID <= 0.6]
WAIT_GRID_S = np.concatenate([[0.0], np.geomspace(0.05, 60.0, 70)])  # 0, then 50 ms to a minute
BUILDS = {
    "cuda": "SGLang CUDA images (lmsysorg/sglang ...-cu129) on NVIDIA chips: FlashInfer fetches its TensorRT-LLM-gen "
            "cubins on first use and autotunes its MoE tactics (flashinfer-ai/flashinfer PR #4985 cubin_loader log "
            "lines; sgl-project/sglang PR #12306 moves the autotune to a warm-up)",
    "rocm": "SGLang ROCm images with a 16-bit KV cache (dsr1_fp8_mi355x.sh; dsr1_fp8_mi300x.sh before InferenceX "
            "PR #544, 2026-01-23): aiter JIT-compiles kernels on first use unless built with PREBUILD_KERNELS",
    "rocm_fp8kv": "SGLang ROCm recipes on the aiter FP8-KV path (the engine's recipe_request_paths rows: "
                  "dsr1_fp4_mi355x.sh --attention-backend aiter --kv-cache-dtype fp8_e4m3, the MI355X PD launcher)",
}
NESTED_IN = {"rocm_fp8kv": "rocm"}  # a fold without a build's rows gives it the wait of the build it runs on
# Rows on recipe_request_paths whose runs predate the recipe's FP8 KV cache: dsr1_fp8_mi300x.sh took
# --kv-cache-dtype fp8_e4m3 and SGLANG_AITER_MLA_PERSIST=1 with InferenceX PR #544 (merged 2026-01-23); the
# MI300X SGLang runs are of 2025-12 to 2026-01-05 (docs/serving_journal.md, "SGLang on AMD")
KV16_BEFORE_RECIPE = ("amd-mi300x",)
_PROMPTS_STATED = re.compile(r"benchmark prompts per client:\s*(\d+)", re.IGNORECASE)


class WaveFit(NamedTuple):
    """Step and steady request host times (s) and each build's first-wave wait per run (s)."""

    s: float
    r: float
    waits: dict[str, float]


def prompts_per_client(notes: str) -> int:
    """The row's stated prompts per client ("benchmark prompts per client: N"), else the default 10."""
    m = _PROMPTS_STATED.search(notes)
    return int(m.group(1)) if m else DEFAULT_PROMPTS_PER_CLIENT


def build_of(chip: str, on_path: bool) -> str:
    """The engine build a row ran (:data:`BUILDS`) from its chip id and whether its recipe is on the engine's
    request path (the simulation's record)."""
    if not chip.startswith("amd-"):
        return "cuda"
    return "rocm_fp8kv" if on_path and chip not in KV16_BEFORE_RECIPE else "rocm"


def amortised_wait_s(wait_s: float | np.ndarray, prompts: float) -> float | np.ndarray:
    """One wait ``wait_s`` of the first wave of ``C`` clients over a run of ``prompts x C`` requests: the mean
    time to first token grows by ``wait_s / prompts`` (and the span by ``wait_s``: ``wait_s / prompts`` per request)."""
    return wait_s / prompts


def rows_with_builds(validate_json: str, cases_csv: str | Path, engine: str) -> list[dict]:
    """tools/closed_loop/fit_engines.py's rows of ``engine``, each with its ``build`` and prompts per client ``P``."""
    with open(cases_csv, encoding="utf-8") as f:
        prompts = {r["case_id"]: prompts_per_client(r["notes"]) for r in csv.DictReader(f)}
    out = []
    for x in fe.rows_of(validate_json):
        if x["engine"] == engine:
            x["build"] = build_of(x["chip"], x.get("x", 0.0) > 0)
            # the simulation's own (engines.yaml run_length); the notes' statement for a JSON written before it
            x["P"] = float(x["sim"].get("prompts_per_client") or prompts.get(x["case_id"], DEFAULT_PROMPTS_PER_CLIENT))
            out.append(x)
    return out


def predict(rows: list[dict], s: np.ndarray, r: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Predictions (rows x broadcast of ``s``, ``r``, ``w``) at step time ``s``, steady request time ``r`` and
    first-wave wait ``w`` of the rows' build: tools/closed_loop/fit_engines.py's moves with a request time of
    ``r + w / P``."""
    s, r, w = np.asarray(s, float), np.asarray(r, float), np.asarray(w, float)
    shape = np.broadcast(s, r, w).shape

    def col(f: str) -> np.ndarray:
        return np.array([x[f] for x in rows], float).reshape((-1,) + (1,) * len(shape))

    ds = s - col("s0")
    dr = r + amortised_wait_s(w, 1.0) / col("P") - col("r0")
    metric = np.array([{"ttft_ms": 0, "tpot_ms": 1}.get(x["metric"], 2) for x in rows]).reshape(col("s0").shape)
    ttft = (col("ttft") + dr + ds) * 1e3
    tpot = (col("tpot") + ds / col("tau")) * 1e3
    tput = col("tput") * col("e2e") / np.maximum(col("e2e") + dr + ds * col("steps"), 1e-9)
    out = np.where(metric == 0, ttft, np.where(metric == 1, tpot, tput))
    return np.broadcast_to(out, (len(rows),) + shape)


def _loss(rows: list[dict], waits: bool | float, r_grid: np.ndarray = REQUEST_GRID_S) -> np.ndarray:
    """Summed ``|ln(pred / meas)|`` on the (step, request, wait) grid (wait axis of one 0 when ``waits`` is
    False, of the one given wait when it is a number of seconds)."""
    if isinstance(waits, bool):
        w = WAIT_GRID_S if waits else np.zeros(1)
    else:
        w = np.array([float(waits)])
    s, r, ww = STEP_GRID_S[:, None, None], r_grid[None, :, None], w[None, None, :]
    loss = np.zeros((len(STEP_GRID_S), len(r_grid), len(w)))
    for i in range(0, len(rows), 16):
        part = rows[i:i + 16]
        meas = np.array([x["meas"] for x in part]).reshape(-1, 1, 1, 1)
        loss += np.abs(np.log(np.maximum(predict(part, s, r, ww), 1e-12) / meas)).sum(axis=0)
    return loss


def fit(rows: list[dict], fixed: dict[str, float] | None = None, request_s: float | None = None) -> WaveFit:
    """The least summed ``|ln(pred / meas)|`` over every row: one step and one steady request time, one wait
    per build present (each build's wait is minimised at every (step, request) point, so the least is exact on
    the grids). A build in ``fixed`` keeps the given wait (s), a stated fact rather than a fitted value, in
    every fold, with or without its rows; a given ``request_s`` likewise keeps the steady request time (s)."""
    fixed = fixed or {}
    r_grid = REQUEST_GRID_S if request_s is None else np.array([float(request_s)])
    total = np.zeros((len(STEP_GRID_S), len(r_grid)))
    best_w: dict[str, np.ndarray] = {}
    for b in sorted({x["build"] for x in rows}):
        loss = _loss([x for x in rows if x["build"] == b], fixed.get(b, True), r_grid)
        best_w[b] = loss.argmin(axis=2)
        total += loss.min(axis=2)
    i, j = np.unravel_index(np.argmin(total), total.shape)
    waits = {b: float(WAIT_GRID_S[a[i, j]]) for b, a in best_w.items() if b not in fixed}
    return WaveFit(float(STEP_GRID_S[i]), float(r_grid[j]), {**waits, **fixed})


def wait_of(build: str, waits: dict[str, float]) -> float:
    """A build's fitted wait, else that of the build it runs on (:data:`NESTED_IN`), else 0."""
    while build not in waits:
        if build not in NESTED_IN:
            return 0.0
        build = NESTED_IN[build]
    return waits[build]


def errors(rows: list[dict], f: WaveFit) -> list[tuple[dict, float]]:
    """Each row's signed error (%) at the fit ``f``."""
    return [(x, 100.0 * (float(predict([x], np.array(f.s), np.array(f.r), np.array(wait_of(x["build"], f.waits)))[0])
                         / x["meas"] - 1.0)) for x in rows]


def loao(rows: list[dict], fixed: dict[str, float] | None = None,
         request_s: float | None = None) -> list[tuple[str, WaveFit, list[tuple[dict, float]]]]:
    """Per accelerator: the fit without its rows (given waits and request time kept) and its rows' errors."""
    out = []
    for chip in sorted({x["chip"] for x in rows}):
        f = fit([x for x in rows if x["chip"] != chip], fixed, request_s)
        out.append((chip, f, errors([x for x in rows if x["chip"] == chip], f)))
    return out


def stats(v: list[float]) -> str:
    a = np.abs(v)
    return f"{len(v)} | {np.median(a):.1f} | {np.percentile(a, 90):.1f} | {np.median(v):+.1f}"


def describe(f: WaveFit) -> str:
    return (f"step {f.s * 1e3:.2f} ms, steady request {f.r * 1e3:.1f} ms, first-wave wait per run "
            + ", ".join(f"{b} {w:.2f} s" for b, w in sorted(f.waits.items())))


def _table(title: str, errs: list[tuple[str, str, float]]) -> None:
    names = {"output_tokens_per_s_total": "throughput", "ttft_ms": "TTFT", "tpot_ms": "TPOT"}
    print(f"\n{title}\n\n| group | metric | rows | median APE % | p90 APE % | signed median % |")
    print("|---|---|---|---|---|---|")
    for key in sorted({k for k, _, _ in errs}):
        for m in names:
            v = [e for k, mm, e in errs if k == key and mm == m]
            if v:
                print(f"| {key} | {names[m]} | {stats(v)} |")


def parse_fixed(items: list[str]) -> dict[str, float]:
    """``--fixed-wait BUILD=SECONDS`` arguments as {build: seconds}; the build must be one of :data:`BUILDS`."""
    out = {}
    for item in items:
        build, _, seconds = item.partition("=")
        if build not in BUILDS or not seconds:
            raise SystemExit(f"--fixed-wait {item!r}: expected BUILD=SECONDS with BUILD one of {sorted(BUILDS)}")
        out[build] = float(seconds)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("validate_json")
    ap.add_argument("--cases", default=str(CASES), help="cases file whose notes state the prompts per client")
    ap.add_argument("--engine", default="sglang")
    ap.add_argument("--fixed-wait", action="append", default=[], metavar="BUILD=SECONDS",
                    help="a build's first-wave wait given (a sourced figure), not fitted; repeatable")
    ap.add_argument("--request-s", type=float, default=None,
                    help="the steady request time given (s), not fitted (e.g. read from the run medians)")
    a = ap.parse_args()
    fixed = parse_fixed(a.fixed_wait)
    rows = rows_with_builds(a.validate_json, a.cases, a.engine)
    n_p = {p: sum(x["P"] == p for x in rows) for p in sorted({x["P"] for x in rows})}
    print(f"{a.engine}: {len(rows)} rows; prompts per client {n_p}; builds "
          + ", ".join(f"{b} {sum(x['build'] == b for x in rows)}" for b in BUILDS))
    full = fit(rows, fixed, a.request_s)
    given = sorted(fixed) + ([] if a.request_s is None else ["steady request"])
    print(f"all rows: {describe(full)}" + (f" (given: {', '.join(given)})" if given else ""))
    folds = loao(rows, fixed, a.request_s)
    for chip, f, _ in folds:
        print(f"without {chip}: {describe(f)}")
    others = [x for x in fe.rows_of(a.validate_json) if x["engine"] != a.engine]
    other_errs = [t for held, p in fe.loao_fits(others) for t in fe.errors(held, p)]
    mine = [t for _, _, e in folds for t in e]
    _table(f"In sample, {a.engine} (first-order moves from the run):",
           [(x["chip"], x["metric"], e) for x, e in errors(rows, full)] + [("all", x["metric"], e)
                                                                           for x, e in errors(rows, full)])
    _table("Leave one accelerator out, all rows:", [("all", x["metric"], e) for x, e in mine + other_errs])
    _table("Leave one accelerator out, per accelerator (all engines):",
           [(x["chip"], x["metric"], e) for x, e in mine + other_errs])
    _table(f"Leave one accelerator out, {a.engine} per accelerator:",
           [(x["chip"], x["metric"], e) for x, e in mine] + [("all", x["metric"], e) for x, e in mine])


if __name__ == "__main__":
    main()
