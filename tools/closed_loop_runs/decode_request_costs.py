"""What the model charges per request and attention-DP rank in a closed-loop row's decode step, operator by operator,
beside the public per-token figures of the same kernels: the decode worker the validation builds for the row
(``decode_step_classes.catching``), its pure decode step (engine padding included, ``padded_tokens``) at each
per-rank batch ``n`` of ``--per-rank`` and a fixed KV context a request holds (``--context``), each operator's time
(slower of compute and memory, plus overhead and network, times its layer count: ``cost.step.StepPlan.evaluate``'s
sum, kept per operator), and one least-squares line ``t = a + b n`` per operator, per class and for the step. ``b`` is
the cost of one more request on a rank, averaged over the grid as the measured line of the same runs averages it
(``tools/ttft/decode_rank_line.py``: 13.35 ms + 134 us a request, FP4 1k/1k, 35-246 a rank; ``tools/
closed_loop_runs/decode_context_split.py``: 111.8 us a request whatever the context, 75.2 simulated).

Why (docs/serving_validation.md, branch dpa44): stops 42-43 found the GB200 attention-DP decode step 31-37 us a
request a rank short of the measured one on SGLang and TensorRT-LLM alike, and no source sized it. ``PUBLIC`` holds
the per-token figures of the kernels that public sources measure on the rows' chip, set beside the model's price of
the same class.

    python tools/closed_loop_runs/decode_request_costs.py [CASE_ID_PART] [--per-rank 35,50,...] [--context 1382.4]
        [--ops]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "closed_loop"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "step_model"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "ttft"))
from decode_rank_line import expected_max_normal  # noqa: E402  (Blom's expected largest of n normal draws)
from decode_step_classes import catching, padded_tokens  # noqa: E402  (the row's decode worker, its padded step)
from row_step_classes import parse_batches  # noqa: E402  (one parser of integer grids)

DEFAULT_CASE = "imax-dsr1-gb200-dynamo-sglang-fp4-disagg-p16x1e1dpa-d32x1e1dpa-1024-1024-c15000"
DEFAULT_GRID = "35,50,65,80,100,125,150,175,200,225,246"  # the measured FP4 1k/1k span (dyn42: 35-246 a rank)
MOE_LAYERS = 58  # DeepSeek-V3/R1: 61 layers, the first 3 dense (config.json first_k_dense_replace 3)

# Public per-token figures of one MoE layer's expert all-to-all on GB200 NVL72 (us a token a layer), EP 32, the
# NVLinkOneSided kernels' latency growth from 128 to 256 tokens a rank (NVIDIA/TensorRT-LLM
# docs/source/blogs/tech_blog/blog18_Optimizing_MoE_Communication_with_One_Sided_AlltoAll_Over_NVLink.md @22de8b34,
# "ep_size=32" table: dispatch BF16 37.8 -> 61.5 us, combine 41.1 -> 59.7 us), the dispatch in NVFP4 at the blog's
# measured NVFP4 speedup (3.06x at 2,048 tokens, its "Post-Quant Dispatch" table): the rows' decode recipe dispatches
# NVFP4 (NVIDIA/srt-slurm @96f34420 recipes/gb200-fp4/1k1k/max-tpt.yaml, decode SGLANG_MOE_NVFP4_DISPATCH=1), where
# the model sends the activation format (FP8).
PUBLIC_US_PER_TOKEN_LAYER = {
    "dispatch (nvfp4)": (61.5 - 37.8) / 128 / 3.06,
    "combine (bf16)": (59.7 - 41.1) / 128,
}


# The same decode recipe fed at saturation (LMSYS, "Deploying DeepSeek on GB200 NVL72 with PD and Large Scale EP (Part
# II)", 2025-09-25, lm-sys/lm-sys.github.io blog/2025-09-25-gb200-part-2.md): FP8 attention, NVFP4 MoE and dispatch,
# 48 decode ranks, 2,000-token prompts, "13,386 output tokens per second per GPU" at "1408 for 2k ISL" requests a
# rank, and "changing batch size from 1408 to 768 for 2k ISL reduces performances by roughly one tenth". The rows'
# decode recipe is this one (NVIDIA/srt-slurm @96f34420 recipes/gb200-fp4/1k1k/max-tpt.yaml: max-running-requests
# 67,584 over 48 ranks = 1,408, SGLANG_MOE_NVFP4_DISPATCH, SGLANG_NVFP4_CKPT_FP8_GEMM_IN_ATTN, single-batch overlap).
# (requests a rank, output tokens/s a GPU); the step is their ratio (Little's law per rank).
LMSYS_GB200_DECODE = ((1408, 13386.0), (768, 0.9 * 13386.0))
LMSYS_CONTEXT = 2050.0  # KV tokens a request: the 2,000-token prompt plus half the blogs' 100-token output (part I)


def published_steps_ms() -> list[tuple[int, float]]:
    """(requests a rank, step ms) of ``LMSYS_GB200_DECODE``: ``n / (tokens/s a GPU)``. E.g. 1408 / 13,386 = 105.2 ms,
    768 / 12,047 = 63.8 ms."""
    return [(n, n / rate * 1e3) for n, rate in LMSYS_GB200_DECODE]


def line(n: Sequence[float], t: Sequence[float]) -> tuple[float, float]:
    """Least squares ``t = a + b n``: (a, b) in the units of ``t`` and ``t`` per unit of ``n``. Needs two distinct
    ``n``."""
    x = np.asarray(n, dtype=float)
    if len(set(x.tolist())) < 2:
        raise ValueError("a line needs at least two distinct per-rank batches")
    b, a = np.polyfit(x, np.asarray(t, dtype=float), 1)
    return float(a), float(b)


def operator_times(plan: Any, names: Sequence[str], tokens: float, seqs: float, kv_tokens: float) -> dict[str, float]:
    """Seconds of each operator in one step of ``plan`` (:class:`inferchip.cost.step.StepPlan`): body (slower of
    compute and memory) plus overhead plus network, times the operator's runs per step; operators of one name
    summed (``names[j]`` names operator ``j``). The step's class sums are these, grouped (``StepPlan.evaluate``)."""
    from inferchip.cost.step import step_points

    pts = step_points(plan.dp, np.array([tokens]), np.array([seqs]), np.array([kv_tokens]), np.array([0.0]))
    out: dict[str, float] = {}
    for g in plan.groups:
        kc = g.rule.cost(g.table, plan.ctx, pts)
        width = g.stop - g.start

        def col(v: Any, width: int = width) -> np.ndarray:
            return np.broadcast_to(np.asarray(v, dtype=float), (1, width)).reshape(-1)

        body = np.maximum(col(kc.compute_s), col(kc.memory_s)) + col(kc.overhead_s) + col(kc.network_s)
        for i in range(width):
            j = g.start + i
            name = names[j] if j < len(names) else "moe token vector work"
            out[name] = out.get(name, 0.0) + float(body[i]) * float(plan.reps[j])
    return out


