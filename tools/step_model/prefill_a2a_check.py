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

The last column is what a worker that runs no all-to-all backend pays instead (the SGLang FP4 recipes' prefill:
``--moe-runner-backend flashinfer_cutlass`` and no ``--moe-a2a-backend``, ai-dynamo/dynamo @9086164a
``examples/backends/sglang/slurm_jobs/scripts/gb200-fp4/disagg/default.sh``, NVIDIA/srt-slurm @96f34420
``recipes/gb200-fp4/1k1k/max-tpt.yaml``): SGLang pads an extend batch to the sum of the ranks' tokens and gathers
it with an all-reduce of the zeroed buffer, and reduces the layer's partial output with a second all-reduce of that
buffer before each rank keeps its slice (sgl-project/sglang @2aa2e2d0 ``python/sglang/srt/layers/dp_attention.py``:
``DpPaddingMode.get_dp_padding_mode`` returns SUM_LEN for any extend batch, ``_dp_gather_via_all_reduce``), on every
layer whose MLP runs over the whole group (all of them without ``--moe-dense-tp-size``), priced by the model's own
all-reduce (:func:`sum_len_all_reduce_s_per_token`).
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


def sum_len_all_reduce_s_per_token(hidden: int, ranks: int, layers: int, tokens_per_rank: float,
                                   link_bytes_per_s: float, latency_s: float, efficiency: float,
                                   direct: float = 1.0, element_bytes: float = 2.0) -> float:
    """Time per token of one rank of SGLang's SUM_LEN gather and reduce (module doc): two all-reduces a layer of
    the 16-bit buffer of all ``ranks x tokens_per_rank`` tokens, priced by ``cost.network.all_reduce_time_s``.
    Units: elements, tokens, B/s, s -> s."""
    from inferchip.cost.network import all_reduce_time_s

    if ranks <= 1 or tokens_per_rank <= 0:
        return 0.0
    nbytes = ranks * tokens_per_rank * hidden * element_bytes
    call = float(all_reduce_time_s(nbytes, ranks, link_bytes_per_s, latency_s, efficiency, direct))
    return 2.0 * layers * call / tokens_per_rank


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", default="src/inferchip/catalog/inferencemax_cases.csv")
    a = ap.parse_args()
    from inferchip.catalog.calibration_file import load_calibration
    from inferchip.cost.step import compile_step
    from inferchip.validation.cases import read_cases
    from inferchip.validation.closed_loop import row_facts
    from inferchip.validation.closed_loop_rows import _replica, with_prefill_scheduling
    from inferchip.validation.plan import case_formats
    from inferchip.validation.validate import Validator

    v = Validator(load_calibration(), server_model="sim")
    seen: set[str] = set()
    print("| configuration | ranks | tokens/rank | step ms | k tok/s/GPU | network us/token | DeepEP us/token | "
          "classes ms | SGLang SUM_LEN all-reduce us/token |")
    print("|---|---|---|---|---|---|---|---|---|")
    for case in read_cases(a.cases):
        if case.metric != "ttft_ms" or "-dynamo-" not in case.case_id or "gb200" not in case.accelerator:
            continue
        key = re.sub(r"-c\d+-r\d+$", "", case.case_id.removesuffix("-ttft")).removeprefix("imax-")
        if key in seen or "dsr1" not in key:
            continue
        seen.add(key)
        fmt, _ = case_formats(case)
        facts = with_prefill_scheduling(case, fmt.weights, row_facts(case))
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
        sum_len = sum_len_all_reduce_s_per_token(
            mm.sm.hidden, ranks, sum(layer.count for layer in mm.sm.layers), tokens / ranks,
            mm.chip.link_bytes_per_s, mm.chip.link_latency_s, mm.cal.link_bandwidth_fraction,
            float(mm.chip.link_direct_all_reduce)) if lay.attn_dp and "-sglang-" in key else float("nan")
        parts = ", ".join(f"{k} {float(x.time_s) * 1e3:.0f}" for k, x in c.classes.items() if float(x.time_s) > 0)
        print(f"| {key} | {ranks} | {tokens // ranks} | {t * 1e3:.0f} | {tokens / t / chips / 1e3:.1f} | "
              f"{net / (tokens / ranks) * 1e6:.1f} | {deepep * 1e6:.1f} | {parts} | {sum_len * 1e6:.1f} |")


if __name__ == "__main__":
    main()
