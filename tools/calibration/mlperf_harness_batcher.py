"""What a harness-side batcher does to an MLPerf Server row's TTFT (evidence, not a prediction path).

AMD's MLPerf v4.1 llama2-70b Server harness runs with ``--enable-batcher``
(mlcommons/inference_results_v4.1 closed/AMD/code/llama2-70b-99.9/test_VllmFp8/
test_VllmFp8_SyncServer_audit.sh): LoadGen's queries are gathered for up to ``batcher_threshold``
seconds (harness default 0.3 s) or up to a harness batch (default 96 samples), and each batch goes to
one of the data-parallel vLLM instances. One replica of ``R`` then sees, every ``R x T`` seconds, a
burst of the requests that arrived in one window of ``T`` seconds, and each request's TTFT also holds
its wait in the batcher (``T`` minus its place in the window).

This script simulates one replica of a row at the row's stated load both ways (plain Poisson, and the
batched bursts replayed as a trace) and prints mean/p50/p99 TTFT and mean TPOT. Usage::

    PYTHONPATH=src python tools/calibration/mlperf_harness_batcher.py CASE_ID [T_s=0.3] [seconds=200]

(``mlp41-llama2-70b-99-server-mi300xx8-amd-ttft``: docs/serving_journal.md, "MLPerf Server TTFT").
Since 2026-12-04 the validation itself runs a row behind the batcher its notes state
(:class:`inferchip.sim.load.arrivals.HarnessBatchedArrivals`; docs/serving_journal.md, "MLPerf harness batcher").
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

from inferchip.catalog.calibration_file import load_calibration, load_dataset_lengths
from inferchip.sim import PoissonArrivals, TraceArrivals
from inferchip.validation.case_notes import stated_load_per_s
from inferchip.validation.cases import read_cases
from inferchip.validation.plan import plan_for
from inferchip.validation.server import ReplicaSim, sim_length
from inferchip.validation.stated_engine import scheduler_config
from inferchip.validation.validate import Validator, case_formats

CASES = Path(__file__).resolve().parents[2] / "src" / "inferchip" / "catalog" / "validation_cases.csv"


def _ms(x: np.ndarray) -> str:
    p50, p99 = np.percentile(x, [50, 99]) * 1e3
    return f"mean {np.mean(x) * 1e3:.0f} ms, p50 {p50:.0f} ms, p99 {p99:.0f} ms"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("case_id", metavar="CASE_ID",
                    help="an MLPerf Server row of validation_cases.csv with a stated load")
    ap.add_argument("window_s", type=float, nargs="?", default=0.3, help="the batcher's window T in s (default 0.3)")
    ap.add_argument("seconds", type=float, nargs="?", default=200.0, help="simulated seconds (default 200)")
    a = ap.parse_args()
    case_id, window_s, seconds = a.case_id, a.window_s, a.seconds
    case = next((c for c in read_cases(CASES) if c.case_id == case_id), None)
    if case is None:
        raise SystemExit(f"{case_id}: no such case id in {CASES.name}")
    load = stated_load_per_s(case)
    if load is None:
        raise SystemExit(f"{case_id}: the notes state no load")
    v = Validator(load_calibration(None), lengths=load_dataset_lengths(None), server_model="sim")
    layout = v.predict_case(case).layout
    fmt, _ = case_formats(case)
    plan = plan_for(case, v.lengths)
    mm = v.mapped(case, layout, fmt)
    sim = ReplicaSim(mm)
    cfg, why = scheduler_config(case, mm, plan, sim.step.kv_capacity_tokens)
    reps = layout.replicas
    rng = np.random.default_rng(0)
    inp, out = sim_length(plan.inputs), sim_length(plan.outputs)
    # every arrival of the whole system; window k goes to replica k mod R: keep replica 0's
    arrivals = np.cumsum(rng.exponential(1.0 / load, int(load * seconds * 1.2) + 10))
    arrivals = arrivals[arrivals < seconds]
    window = np.floor(arrivals / window_s)
    mine = arrivals[window % reps == 0]
    release = (np.floor(mine / window_s) + 1.0) * window_s
    n = mine.size
    lin = rng.choice(np.asarray(inp.samples_tokens), n)
    lout = rng.choice(np.asarray(out.samples_tokens), n)
    print(f"{case_id}: {load:g} requests/s over {reps} replicas; {why}")
    with tempfile.TemporaryDirectory() as d:
        trace = Path(d) / "bursts.csv"
        trace.write_text("arrival_s,input_tokens,output_tokens\n"
                         + "".join(f"{t:.6f},{a},{b}\n" for t, a, b in zip(release, lin, lout, strict=True)))
        batched = sim.run(TraceArrivals(path=str(trace)), n, cfg, 60.0, None)
    plain = sim.run(PoissonArrivals(rate_per_s=load / reps, input_tokens=inp, output_tokens=out), n, cfg, 60.0, None)
    # the run adds requests in the trace's order: request i is the replay's request i (its batcher wait)
    if not np.allclose(batched.requests["arrival_s"], release, atol=1e-6):
        raise SystemExit("the run's requests are not in the trace's order")
    wait = release - mine
    ok = np.isfinite(batched.ttft_s)
    print(f"plain Poisson: TTFT {_ms(plain.ttft_s[np.isfinite(plain.ttft_s)])}; "
          f"TPOT mean {plain.summary()['tpot_s_mean'] * 1e3:.1f} ms")
    print(f"harness batcher ({window_s:g} s windows, bursts of {n / np.unique(release).size:.1f} requests every "
          f"{reps * window_s:g} s): TTFT {_ms(batched.ttft_s[ok] + wait[ok])} (engine alone: "
          f"{_ms(batched.ttft_s[ok])}; batcher wait mean {wait.mean() * 1e3:.0f} ms); "
          f"TPOT mean {batched.summary()['tpot_s_mean'] * 1e3:.1f} ms")


if __name__ == "__main__":
    main()
