"""The first wave's drain per request and serving unit for every engine's closed-loop TTFT rows, measured against
simulated: is the Dynamo prefill pools' first-wave gap their own, or the one every engine's rows show?

``tools/ttft/dynamo_wave_drain.py`` reads the Dynamo rows only. This report reads every TTFT row with a stated spread
(the cases file's "TTFT spread of the run" notes) the same way. A closed-loop run sends its C first prompts at once;
the run's p99 falls inside that first wave, so

    drain per request and unit = (p99 - median) x U / C

where the unit U is the row's prefill workers when it is disaggregated (its "disaggregated: N prefill worker(s)"
note) and its replicas otherwise. The measured drain comes from the run's stated median and p99, the simulated one
from the validate JSON's ``sim``. Per group (engine, chip, model, layout, input and output length; rows of at least
``--min-clients`` clients; "units" prints units x chips per unit) it prints the medians of:

* the drain per request and unit, measured / simulated, and their ratio;
* the excess, measured less simulated, per request and unit (ms) and per prompt token (us; the rows' prompts are
  uniform in [0.8 L, L], mean 0.9 L, as the simulation's note states);
* the TTFT signed error of the rows.

``--pairs`` adds the comparison the question needs: the one-GPU gpt-oss prefill worker of the Dynamo GB200 rows next
to the one-GPU aggregated B200 rows of TensorRT-LLM and vLLM, whose first wave is drained by one GPU's prefill alone.

    python tools/ttft/wave_drain_engines.py closed.json [--cases CASES.csv] [--min-clients 16] [--pairs]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "closed_loop"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from dynamo_wave_drain import drain_ms  # noqa: E402
from ttft_spread import SHIPPED, notes_spread  # noqa: E402

MEAN_PROMPT_FRACTION = 0.9  # prompts uniform in [0.8 L, L] (the simulation's "lengths uniform" note): mean 0.9 L
_PREFILL = re.compile(r"disaggregated: (\d+) prefill worker\(s\) of (\d+) chips")
_ID = re.compile(r"^imax-(?P<model>[a-z0-9-]+?)-(?P<chip>gb200|b200|h100|h200|mi300x|mi325x|mi355x)-(?P<rest>.+)"
                 r"-(?P<isl>\d+)-(?P<osl>\d+)-c(?P<c>\d+)-r\d+-ttft$")


def layout_of(rest: str, engine: str) -> str:
    """The serving layout part of an id's middle: the prefill half for a disaggregated row
    (``trt-fp4-disagg-p1x1e1-d4x4e1`` -> ``p1x1e1``, MTP kept as a tag), the parallel layout otherwise
    (``vllm-fp4-tp4ep1`` -> ``tp4ep1``)."""
    if "disagg-" in rest:
        mtp = "mtp-" if "mtp-" in rest else ""
        return mtp + rest.split("disagg-")[-1].split("-d")[0]
    m = re.search(r"(tp\d+ep\d+(?:dpa)?|tp\d+)", rest)
    return m.group(1) if m else rest.split("-")[-1]


def spread_rows(cases: list[dict], spread: dict[str, tuple[float, float]]
                ) -> Iterator[tuple[dict, re.Match[str], dict, float, float]]:
    """The validate JSON's TTFT rows that ran (status ok, a simulation) and whose run states its median and p99:
    each as (case, its id's match, simulation, measured median ms, measured p99 ms)."""
    for c in cases:
        m = _ID.match(c["case_id"])
        if not m or c.get("status") != "ok" or not c.get("sim") or c["case_id"] not in spread:
            continue
        med, p99 = spread[c["case_id"]]
        yield c, m, c["sim"], med, p99


def wave_rows(cases: list[dict], spread: dict[str, tuple[float, float]]) -> list[dict]:
    """Every TTFT row with a stated spread and a simulation: its group fields, units, clients and drains."""
    out = []
    for c, m, sim, med, p99 in spread_rows(cases, spread):
        w = next((_PREFILL.search(n) for n in c.get("notes", []) if _PREFILL.search(n)), None)
        units, unit_chips = (int(w.group(1)), int(w.group(2))) if w else (
            int(c.get("replicas") or 1), int(c.get("num_accelerators") or 1) // int(c.get("replicas") or 1))
        clients, isl = int(m["c"]), int(m["isl"])
        meas = drain_ms(med, p99, clients, units)
        simd = drain_ms(sim["ttft_median_ms"], sim["ttft_p99_ms"], clients, units)
        engine = str(sim.get("engine", "?"))
        out.append({"id": c["case_id"], "engine": engine, "worker": str(sim.get("worker_engine") or engine),
                    "chip": m["chip"], "model": m["model"], "layout": layout_of(m["rest"], engine),
                    "isl": isl, "osl": int(m["osl"]), "clients": clients, "units": units, "unit_chips": unit_chips,
                    "disagg": w is not None, "meas_ms": meas, "sim_ms": simd,
                    "ratio": meas / simd if simd > 0 else float("nan"),
                    "excess_ms": meas - simd, "excess_us_per_token": 1e3 * (meas - simd) / (MEAN_PROMPT_FRACTION * isl),
                    "signed": float(c["signed_error_pct"])})
    return out


def group_rows(rows: list[dict], min_clients: int) -> dict[tuple, list[dict]]:
    """Rows of at least ``min_clients`` clients by (engine, worker engine, chip, model, layout, isl, osl, units,
    chips per unit): the FP4 and FP8 pools that share a layout id differ in their units."""
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for r in rows:
        if r["clients"] >= min_clients:
            groups[(r["engine"], r["worker"], r["chip"], r["model"], r["layout"], r["isl"], r["osl"], r["units"],
                    r["unit_chips"])].append(r)
    return groups


def summary(g: list[dict]) -> dict[str, float]:
    """Medians of a group's drains, ratio, excess and signed error."""
    return {k: float(np.median([r[k] for r in g]))
            for k in ("meas_ms", "sim_ms", "ratio", "excess_ms", "excess_us_per_token", "signed")}


def one_gpu_gptoss(groups: dict[tuple, list[dict]]) -> list[tuple[tuple, dict[str, float], int]]:
    """The groups whose first wave one GPU drains alone, for gpt-oss: Dynamo's one-GPU prefill workers and the
    aggregated TP1 replicas."""
    out = []
    for k, g in groups.items():
        if k[3].startswith("gptoss") and all(r["unit_chips"] == 1 for r in g):
            out.append((k, summary(g), len(g)))
    return sorted(out, key=lambda t: (t[0][5], t[0][6], t[0][0], t[0][2]))


def _line(k: tuple, s: dict[str, float], n: int) -> str:
    eng = k[0] if k[0] == k[1] else f"{k[0]}+{k[1]}"
    unit = f"{k[7]}x{k[8]}"
    return (f"  {eng:13s} {k[2]:6s} {k[3]:11s} {k[4]:14s} {unit:5s} {k[5]:5d}/{k[6]:<5d} {n:3d}  {s['meas_ms']:7.2f} / "
            f"{s['sim_ms']:7.2f}  {s['ratio']:5.2f}  {s['excess_ms']:+7.2f}  {s['excess_us_per_token']:+6.2f}  "
            f"{s['signed']:+6.1f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("validate_json")
    ap.add_argument("--cases", default=str(SHIPPED), help="cases file whose notes state each run's TTFT spread")
    ap.add_argument("--min-clients", type=int, default=16)
    ap.add_argument("--pairs", action="store_true", help="also the one-GPU gpt-oss first waves side by side")
    a = ap.parse_args()
    rows = wave_rows(json.load(open(a.validate_json))["cases"], notes_spread(a.cases))
    groups = group_rows(rows, a.min_clients)
    head = ("  engine        chip   model       layout         units isl/osl   rows  drain ms per request and unit "
            "meas / sim  ratio  excess ms  us/token  TTFT signed %")
    print(f"{len(rows)} TTFT rows with a stated spread; groups of rows with >= {a.min_clients} clients (medians):")
    print(head)
    for k in sorted(groups, key=lambda k: (k[0], k[2], k[3], k[5], k[6], k[4])):
        print(_line(k, summary(groups[k]), len(groups[k])))
    if a.pairs:
        print("\nOne GPU drains the first wave alone (gpt-oss): Dynamo one-GPU prefill workers and aggregated TP1:")
        print(head)
        for k, s, n in one_gpu_gptoss(groups):
            print(_line(k, s, n))


if __name__ == "__main__":
    main()
