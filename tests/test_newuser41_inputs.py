"""A new user's findings of stop 41 (newuser41): what predict reports and advises about the memory it keeps.

1. ``predict --max-throughput`` kept a full prefill chunk's activations in the fit (``max_concurrency``) and said
   so (JSON ``memory_activations.step_tokens`` 8,192; the table's "one step of 8,192 tokens per chip"), but its
   breakdown and ``memory_per_chip_bytes`` showed the activations of a step of batch + prompt tokens. Llama-3.1-8B
   bf16 on one H100 at 1k/1k: the fit keeps 8,192 x 147,456 + 4,096 x 513,024 = 3,309,305,856 B (hand count in
   tests/test_step_activations.py); the breakdown said 817.7 MB, a step of 214 + 1,024 tokens, and the parts summed
   to 96.8 % of the capacity where the fit had filled it.
2. A static batch below the chunk that did not fit got no ``--chunk-tokens`` advice, though a smaller chunk bounds
   its step too (Groq LPU v1, Llama-3.1-8B, 576 chips, batch 1 of 1,024 tokens: it fits at --chunk-tokens 208), and
   the end-stage line ended "a wider tp would" where tp 8 is already the domain's widest.
"""

from __future__ import annotations

import json

import pytest

from cli_in_process import run_main
from inferchip.errors import DoesNotFitError
from inferchip.performance.operating import Question
from inferchip.performance.predict import predict, predict_setting
from inferchip.performance.setting import resolve_setting

LLAMA = "meta-llama/Llama-3.1-8B-Instruct"
H100 = "nvidia-h100-sxm-80gb"
CHUNK_ACT_TP1 = 8192 * 147_456 + 4096 * 513_024  # 3,309,305,856 B


@pytest.mark.parametrize("fast", [True, False])
def test_continuous_batching_reports_the_chunk_it_keeps(fast):
    s = resolve_setting(H100, LLAMA, count=1, tp=1, weights="bf16")
    p = predict_setting(s, Question.fixed(1024, 1024, None), fast=fast)
    assert p.mode == "continuous"
    mem = p.memory_breakdown_bytes
    assert mem["activations"] == CHUNK_ACT_TP1
    assert p.memory_per_chip_bytes == mem["weights"] + mem["kv_cache"] + CHUNK_ACT_TP1
    # the fit fills the usable memory but for less than one more sequence's KV cache (2,048 x 131,072 B)
    mm = s.mapped(s.layout)
    assert 0 <= mm.budget_bytes - p.memory_per_chip_bytes < 2048 * 131_072


def test_the_cli_line_and_the_json_name_the_same_step():
    args = ["predict", "--chip", H100, "--model", LLAMA, "--tp", "1", "--max-throughput"]
    code, text = run_main([*args, "--format", "json"])
    assert code == 0, text
    got = json.loads(text)
    assert got["memory_activations"]["step_tokens"] == 8192
    assert got["memory_breakdown_bytes"]["activations"] == CHUNK_ACT_TP1
    code, text = run_main(args)
    assert code == 0 and "activations: 3,309.3 MB, one step of 8,192 tokens per chip" in text


def test_a_static_batch_below_the_chunk_is_advised_a_smaller_chunk():
    with pytest.raises(DoesNotFitError) as got:
        predict("groq-lpu-v1", LLAMA, count=576, tp=8, pp=24, batch=1, input_tokens=1024, output_tokens=1024)
    text = str(got.value)
    assert "--chunk-tokens" in text
    tokens = int(text.split("--chunk-tokens ")[1].split(" ")[0].replace(",", ""))
    assert 1 <= tokens < 1024
    p = predict("groq-lpu-v1", LLAMA, count=576, tp=8, pp=24, batch=1, input_tokens=1024, output_tokens=1024,
                chunk_tokens=tokens)
    assert p.batch == 1
    assert "a wider tp would\n" not in text + "\n"
    assert "tp=8 is already the widest the chip's scale-up domain of 8 allows for 32 heads" in text
