"""The data sets benchmark rows replay: MLPerf's (README facts, with their citations) and the
serving data sets of other suites that case files name in their ``dataset`` column.

A data set gives the limits of one prompt and one answer (the lognormal length spread is
clipped there), its Server/Interactive latency limits where the benchmark has them, a reference
output length, and, where published, its mean input length; otherwise the mean input is one
unknown per data set (``spec.calibration.DatasetLengths``), fitted or assumed, never per row.
"""

from __future__ import annotations

import heapq
import math
import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from inferchip.performance.operating import LengthDist


@dataclass(frozen=True)
class LatencyLimits:
    """p99 latency constraints of an MLPerf Server/Interactive run, seconds (None = none)."""

    ttft_s: float | None = None
    tpot_s: float | None = None
    e2e_s: float | None = None
    source: str = ""


@dataclass(frozen=True)
class Dataset:
    """An MLPerf LLM data set as the validation README describes it."""

    name: str
    max_input_tokens: float  # upper limit of one sample's input (filter or truncation)
    max_output_tokens: float
    server: LatencyLimits
    interactive: LatencyLimits | None
    default_output_tokens: float | None  # used only when a row gives no output length
    citation: str
    beams: int = 1  # beam-search width of the benchmark's generation (1 = greedy)
    mean_input_tokens: float | None = None  # a published mean input length (then not fitted), tokens


def _lim(ttft_ms=None, tpot_ms=None, e2e_ms=None, src="") -> LatencyLimits:
    def f(v):
        return (None if v is None else v / 1e3)
    return LatencyLimits(f(ttft_ms), f(tpot_ms), f(e2e_ms), src)


_README = "shared/validation/README.md, 'MLPerf dataset facts and latency constraints'"
MLPERF_DATASETS: dict[str, Dataset] = {
    "llama2-70b": Dataset("llama2-70b", 1024, 1024, _lim(2000, 200, src=_README), _lim(450, 40, src=_README), 294.45,
                          "OpenOrca GPT-4, max_seq_len 1024 for input and output (processorca.py); "
                          "mlcommons/inference docs/index.md"),
    "mixtral-8x7b": Dataset("mixtral-8x7b", 2048, 2048, _lim(2000, 200, src=_README), None, 144.84,
                            "OpenOrca + GSM8K + MBXP, max_seq_len 2048; language/mixtral-8x7b/README.md"),
    "gptj": Dataset("gptj", 1919, 128, _lim(e2e_ms=20000, src=_README), None, 128.0,
                    "CNN/DailyMail, inputs truncated at 1919 tokens (dataset.py); generation with 30 to 128 new "
                    "tokens and beam search of width 4, 'only beam_size 4 is allowed for official submission' "
                    "(mlcommons/inference language/gpt-j/backend_PyTorch.py gen_kwargs); no token count is "
                    "reported, so the 128-token cap is assumed per sample", beams=4),
    "llama3.1-405b": Dataset("llama3.1-405b", 131072, 20000, _lim(6000, 175, src=_README), _lim(4500, 80, src=_README),
                             684.68, "8,313 samples; language/llama3.1-405b/README.md; limits from the v5.1 logs"),
    "llama3.1-8b": Dataset("llama3.1-8b", 131072, 20000, _lim(2000, 100, src=_README), _lim(500, 30, src=_README), None,
                           "13,368 CNN-DM samples; language/llama3.1-8b/README.md; limits from the v5.1 logs"),
    "deepseek-r1": Dataset("deepseek-r1", 131072, 32768, _lim(2000, 80, src=_README), None, 3886.2,
                           "4,388 samples; language/deepseek-r1/README.md; limits from the v5.1 logs"),
}
# Serving data sets of benchmark suites other than MLPerf (rows name them in the ``dataset``
# column): no latency limits, the run's mean output in ``output_tokens``, the mean input one
# unknown per data set (``DatasetLengths``). Limits are the longest prompt and answer sent.
_MLE = ("ML.ENERGY Benchmark v3.0 (github.com/ml-energy/benchmark, leaderboard @0cd52dab89); "
        "shared/validation/README.md 'ML.ENERGY leaderboard runs'")
SERVING_DATASETS: dict[str, Dataset] = {
    "lm-arena-chat": Dataset("lm-arena-chat", 32768, 4096, LatencyLimits(), None, None,
                             "LMArena human-preference conversation prompts, max output 4096 tokens; " + _MLE),
    "gpqa": Dataset("gpqa", 2048, 32768, LatencyLimits(), None, None,
                    "GPQA-Diamond questions answered with reasoning on, max output 32768 tokens (prompts: mean 841, "
                    "longest 5,845 characters, about 210 and 1,500 tokens: "
                    "evalscope.readthedocs.io/en/v1.6.0/benchmarks/gpqa_diamond.html, retrieved 2026-12-03; "
                    "about 4 characters per token, plus ~50 tokens of "
                    "prompt template: a mean of 260 tokens); " + _MLE, mean_input_tokens=260.0),
}
DATASETS: dict[str, Dataset] = {**MLPERF_DATASETS, **SERVING_DATASETS}

