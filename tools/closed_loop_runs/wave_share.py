"""How many of a closed-loop run's first-wave requests wait, how fast the wave drains, and how long each arriving
prompt holds the decoders in the same run, from the run's own result record (report only).

Three readings of one run record (``mean_ttft``, ``median_ttft``, ``std_ttft``, ``mean_itl``, ``median_itl``,
``mean_e2el``; ``C`` clients, ``N = P C`` requests, ``P`` prompts per client, 10 on InferenceMAX):

* **two-point share** (as in docs/serving_journal.md, "MI355X FP4 SGLang: the 21-25 s TTFT tail"): a share ``p`` of the
  requests waits ``T`` more than the median, the rest none: ``mean - median = p T`` and ``variance = p (1 - p) T^2``,
  so ``p = 1 / (1 + (std / (mean - median))^2)`` and ``T = (mean - median) / p``. Printed as ``p N / C``, the fraction
  of the first wave that waits (a first wave of ``C`` prompts drained one after another at a constant rate reads
  3/4 for large ``C``: a share ``1 / P`` waiting uniformly in ``[0, W]`` has ``std^2 / (mean - median)^2 =
  4 P / 3 - 1``; one wait of the whole wave reads 1);
* **FIFO drain per prompt**: the engine time per prompt a first-in-first-out wave of ``C`` prompts sent together
  needs to give the run's mean, the other ``N - C`` requests at the median and the wave's ``i``-th prompt
  ``i D`` later than its first: ``mean - median = D C (C - 1) / (2 N)``, so ``D = 2 P (mean - median) / (C - 1)``;
* **decoder stall per arriving prompt** (from the inter-token latencies): decode steps take the median ITL, so the
  share ``1 - median_itl / mean_itl`` of a decoding request's time goes to other work (prefill steps), and prompts
  arrive at ``C / mean_e2el`` (Little's law): ``stall = (1 - median_itl / mean_itl) mean_e2el / C`` per prompt, an
  upper bound on the engine time one arriving prompt holds in the steady state.

A FIFO engine drains its first wave at no less than the engine time a prompt holds in its steady state, so
``D`` below the stall says the run's first wave is not ``C`` prompts served in order from ``t = 0`` at that
occupancy. With a validate JSON the simulated run is read the same way (``sim``: ``ttft_ms``, ``ttft_median_ms``,
``ttft_std_ms``; the simulator's wave is FIFO by construction).

    python tools/closed_loop_runs/wave_share.py docs/data/imax_atom_dsr1_ttft_itl_std.csv [--validate closed.json]
        [--prompts-per-client 10]
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
from pathlib import Path

PROMPTS_PER_CLIENT = 10  # InferenceMAX benchmark_serving --num-prompts 10 x concurrency (the rows' notes)
MEAN_PROMPT_FRACTION = 0.9  # prompt lengths uniform in [0.8 L, L] (--random-range-ratio 0.8)
FIELDS = ("case_id", "isl", "osl", "conc", "mean_ttft", "median_ttft", "std_ttft", "mean_itl", "median_itl",
          "mean_e2el")
POSITIVE = FIELDS[1:]


def two_point(mean_s: float, median_s: float, std_s: float) -> tuple[float, float]:
    """(p, T): the share of requests that wait and their wait over the median (s), from mean, median and std."""
    excess = mean_s - median_s
    if not (excess > 0 and std_s > 0):
        raise ValueError(f"two_point needs a mean above the median and a positive std, got mean {mean_s}, "
                         f"median {median_s}, std {std_s}")
    p = 1.0 / (1.0 + (std_s / excess) ** 2)
    return p, excess / p


def fifo_drain_s(mean_s: float, median_s: float, clients: int, prompts_per_client: int = PROMPTS_PER_CLIENT) -> float:
    """The engine time per prompt (s) a FIFO first wave of ``clients`` prompts needs to give the run's mean:
    ``2 P (mean - median) / (C - 1)``."""
    if clients < 2 or prompts_per_client < 1:
        raise ValueError(f"fifo_drain_s needs two or more clients and one or more prompts per client, got "
                         f"{clients} and {prompts_per_client}")
    return 2.0 * prompts_per_client * (mean_s - median_s) / (clients - 1)


def itl_stall_s(mean_itl_s: float, median_itl_s: float, mean_e2el_s: float, clients: int) -> float:
    """The decoders' time lost per arriving prompt (s): ``(1 - median_itl / mean_itl) mean_e2el / C``."""
    if not (mean_itl_s > 0 and median_itl_s > 0 and mean_e2el_s > 0 and clients > 0):
        raise ValueError(f"itl_stall_s needs positive ITLs, end-to-end latency and clients, got {mean_itl_s}, "
                         f"{median_itl_s}, {mean_e2el_s}, {clients}")
    return max(0.0, 1.0 - median_itl_s / mean_itl_s) * mean_e2el_s / clients


