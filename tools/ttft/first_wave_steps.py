"""The simulated steps of one closed-loop row's first wave (report only): each step until the last of the first ``C``
sends has its first token, with its duration, prompt tokens, decode rows and their KV tokens, so a first wave's step
cost can be set against a lone prompt's step (the same row at fewer clients).

The row is predicted as ``inferchip validate`` predicts it (shipped calibration, serving simulator); the simulation's
own record is read by wrapping ``sim.engines.bench.bench_figures`` for the call.

    python tools/ttft/first_wave_steps.py CASE_ID [--cases src/inferchip/catalog/inferencemax_cases.csv] [--every 4]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

import inferchip.sim.engines.bench as bench
from inferchip.catalog.calibration_file import load_calibration
from inferchip.validation.cases import read_cases
from inferchip.validation.validate import validate_cases

CASES = Path(__file__).resolve().parents[2] / "src" / "inferchip" / "catalog" / "inferencemax_cases.csv"
COLUMNS = ("start_s", "duration_s", "prefill_tokens", "num_decode_seqs", "decode_kv_tokens")


def first_wave_end_s(arrival_s: np.ndarray, first_token_s: np.ndarray, clients: int) -> float:
    """When the last of the first ``clients`` sends (in send order) has its first token."""
    order = np.argsort(arrival_s, kind="stable")[:clients]
    return float(np.max(first_token_s[order]))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("case_id")
    ap.add_argument("--cases", type=Path, default=CASES)
    ap.add_argument("--every", type=int, default=1, help="print every N-th step of the wave")
    a = ap.parse_args()
    cases = [c for c in read_cases(a.cases) if c.case_id == a.case_id]
    if not cases:
        raise SystemExit(f"{a.cases}: no case {a.case_id!r}")
    caught = []
    wrapped = bench.bench_figures

    def spy(res, *args, **kw):  # noqa: ANN001, ANN002, ANN003, ANN202
        caught.append(res)
        return wrapped(res, *args, **kw)

    bench.bench_figures = spy
    try:
        out = validate_cases(cases, load_calibration(None), server_model="sim", compare=False, workers=1)[0]
    finally:
        bench.bench_figures = wrapped
    if out.status != "ok" or not caught:
        raise SystemExit(f"{a.case_id}: not simulated as a closed loop ({out.status}: {out.reason})")
    res, clients = caught[-1], int(cases[0].concurrency or 1)
    end = first_wave_end_s(res.requests["arrival_s"], res.requests["first_token_s"], clients)
    s = res.steps
    idx = np.nonzero(s["start_s"] < end)[0]
    print(f"{a.case_id}: predicted {out.predicted:.4g}, measured {out.measured:.4g} {cases[0].unit}; first wave of "
          f"{clients} prompts has its last first token at {end:.3f} s after {idx.size} steps (last run's record)")
    print("  " + "  ".join(f"{c:>16s}" for c in COLUMNS))
    for i in idx[::max(1, a.every)]:
        print("  " + "  ".join(f"{float(s[c][i]):16.4f}" if c.endswith("_s") else f"{int(s[c][i]):16d}"
                               for c in COLUMNS))


if __name__ == "__main__":
    main()
