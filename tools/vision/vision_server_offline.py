"""Per-system table of MLPerf Server load against the system's Offline rate, measured and modelled.

For every Server row with an Offline counterpart (validation/vision/passfail.py) it prints, grouped by network,
chip, chip count and the two rows' batch caps: the measured fraction rho (Server load / Offline rate), the model's
throughput at the Server cap over that at the Offline batch (max b / t(b) on each row's grid, time per call under
load, shipped calibration), the model's largest passing fraction rho* (LOAO), the measured p99 the row's notes
state, the simulated p99 at rho, and how many rows the model judges right. Used for docs/vision.md ("The
batch-efficiency curve under load, per system").

    PYTHONPATH=src inferchip validate src/inferchip/catalog/vision/vision_cases.csv --format json > /tmp/v.json
    PYTHONPATH=src python tools/vision/vision_server_offline.py /tmp/v.json
"""

from __future__ import annotations

import argparse
import json
import math
from collections import defaultdict
from pathlib import Path

import numpy as np

from inferchip.catalog.vision_networks import VISION_CASES_FILE, load_vision_calibration
from inferchip.validation.vision.cases import read_vision_cases
from inferchip.validation.vision.passfail import result_directory
from inferchip.validation.vision.rows import build_row
from inferchip.validation.vision.validate import params_of


def _span(values: list[float], fmt: str = "{:.2f}") -> str:
    lo, hi = min(values), max(values)
    return fmt.format(lo) if lo == hi else f"{fmt.format(lo)}-{fmt.format(hi)}"


def main(path: str) -> None:
    results = json.loads(Path(path).read_text())["vision"]["cases"]
    cal = load_vision_calibration()
    p = params_of(cal)
    cases = {c.case_id: c for c in read_vision_cases(VISION_CASES_FILE)}
    groups: dict[tuple[str, str, int, str, str], list[tuple[float, ...]]] = defaultdict(list)
    for r in results:
        if r.get("operating_fraction") is None:
            continue
        server = cases[r["case_id"]]
        pool = [cases[cid] for cid in r["offline_match"].split(": ", 1)[1].split(", ")]
        own = [c for c in pool if result_directory(c.source) == result_directory(server.source)]
        offline = (own or pool)[0]  # the own system's Offline run where it has one (its batch is the column)
        rate = []
        for c in (server, offline):
            m = build_row(c, cal)
            rate.append(float(np.max(m.batches / m.pipelined_s(p))))
        p99 = r["p99_at_operating_point_ms"]
        groups[(server.model, server.accelerator, server.num_accelerators, str(int(server.batch or 0) or "-"),
                str(int(offline.batch or 0) or "-"))].append(
            (r["operating_fraction"], rate[0] / rate[1], r["max_passing_fraction"],
             server.measured_p99_ms or math.nan, math.inf if p99 is None else p99,
             float(bool(r["bound_met_at_operating_point"]))))
    print("| network | chip | n | Server batch | Offline batch | rows | measured rho | model b/t(b) Server cap / "
          "Offline | rho* | measured p99 ms | model p99 at rho ms | right |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for key in sorted(groups):
        rows = groups[key]
        col = list(zip(*rows, strict=True))
        print(f"| {' | '.join(str(k) for k in key[:3])} | {key[3]} | {key[4]} | {len(rows)} | {_span(list(col[0]))} | "
              f"{_span(list(col[1]))} | {_span(list(col[2]))} | {_span(list(col[3]), '{:.0f}')} | "
              f"{_span(list(col[4]), '{:.0f}')} | {int(sum(col[5]))}/{len(rows)} |")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("validate_json", metavar="VALIDATE_JSON",
                    help="the output of `inferchip validate .../vision_cases.csv --format json`")
    main(ap.parse_args().validate_json)
