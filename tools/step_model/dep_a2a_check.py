"""TensorRT-LLM attention DP with expert parallelism (DEP, ``tpNepN-dpa``) against the same runs with EP 1 (DTP,
``tpNep1-dpa``): the measured per-step gap, set beside what the public figures of TensorRT-LLM's one-sided NVLink
all-to-all (the "MNNVL throughput" kernels the submitters' harness forces for EP > 1) say the all-to-all costs
(docs/serving_journal.md, stop 30, "the DEP all-to-all of gpt-oss on one B200 node is not what makes DEP
slower than DTP").

For each (input, output, concurrency, group) with both layouts in a closed-loop ``inferchip validate --format json``
run it prints the measured mean TPOT and TTFT of both, the TPOT gap (one decode step, DEP less DTP), the prompt
tokens per step the closed loop admits (``concurrency x input / output``: each request brings its prompt once per
``output`` steps), the gap per such token, and the one-sided kernels' price: per decode step their floors
(:func:`one_sided_call_s` at no bytes, dispatch + combine, every MoE layer) and per prompt token their bytes
(:func:`one_sided_s_per_token`). The DEP rows of InferenceMAX gpt-oss-120b on B200 run both layouts in the same
image (TensorRT-LLM 1.2.0rc2) and harness; only the MoE communication differs.

The figures: TensorRT-LLM tech blog 18 ("Optimizing MoE Communication with One-Sided AlltoAll Over NVLink",
NVIDIA/TensorRT-LLM docs/source/blogs/tech_blog/blog18_*.md @22de8b34), GB200 NVL72, DeepSeek-V3 profile (hidden
7168, top-8), BF16, EP 8: dispatch 166.3 / 311.8 us and combine 175.6 / 322.6 us at 1,024 / 2,048 tokens; the line
through the two points is a floor plus the blog's logical bytes (tokens x min(ep, top_k) x bytes per token, own
rank included) at a rate: dispatch 20.8 us + B / 807 GB/s, combine 28.6 us + B / 799 GB/s (at 1 token the table
gives 18.9 and 31.0 us). On one 8-GPU NVLink node the same kernels move about as fast: NVIDIA/TensorRT-LLM pull
request 14550 (B300 x 8, EP 8, dispatch + combine) 1,388 us for 4,096 tokens of hidden 7168 FP8 (712 MB logical,
513 GB/s) and 576 us for hidden 4096 NVFP4 (344 MB, 597 GB/s).

    python tools/step_model/dep_a2a_check.py X.json [--layers 36 --hidden 2880 --experts 128 --top-k 4]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from prefill_a2a_check import expected_destination_ranks  # noqa: E402  (one routing rule for both tools)

DISPATCH_FLOOR_S, DISPATCH_BYTES_PER_S = 20.8e-6, 807e9  # blog 18, EP 8: line through 1,024 and 2,048 tokens
COMBINE_FLOOR_S, COMBINE_BYTES_PER_S = 28.6e-6, 799e9
MXFP8_SCALE_BYTES_PER_ELEMENT = 1.0 / 32.0  # one E8M0 scale per 32 elements (MXFP8 dispatch, post-quant)
ROUTING_BYTES_PER_TOKEN_PER_K = 8.0  # int32 expert id + fp32 router weight per top-k slot (dispatch payloads)
ROW = re.compile(r"gptoss120b-b200-trt-trt-fp4-tp(\d+)ep(\d+)-dpa-(\d+)-(\d+)-c(\d+)-r\d+-(tpot|ttft)$")


def one_sided_call_s(logical_bytes: float, floor_s: float, bytes_per_s: float) -> float:
    """One dispatch or combine call: ``floor + B / rate``, ``B`` the blog's logical bytes. Units: B, s, B/s -> s."""
    return floor_s + logical_bytes / bytes_per_s


