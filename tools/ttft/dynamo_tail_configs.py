"""The Dynamo TTFT tail configuration by configuration: what its lowest-concurrency run and its highest-concurrency
run say about where the time goes (docs/serving_journal.md, "The Dynamo GB200 TTFT tail outside the FP4 SGLang
attention-DP 1k/1k rows", branch dyn41b, stop 41). Report only: it predicts nothing.

A configuration is a case id without its ``-c<clients>-r<run>-<metric>`` tail (one layout, format and lengths). For
each configuration holding at least one TTFT row beyond the threshold (leave-one-accelerator-out, as
tools/closed_loop/tail_classes.py computes it), over all its TTFT runs:

* **low load**: the run of fewest clients, its measured median TTFT (the notes' "TTFT spread of the run") less the
  simulated median (``sim.ttft_median_ms``): the time a lone request pays that the simulation does not (the LOAO
  refit moves the simulated median by the same host time for every run; this is the in-sample one);
* **high load**: the run of most clients, its prompt intake ``C L / E2E`` simulated over measured (Little's law on
  the measured mean E2E of the notes and the simulated mean E2E, ``L`` the mean prompt ``0.9 x`` the nominal input;
  tools/step_model/disagg_intake.py) and the requests past their first token, ``C (1 - TTFT / E2E)``, measured and
  simulated. A pool whose simulated intake is above the measured one admits prompts faster than the run did; a
  measured occupancy that stays flat while the clients grow is a cap on the decode side or on the intake.

    python tools/ttft/dynamo_tail_configs.py validate.json [--cases inferencemax_cases.csv] [--threshold 35]
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
from collections import Counter, defaultdict
from pathlib import Path

_HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(_HERE.parent / "closed_loop"))
sys.path.insert(0, str(_HERE.parent / "step_model"))
from disagg_intake import decode_concurrency, e2e_from_notes, intake_tokens_per_s  # noqa: E402
from tail_classes import tail_rows  # noqa: E402
from ttft_spread import SHIPPED, notes_spread  # noqa: E402

_RUN = re.compile(r"-c(\d+)-r\d+-[a-z_]+$")
_LEN = re.compile(r"-(\d+)-(\d+)-c\d+-r")


def configuration(case_id: str) -> str:
    """The case id without its clients, run and metric: ``...-p4x4e4-d32x8e8-1024-1024``."""
    return _RUN.sub("", case_id)


def clients(case_id: str) -> int:
    m = _RUN.search(case_id)
    if not m:
        raise ValueError(f"case id {case_id!r}: no '-c<clients>-r<run>-<metric>' tail")
    return int(m.group(1))


def mean_prompt_tokens(case_id: str) -> float:
    """The benchmark's mean prompt: lengths uniform in [0.8 L, L], so 0.9 L."""
    m = _LEN.search(case_id)
    if not m:
        raise ValueError(f"case id {case_id!r}: no '-<input>-<output>-c' lengths")
    return 0.9 * int(m.group(1))


def low_load_excess_ms(measured_median_ms: float, simulated_median_ms: float) -> float:
    """What the run's median request pays beyond the simulated median request (ms; negative: over-priced)."""
    return measured_median_ms - simulated_median_ms


def high_load(case_id: str, meas_ttft_ms: float, meas_e2e_s: float, sim_ttft_ms: float, sim_e2e_ms: float) -> dict:
    """Intake ratio (simulated over measured) and the requests past their first token, measured and simulated."""
    c, prompt = clients(case_id), mean_prompt_tokens(case_id)
    meas_in = intake_tokens_per_s(c, prompt, meas_e2e_s)
    sim_in = intake_tokens_per_s(c, prompt, sim_e2e_ms / 1e3)
    return dict(clients=c, intake_meas=meas_in, intake_ratio=sim_in / meas_in,
                n_meas=decode_concurrency(c, meas_ttft_ms / 1e3, meas_e2e_s),
                n_sim=decode_concurrency(c, sim_ttft_ms / 1e3, sim_e2e_ms / 1e3))


def runs_by_configuration(validate_json: str, cases_csv: str | Path) -> dict[str, list[dict]]:
    """The Dynamo TTFT runs of a validate JSON with what the report needs, by configuration."""
    spread = notes_spread(cases_csv)
    notes = {r["case_id"]: r["notes"] for r in csv.DictReader(open(cases_csv, encoding="utf-8"))}
    out: dict[str, list[dict]] = defaultdict(list)
    for x in json.load(open(validate_json))["cases"]:
        sim = x.get("sim") or {}
        if x["metric"] != "ttft_ms" or x["status"] != "ok" or sim.get("kind") != "closed_loop":
            continue
        if sim.get("engine") != "dynamo":
            continue
        cid = x["case_id"]
        out[configuration(cid)].append(dict(
            case_id=cid, clients=clients(cid), worker=sim.get("worker_engine", ""), meas=float(x["measured"]),
            meas_median=spread.get(cid, (None, None))[0], e2e_s=e2e_from_notes(notes.get(cid, "")),
            sim_ttft=float(sim["ttft_ms"]), sim_median=sim.get("ttft_median_ms"), sim_e2e=float(sim["e2e_ms"])))
    return out


def report(validate_json: str, cases_csv: str | Path, threshold_pct: float) -> list[str]:
    tail = [r for r in tail_rows(validate_json, cases_csv, threshold_pct) if r["engine"] == "dynamo"]
    by_cfg: dict[str, list[dict]] = defaultdict(list)
    for r in tail:
        by_cfg[configuration(r["case_id"])].append(r)
    runs = runs_by_configuration(validate_json, cases_csv)
    lines = ["configuration | worker | tail rows (classes) | low load: C, meas - sim median ms, meas / sim | "
             "high load: C, intake sim / meas, meas k tok/s, N meas / sim"]
    for cfg in sorted(by_cfg, key=lambda k: (-len(by_cfg[k]), k)):
        rs = sorted(runs.get(cfg, []), key=lambda r: (r["clients"], r["case_id"]))
        cls = ", ".join(f"{c} {n}" for c, n in Counter(r["cls"] for r in by_cfg[cfg]).most_common())
        low = next((r for r in rs if r["meas_median"] is not None and r["sim_median"] is not None), None)
        low_txt = "-" if low is None else (
            f"c{low['clients']} {low_load_excess_ms(low['meas_median'], low['sim_median']):+.0f}, "
            f"{low['meas_median'] / low['sim_median']:.2f}")
        hi = next((r for r in reversed(rs) if r["e2e_s"]), None)
        if hi is None:
            hi_txt = "-"
        else:
            h = high_load(hi["case_id"], hi["meas"], hi["e2e_s"], hi["sim_ttft"], hi["sim_e2e"])
            hi_txt = (f"c{h['clients']} {h['intake_ratio']:.2f}, {h['intake_meas'] / 1e3:.1f}, "
                      f"{h['n_meas']:.0f} / {h['n_sim']:.0f}")
        worker = rs[0]["worker"] if rs else "?"
        lines.append(f"{cfg.replace('imax-', '')} | {worker} | {len(by_cfg[cfg])} ({cls}) | {low_txt} | {hi_txt}")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("validate_json")
    ap.add_argument("--cases", default=str(SHIPPED))
    ap.add_argument("--threshold", type=float, default=35.0)
    a = ap.parse_args()
    print("\n".join(report(a.validate_json, a.cases, a.threshold)))


if __name__ == "__main__":
    main()
