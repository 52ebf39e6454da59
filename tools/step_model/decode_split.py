"""The simulated decode step of one closed-loop row, split by operator class, at a grid of batches, next to the
measured TPOT of the same configuration at each concurrency (docs/serving_validation.md, the b200-gptoss-decode
round): expert stream and launches, attention projections (and what bounds them), attention, elementwise,
communication, LM head and host time, and each batch's step increment per added sequence against the measured one.

    python tools/step_model/decode_split.py inferencemax_cases.csv REGEX [--context 4500] [--batches 4,8,16,32,64,128]

REGEX picks the first row whose case id matches (its engine, chip, layout and formats); the measured TPOT at each
batch is the median of the ``tpot_ms`` rows of the same configuration (the case id up to ``-c<clients>``) at that
many clients. ``--context``: KV tokens each decoding sequence reads (mean prompt plus half the mean output).
"""

from __future__ import annotations

import argparse
import re
import statistics

_CLIENTS = re.compile(r"-c(\d+)-r\d+")
CLASSES = ("experts", "attention_proj", "attention", "elementwise", "communication", "lm_head", "host")


def configuration(case_id: str) -> str:
    """The case id without its client count, run and metric: rows of one configuration share it."""
    return _CLIENTS.split(case_id)[0]


def increments(batches: list[int], times_ms: list[float]) -> list[float | None]:
    """Step time added per added sequence (ms) from each batch to the next; None for the first batch."""
    out: list[float | None] = [None]
    for i in range(1, len(batches)):
        out.append((times_ms[i] - times_ms[i - 1]) / (batches[i] - batches[i - 1]))
    return out


def measured_tpot(rows: list[tuple[str, int, float]], config: str) -> dict[int, float]:
    """Median measured TPOT (ms) per client count of ``(case id, clients, value)`` rows of one configuration."""
    by: dict[int, list[float]] = {}
    for cid, clients, value in rows:
        if configuration(cid) == config:
            by.setdefault(clients, []).append(value)
    return {c: statistics.median(v) for c, v in by.items()}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("cases")
    ap.add_argument("pattern")
    ap.add_argument("--context", type=float, default=4500.0)
    ap.add_argument("--batches", default="1,4,8,16,32,64,128")
    a = ap.parse_args()
    from inferchip.catalog.calibration_file import load_calibration
    from inferchip.cost.step import compile_step
    from inferchip.validation.cases import read_cases
    from inferchip.validation.closed_loop import row_facts
    from inferchip.validation.closed_loop_rows import _replica
    from inferchip.validation.plan import case_formats
    from inferchip.validation.validate import Validator

    cases = read_cases(a.cases)
    case = next(c for c in cases if re.search(a.pattern, c.case_id))
    config = configuration(case.case_id)
    meas = measured_tpot([(c.case_id, int(c.concurrency), c.value) for c in cases
                          if c.metric == "tpot_ms" and c.concurrency], config)
    v = Validator(load_calibration(), server_model="sim")
    facts = row_facts(case)
    fmt, _ = case_formats(case)
    rep, _, _ = _replica(v, case, fmt, facts.decode, facts)
    mm = rep.mm
    plan = compile_step(mm.sm, mm.chip, mm.formats, mm.cal)
    batches = [int(x) for x in a.batches.split(",")]
    print(f"{config} (context {a.context:.0f} tokens per sequence); ms per step")
    print("| batch | step | " + " | ".join(CLASSES) + " | expert stream | proj compute / memory | measured TPOT |")
    print("|" + "---|" * (len(CLASSES) + 5))
    steps = []
    for b in batches:
        c = plan.cost(float(b), float(b), float(b) * a.context, 0.0)
        cl = {k: float(x.time_s) * 1e3 for k, x in c.classes.items()}
        steps.append(float(c.time_s) * 1e3)
        ex, pr = c.classes.get("experts"), c.classes.get("attention_proj")
        stream = f"{float(ex.memory_bound_s) * 1e3:.3f}" if ex is not None else "-"
        proj = (f"{float(pr.compute_bound_s) * 1e3:.3f} / {float(pr.memory_bound_s) * 1e3:.3f}"
                if pr is not None else "-")
        m = f"{meas[b]:.2f}" if b in meas else "-"
        print(f"| {b} | {steps[-1]:.3f} | " + " | ".join(f"{cl.get(k, 0.0):.3f}" for k in CLASSES)
              + f" | {stream} | {proj} | {m} |")
    sim_inc = increments(batches, steps)
    have = [b for b in batches if b in meas]
    meas_inc = dict(zip(have, increments(have, [meas[b] for b in have]), strict=True))
    print("\nms per added sequence (from the previous batch): simulated / measured")
    for b, s in zip(batches, sim_inc, strict=True):
        if s is not None:
            mi = meas_inc.get(b)
            print(f"  {b:4d}: {s:.4f} / " + (f"{mi:.4f}" if mi is not None else "-"))


if __name__ == "__main__":
    main()