def one_sided_s_per_token(hidden: int, experts: int, top_k: int, ep: int, layers: int) -> float:
    """The bytes part of dispatch (MXFP8 + scales + routing payloads) and combine (BF16) per token over
    ``layers`` MoE layers, each token sent once per destination rank. Units: elements -> s."""
    ranks = expected_destination_ranks(experts, top_k, ep)
    dispatch_b = hidden * (1.0 + MXFP8_SCALE_BYTES_PER_ELEMENT) + top_k * ROUTING_BYTES_PER_TOKEN_PER_K
    combine_b = hidden * 2.0
    return layers * ranks * (dispatch_b / DISPATCH_BYTES_PER_S + combine_b / COMBINE_BYTES_PER_S)


def prompt_tokens_per_step(concurrency: float, input_tokens: float, output_tokens: float) -> float:
    """Prompt tokens a closed loop admits per decode step, all ranks: each of ``concurrency`` requests brings
    its prompt once per ``output_tokens`` steps (the benchmark's 0.8-1.0 length draw scales both alike)."""
    return concurrency * input_tokens / output_tokens


def pairs(cases: list[dict[str, Any]]) -> dict[tuple[int, int, int, int], dict[str, dict[str, list[float]]]]:
    """Measured TPOT / TTFT (ms) by (tp, input, output, concurrency), then "dep" (ep = tp) or "dtp" (ep 1)."""
    out: dict[tuple[int, int, int, int], dict[str, dict[str, list[float]]]] = {}
    for c in cases:
        m = ROW.search(c["case_id"])
        if not m or c.get("measured") is None:
            continue
        tp, ep, isl, osl, conc, metric = m.groups()
        kind = "dep" if ep == tp else "dtp" if ep == "1" else ""
        if kind:
            key = (int(tp), int(isl), int(osl), int(conc))
            out.setdefault(key, {}).setdefault(kind, {}).setdefault(metric, []).append(float(c["measured"]))
    return out


def mean(xs: list[float]) -> float:
    return sum(xs) / len(xs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("json", help="a closed-loop inferchip validate --format json run")
    ap.add_argument("--layers", type=int, default=36)
    ap.add_argument("--hidden", type=int, default=2880)
    ap.add_argument("--experts", type=int, default=128)
    ap.add_argument("--top-k", type=int, default=4)
    a = ap.parse_args()
    with open(a.json) as f:
        groups = pairs(json.load(f)["cases"])
    floors_ms = a.layers * (one_sided_call_s(0, DISPATCH_FLOOR_S, DISPATCH_BYTES_PER_S)
                            + one_sided_call_s(0, COMBINE_FLOOR_S, COMBINE_BYTES_PER_S)) * 1e3
    print(f"one-sided floors per decode step (dispatch + combine, {a.layers} layers): {floors_ms:.2f} ms")
    print("| tp | in / out | clients | TPOT DEP / DTP ms | gap ms | TTFT DEP / DTP ms | prompt tokens per step | "
          "gap us per prompt token | one-sided bytes us per token |")
    print("|---|---|---|---|---|---|---|---|---|")
    for (tp, isl, osl, conc), g in sorted(groups.items()):
        if "dep" not in g or "dtp" not in g or "tpot" not in g["dep"] or "tpot" not in g["dtp"]:
            continue
        dep, dtp = mean(g["dep"]["tpot"]), mean(g["dtp"]["tpot"])
        ttft = f"{mean(g['dep'].get('ttft', [0.0])):.0f} / {mean(g['dtp'].get('ttft', [0.0])):.0f}"
        per_step = prompt_tokens_per_step(conc, isl, osl)
        bytes_us = one_sided_s_per_token(a.hidden, a.experts, a.top_k, tp, a.layers) * 1e6
        print(f"| {tp} | {isl} / {osl} | {conc} | {dep:.2f} / {dtp:.2f} | {dep - dtp:+.2f} | {ttft} | "
              f"{per_step:.0f} | {(dep - dtp) * 1e3 / per_step:+.2f} | {bytes_us:.2f} |")


if __name__ == "__main__":
    main()
