"""Which part of a disaggregated prefill step the measured intake disagrees with (docs/serving_journal.md,
"Prefill cost round"): per configuration of ``tools/step_model/disagg_intake.py`` (its highest-concurrency row, measured
TTFT >= 2 s), the simulated prefill pool's capacity over the measured prompt intake and the share of the
simulated full prefill step spent in attention; then, per engine family and layout, the least-squares split
``capacity / measured x step = a x attention + b x the rest`` over its configurations (a, b: how many times
the simulated time of each part the measured step needs). Pools whose prompts differ in length tell the two
apart: attention grows with the prompt, the rest does not.

    python tools/step_model/prefill_split.py inferencemax_cases.csv [--min-ttft-s 2]
"""

from __future__ import annotations

import argparse
import re
from collections import defaultdict

import numpy as np

from disagg_intake import e2e_from_notes, full_step, intake_tokens_per_s

_RUN = re.compile(r"-c\d+-r\d+$")
_DPA_PREFILL = re.compile(r"-p\d+x\d+e\d+dpa-")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("cases")
    ap.add_argument("--min-ttft-s", type=float, default=2.0, help="rows measuring at least this TTFT (queueing)")
    a = ap.parse_args()
    from inferchip.catalog.calibration_file import load_calibration
    from inferchip.cost.step import compile_step
    from inferchip.errors import InferchipError
    from inferchip.sim.engines import uniform_length
    from inferchip.validation.cases import read_cases
    from inferchip.validation.closed_loop import row_facts
    from inferchip.validation.closed_loop_rows import _replica, with_prefill_scheduling
    from inferchip.validation.plan import case_formats
    from inferchip.validation.validate import Validator

    top = {}
    for case in read_cases(a.cases):
        if "-disagg-" not in case.case_id or case.metric != "ttft_ms":
            continue
        key = _RUN.sub("", case.case_id.removesuffix("-ttft")).removeprefix("imax-")
        if key not in top or case.concurrency > top[key].concurrency:
            top[key] = case
    v = Validator(load_calibration(), server_model="sim")
    families: dict[str, list[tuple[float, float, float]]] = defaultdict(list)
    print("| configuration | capacity / measured | attention share of the step |")
    print("|---|---|---|")
    for key, case in sorted(top.items()):
        e2e = e2e_from_notes(case.notes)
        if e2e is None or case.value / 1e3 < a.min_ttft_s:
            continue
        fmt, _ = case_formats(case)
        facts = with_prefill_scheduling(case, fmt.weights, row_facts(case))
        try:
            pre, _, _ = _replica(v, case, fmt, facts.prefill, facts)
        except InferchipError as exc:  # not expressible: validate reports the row with this reason
            print(f"| {key} | not predicted: {exc} | |")
            continue
        lengths = uniform_length(case.input_tokens)
        prompt = int(getattr(lengths, "mean_tokens", getattr(lengths, "tokens", case.input_tokens)))
        tokens, pairs = full_step(pre.config().max_num_batched_tokens, prompt)
        capacity = tokens / pre.timer.time_s(tokens, 0, 0, pairs) * facts.prefill_workers
        ratio = capacity / intake_tokens_per_s(float(case.concurrency), 0.9 * case.input_tokens, e2e)
        mm = pre.mm
        c = compile_step(mm.sm, mm.chip, mm.formats, mm.cal).cost(float(tokens), 0.0, 0.0, float(pairs))
        att, total = float(c.classes["attention"].time_s), float(c.time_s)
        fam = (f"{case.accelerator} {'trt' if '-trt-' in key else 'sglang'} {key.split('-')[0]} "
               f"{'attention-DP' if _DPA_PREFILL.search(key) else 'TP'} prefill")
        families[fam].append((ratio * total, att, total - att))
        print(f"| {key} | {ratio:.2f} | {att / total:.2f} |")
    print("\n| family | configurations | a (attention) | b (the rest) |\n|---|---|---|---|")
    for fam, rows in sorted(families.items()):
        if len(rows) < 2:
            continue
        y = np.array([r[0] for r in rows])
        x = np.array([[r[1], r[2]] for r in rows])
        (att_k, rest_k), *_ = np.linalg.lstsq(x, y, rcond=None)
        print(f"| {fam} | {len(rows)} | {att_k:.2f} | {rest_k:.2f} |")


if __name__ == "__main__":
    main()
