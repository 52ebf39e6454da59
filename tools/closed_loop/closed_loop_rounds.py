"""How far the simulated rounds of a closed-loop row stand from the benchmark's full run.

A stratified sample of configurations (one row per configuration, spread over concurrency bands
and aggregated / disaggregated) is simulated with ``SIM_ROUNDS`` rounds of clients (the shipped
shortcut, ``validation/closed_loop.py``) and with all ``10 C`` requests the benchmark sends; the
script prints each configuration and the median / largest difference of throughput, TTFT and TPOT
from the full run, with the CPU seconds of each.

    python tools/closed_loop/closed_loop_rounds.py [FILE] [--sample 30] [--seed 7] [--rounds 3]
"""

from __future__ import annotations

import argparse
import random
import time
from pathlib import Path

import numpy as np

import inferchip.validation.closed_loop as cl
from inferchip.catalog.calibration_file import load_calibration, load_dataset_lengths
from inferchip.validation.cases import read_cases
from inferchip.validation.validate import Validator

SHIPPED = Path(__file__).resolve().parents[2] / "src" / "inferchip" / "catalog" / "inferencemax_cases.csv"
FIGURES = {"throughput": "output_tokens_per_s", "TTFT": "ttft_ms", "TPOT": "tpot_ms"}


def sample(path: Path, n: int, seed: int) -> list:
    seen, uniq = set(), []
    for c in read_cases(path):
        if c.metric != "ttft_ms":
            continue
        key = (c.accelerator, c.model, c.software, c.concurrency, c.input_tokens, c.output_tokens,
               c.num_accelerators, c.tp, c.ep, c.notes, "-mtp-" in c.case_id, "-dpa" in c.case_id)
        if key not in seen:
            seen.add(key)
            uniq.append(c)
    bands: dict = {}
    for c in uniq:
        bands.setdefault(("-disagg-" in c.case_id, int(c.concurrency or 1).bit_length()), []).append(c)
    rng = random.Random(seed)
    per = max(1, n // len(bands))
    return [c for b in sorted(bands) for c in rng.sample(bands[b], min(per, len(bands[b])))]


def figures(case, rounds: int, cal, lengths) -> tuple[dict | None, float]:
    cl.SIM_ROUNDS = rounds
    v = Validator(cal, lengths=lengths, compare=False, server_model="sim")
    t0 = time.process_time()
    r = v.predict_case(case)
    return (r.sim if r.status == "ok" else None), time.process_time() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("file", nargs="?", type=Path, default=SHIPPED)
    ap.add_argument("--sample", type=int, default=30)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--rounds", type=int, default=cl.SIM_ROUNDS)
    a = ap.parse_args()
    cal, lengths = load_calibration(None), load_dataset_lengths(None)
    diffs: dict[str, list[float]] = {k: [] for k in FIGURES}
    cpu = [0.0, 0.0]
    for case in sample(a.file, a.sample, a.seed):
        short, t_short = figures(case, a.rounds, cal, lengths)
        full, t_full = figures(case, cl.row_facts(case).prompts_per_client, cal, lengths)
        if short is None or full is None:
            continue
        cpu[0] += t_short
        cpu[1] += t_full
        d = {k: 100 * (short[f] / full[f] - 1) for k, f in FIGURES.items()}
        for k, x in d.items():
            diffs[k].append(x)
        print(f"{case.case_id[:-5]:90s} " + " ".join(f"{k} {x:+6.2f}%" for k, x in d.items()))
    for k, v in diffs.items():
        x = np.abs(v)
        print(f"{k:10s} {len(v)} configurations: median |diff| {np.median(x):.2f}%, largest {x.max():.2f}%, "
              f"mean {np.mean(v):+.2f}%")
    print(f"CPU: {a.rounds} rounds {cpu[0]:.1f} s, full run {cpu[1]:.1f} s")
    cl.SIM_ROUNDS = a.rounds


if __name__ == "__main__":
    main()