def operator_names(sm: Any) -> list[str]:
    """``class: operator`` for each operator of the sharded model's step, in the plan's order (``plan_shape``)."""
    from inferchip.cost.plan.shape import plan_shape

    names = []
    for _rule, ops, _start, _stop, _seg in plan_shape(sm).groups:
        for op in ops:
            label = getattr(op, "name", "") or type(op).__name__
            names.append(f"{getattr(op, 'op_class', '')}: {label}")
    return names


def request_costs(dec: Any, per_rank: Sequence[int], context: float) -> dict[str, tuple[float, float]]:
    """Per operator name, class (``class: *``) and the whole step (``step``): (a ms, b us a request a rank) of the
    line through the decode worker ``dec``'s pure decode steps at ``per_rank`` requests a rank, ``context`` KV tokens
    each."""
    mm, st = dec.mm, dec.step
    mm.stage_step(1.0, 1.0, 1.0, 0.0)  # compiles the worker's plan once
    plan, names = mm._plan, operator_names(mm.sm)
    series: dict[str, list[float]] = {}
    for b in per_rank:
        tokens, seqs = padded_tokens(b, dec.ranks, st.graph_batch_step, st.graph_max_batch, st.verify_tokens,
                                     st.padded_rows_routed)
        ops = operator_times(plan, names, float(tokens), float(seqs), float(seqs) * context)
        totals: dict[str, float] = {"step": sum(ops.values())}
        for name, t in ops.items():
            totals[name] = t
            cls = "class: " + name.split(":")[0]
            totals[cls] = totals.get(cls, 0.0) + t
        for k, v in totals.items():
            series.setdefault(k, []).append(v)
    out = {}
    for k, ts in series.items():
        a, b = line(per_rank, ts)
        out[k] = (a * 1e3, b * 1e6)
    return out


def busiest_rank_load(ranks: int, experts_per_rank: float, log_sd: float) -> float:
    """Expected load of the busiest of ``ranks`` expert-parallel ranks over the mean, each rank holding
    ``experts_per_rank`` experts placed without regard to their popularity (no EPLB statistics), the experts'
    popularity log-normal with log standard deviation ``log_sd`` (``Calibration.expert_popularity_log_sd``): a rank's
    load is a sum of ``e`` such experts, coefficient of variation ``sqrt((exp(sd^2) - 1) / e)``, its busiest of ``R``
    ``1 + z_R cv`` (normal approximation, Blom's ``z_R``). E.g. 32 ranks of 9, sd 1.0: 1 + 2.07 x 0.437 = 1.90. An
    estimate beside TensorRT-LLM tech blog 4's measured one (GB200, EP 32, DeepSeek-R1, a translation data set: the
    busiest rank 2.56x the mean without EPLB, 1.11x with it; Table 1 "Imb. Ratio" 1.564 and 0.109)."""
    if ranks < 1 or experts_per_rank <= 0 or log_sd < 0:
        raise ValueError(f"ranks {ranks}, experts a rank {experts_per_rank}, log sd {log_sd}: need >= 1, > 0, >= 0")
    cv = ((np.exp(log_sd**2) - 1.0) / experts_per_rank) ** 0.5
    return float(1.0 + expected_max_normal(ranks) * cv)


