"""The expert-parallel all-to-all of the Dynamo prefill workers: what the step model charges per token against
DeepEP normal-mode kernels' published GB200 rates (the DPA prefill all-to-all round, 2026-12-04, stop 24).

For each DeepSeek-R1 Dynamo prefill worker on GB200 (one row per configuration) it prints the step model's
time for a full step of whole mean prompts split by operator class, its network time per token per rank, and
the DeepEP normal-mode time per token for the same layout (:func:`deepep_normal_s_per_token`; uniform routing,
an upper bound on the ranks a token reaches: DeepSeek's group-limited routing reaches ~3.1 of 4 ranks, not 3.6).
The step is the worker's full token budget (``disagg_intake.py --capacity``'s rule), also for the TensorRT-LLM
workers, whose simulation runs the smaller recipe batch.

    python tools/step_model/prefill_a2a_check.py [--cases src/inferchip/catalog/inferencemax_cases.csv]

DeepEP rates: deepseek-ai/DeepEP issue #394 (2025-09-05), the intranode normal kernels on one GB200 host of 4
GPUs at 24 SMs: dispatch 169 GB/s (690 us), combine 135 GB/s (861 us), in DeepEP's own bandwidth metric
(bytes received per rank, each token once per destination rank: tests/test_intranode.py). Bytes: dispatch in
FP8 with one FP32 scale per 128 elements, combine in BF16 (DeepEP README, "FP8 dispatching and BF16 combining").
"""

from __future__ import annotations

import argparse
import math
import re

DEEPEP_GB200_DISPATCH_BYTES_PER_S = 169e9  # DeepEP issue #394: intranode, 4 x GB200, 24 SMs
DEEPEP_GB200_COMBINE_BYTES_PER_S = 135e9  # same run
FP8_SCALE_BYTES_PER_ELEMENT = 4.0 / 128.0  # one FP32 scale per 128-element group (DeepEP FP8 dispatch)


def expected_destination_ranks(experts: int, top_k: int, ep: int) -> float:
    """Distinct ranks a token's ``top_k`` experts sit on, expected under uniform routing over ``experts``
    split evenly over ``ep`` ranks: ``ep (1 - C(E - E/ep, k) / C(E, k))`` (the rank holds none of them
    with that probability). DeepEP sends a token once per destination rank."""
    per_rank = experts // ep
    return ep * (1.0 - math.comb(experts - per_rank, top_k) / math.comb(experts, top_k))


def deepep_normal_s_per_token(hidden: int, experts: int, top_k: int, ep: int, moe_layers: int,
                              dispatch_bytes_per_s: float = DEEPEP_GB200_DISPATCH_BYTES_PER_S,
                              combine_bytes_per_s: float = DEEPEP_GB200_COMBINE_BYTES_PER_S) -> float:
    """Dispatch (FP8 + scales) and combine (BF16) time per token of one rank over ``moe_layers`` layers at
    DeepEP's achieved bandwidths, bytes counted as DeepEP counts them. Units: elements, B/s -> s."""
    copies = expected_destination_ranks(experts, top_k, ep)
    dispatch_b = hidden * (1.0 + FP8_SCALE_BYTES_PER_ELEMENT)
    combine_b = hidden * 2.0
    return moe_layers * copies * (dispatch_b / dispatch_bytes_per_s + combine_b / combine_bytes_per_s)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", default="src/inferchip/catalog/inferencemax_cases.csv")
    a = ap.parse_args()
    from inferchip.catalog.calibration_file import load_calibration
    from inferchip.cost.step import compile_step
    from inferchip.validation.cases import read_cases
    from inferchip.validation.closed_loop import row_facts
    from inferchip.validation.closed_loop_rows import _replica
    from inferchip.validation.plan import case_formats
    from inferchip.validation.validate import Validator

    v = Validator(load_calibration(), server_model="sim")
    seen: set[str] = set()
    print("| configuration | ranks | tokens/rank | step ms | k tok/s/GPU | network us/token | DeepEP us/token | "
          "classes ms |")
    print("|---|---|---|---|---|---|---|---|")
    for case in read_cases(a.cases):
        if case.metric != "ttft_ms" or "-dynamo-" not in case.case_id or "gb200" not in case.accelerator:
            continue
        key = re.sub(r"-c\d+-r\d+$", "", case.case_id.removesuffix("-ttft")).removeprefix("imax-")
        if key in seen or "dsr1" not in key:
            continue
        seen.add(key)
        facts = row_facts(case)
        fmt, _ = case_formats(case)
        pre, lay, _ = _replica(v, case, fmt, facts.prefill, facts)
        mm = pre.mm
        plan = compile_step(mm.sm, mm.chip, mm.formats, mm.cal)
        prompt = int(0.9 * case.input_tokens)
        n = max(1, pre.config().max_num_batched_tokens // prompt)
        tokens, ranks = n * prompt, mm.sm.dp_attention
        c = plan.cost(float(tokens), 0.0, 0.0, float(n * prompt * (prompt + 1) // 2))
        t, chips = float(c.time_s), lay.chips_per_replica
        net = sum(float(x.network_s) for x in c.classes.values())
        moe_layers = sum(layer.count for layer in mm.sm.layers if layer.moe)
        deepep = deepep_normal_s_per_token(mm.sm.hidden, mm.sm.experts_total, mm.sm.experts_per_token, lay.ep,
                                           moe_layers) if lay.attn_dp else float("nan")
        parts = ", ".join(f"{k} {float(x.time_s) * 1e3:.0f}" for k, x in c.classes.items() if float(x.time_s) > 0)
        print(f"| {key} | {ranks} | {tokens // ranks} | {t * 1e3:.0f} | {tokens / t / chips / 1e3:.1f} | "
              f"{net / (tokens / ranks) * 1e6:.1f} | {deepep * 1e6:.1f} | {parts} |")


if __name__ == "__main__":
    main()
