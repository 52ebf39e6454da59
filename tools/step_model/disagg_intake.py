"""Where the disaggregated closed-loop rows queue: per configuration (its highest-concurrency row), the
measured decode concurrency ``N = C (1 - TTFT / E2E)`` and prompt intake ``C L / E2E`` (Little's law on
the row's mean E2E, read from its notes; ``L`` the mean prompt of lengths uniform in [0.8 L, L]), the
simulated intake from a validate JSON, the simulated prefill pool's capacity (``--capacity``: the step
model's time for a full step budget of whole prompts of the mean length, times the prefill workers) and
the TTFT error (docs/serving_journal.md, "Decode-side admission round").

    python tools/step_model/disagg_intake.py inferencemax_cases.csv validate.json [--capacity] [--min-ttft-s 2]
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
from collections import defaultdict
from typing import Any

_E2E = re.compile(r"mean E2E latency ([\d.]+) s")
_RUN = re.compile(r"-c\d+-r\d+$")


def e2e_from_notes(notes: str) -> float | None:
    """The row's measured mean E2E latency in seconds, where its notes state it."""
    m = _E2E.search(notes)
    return float(m.group(1)) if m else None


def decode_concurrency(clients: float, ttft_s: float, e2e_s: float) -> float:
    """Requests past their first token, on average: ``C (E2E - TTFT) / E2E`` (Little's law)."""
    return clients * (1.0 - ttft_s / e2e_s)


def intake_tokens_per_s(clients: float, prompt_tokens: float, e2e_s: float) -> float:
    """Prompt tokens admitted per second in a closed loop of ``C`` clients: ``C L / E2E``."""
    return clients * prompt_tokens / e2e_s


def full_step(budget_tokens: int, prompt_tokens: int) -> tuple[int, int]:
    """(tokens, causal attention pairs) of a prefill step filled with whole prompts (at least one)."""
    n = max(1, budget_tokens // prompt_tokens)
    return n * prompt_tokens, n * prompt_tokens * (prompt_tokens + 1) // 2


def prefill_capacity_tokens_per_s(v, case) -> float:
    """Prompt tokens per second the row's simulated prefill pool takes with every step full (see module doc)."""
    from inferchip.sim.engines import uniform_length
    from inferchip.validation.closed_loop import row_facts
    from inferchip.validation.closed_loop_rows import _replica, recipe_workers
    from inferchip.validation.plan import case_formats

    fmt, _ = case_formats(case)
    facts, _ = recipe_workers(case, fmt.weights, row_facts(case))  # the workers as their launch recipe runs them
    pre, _, _ = _replica(v, case, fmt, facts.prefill, facts)
    lengths = uniform_length(case.input_tokens)
    prompt = int(getattr(lengths, "mean_tokens", getattr(lengths, "tokens", case.input_tokens)))
    tokens, pairs = full_step(pre.config().max_num_batched_tokens, prompt)
    return tokens / pre.timer.time_s(tokens, 0, 0, pairs) * facts.prefill_workers


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("cases")
    ap.add_argument("validate_json")
    ap.add_argument("--capacity", action="store_true", help="also the simulated prefill pool's capacity (slower)")
    ap.add_argument("--min-ttft-s", type=float, default=2.0, help="rows measuring at least this TTFT (queueing)")
    a = ap.parse_args()
    from inferchip.validation.cases import read_cases

    pred = {c["case_id"]: c for c in json.load(open(a.validate_json))["cases"] if c.get("status") == "ok"}
    top: dict[str, Any] = {}
    for case in read_cases(a.cases):
        if "-disagg-" not in case.case_id or case.metric != "ttft_ms" or case.case_id not in pred:
            continue
        key = _RUN.sub("", case.case_id.removesuffix("-ttft"))
        if key not in top or case.concurrency > top[key].concurrency:
            top[key] = case
    v = None
    if a.capacity:
        from inferchip.catalog.calibration_file import load_calibration
        from inferchip.validation.validate import Validator

        v = Validator(load_calibration(), server_model="sim")
    groups: dict[str, list[float]] = defaultdict(list)
    print("| configuration | clients | measured N | measured intake k tok/s | simulated intake | capacity / "
          "measured | TTFT measured s | TTFT error % |")
    print("|---|---|---|---|---|---|---|---|")
    for key, case in sorted(top.items()):
        e2e = e2e_from_notes(case.notes)
        if e2e is None or case.value / 1e3 < a.min_ttft_s:
            continue
        c, p = float(case.concurrency), pred[case.case_id]
        prompt = 0.9 * case.input_tokens
        meas = intake_tokens_per_s(c, prompt, e2e)
        sim = intake_tokens_per_s(c, prompt, p["sim"]["e2e_ms"] / 1e3)
        err = 100.0 * (p["predicted"] / p["measured"] - 1.0)
        ratio = prefill_capacity_tokens_per_s(v, case) / meas if v is not None else float("nan")
        groups["capacity >= 1.2x" if ratio >= 1.2 else "capacity < 1.2x" if ratio == ratio else "all"].append(err)
        print(f"| {key.removeprefix('imax-')} | {c:.0f} | {decode_concurrency(c, case.value / 1e3, e2e):.0f} | "
              f"{meas / 1e3:.1f} | {sim / 1e3:.1f} | {ratio:.2f} | {case.value / 1e3:.1f} | {err:+.0f} |")
    for name, errs in sorted(groups.items()):
        print(f"\n{name}: {len(errs)} configurations, median TTFT error {statistics.median(errs):+.0f} %")


if __name__ == "__main__":
    main()