def rank_load_extra_us(costs: dict[str, tuple[float, float]], load: float, moe_imbalance: float) -> float:
    """Extra us a request a rank if every rank waited for a busiest rank holding ``load`` x the mean routed tokens:
    the routed experts' slope scaled from the model's per-expert straggler ``moe_imbalance`` to ``load``, and the
    expert all-to-all's slope by ``load`` (the busiest rank receives and sends ``load`` x the mean bytes). A
    counterfactual of the line's slopes, not a price."""
    experts = sum(b for k, (_a, b) in costs.items() if k in ("experts: experts_up", "experts: experts_down"))
    comm = costs.get("class: communication", (0.0, 0.0))[1]
    return experts * (load / moe_imbalance - 1.0) + comm * (load - 1.0)


def public_rows(moe_layers: int = MOE_LAYERS) -> list[tuple[str, float]]:
    """(kernel, us a request a rank) of ``PUBLIC_US_PER_TOKEN_LAYER`` over ``moe_layers`` MoE layers."""
    return [(k, v * moe_layers) for k, v in PUBLIC_US_PER_TOKEN_LAYER.items()]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("case", nargs="?", default=DEFAULT_CASE, help="part of a closed-loop case id")
    ap.add_argument("--cases", default="src/inferchip/catalog/inferencemax_cases.csv")
    ap.add_argument("--per-rank", default=DEFAULT_GRID, help="decode requests per attention-DP rank")
    ap.add_argument("--context", type=float, default=1382.4, help="KV tokens a decoding request holds (1k/1k mean)")
    ap.add_argument("--ops", action="store_true", help="list every operator, not only the classes")
    a = ap.parse_args()
    try:
        grid = parse_batches(a.per_rank)
    except ValueError as exc:
        ap.error(f"--per-rank {exc}")
    from inferchip.catalog.calibration_file import load_calibration
    from inferchip.validation.cases import read_cases
    from inferchip.validation.validate import Validator

    case = next((c for c in read_cases(a.cases) if a.case in c.case_id), None)
    if case is None:
        ap.error(f"no row of {a.cases} matches {a.case!r}")
    validator = Validator(load_calibration(None), server_model="sim", compare=False)
    with catching() as rec:
        result = validator.predict_case(case)
    if result.status != "ok" or "reps" not in rec:
        sys.exit(f"{case.case_id}: no closed-loop run ({result.status} {result.reason})")
    dec = rec["reps"]["decode"]
    costs = request_costs(dec, grid, a.context)
    print(f"{case.case_id}: decode worker of {dec.ranks} attention-DP ranks, {min(grid)}-{max(grid)} requests a rank, "
          f"{a.context:.1f} KV tokens a request; line t = a + b n per part")
    print("| part | a ms | b us a request a rank |\n|---|---|---|")
    keys = [k for k in costs if k == "step" or k.startswith("class: ") or a.ops]
    for k in sorted(keys, key=lambda k: (k != "step", not k.startswith("class: "), -costs[k][1])):
        print(f"| {k} | {costs[k][0]:.2f} | {costs[k][1]:.1f} |")
    print("\npublic per-token figures on the rows' chip (us a request a rank, over the MoE layers):")
    for k, v in public_rows():
        print(f"  {k}: {v:.1f}")
    comm = costs.get("class: communication", (0.0, 0.0))[1]
    print(f"  model's communication class: {comm:.1f}")
    experts_total = 288  # the recipe's 256 routed experts + 32 redundant (ep-num-redundant-experts 32)
    load = busiest_rank_load(dec.ranks, experts_total / dec.ranks, float(dec.mm.cal.expert_popularity_log_sd))
    print(f"  busiest of {dec.ranks} ranks without EPLB statistics (estimate): {load:.2f} x the mean; its extra "
          f"{rank_load_extra_us(costs, load, float(dec.mm.cal.moe_imbalance)):.1f} us a request "
          f"(at blog 4's measured 2.56: {rank_load_extra_us(costs, 2.564, float(dec.mm.cal.moe_imbalance)):.1f})")
    if "sglang" not in case.case_id:
        return  # the LMSYS saturation points are the SGLang recipe's
    pub = published_steps_ms()
    sat = request_costs(dec, [n for n, _ in pub], LMSYS_CONTEXT)
    a_m, b_m = line([n for n, _ in pub], [t for _, t in pub])
    print(f"\nthe recipe at saturation (LMSYS GB200 part II, {LMSYS_CONTEXT:.0f} KV tokens a request): published "
          + ", ".join(f"{t:.1f} ms at {n}" for n, t in pub) + f" (line {a_m:.2f} ms + {b_m * 1e3:.1f} us a request); "
          f"model {sat['step'][0]:.2f} ms + {sat['step'][1]:.1f} us a request, its attention "
          f"{sat['class: attention'][1]:.1f}")


if __name__ == "__main__":
    main()
