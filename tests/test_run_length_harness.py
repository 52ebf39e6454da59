"""The launch harness's benchmark length (engine field ``run_length``): the Dynamo record's entries, the run
length they give ``validation.closed_loop.num_requests``, and the first wave's weight in the mean TTFT by hand."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from inferchip.catalog.engines import get_engine
from inferchip.sim.engines.bench import steady_weights
from inferchip.spec.engine.workers import RunLength, run_length
from inferchip.validation.closed_loop import PROMPTS_PER_CLIENT, num_requests

TRT = "NVIDIA Dynamo + TensorRT-LLM, PD-disaggregated; nvcr.io#nvidia/ai-dynamo/tensorrtllm-runtime:0.5.1-rc0.pre3"
SGL = "NVIDIA Dynamo + SGLang, PD-disaggregated; lmsysorg/sglang:v0.5.5.post2"


def per_client(engine, software, default=PROMPTS_PER_CLIENT):
    return run_length(engine.run_length, software=software, accelerator="nvidia-gb200-186gb",
                                     model="deepseek-ai/DeepSeek-R1-0528", output_tokens=1024,
                                     disaggregated=True) or default


def test_dynamo_records_the_harness_run_lengths():
    dyn = get_engine("dynamo")
    # benchmark_disagg.slurm MULTI_ROUND default 8; the Dynamo SGLang bench.sh scripts' concurrency x 5
    assert per_client(dyn, TRT) == 8
    assert per_client(dyn, SGL) == 5
    assert per_client(dyn, "NVIDIA Dynamo + vLLM") == PROMPTS_PER_CLIENT
    for other in ("vllm", "sglang", "trtllm", "atom"):  # the InferenceMAX runners' own client: 10 per client
        assert per_client(get_engine(other), SGL) == PROMPTS_PER_CLIENT


def test_a_run_of_no_prompts_is_refused():
    RunLength(software="sglang", prompts_per_client=1)  # a run shorter than SIM_ROUNDS is simulated whole
    with pytest.raises(ValidationError):
        RunLength(software="sglang", prompts_per_client=0)
    assert num_requests(4, 2)[:2] == (8, 8)


def test_num_requests_by_hand():
    # 64 clients x 5 prompts = 320 sent; 3 rounds of 64 = 192 simulated, the middle 64 standing for 192
    bench, n, notes = num_requests(64, 5)
    assert (bench, n) == (320, 192)
    assert notes == ["192 requests simulated for the benchmark's 320: its start and drain as simulated, "
                     "the middle 64 weighted as its steady middle"]
    # 4 clients x 8 = 32 sent; at least 16 simulated
    assert num_requests(4, 8)[:2] == (32, 16)
    assert num_requests(64)[:2] == (640, 192)  # the default: 10 per client


@given(c=st.integers(2, 512), per_client=st.integers(3, 50))
def test_the_first_wave_weighs_one_over_the_prompts_per_client(c, per_client):
    bench, n, _ = num_requests(c, per_client)
    w = steady_weights(n, c, bench)
    # the first wave is the first c sends, each of weight 1, of the benchmark's per_client x c requests
    assert float(w[:c].sum()) == pytest.approx(c)
    assert float(w.sum()) == pytest.approx(bench)
    assert float(w[:c].sum() / w.sum()) == pytest.approx(1.0 / per_client)


def test_a_first_wave_wait_raises_the_mean_ttft_as_the_run_shortens():
    # a first wave that waits 1 s more than the steady requests (0.1 s each): the mean is 0.1 + 1 / P
    c = 32
    for per_client, mean in ((10, 0.2), (8, 0.225), (5, 0.3)):
        bench, n, _ = num_requests(c, per_client)
        ttft = np.full(n, 0.1)
        ttft[:c] += 1.0
        assert float(np.average(ttft, weights=steady_weights(n, c, bench))) == pytest.approx(mean)


def test_dynamo_records_read_a_shorter_sglang_run_than_the_trtllm_one():
    """The runs' own records (docs/data/imax_dynamo_ttft_spread.csv): the first wave's share of the TTFT excess,
    (mean - median) / (p99 - median), goes as 1 / P for one drained wave. The TensorRT-LLM runs (P = 8, the
    harness's default) read about 0.07; the SGLang runs at 1k input read at least 1.4x that, as P = 5 (8 / 5 = 1.6)
    would and P = 10 (0.8x) could not."""
    import csv
    from pathlib import Path
    from statistics import median

    path = Path(__file__).resolve().parents[1] / "docs" / "data" / "imax_dynamo_ttft_spread.csv"
    with path.open() as f:
        rows = list(csv.DictReader(line for line in f if not line.startswith("#")))

    def share(r):
        mean, med, p99 = (float(r[k]) for k in ("mean_ttft_ms", "median_ttft_ms", "p99_ttft_ms"))
        return (mean - med) / (p99 - med)

    trt = [share(r) for r in rows if "-dynamo-trt-" in r["case_prefix"]]
    sgl = [share(r) for r in rows if "-dynamo-sglang-" in r["case_prefix"] and "-1024-1024-" in r["case_prefix"]]
    assert len(trt) == 202 and len(sgl) == 88
    assert 0.06 < median(trt) < 0.09
    assert median(sgl) > 1.4 * median(trt)
