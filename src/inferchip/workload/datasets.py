"""The data sets benchmark rows replay: MLPerf's (README facts, with their citations) and the
serving data sets of other suites that case files name in their ``dataset`` column.

A data set gives the limits of one prompt and one answer (the lognormal length spread is
clipped there), its Server/Interactive latency limits where the benchmark has them, a reference
output length, and, where published, its mean input length; otherwise the mean input is one
unknown per data set (``spec.calibration.DatasetLengths``), fitted or assumed, never per row.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


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
    offline_min_query_count: int | None = None  # LoadGen's fewest samples of an Offline query (mlperf.conf)


def _lim(ttft_ms: float | None = None, tpot_ms: float | None = None, e2e_ms: float | None = None,
         src: str = "") -> LatencyLimits:
    def f(v: float | None) -> float | None:
        return (None if v is None else v / 1e3)
    return LatencyLimits(f(ttft_ms), f(tpot_ms), f(e2e_ms), src)


_README = "shared/validation/README.md, 'MLPerf dataset facts and latency constraints'"
# LoadGen's Offline run: one query of max(min_query_count, 1.1 x min_duration x offline_expected_qps) samples, sent at
# once; min_duration 600 s for every Offline benchmark, min_query_count per benchmark (mlcommons/inference
# loadgen/mlperf.conf @001712e9 "*.Offline.min_duration = 600000", "<model>.Offline.min_query_count"; the rule:
# loadgen/test_settings_internal.cc @006f3a5a, kSlack = 1.1). Offline rows are simulated that way (validation/server.py)
OFFLINE_MIN_DURATION_S = 600.0
OFFLINE_SLACK = 1.1
MLPERF_DATASETS: dict[str, Dataset] = {
    "llama2-70b": Dataset("llama2-70b", 1024, 1024, _lim(2000, 200, src=_README), _lim(450, 40, src=_README), 294.45,
                          "OpenOrca GPT-4, max_seq_len 1024 for input and output (processorca.py); "
                          "mlcommons/inference docs/index.md", offline_min_query_count=24576),
    "mixtral-8x7b": Dataset("mixtral-8x7b", 2048, 2048, _lim(2000, 200, src=_README), None, 144.84,
                            "OpenOrca + GSM8K + MBXP, max_seq_len 2048; language/mixtral-8x7b/README.md",
                            offline_min_query_count=15000),
    "gptj": Dataset("gptj", 1919, 128, _lim(e2e_ms=20000, src=_README), None, 128.0,
                    "CNN/DailyMail, inputs truncated at 1919 tokens (dataset.py); generation with 30 to 128 new "
                    "tokens and beam search of width 4, 'only beam_size 4 is allowed for official submission' "
                    "(mlcommons/inference language/gpt-j/backend_PyTorch.py gen_kwargs); no token count is "
                    "reported, so the 128-token cap is assumed per sample", beams=4, offline_min_query_count=13368),
    "llama3.1-405b": Dataset("llama3.1-405b", 131072, 20000, _lim(6000, 175, src=_README), _lim(4500, 80, src=_README),
                             684.68, "8,313 samples; language/llama3.1-405b/README.md; limits from the v5.1 logs",
                             offline_min_query_count=8313),
    "llama3.1-8b": Dataset("llama3.1-8b", 131072, 20000, _lim(2000, 100, src=_README), _lim(500, 30, src=_README), None,
                           "13,368 CNN-DM samples; language/llama3.1-8b/README.md; limits from the v5.1 logs; mean "
                           "input 870.7 tokens: the mean len(tok_input) of the 13,368 samples of MLCommons' "
                           "cnn_eval.json, as extracted per sample to openshift-psap/performance-dashboard "
                           "mlperf-data/summaries/llama3-1-8b-datacenter.csv (@b04ea53f86; 13,368 rows, the "
                           "README's sample count; extraction in mlperf-data/original/generate_dataset_summaries.py "
                           "@21000667a6)", mean_input_tokens=870.7,
                           offline_min_query_count=13368),
    "deepseek-r1": Dataset("deepseek-r1", 131072, 32768, _lim(2000, 80, src=_README), None, 3886.2,
                           "4,388 samples; language/deepseek-r1/README.md; limits from the v5.1 logs",
                           offline_min_query_count=4388),
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


def mean_input_of(ds: Dataset, fitted: Mapping[str, float]) -> float | None:
    """The mean input length a data set's rows are predicted with: its stated one (``Dataset.mean_input_tokens``,
    counted or published) where it has one, else the fitted or assumed one in ``fitted`` (a calibration file's
    ``mlperf_mean_input_tokens``); None where neither has it."""
    if ds.mean_input_tokens is not None:
        return ds.mean_input_tokens
    value = fitted.get(ds.name)
    return None if value is None else float(value)


def stated_means() -> dict[str, float]:
    """Every data set's stated mean input length (the ones no fit moves), by name."""
    return {n: d.mean_input_tokens for n, d in DATASETS.items() if d.mean_input_tokens is not None}

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