def read_records(path: str | Path) -> list[dict]:
    """The records of a CSV with :data:`FIELDS` (``#`` lines are comments); a missing column or a value that is not a
    positive finite number is refused with the file, line, field and value."""
    lines = [ln for ln in Path(path).read_text().splitlines() if ln.strip() and not ln.startswith("#")]
    reader = csv.DictReader(lines)
    missing = [f for f in FIELDS if f not in (reader.fieldnames or [])]
    if missing:
        raise ValueError(f"{path}: missing column(s) {missing}; the file needs {list(FIELDS)}")
    out = []
    for n, row in enumerate(reader, start=2):
        rec: dict = {"case_id": row["case_id"]}
        for f in POSITIVE:
            try:
                v = float(row[f])
            except (TypeError, ValueError):
                v = math.nan
            if not (math.isfinite(v) and v > 0):
                raise ValueError(f"{path}: data line {n}, field {f}: {row[f]!r} is not a positive finite number")
            rec[f] = int(v) if f in ("isl", "osl", "conc") else v
        out.append(rec)
    return out


def report_rows(records: list[dict], sims: dict[str, dict], prompts_per_client: int) -> list[dict]:
    """One line per record: the three readings measured, and the two TTFT readings simulated where ``sims`` has
    the row's ``sim`` block (ms in, s out)."""
    out = []
    for r in records:
        c = r["conc"]
        line = {"case_id": r["case_id"], "conc": c, "isl": r["isl"], "osl": r["osl"],
                "stall_s": itl_stall_s(r["mean_itl"], r["median_itl"], r["mean_e2el"], c),
                "drain_s": fifo_drain_s(r["mean_ttft"], r["median_ttft"], c, prompts_per_client)}
        p, t = two_point(r["mean_ttft"], r["median_ttft"], r["std_ttft"])
        line.update(wave_share=p * prompts_per_client, wait_s=t)
        sim = sims.get(r["case_id"])
        if sim and all(k in sim for k in ("ttft_ms", "ttft_median_ms", "ttft_std_ms")):
            m, q, s = (float(sim[k]) / 1e3 for k in ("ttft_ms", "ttft_median_ms", "ttft_std_ms"))
            sp, st = two_point(m, q, s)
            line.update(sim_wave_share=sp * prompts_per_client, sim_wait_s=st,
                        sim_drain_s=fifo_drain_s(m, q, c, prompts_per_client))
        out.append(line)
    return out


def sim_blocks(validate_json: str | None) -> dict[str, dict]:
    """case id -> the validate JSON's ``sim`` block (empty without a file)."""
    if not validate_json:
        return {}
    cases = json.loads(Path(validate_json).read_text())["cases"]
    return {c["case_id"]: c["sim"] for c in cases if isinstance(c.get("sim"), dict)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("records_csv")
    ap.add_argument("--validate", default="", help="a validate JSON for the simulated readings")
    ap.add_argument("--prompts-per-client", type=int, default=PROMPTS_PER_CLIENT)
    a = ap.parse_args()
    try:
        rows = report_rows(read_records(a.records_csv), sim_blocks(a.validate), a.prompts_per_client)
    except (OSError, ValueError, KeyError) as e:
        sys.exit(f"error: {e}")
    print("case (TTFT row) | C | waiting share of the first wave meas / sim | its wait s meas / sim | FIFO drain "
          "ms per prompt meas / sim | decoder stall ms per arriving prompt meas | stall / drain | us per prompt "
          "token: drain / stall")
    for r in rows:
        tokens = MEAN_PROMPT_FRACTION * r["isl"]
        share = f"{r['wave_share']:5.2f} / " + (f"{r['sim_wave_share']:5.2f}" if "sim_wave_share" in r else "    -")
        wait = f"{r['wait_s']:6.2f} / " + (f"{r['sim_wait_s']:6.2f}" if "sim_wait_s" in r else "     -")
        drain = f"{r['drain_s'] * 1e3:6.1f} / " + (f"{r['sim_drain_s'] * 1e3:6.1f}" if "sim_drain_s" in r else "     -")
        print(f"{r['case_id']:70s} {r['conc']:4d} | {share} | {wait} | {drain} | {r['stall_s'] * 1e3:6.1f} | "
              f"{r['stall_s'] / r['drain_s']:5.2f} | {r['drain_s'] / tokens * 1e6:5.1f} / "
              f"{r['stall_s'] / tokens * 1e6:5.1f}")


if __name__ == "__main__":
    main()
