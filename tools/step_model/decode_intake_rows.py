"""Does a per-DECODE-worker intake ceiling fit the Dynamo + SGLang disaggregated rows? Per configuration (case id
without clients and run), its prefill and decode workers as the row's facts count them, and for the configuration's
highest-concurrency rows (median over the nightly runs): the measured and simulated request rate (output tokens/s
over the mean output ``0.9 x OSL``: the runs draw lengths uniformly in [0.8 L, L]), that rate per decode worker and
per prefill worker, the measured decode step (TPOT), requests taken in per decode iteration and per decode rank per
second, and the TTFT error (docs/serving_journal.md, "decode-intake").

    python tools/step_model/decode_intake_rows.py src/inferchip/catalog/inferencemax_cases.csv validate.json
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
from collections import defaultdict

_KEY = re.compile(r"^(.*)-c(\d+)-r\d+-(tput|ttft|tpot)$")


def requests_per_s(output_tokens_per_s: float, output_tokens: int) -> float:
    """Requests per second of a closed loop whose output lengths are uniform in [0.8 L, L] (mean 0.9 L)."""
    return output_tokens_per_s / (0.9 * output_tokens)


def per_iteration(rate_per_s: float, tpot_ms: float) -> float:
    """Requests a decode worker takes in per decode iteration at ``rate_per_s`` and a step of ``tpot_ms``."""
    return rate_per_s * tpot_ms / 1e3


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("cases")
    ap.add_argument("validate_json")
    ap.add_argument("--software", default="dynamo-sglang", help="substring of the case id")
    a = ap.parse_args()
    from inferchip.validation.cases import read_cases
    from inferchip.validation.closed_loop import row_facts
    from inferchip.validation.closed_loop_rows import recipe_workers

    pred = {c["case_id"]: c for c in json.load(open(a.validate_json))["cases"] if c.get("status") == "ok"}
    rows: dict[tuple[str, int], dict[str, list[tuple[float, float]]]] = defaultdict(lambda: defaultdict(list))
    facts_of: dict[str, tuple[int, int, int, int, int]] = {}
    for case in read_cases(a.cases):
        m = _KEY.match(case.case_id)
        if a.software not in case.case_id or m is None or case.case_id not in pred:
            continue
        key, clients, metric = m.group(1), int(m.group(2)), m.group(3)
        rows[(key, clients)][metric].append((case.value, pred[case.case_id]["predicted"]))
        if key not in facts_of:
            f = row_facts(case)
            fmt_weights = "fp4" if "-fp4-" in case.case_id else "fp8"
            f, _ = recipe_workers(case, fmt_weights, f)
            dec = f.decode
            facts_of[key] = (f.prefill_workers, f.decode_workers, dec.chips if dec else 0,
                             int(case.output_tokens or 0), int(case.input_tokens or 0))
    top: dict[str, int] = {}
    for key, clients in rows:
        top[key] = max(top.get(key, 0), clients)
    print("| configuration | clients | prefill w | decode w x GPUs | req/s meas / sim | meas per decode w | "
          "meas per prefill w | TPOT ms meas / sim | req per iteration | req/s per decode rank | TTFT err % |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for key in sorted(top):
        r = rows[(key, top[key])]
        if not (r["tput"] and r["tpot"] and r["ttft"]):
            continue
        pw, dw, dchips, osl, _ = facts_of[key]
        med = lambda xs, i: statistics.median(x[i] for x in xs)  # noqa: E731
        meas, sim = (requests_per_s(med(r["tput"], i), osl) for i in (0, 1))
        tpot_m, tpot_s = med(r["tpot"], 0), med(r["tpot"], 1)
        err = statistics.median(100.0 * (p / m - 1.0) for m, p in r["ttft"])
        ranks = dw * dchips
        print(f"| {key.removeprefix('imax-').replace(a.software + '-', '')} | {top[key]} | {pw} | {dw} x {dchips} | "
              f"{meas:.1f} / {sim:.1f} | {meas / dw:.1f} | {meas / pw:.1f} | {tpot_m:.1f} / {tpot_s:.1f} | "
              f"{per_iteration(meas / dw, tpot_m):.2f} | {meas / ranks:.2f} | {err:+.0f} |")


if __name__ == "__main__":
    main()
