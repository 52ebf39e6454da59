"""What a TensorRT-LLM tensor-parallel step costs beyond TP1 on Hopper, against the model: the published TP1 / TP2
pairs and the all-reduce of an MLPerf step at its measured operating point.

Two views:

* **pairs**: rows of a cases CSV that differ only in ``tp`` (same chip, model, input and output lengths; default
  ``docs/data/trtllm_tp_pairs.csv``: TensorRT-LLM's own FP8 throughput tables, github.com/NVIDIA/TensorRT-LLM
  docs/source/performance/perf-overview.md; Llama-2-70B on H200 and H100 from the revision stating "All data in the
  table below was generated using version 0.10.0" (gptManagerBenchmark, in-flight batching, max_utilization,
  max_num_tokens 2048, kv_cache_free_gpu_mem_fraction 0.9, 2,000 requests at an infinite rate; mid-2024, the
  release line of MLPerf v4.1), Llama-3.1-70B on H200 from the v0.17 revision @258c7540 (trtllm-bench)).
  Each row is validated as ``inferchip validate`` does it, and each pair gives the per-GPU price of a token at the
  larger TP over the smaller, ``(tp_b / X_b) / (tp_a / X_a)`` with ``X`` the group's tokens/s, measured and
  predicted.
* **step** (``--step-row ID --decodes B --prompt-tokens P``): the model's step of that row's replica at ``B`` decode
  sequences plus ``P`` prompt tokens (``--context`` KV tokens a sequence, prompts of ``--input-tokens``), by operator
  class, and its all-reduces: ``B + P`` tokens x hidden x 2 bytes each (TensorRT-LLM reduces the 16-bit GEMM output
  even in FP8 engines: NVIDIA's v4.1 llama2-70b Server configuration sets ``precision = "fp16"`` beside ``use_fp8``,
  mlcommons/inference_results_v4.1 @a2f5d66d closed/NVIDIA/configs/llama2-70b/Server/__init__.py), two a layer; the
  price the model gives one of them beside the same bytes at the sourced rates:

  - TensorRT-LLM's AUTO strategy runs its one-/two-shot kernel only up to its IPC workspace, 16,000,000 bytes at
    TP <= 2 (8,000,000 above; tensorrt_llm/plugin/plugin.py ``CustomAllReduceHelper.max_workspace_size_auto``,
    NVIDIA/TensorRT-LLM @c20322ff), NCCL above;
  - NCCL over NVLink 4: 450 GB/s a direction is the line rate, about 370 GB/s the bus bandwidth after the protocol
    (NVIDIA's Sylvain Jeaugey, NVIDIA/nccl-tests issue #212, 2024-05-06); at two ranks an all-reduce moves
    ``2 (p - 1) / p S = S`` bytes a rank, so its time is ``S / busbw``.

    python tools/mlperf_rows/tp_step_cost.py [CASES.csv] [--calibration F.yaml] [--link-fraction 0.822] \\
        [--step-row mlp41-llama2-70b-99-server-h100x8-nvidia-tpot --decodes 839 --prompt-tokens 642 \\
         --mean-input llama2-70b=222.3 --input-tokens 222.3 --context 420]
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_PAIRS = ROOT / "docs" / "data" / "trtllm_tp_pairs.csv"
DEFAULT_CASES = ROOT / "src" / "inferchip" / "catalog" / "validation_cases.csv"
NVLINK4_LINE_BYTES_PER_S = 450e9  # a direction, H100 SXM (the catalogue's chip file)
NCCL_NVLINK4_BUS_BYTES_PER_S = 370e9  # NVIDIA/nccl-tests issue #212: NCCL's effective NVLink 4 bandwidth
TRTLLM_CUSTOM_AR_MAX_BYTES = {2: 16_000_000}  # tensorrt_llm/plugin/plugin.py max_workspace_size_auto, TP <= 2
TRTLLM_CUSTOM_AR_MAX_BYTES_ABOVE_2 = 8_000_000
ALL_REDUCE_BYTES_PER_ELEMENT = 2  # 16-bit GEMM output (module doc)


# ------------------------------------------------------------------ arithmetic (pure)
def per_gpu_cost_ratio(tp_a: int, tokens_per_s_a: float, tp_b: int, tokens_per_s_b: float) -> float:
    """GPU-seconds a token at ``tp_b`` over those at ``tp_a``: ``(tp_b / X_b) / (tp_a / X_a)``."""
    if not (tp_a >= 1 and tp_b >= 1 and tokens_per_s_a > 0 and tokens_per_s_b > 0):
        raise ValueError(f"tp {tp_a}, {tp_b} must be >= 1 and tokens/s {tokens_per_s_a}, {tokens_per_s_b} > 0")
    return (tp_b / tokens_per_s_b) / (tp_a / tokens_per_s_a)


def tp_pairs(rows: Iterable[Any]) -> list[tuple[Any, Any]]:
    """(smaller tp, larger tp) row pairs of rows that differ only in tp: same accelerator, model, input and output
    lengths, metric; each group's rows by ascending tp, neighbours paired."""
    groups: dict[tuple[Any, ...], list[Any]] = {}
    for r in rows:
        key = (r.accelerator, r.model, r.input_tokens, r.output_tokens, r.metric, r.pp)
        groups.setdefault(key, []).append(r)
    out = []
    for g in groups.values():
        g = sorted(g, key=lambda r: r.tp)
        out.extend((a, b) for a, b in zip(g, g[1:], strict=False) if a.tp != b.tp)
    return out


