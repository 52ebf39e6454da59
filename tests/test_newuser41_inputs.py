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

import numpy as np
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
    # the fit keeps within the usable memory, and what it leaves is less than the KV cache (2,048 x 131,072 B a
    # sequence) of the sequences it does not run beyond the point's batch plus one: the memory fit's batch where
    # the most throughput is memory-bound (main 346d4e3), fewer where it peaks below (187 of 214 since
    # decodestep46: the bf16 GEMMs split K on Hopper)
    mm = s.mapped(s.layout)
    fit = float(mm.max_batch(1024.0, 1024.0))
    assert p.batch <= fit
    assert 0 <= mm.budget_bytes - p.memory_per_chip_bytes < (fit - p.batch + 1) * 2048 * 131_072


def test_the_cli_line_and_the_json_name_the_same_step():
    args = ["predict", "--chip", H100, "--model", LLAMA, "--tp", "1", "--max-throughput"]
    code, text = run_main([*args, "--format", "json"])
    assert code == 0, text
    got = json.loads(text)
    assert got["memory_activations"]["step_tokens"] == 8192
    assert got["memory_breakdown_bytes"]["activations"] == CHUNK_ACT_TP1
    code, text = run_main(args)
    assert code == 0 and "activations: 3,309.3 MB, one step of 8,192 tokens per chip" in text


def test_a_static_batch_below_the_chunk_is_advised_a_smaller_chunk(tmp_path):
    with pytest.raises(DoesNotFitError) as got:
        predict("groq-lpu-v1", LLAMA, count=576, tp=8, pp=24, batch=1, input_tokens=1024, output_tokens=1024)
    text = str(got.value)
    assert "chunk_tokens=" in text
    tokens = int(text.split("chunk_tokens=")[1].split(" ")[0].replace(",", ""))
    assert 1 <= tokens < 1024
    p = predict("groq-lpu-v1", LLAMA, count=576, tp=8, pp=24, batch=1, input_tokens=1024, output_tokens=1024,
                chunk_tokens=tokens)
    assert p.batch == 1
    assert "a wider tp would\n" not in text + "\n"
    assert "a wider tp splits them further (tp=16)" in text  # Groq's tp domain is its C2C network (groq51)
    # on a copy of the chip whose domain is one GroqNode of 8, tp 8 is the widest there is, and the advice says so
    from inferchip.catalog.chips import _CHIPS_DIR

    node = tmp_path / "groqnode.yaml"
    node.write_text((_CHIPS_DIR / "groq-lpu-v1.yaml").read_text(encoding="utf-8").replace(
        "id: groq-lpu-v1", "id: groqnode").replace("max_scaleup_domain: 10440", "max_scaleup_domain: 8"))
    with pytest.raises(DoesNotFitError) as got:
        predict(str(node), LLAMA, count=576, tp=8, pp=24, batch=1, input_tokens=1024, output_tokens=1024)
    assert "tp=8 is already the widest the chip's scale-up domain of 8 allows for 32 heads" in str(got.value)


# 3. A static batch under attention data parallelism split each prompt evenly over the DP chips: DeepSeek-R1 on
#    8 B200s (tp 8, ep 8, --attn-dp), batch 1 of 1,024 tokens, TTFT 38.3 ms, below the 40.3 ms of the same chips
#    without attention DP (heads split 8 ways), though one request's attention then runs whole on one chip. `serve`
#    of that one request (the simulator puts whole prompts on a rank: cost.step.step_points ``prefill_chip``) said
#    91.9 ms. Now the busiest chip holds ceil(batch / 8) whole prompts.
R1 = "deepseek-ai/DeepSeek-R1"
B200 = "nvidia-b200-180gb"


@pytest.mark.parametrize("fast", [True, False])
def test_attention_dp_static_batch_prefills_whole_prompts(fast):
    dpa = resolve_setting(B200, R1, count=8, tp=8, ep=8, attn_dp=True)
    heads = resolve_setting(B200, R1, count=8, tp=8, ep=8, attn_dp=False)
    one = predict_setting(dpa, Question.fixed(1024, 256, 1), fast=fast)
    split = predict_setting(heads, Question.fixed(1024, 256, 1), fast=fast)
    assert one.ttft_s > 1.5 * split.ttft_s  # one prompt's attention whole on one chip, not an eighth of it on each
    # batch 1 to 8 keep one prompt on the busiest chip: the prefill grows only by the routed experts' tokens
    eight = predict_setting(dpa, Question.fixed(1024, 256, 8), fast=fast)
    assert one.ttft_s < eight.ttft_s < 1.3 * one.ttft_s
    # batch 9: two prompts on the busiest chip
    nine = predict_setting(dpa, Question.fixed(1024, 256, 9), fast=fast)
    assert nine.ttft_s > 1.5 * one.ttft_s


@pytest.mark.parametrize(("clients", "rel"), [(1, 0.01), (8, 0.01)])
def test_attention_dp_static_batch_matches_the_simulator(clients, rel):
    """A static batch of ``clients`` against the simulator's first wave of as many clients with fixed lengths:
    91.9 against 91.9 ms for one (90.3 before dpa41 gave the busiest chip its prompt's whole attention pairs, as
    the simulator does), 100.7 against 100.7 ms for eight (one prompt a chip either way; main gave 38.3 ms for
    one before newuser41)."""
    args = ["--chip", B200, "--model", R1, "--count", "8", "--tp", "8", "--ep", "8", "--attn-dp",
            "--input-tokens", "1024", "--output-tokens", "256", "--format", "json"]
    code, text = run_main(["predict", *args, "--batch", str(clients)])
    assert code == 0, text
    pred = json.loads(text)
    code, text = run_main(["serve", *args, "--concurrency", str(clients), "--requests", str(clients),
                           "--range-ratio", "1"])
    assert code == 0, text
    sim = json.loads(text)
    assert pred["ttft_s"] == pytest.approx(sim["ttft_s_mean"], rel=rel)
    assert pred["tpot_s"] == pytest.approx(sim["tpot_s_mean"], rel=0.01)


def test_attention_dp_static_arrays_equal_points():
    from inferchip.performance.phases import static_batch

    s = resolve_setting(B200, R1, count=8, tp=8, ep=8, attn_dp=True)
    mm = s.mapped(s.layout)
    batches = [1.0, 3.0, 8.0, 16.0]
    many = static_batch(mm, np.array(batches), 1024.0, 256.0)
    for k, b in enumerate(batches):
        one = static_batch(mm, b, 1024.0, 256.0)
        assert float(np.asarray(many.ttft_s)[k]) == pytest.approx(float(np.asarray(one.ttft_s).reshape(-1)[0]),
                                                                   rel=1e-9)
