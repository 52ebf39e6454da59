"""Fit an engine's loop intake time per request (``request_intake_s``) from its rows' first waves.

``tools/ttft/wave_drain_engines.py`` reads each TTFT row with a stated spread as a first-wave drain per request and
serving unit, measured and simulated (``drain = (p99 - median) x U / C``), and their difference, the excess. On the
NVIDIA engines' rows (vLLM; TensorRT-LLM, aggregated and as Dynamo's worker) the excess has two parts
(docs/serving_journal.md, section of branch ``firstwave39``):

* a time per request that does not shrink with the GPUs (about 2 ms on B200 at TP1, TP2 and TP4 alike), which the
  simulation lacks because its engine takes a request at no cost: ``t``;
* a part proportional to the simulated drain, a prefill rate the step model prices too fast (stop 36 ``vllm-slope``,
  stop 28): ``beta x sim``.

Per worker engine the line ``excess = t + beta x sim`` is fitted by least absolute deviations (a median line: the
rows' stalls and the Dynamo DeepSeek-R1 context iterations are outliers) over its rows of at least ``--min-clients``
clients, all prompt lengths. ``t`` is what ``request_intake_s`` ships; ``beta`` is reported only (a kernel rate gap
is the step model's, not a host time). ``--loao`` refits without each accelerator's rows: the value each held-out
chip would have been given. Run it on a validate JSON made with ``request_intake_s`` 0: on one made with it, ``t``
reads about ``-beta x t`` (the simulated drain already carries it).

``--fold-check BASE.json`` (with the positional JSON made with the shipped intakes, BASE with none) gives the
closed-loop LOAO figures with each held-out accelerator's rows predicted at the intake fitted without them: every row's
simulated figures (and request times) are moved linearly between BASE (t = 0) and the positional run (t shipped) to
the fold's t, then ``fit_engines.loao_fits`` refits the host times as ``closed_loop_tables.py`` does and the fold's
held-out rows are scored (first order in t, as fit_engines' own sensitivities are).

    python tools/ttft/intake_fit.py closed.json [--engines vllm trtllm] [--min-clients 16] [--loao]
    python tools/ttft/intake_fit.py closed.json --fold-check base.json [--shipped vllm=1.24 trtllm=1.86]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from scipy.optimize import linprog

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "closed_loop"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from fit_engines import errors, loao_fits, rows_of  # noqa: E402
from ttft_spread import SHIPPED, notes_spread  # noqa: E402
from wave_drain_engines import wave_rows  # noqa: E402

ENGINES = ("vllm", "trtllm")  # the worker engines whose rows show the per-request part (the rows' only NVIDIA ones)


def lad_line(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """(intercept, slope) minimising ``sum |y - a - b x|`` (a linear programme: ``y - a - b x = u - v``, u, v >= 0)."""
    n = len(x)
    if n < 2:
        raise ValueError(f"a line needs at least 2 rows, got {n}")
    cost = np.concatenate([[0.0, 0.0], np.ones(2 * n)])
    a_eq = np.hstack([np.ones((n, 1)), x[:, None], np.eye(n), -np.eye(n)])
    bounds = [(None, None), (None, None)] + [(0, None)] * (2 * n)
    res = linprog(cost, A_eq=a_eq, b_eq=y, bounds=bounds, method="highs")
    if not res.success:
        raise RuntimeError(f"least-absolute-deviation fit failed: {res.message}")
    return float(res.x[0]), float(res.x[1])


def fit_rows(rows: list[dict]) -> tuple[float, float, int]:
    """(t ms, beta, rows) of ``excess_ms = t + beta x sim_ms`` over ``rows``."""
    x = np.array([r["sim_ms"] for r in rows], dtype=float)
    y = np.array([r["excess_ms"] for r in rows], dtype=float)
    t, beta = lad_line(x, y)
    return t, beta, len(rows)


def engine_rows(rows: list[dict], engine: str, min_clients: int) -> list[dict]:
    """The rows whose prompts ``engine``'s loop takes (aggregated, or as a front end's worker) at ``min_clients``+."""
    return [r for r in rows if r["worker"] == engine and r["clients"] >= min_clients]


MOVED = ("ttft", "tpot", "e2e", "tput", "r0", "wr0")  # what a row's first-order prediction reads of its run


def interpolated(base: list[dict], new: list[dict], frac: dict[str, float]) -> list[dict]:
    """``new``'s rows with each row's ``MOVED`` fields at ``base + f (new - base)``, ``f`` the fraction of its worker
    engine's shipped intake (``frac``; engines not named: the new run as is)."""
    b = {(x["case_id"], x["metric"]): x for x in base}
    out = []
    for x in new:
        y = dict(x)
        f = frac.get(x["weng"] or x["engine"])
        if f is not None and (x["case_id"], x["metric"]) in b:
            bx = b[(x["case_id"], x["metric"])]
            y.update({k: bx[k] + f * (x[k] - bx[k]) for k in MOVED})
        out.append(y)
    return out