def all_reduce_bytes(tokens: float, hidden: int, element_bytes: int = ALL_REDUCE_BYTES_PER_ELEMENT) -> float:
    """Bytes each rank holds in one all-reduce of a step's activations."""
    if not (tokens >= 0 and hidden >= 1 and element_bytes >= 1):
        raise ValueError(f"tokens {tokens} >= 0, hidden {hidden} and element bytes {element_bytes} >= 1")
    return float(tokens) * hidden * element_bytes


def bus_time_s(nbytes: float, group: int, bus_bytes_per_s: float) -> float:
    """An all-reduce at a bus bandwidth (nccl-tests' definition): ``2 (p - 1) / p x S / busbw``, no latency term."""
    if not (nbytes >= 0 and group >= 1 and bus_bytes_per_s > 0):
        raise ValueError(f"bytes {nbytes} >= 0, group {group} >= 1, bus bandwidth {bus_bytes_per_s} > 0")
    return 2.0 * (group - 1) / group * nbytes / bus_bytes_per_s


def trtllm_strategy(nbytes: float, group: int) -> str:
    """The kernel TensorRT-LLM's AUTO all-reduce runs for a message (module doc)."""
    limit = TRTLLM_CUSTOM_AR_MAX_BYTES.get(group, TRTLLM_CUSTOM_AR_MAX_BYTES_ABOVE_2)
    return "custom one-/two-shot" if nbytes <= limit else "NCCL"


# ------------------------------------------------------------------ the model (imports inferchip)
def _validator(calibration: str | None, link_fraction: float | None, mean_input: str | None) -> Any:
    from inferchip.catalog.calibration_file import load_calibration, load_dataset_lengths
    from inferchip.spec.calibration import DatasetLengths
    from inferchip.validation.validate import Validator

    cal = load_calibration(calibration)
    if link_fraction is not None:
        cal = cal.model_copy(update={"link_bandwidth_fraction": link_fraction})
    lengths = load_dataset_lengths(calibration)
    if mean_input:
        name, _, tokens = mean_input.partition("=")
        lengths = DatasetLengths(mean_input_tokens={**lengths.mean_input_tokens, name: float(tokens)})
    return Validator(cal, lengths=lengths, server_model="auto")


def pairs_report(cases: list[Any], calibration: str | None, link_fraction: float | None) -> list[str]:
    v = _validator(calibration, link_fraction, None)
    pred = {c.case_id: v.predict_case(c).predicted for c in cases}
    lines = ["| row | tp | measured | predicted | error |", "|---|---|---|---|---|"]
    lines += [f"| {c.case_id} | {c.tp} | {c.value:,.1f} | {pred[c.case_id]:,.1f} | "
              f"{100 * (pred[c.case_id] / c.value - 1):+.1f} % |" for c in cases]
    lines += ["", "| pair | measured cost a token a GPU, larger tp / smaller | predicted |", "|---|---|---|"]
    for a, b in tp_pairs(cases):
        m = per_gpu_cost_ratio(a.tp, a.value, b.tp, b.value)
        p = per_gpu_cost_ratio(a.tp, pred[a.case_id], b.tp, pred[b.case_id])
        what = f"{a.model} on {a.accelerator} {a.input_tokens:g}/{a.output_tokens:g} tp{a.tp} -> tp{b.tp}"
        lines.append(f"| {what} | {m:.3f} | {p:.3f} |")
    return lines


