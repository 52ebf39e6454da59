"""The disaggregated rows' measured prefill intake as a KV hand-off rate: is the plateau a constant KV
bytes/s per prefill worker, per prefill GPU or per KV sender? (docs/serving_journal.md, "The KV hand-off
as the prefill ceiling", stop 34.)

Per configuration (its runs' median at each concurrency; intake ``C x 0.9 ISL / E2E`` by Little's law, as
``disagg_intake.py``), the top concurrency's intake in prompt tokens/s, requests/s, and the same as KV bytes/s
per prefill worker, per prefill GPU and per KV sender, the worker-milliseconds per request, and the most NIXL
descriptors a request can need (one per layer per page, SGLang's ``send_kvcache``).

Sources:
* KV bytes per token and attention layers: the model catalogue's (:func:`kv_geometry`; the same cache the
  simulator holds). DeepSeek-R1 (MLA) caches ``kv_lora_rank + qk_rope_head_dim`` = 512 + 64 = 576 elements
  per token per layer on 61 layers (deepseek-ai/DeepSeek-R1 ``config.json``); the GB200 launch recipes store them
  in FP8 (NVIDIA/srt-slurm @96f34420 ``recipes/gb200-fp4/1k1k/max-tpt.yaml``: ``kv-cache-dtype: fp8_e4m3``, both
  pools; the FP8 scripts likewise, ``catalog/engines.yaml``). gpt-oss-120b: 36 layers x K and V x 8 KV heads x
  64 (openai/gpt-oss-120b ``config.json``), FP8 as the rows' format says; half its layers hold a 128-token window,
  not capped here (an upper bound).
* Senders (sgl-project/sglang @007ba532 ``disaggregation/common/conn.py`` ``CommonKVReceiver``, ``nixl/conn.py``):
  with MLA every prefill attention-DP rank sends the requests it prefilled; where the prefill attention-TP is
  larger than the decode's, the decode side takes the KV from one prefill rank only (``target_tp_ranks[0]``; the
  other ranks get dummy requests), so a TP worker has one sender.
* Descriptors: ``NixlKVManager.send_kvcache`` posts one descriptor per layer per contiguous run of pages
  (``group_concurrent_contiguous``), from the scheduler's thread (``NixlKVSender.send``): at most one per layer
  per page when no two pages are adjacent.

    python tools/step_model/kv_handoff_rate.py src/inferchip/catalog/inferencemax_cases.csv
"""

from __future__ import annotations

import argparse
import math
import re
import statistics
import sys
from collections import defaultdict
from pathlib import Path
from typing import NamedTuple

sys.path.insert(0, str(Path(__file__).resolve().parent))
from disagg_intake import e2e_from_notes, intake_tokens_per_s  # noqa: E402

_RUN = re.compile(r"-c\d+-r\d+$")


def kv_geometry(model: str, kv: str) -> tuple[float, int]:
    """(KV bytes one token leaves in the whole model's cache in format ``kv``, attention layers) from the model
    catalogue, sliding windows not capped (module doc)."""
    from inferchip.catalog.models import load_model
    from inferchip.mapping.layout import Layout
    from inferchip.mapping.memory_fit import Formats, kv_bytes_per_sequence_on_its_chip
    from inferchip.mapping.sharding import shard

    sm = shard(load_model(model), Layout())  # one chip holds the whole cache
    return float(kv_bytes_per_sequence_on_its_chip(sm, Formats(kv=kv), 1.0)), sum(g.count for g in sm.layers)


def max_descriptors(prompt_tokens: float, page_tokens: int, layers: int) -> int:
    """The most descriptors SGLang's NIXL sender posts for one prompt: one per layer per page."""
    return layers * math.ceil(prompt_tokens / page_tokens)


def senders_per_worker(chips: int, attention_dp: bool) -> int:
    """KV senders of one SGLang MLA prefill worker (module doc): every attention-DP rank, else one."""
    return chips if attention_dp else 1


class HandoffRates(NamedTuple):
    requests_per_s_per_worker: float
    tokens_per_s_per_gpu: float
    kv_bytes_per_s_per_worker: float
    kv_bytes_per_s_per_gpu: float
    kv_bytes_per_s_per_sender: float
    worker_s_per_request: float


def handoff_rates(intake_tokens_per_s: float, prompt_tokens: float, workers: int, chips_per_worker: int,
                  senders: int, kv_bytes_per_token: float) -> HandoffRates:
    """A pool's prompt intake spread over its workers, GPUs and senders, in requests, tokens and KV bytes."""
    per_worker_tokens = intake_tokens_per_s / workers
    per_worker_bytes = per_worker_tokens * kv_bytes_per_token
    rps = per_worker_tokens / prompt_tokens
    return HandoffRates(rps, per_worker_tokens / chips_per_worker, per_worker_bytes,
                        per_worker_bytes / chips_per_worker, per_worker_bytes / senders, 1.0 / rps)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("cases")
    ap.add_argument("--page-tokens", type=int, default=32, help="KV page for the descriptor column")
    a = ap.parse_args()
    from inferchip.validation.cases import read_cases
    from inferchip.validation.closed_loop import row_facts
    from inferchip.validation.closed_loop_rows import recipe_workers
    from inferchip.validation.plan import case_formats

    runs: dict[str, dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    info = {}
    for c in read_cases(a.cases):
        e2e = e2e_from_notes(c.notes)
        if "-disagg-" not in c.case_id or c.metric != "ttft_ms" or e2e is None:
            continue
        key = _RUN.sub("", c.case_id.removesuffix("-ttft")).removeprefix("imax-")
        runs[key][c.concurrency].append(intake_tokens_per_s(c.concurrency, 0.9 * c.input_tokens, e2e))
        if key not in info:
            fmt, _ = case_formats(c)
            facts, _ = recipe_workers(c, fmt.weights, row_facts(c))  # the prefill worker as its recipe runs it
            info[key] = (facts.prefill_workers, facts.prefill, fmt.kv, c.model, 0.9 * c.input_tokens)
    print("| configuration | workers x GPUs, senders a worker | intake k tok/s, top two | req/s a worker | "
          "k tok/s a GPU | KV GB/s a worker | a GPU | a sender | worker-ms a request | descriptors a request, most |")
    print("|---" * 10 + "|")
    for key in sorted(runs):
        cs = sorted(runs[key])
        top = statistics.median(runs[key][cs[-1]])
        second = f"{statistics.median(runs[key][cs[-2]]) / 1e3:.1f}" if len(cs) > 1 else "-"
        workers, pre, kv, model, prompt = info[key]
        senders = senders_per_worker(pre.chips, pre.dpa)
        kv_bytes, layers = kv_geometry(model, kv)
        r = handoff_rates(top, prompt, workers, pre.chips, senders, kv_bytes)
        print(f"| {key} | {workers} x {pre.chips}, {senders} | {second} / {top / 1e3:.1f} | "
              f"{r.requests_per_s_per_worker:.1f} | {r.tokens_per_s_per_gpu / 1e3:.1f} | "
              f"{r.kv_bytes_per_s_per_worker / 1e9:.2f} | {r.kv_bytes_per_s_per_gpu / 1e9:.2f} | "
              f"{r.kv_bytes_per_s_per_sender / 1e9:.2f} | {1e3 * r.worker_s_per_request:.0f} | "
              f"{max_descriptors(prompt, a.page_tokens, layers)} |")


if __name__ == "__main__":
    main()
