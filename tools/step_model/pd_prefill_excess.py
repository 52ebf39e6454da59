"""What a saturated disaggregated prefill pool's measured intake says its prompt costs, against the step model,
split into the part that grows with the prompt squared (attention) and the rest (docs/serving_journal.md,
"The MI355X SGLang PD prefill pools", stop 37).

Per configuration (its highest-concurrency row whose measured TTFT is at least ``--min-ttft-s``: a queued, i.e.
prefill-bound, pool), with ``L`` the mean prompt (lengths uniform in [0.8 L, L]) and ``G`` the prefill GPUs:

* measured GPU-seconds per prompt ``G L / intake``, the intake ``C L / E2E`` by Little's law on the row's mean
  E2E (``disagg_intake.intake_tokens_per_s``);
* the step model's GPU-seconds per prompt for a step holding one prompt per attention-DP rank (one prompt for a
  tensor-parallel worker), ``G t / n``, and the attention class's share of it;
* the excess (measured - model) and what multiple of the model's attention time the excess would be if the
  attention alone were short (``excess / attention + 1``). A cost that grows with the prompt squared shows as a
  similar multiple on 8k pools of both layouts and as a small excess where the prompt is 1k.

    python tools/step_model/pd_prefill_excess.py CASES.csv [--match REGEX] [--min-ttft-s 2]
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import NamedTuple

sys.path.insert(0, str(Path(__file__).resolve().parent))
from disagg_intake import e2e_from_notes, intake_tokens_per_s  # noqa: E402

_RUN = re.compile(r"-c\d+-r\d+$")


class PromptCost(NamedTuple):
    """GPU-seconds one prompt costs a prefill pool: measured, and the step model's (all of it, attention part)."""

    measured_gpu_s: float
    model_gpu_s: float
    model_attention_gpu_s: float

    @property
    def excess_gpu_s(self) -> float:
        return self.measured_gpu_s - self.model_gpu_s

    @property
    def attention_multiple(self) -> float:
        """How many times the model's attention time the attention would take if it alone held the excess."""
        if self.model_attention_gpu_s <= 0:
            raise ValueError("the model's attention time must be positive to carry the excess")
        return self.excess_gpu_s / self.model_attention_gpu_s + 1.0


def prompt_cost(gpus: int, prompt_tokens: float, intake_tokens_per_s: float, step_s: float, attention_s: float,
                prompts_per_step: int) -> PromptCost:
    """:class:`PromptCost` from a pool of ``gpus`` GPUs admitting ``intake_tokens_per_s`` prompt tokens per second
    and the model's step of ``prompts_per_step`` prompts lasting ``step_s`` (``attention_s`` of it attention)."""
    if min(gpus, prompt_tokens, intake_tokens_per_s, step_s, prompts_per_step) <= 0 or attention_s < 0:
        raise ValueError("gpus, prompt, intake, step time and prompts per step must be positive")
    return PromptCost(measured_gpu_s=gpus * prompt_tokens / intake_tokens_per_s,
                      model_gpu_s=gpus * step_s / prompts_per_step,
                      model_attention_gpu_s=gpus * attention_s / prompts_per_step)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("cases")
    ap.add_argument("--match", default=r"-disagg-", help="regular expression the case ids must contain")
    ap.add_argument("--min-ttft-s", type=float, default=2.0, help="rows measuring at least this TTFT (queued)")
    a = ap.parse_args()
    from inferchip.catalog.calibration_file import load_calibration
    from inferchip.cost.step import compile_step
    from inferchip.validation.cases import read_cases
    from inferchip.validation.closed_loop import row_facts
    from inferchip.validation.closed_loop_rows import _replica, recipe_workers
    from inferchip.validation.plan import case_formats
    from inferchip.validation.validate import Validator

    top = {}
    pat = re.compile(a.match)
    for case in read_cases(a.cases):
        if case.metric != "ttft_ms" or "-disagg-" not in case.case_id or not pat.search(case.case_id):
            continue
        key = _RUN.sub("", case.case_id.removesuffix("-ttft")).removeprefix("imax-")
        if key not in top or case.concurrency > top[key].concurrency:
            top[key] = case
    v = Validator(load_calibration(), server_model="sim")
    print("| configuration | clients | measured GPU-s / prompt | model GPU-s / prompt (attention) | excess GPU-s | "
          "attention multiple |")
    print("|---|---|---|---|---|---|")
    for key, case in sorted(top.items()):
        e2e = e2e_from_notes(case.notes)
        if e2e is None or case.value / 1e3 < a.min_ttft_s:
            continue
        fmt, _ = case_formats(case)
        facts, _ = recipe_workers(case, fmt.weights, row_facts(case))
        pre, _, _ = _replica(v, case, fmt, facts.prefill, facts)
        prompt = 0.9 * float(case.input_tokens)
        n = max(1, pre.ranks)
        p = int(prompt)
        mm = pre.mm
        c = compile_step(mm.sm, mm.chip, mm.formats, mm.cal).cost(float(n * p), 0.0, 0.0, float(n * p * (p + 1) // 2))
        gpus = mm.layout.chips_per_replica * facts.prefill_workers
        # one worker's step: the pool's workers each run one (their intake adds), so G / n per worker's prompt
        cost = prompt_cost(gpus // facts.prefill_workers, prompt,
                           intake_tokens_per_s(float(case.concurrency), prompt, e2e) / facts.prefill_workers,
                           float(c.time_s), float(c.classes["attention"].time_s), n)
        print(f"| {key} | {case.concurrency:g} | {cost.measured_gpu_s:.3g} | {cost.model_gpu_s:.3g} "
              f"({cost.model_attention_gpu_s:.3g}) | {cost.excess_gpu_s:.3g} | {cost.attention_multiple:.3g} |")


if __name__ == "__main__":
    main()