def step_report(case: Any, v: Any, decodes: float, prompt_tokens: float, context: float,
                input_tokens: float) -> list[str]:
    from inferchip.validation.validate import case_formats

    out = v.predict_case(case)
    layout = out.layout
    mm = next(iter(v._sims.values())).mm if v._sims else v.mapped(case, layout, case_formats(case)[0])
    tok, dec = np.array([decodes + prompt_tokens]), np.array([float(decodes)])
    t, cost = mm.replica_step_s(tok, dec, dec * context, np.array([prompt_tokens * input_tokens / 2.0]))
    step_s = float(np.ravel(t)[0])
    cls = {k: float(np.ravel(c.time_s)[0]) for k, c in cost.classes.items() if float(np.ravel(c.time_s)[0]) > 0}
    tp, layers, hidden = layout.tp, mm.model.num_layers, mm.model.hidden_size
    gpus = layout.chips_per_replica
    lines = [f"{case.case_id}: tp {tp}, pp {layout.pp}; {decodes:,.0f} decodes + {prompt_tokens:,.0f} prompt tokens "
             f"(KV {context:g} a sequence): step {step_s * 1e3:.1f} ms, "
             f"{step_s * 1e6 * gpus / (decodes + prompt_tokens):.0f} us a token a GPU; "
             f"measured {case.value:g} {case.unit}",
             "  classes (ms): " + ", ".join(f"{k} {x * 1e3:.1f}" for k, x in cls.items())]
    if tp < 2:
        return lines
    n_ar = 2 * layers
    s = all_reduce_bytes(decodes + prompt_tokens, hidden)
    model_one = cls.get("communication", 0.0) / n_ar
    lines.append(f"  all-reduce: {n_ar} a step of {s / 1e6:.2f} MB ({trtllm_strategy(s, tp)} in TensorRT-LLM's AUTO); "
                 f"the model {model_one * 1e6:.1f} us each = {model_one * n_ar * 1e3:.1f} ms a step "
                 f"(an effective {s / model_one / 1e9 if model_one > 0 else math.nan:.0f} GB/s)")
    for name, rate in (("NCCL's NVLink 4 bus bandwidth", NCCL_NVLINK4_BUS_BYTES_PER_S),
                       ("the NVLink 4 line rate", NVLINK4_LINE_BYTES_PER_S)):
        one = bus_time_s(s, tp, rate)
        lines.append(f"  at {name} ({rate / 1e9:.0f} GB/s): {one * 1e6:.1f} us each = {one * n_ar * 1e3:.1f} ms a step")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("cases", nargs="?", default=str(DEFAULT_PAIRS), help="cases CSV of TP pairs")
    ap.add_argument("--calibration", default=None, help="calibration YAML (default: the shipped one)")
    ap.add_argument("--link-fraction", type=float, default=None, help="link_bandwidth_fraction in its place")
    ap.add_argument("--step-row", default=None, help="a row id of --step-cases to price one step of")
    ap.add_argument("--step-cases", default=str(DEFAULT_CASES))
    ap.add_argument("--decodes", type=float, default=839.0)
    ap.add_argument("--prompt-tokens", type=float, default=642.0)
    ap.add_argument("--context", type=float, default=420.0)
    ap.add_argument("--input-tokens", type=float, default=222.3)
    ap.add_argument("--mean-input", default="llama2-70b=222.3", metavar="DATASET=TOKENS")
    a = ap.parse_args()
    if a.link_fraction is not None and not 0 < a.link_fraction <= 1:
        ap.error(f"--link-fraction {a.link_fraction}: in (0, 1]")
    if not (a.decodes >= 1 and a.prompt_tokens >= 0 and a.context > 0 and a.input_tokens > 0):
        ap.error("--decodes >= 1, --prompt-tokens >= 0, --context and --input-tokens > 0")
    from inferchip.validation.cases import read_cases

    print("\n".join(pairs_report(read_cases(a.cases), a.calibration, a.link_fraction)))
    if a.step_row:
        rows = [c for c in read_cases(a.step_cases) if c.case_id == a.step_row]
        if not rows:
            ap.error(f"--step-row {a.step_row!r}: no such row in {a.step_cases}")
        v = _validator(a.calibration, a.link_fraction, a.mean_input)
        print()
        print("\n".join(step_report(rows[0], v, a.decodes, a.prompt_tokens, a.context, a.input_tokens)))


if __name__ == "__main__":
    main()