# Model id fragment (lower case, of the resolved base architecture or the alias) -> data set.
_DATASET_OF_MODEL = (
    ("llama-2-70b", "llama2-70b"), ("llama-3.1-405b", "llama3.1-405b"), ("llama-3.1-8b", "llama3.1-8b"),
    ("mixtral-8x7b", "mixtral-8x7b"), ("deepseek-r1", "deepseek-r1"), ("gpt-j", "gptj"),
)


def dataset_for_model(model_id: str) -> Dataset | None:
    """The MLPerf data set a model id is benchmarked on (None for models MLPerf does not use)."""
    low = model_id.lower()
    for frag, name in _DATASET_OF_MODEL:
        if frag in low:
            return MLPERF_DATASETS[name]
    return None


# ------------------------------------------------------------------ a closed run's measured window
# ML.ENERGY rows state "<P> prompts x num_request_repeats (1-3...)": the unique prompts P, not the
# repeats. The per-model sweeps (github.com/ml-energy/benchmark configs/vllm/<task>/<org>/<model>/<gpu>/
# sweeps.yaml, e.g. gpqa Qwen3-30B-A3B-Thinking-2507 B200: 1 up to 128, 2 at 256, 3 at 512, 6 at 1024)
# raise the repeats with max_num_seqs; no row states its own, so this default is an estimate (ours):
# the fewest repeats that send at least REPEAT_MARGIN x max_num_seqs requests.
REPEAT_MARGIN = 1.15
_PROMPTS = re.compile(r"\b(\d[\d,]*)\s+prompts\s+x\s+num_request_repeats", re.IGNORECASE)


def stated_prompts(notes: str) -> int | None:
    """The unique prompts a row's notes state (``198 prompts x num_request_repeats``); None if none."""
    m = _PROMPTS.search(notes or "")
    return int(m.group(1).replace(",", "")) if m else None


def default_requests(prompts: int, max_num_seqs: int) -> int:
    """Requests of a run (prompts x repeats) when the row does not state its repeats: the fewest
    whole repeats with ``prompts x repeats >= REPEAT_MARGIN x max_num_seqs`` (estimate, see above)."""
    return prompts * max(1, math.ceil(REPEAT_MARGIN * max_num_seqs / prompts))


@lru_cache(maxsize=1024)
def window_held_output_tokens(points: tuple[float, ...], num_requests: int, slots: int, seeds: int = 8) -> float | None:
    """Mean output tokens a running sequence holds over a closed run's measured window, tokens.

    A run of ``num_requests`` requests, all sent at once, ``slots`` (``max_num_seqs``) running:
    all slots start together (cold start, t = 0 when every slot has its first token, ML.ENERGY's
    window start) and a slot takes the next queued request when its answer ends; the window ends
    when ``num_requests - slots - 1`` have finished (ML.ENERGY's end). Time is in decode steps
    (every running sequence gains one token a step), output lengths drawn from the equally weighted
    ``points``, in stratified blocks (each block of ``len(points)`` requests holds every point once,
    shuffled; ``seeds`` orders averaged). A request of length L held over d of the window's steps
    contributes ``d^2 / 2`` token-steps. None where the window is empty (``num_requests <= slots + 1``).
    In steady state the figure would be ``E[o^2] / (2 E[o])`` (``performance.operating`` module doc)."""
    finished_at_end = num_requests - slots - 1
    if finished_at_end < 1 or slots < 1 or not points:
        return None
    pts = np.asarray(points, dtype=float)
    means = []
    for seed in range(seeds):
        rng = np.random.default_rng(seed)
        blocks = -(-num_requests // len(pts))
        lengths = np.concatenate([rng.permutation(pts) for _ in range(blocks)])[:num_requests]
        heap = [(float(lengths[k]), 0.0, float(lengths[k])) for k in range(slots)]  # (end, start, length)
        heapq.heapify(heap)
        done, segments = 0, []
        nxt = slots
        while True:
            end, start, _ = heapq.heappop(heap)
            done += 1
            segments.append(end - start)
            if done == finished_at_end:
                t_end = end
                break
            heapq.heappush(heap, (end + float(lengths[nxt]), end, float(lengths[nxt])))
            nxt += 1
        held = np.array(segments + [t_end - start for _, start, _ in heap])
        means.append(float(np.sum(held**2) / 2.0) / (slots * t_end))
    return float(np.mean(means))


def window_outputs(notes: str, outputs: LengthDist, slots: int) -> LengthDist:
    """``outputs`` scaled so the closed loop's held context ``E[o^2] / (2 E[o])`` is that of the
    row's measured window (:func:`window_held_output_tokens`) where its ``notes`` state the prompts
    and the window (ML.ENERGY: it ends when ``num_requests-max_num_seqs-1 have finished``), with
    :func:`default_requests` requests; ``outputs`` unchanged otherwise. The scale also raises the
    arrivals per step, ``b / E[o]``, by its inverse (more prefill than the run had: a small share
    where prompts are short next to the answers, as in gpqa)."""
    prompts = stated_prompts(notes) if "num_requests-max_num_seqs-1 have finished" in (notes or "") else None
    held = None if prompts is None else window_held_output_tokens(outputs.points, default_requests(prompts, slots),
                                                                  slots)
    scale = 1.0 if held is None else held / (outputs.second_moment / (2.0 * outputs.mean))
    return outputs if scale == 1.0 else LengthDist(tuple(p * scale for p in outputs.points))