def fold_check(new_path: str, base_path: str, shipped: dict[str, float], min_clients: int,
               cases: str) -> dict[str, list[float]]:
    """Held-out APE % per metric, each accelerator's rows at the intakes fitted without them."""
    base, new = rows_of(base_path), rows_of(new_path)
    wrows = wave_rows(json.load(open(base_path))["cases"], notes_spread(cases))
    ape: dict[str, list[float]] = {}
    for chip in sorted({x["chip"] for x in new}):
        frac = {}
        for eng, t_all in shipped.items():
            rest = [r for r in engine_rows(wrows, eng, min_clients) if not chip.startswith(f"nvidia-{r['chip']}-")]
            frac[eng] = max(fit_rows(rest)[0], 0.0) / t_all if len(rest) >= 2 else 1.0
        print(f"  fold {chip}: intakes " + ", ".join(f"{e} {frac[e] * shipped[e]:.2f} ms" for e in shipped))
        held, p = next((h, p) for h, p in loao_fits(interpolated(base, new, frac)) if h[0]["chip"] == chip)
        for x, err in errors(held, p):
            ape.setdefault(x["metric"], []).append(abs(err))
    return ape


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("validate_json")
    ap.add_argument("--cases", default=str(SHIPPED), help="cases file whose notes state each run's TTFT spread")
    ap.add_argument("--engines", nargs="+", default=list(ENGINES))
    ap.add_argument("--min-clients", type=int, default=16)
    ap.add_argument("--loao", action="store_true", help="also refit without each accelerator's rows")
    ap.add_argument("--fold-check", metavar="BASE_JSON", help="LOAO figures at each fold's own intake (see above)")
    ap.add_argument("--shipped", nargs="+", default=["vllm=1.24", "trtllm=1.86"], help="ENGINE=MS of the new run")
    a = ap.parse_args()
    if a.fold_check:
        shipped = {k: float(v) for k, v in (s.split("=") for s in a.shipped)}
        ape = fold_check(a.validate_json, a.fold_check, shipped, a.min_clients, a.cases)
        for m, v in sorted(ape.items()):
            print(f"  {m:28s} rows {len(v):5d}  LOAO median {np.median(v):.2f}  p90 {np.percentile(v, 90):.2f}")
        return
    rows = wave_rows(json.load(open(a.validate_json))["cases"], notes_spread(a.cases))
    print(f"excess = t + beta x simulated drain, per worker engine (rows of >= {a.min_clients} clients, LAD):")
    for eng in a.engines:
        er = engine_rows(rows, eng, a.min_clients)
        if len(er) < 2:
            print(f"  {eng:8s} {len(er)} rows: no fit")
            continue
        t, beta, n = fit_rows(er)
        print(f"  {eng:8s} all rows ({n}): t {t:+.3f} ms  beta {beta:+.3f}")
        if a.loao:
            for chip in sorted({r["chip"] for r in er}):
                rest = [r for r in er if r["chip"] != chip]
                if len(rest) < 2:
                    print(f"  {eng:8s}   without {chip}: {len(rest)} rows, no fit")
                    continue
                tf, bf, nf = fit_rows(rest)
                print(f"  {eng:8s}   without {chip:6s} ({nf} rows; {len(er) - nf} held out): t {tf:+.3f} ms  "
                      f"beta {bf:+.3f}")


if __name__ == "__main__":
    main()
