"""What an engine's one fitted request time stands for, group by group: the request time (s) that
tools/closed_loop/fit_engines.py's fit gives on each group's rows alone (chip, aggregated or PD, prompt length, 1-8
clients or more), beside the steady request path that the runs' stated median TTFT implies at 1-8 clients
(measured median less the simulated median's work: ``meas_median - (sim_median - r_as_run)``, ``r_as_run`` the
request time the row ran with, a recipe path's time included).

Where the groups agree the term is a request path; where the 8k-prompt or loaded groups read far above the 1k
low-load ones, it stands in for a cost that grows with the prompt or with the load (stop 38, mi355-ttft38).

    python tools/ttft/request_time_groups.py validate.json [--engine sglang] [--cases CASES.csv]
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "closed_loop"))
from fit_engines import fit, rows_of  # noqa: E402

CASES = Path(__file__).resolve().parents[2] / "src" / "inferchip" / "catalog" / "inferencemax_cases.csv"
LOW_CLIENTS = 8
_ID = re.compile(r"-(\d+)-(\d+)-c(\d+)-")
_MEDIAN = re.compile(r"TTFT spread of the run: median ([0-9.]+) ms")


def group_key(case_id: str, chip: str) -> tuple[str, str, int, str]:
    """(chip, 'pd' or 'agg', input tokens, 'c1-8' or 'c9+') of a closed-loop row id."""
    m = _ID.search(case_id)
    if m is None:
        raise SystemExit(f"case {case_id}: no -ISL-OSL-cC- in its id")
    band = f"c1-{LOW_CLIENTS}" if int(m.group(3)) <= LOW_CLIENTS else f"c{LOW_CLIENTS + 1}+"
    return chip.replace("nvidia-", "").replace("amd-", ""), "pd" if "-disagg-" in case_id else "agg", \
        int(m.group(1)), band


def implied_path_s(meas_median_ms: float, sim_median_ms: float, request_s_as_run: float) -> float:
    """The steady request path (s) a run's measured median TTFT leaves once the simulated median's own work (the
    simulated median less the request time it ran with) is taken out."""
    return meas_median_ms / 1e3 - (sim_median_ms / 1e3 - request_s_as_run)


def request_s_as_run(x: dict) -> float:
    """The request time (s) a fit_engines row ran with: the engine's, its shared recipe path's and an entry's own."""
    return x["r0"] + x["e0"] + float(x["sim"].get("recipe_request_own_s", 0.0))


def stated_medians(cases_csv: str | Path) -> dict[str, float]:
    """Case id -> the run's stated median TTFT (ms), from the rows' notes."""
    out = {}
    for r in csv.DictReader(open(cases_csv)):
        if (m := _MEDIAN.search(r["notes"])) is not None:
            out[r["case_id"]] = float(m.group(1))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("validate_json")
    ap.add_argument("--engine", default="sglang")
    ap.add_argument("--cases", default=str(CASES))
    a = ap.parse_args()
    stalled = {c["case_id"] for c in json.load(open(a.validate_json))["cases"] if c.get("measured_stall_s")}
    medians = stated_medians(a.cases)
    rows = [x for x in rows_of(a.validate_json) if x["engine"] == a.engine]
    if not rows:
        raise SystemExit(f"{a.validate_json}: no closed-loop row of engine {a.engine!r}")
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for x in rows:
        groups[group_key(x["case_id"], x["chip"])].append(x)
    print(f"engine {a.engine}: request time fitted on all {len(rows)} rows {1e3 * fit(rows).r:.1f} ms")
    print("chip / layout / input tokens / clients: rows (stalled), fitted request time; path the stated medians imply")
    for k in sorted(groups):
        g = groups[k]
        path = [implied_path_s(medians[x["case_id"]], x["sim"]["ttft_median_ms"], request_s_as_run(x)) for x in g
                if x["metric"] == "ttft_ms" and x["case_id"] in medians and x["case_id"] not in stalled]
        implied = f"{1e3 * float(np.median(path)):7.1f} ms ({len(path)} runs)" if path else "      -"
        n_stall = sum(x["case_id"] in stalled for x in g)
        print(f"  {'/'.join(map(str, k)):34s} {len(g):4d} ({n_stall:3d})  {1e3 * fit(g).r:7.1f} ms   {implied}")


if __name__ == "__main__":
    main()
