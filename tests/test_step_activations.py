"""The memory fit keeps the activations of the largest step a run executes, not always a full prefill chunk's
(sram40): a static batch's step is its prompts, batch x prompt tokens, at most the chunk (``--chunk-tokens``, else
``--engine``'s chunk_tokens, else 8,192). Continuous batching (and so every closed-loop row) keeps a full chunk.

Hand calculation (``mapping.memory_fit.activation_bytes_per_chip``): per token (4 x hidden + 2 x the widest GEMM
output on the chip) x the activation bytes, plus fp32 logits of min(tokens, 4,096) rows x the LM head's columns on
the chip. Llama-3.1-8B (hidden 4,096, MLP 14,336 gated, vocab 128,256), bf16:
* tp 1: widest = the fused gate/up, 2 x 14,336 = 28,672; per token (16,384 + 57,344) x 2 = 147,456 B; logits
  128,256 x 4 = 513,024 B a row. A 128-token step: 128 x 147,456 + 128 x 513,024 = 84,541,440 B.
* tp 8: widest = the output projection's 4,096 (28,672 / 8 = 3,584 is narrower); per token (16,384 + 8,192) x 2 =
  49,152 B; logits 128,256 / 8 x 4 = 64,128 B a row. 128 tokens: 6,291,456 + 8,208,384 = 14,499,840 B; 64 tokens:
  3,145,728 + 4,104,192 = 7,249,920 B; a full 8,192-token chunk: 402,653,184 + 4,096 x 64,128 = 665,321,472 B.
Groq LPU v1: 230 MB of SRAM, 0.92 of it usable (the calibration): 211.6 MB, below the chunk's 665 MB.
"""

from __future__ import annotations

import json

import pytest

from cli_in_process import run_main
from inferchip.errors import DoesNotFitError, InvalidSettingError
from inferchip.mapping.layout import Layout
from inferchip.mapping.memory_fit import activation_bytes_per_chip
from inferchip.performance.operating import Question
from inferchip.performance.predict import predict, predict_setting
from inferchip.performance.setting import resolve_setting

LLAMA = "meta-llama/Llama-3.1-8B-Instruct"
GROQ = "groq-lpu-v1"
GROQ_LAYOUT = ["--count", "256", "--tp", "8", "--pp", "32"]


def test_one_steps_activations_by_hand():
    s = resolve_setting("nvidia-h100-sxm-80gb", LLAMA, tp=1, weights="bf16")
    mm = s.mapped(s.layout)
    assert float(activation_bytes_per_chip(mm.model, mm.sm, mm.formats, 128.0)) == 84_541_440
    assert mm.step_activation_bytes(128.0) == 84_541_440
    s8 = resolve_setting(GROQ, LLAMA, count=256, tp=8, pp=32, chunk_tokens=8192)  # the chunk it tests, stated
    mm8 = s8.mapped(s8.layout)
    assert mm8.step_activation_bytes(128.0) == 14_499_840
    assert mm8.step_activation_bytes(64.0) == 7_249_920
    assert mm8.step_activation_bytes(None) == 665_321_472  # a full chunk
    assert mm8.step_activation_bytes(1e6) == 665_321_472  # a step above the chunk is one chunk


def test_free_bytes_without_a_step_keeps_a_full_chunk():
    """Continuous batching and the closed-loop rows: the KV pool is the budget less weights and a full chunk."""
    s = resolve_setting("nvidia-h100-sxm-80gb", LLAMA, tp=1, weights="bf16")
    mm = s.mapped(s.layout)
    full = mm.budget_bytes - mm.weights_bytes - float(mm.activation_bytes(8192.0))
    assert float(mm.free_bytes()) == full
    assert float(mm.free_bytes(128.0)) == mm.budget_bytes - mm.weights_bytes - 84_541_440
    assert float(mm.free_bytes(128.0)) - full == float(mm.activation_bytes(8192.0)) - 84_541_440


@pytest.mark.parametrize("fast", [True, False])
def test_an_sram_chip_fits_a_short_static_batch(fast):
    """Before: 'does not fit' at any chip count (the 665 MB chunk alone above the 211.6 MB usable). Now batch 1 of
    128 prompt tokens keeps 14.5 MB of activations and fits, on the fast path and the general one alike."""
    s = resolve_setting(GROQ, LLAMA, count=256, tp=8, pp=32)
    p = predict_setting(s, Question.fixed(128, 128, 1), fast=fast)
    assert p.memory_breakdown_bytes["activations"] == 14_499_840
    assert p.memory_per_chip_bytes <= 230e6 * 0.92


def test_the_chunk_bounds_the_step_and_the_error_names_it():
    # batch 64 x 128 = 8,192 tokens: a full chunk of 8,192, 665 MB, alone above the usable 211.6 MB
    with pytest.raises(DoesNotFitError, match="one 8,192-token prefill chunk"):
        predict(GROQ, LLAMA, count=256, tp=8, pp=32, batch=64, input_tokens=128, output_tokens=128, chunk_tokens=8192)
    # without a chunk, the vendor stack's step budget on a Groq chip (2,048: no catalogued engine runs there), as
    # `inferchip predict` takes it: the same batch's step is one 2,048-token chunk
    with pytest.raises(DoesNotFitError, match="one 2,048-token prefill chunk"):
        predict(GROQ, LLAMA, count=256, tp=8, pp=32, batch=64, input_tokens=128, output_tokens=128)
    # batch 16 x 128 = 2,048 tokens: 2,048 x 49,152 + 2,048 x 64,128 = 231,997,440 B, still above: named as the step
    with pytest.raises(DoesNotFitError, match=r"its largest step, 2,048 tokens \(batch x prompt; the chunk is 8,192\)"):
        predict(GROQ, LLAMA, count=256, tp=8, pp=32, batch=16, input_tokens=128, output_tokens=128, chunk_tokens=8192)
    # a 64-token chunk caps that step at 64 tokens: it fits
    p = predict(GROQ, LLAMA, count=256, tp=8, pp=32, batch=16, input_tokens=128, output_tokens=128,
                chunk_tokens=64)
    assert p.memory_breakdown_bytes["activations"] == 7_249_920


def test_the_chunk_option_and_its_sources():
    code, text = run_main(["predict", "--chip", GROQ, "--model", LLAMA, *GROQ_LAYOUT, "--batch", "1",
                           "--input-tokens", "128", "--output-tokens", "128", "--format", "json"])
    assert code == 0, text
    got = json.loads(text)
    # the chunk serve runs on the chip: no catalogued engine runs on a Groq LPU, so the vendor-stack record's 2,048
    # (catalog/engine_hardware.yaml, engines48; before it, the vllm record's device rule gave 2,048 too)
    assert got["memory_activations"]["step_tokens"] == 128 and got["memory_activations"]["chunk_tokens"] == 2048
    assert "catalog/engine_hardware.yaml vendor_stack" in got["memory_activations"]["chunk_source"]
    assert got["memory_breakdown_bytes"]["activations"] == 14_499_840
    code, text = run_main(["predict", "--chip", "amd-mi355x", "--model", LLAMA, "--batch", "64",
                           "--input-tokens", "1024", "--engine", "atom", "--format", "json"])
    assert code == 0, text
    act = json.loads(text)["memory_activations"]  # ATOM's chunk_tokens: 16,384 (catalog/engines.yaml)
    assert act["chunk_tokens"] == 16384 and act["step_tokens"] == 16384  # serve's source: the record, by its rule
    assert "the atom engine record's (catalog/engines.yaml" in act["chunk_source"]
    code, text = run_main(["predict", "--chip", GROQ, "--model", LLAMA, "--batch", "1", "--chunk-tokens", "0"])
    assert code == 2 and "--chunk-tokens" in text and "1,048,576" in text
    with pytest.raises(InvalidSettingError, match="chunk_tokens="):  # the keyword from Python (stop 51)
        predict(GROQ, LLAMA, count=256, tp=8, pp=32, batch=1, chunk_tokens=0)


def test_continuous_batching_keeps_a_full_chunk():
    """--max-throughput: the concurrency is searched and a step may fill the chunk, so the chunk's activations are
    kept, by the fit and in the breakdown (test_continuous_batching_reports_the_chunk_it_keeps)."""
    s = resolve_setting(GROQ, LLAMA, count=256, tp=8, pp=32, chunk_tokens=8192)  # the chunk it tests, stated
    with pytest.raises(DoesNotFitError, match="one 8,192-token prefill chunk"):
        predict_setting(s, Question.fixed(128, 128, None), fast=False)
    assert s.mapped(Layout(tp=8, pp=32)).chunk_tokens == 8192


def test_a_smaller_chunk_is_advised_where_one_fits():
    """Continuous batching keeps a chunk: 665 MB at 8,192 tokens. Room beside the weights (185.9 MB at tp 8 pp 32)
    and one 256-token sequence's KV (131,072 B) in the 211.6 MB usable: 25.6 MB, at 113,280 B a token (49,152 +
    64,128): 226 tokens. At --chunk-tokens 226 it fits."""
    with pytest.raises(DoesNotFitError, match=r"chunk_tokens=226 or fewer"):
        predict(GROQ, LLAMA, count=256, tp=8, pp=32, input_tokens=128, output_tokens=128)
    p = predict(GROQ, LLAMA, count=256, tp=8, pp=32, input_tokens=128, output_tokens=128, chunk_tokens=226)
    assert p.batch >= 1


@pytest.mark.parametrize("command", [["serve", "--concurrency", "1", "--requests", "4"], ["curve"]])
def test_serve_and_curve_take_the_chunk_and_state_it(command: list[str]):
    """serve and (since stop 41) curve: one chunk (``--chunk-tokens``, else ``--engine``'s, else 8,192) for the
    memory fit and the scheduler, with the same checks; curve's JSON states it at the top level."""
    args = [command[0], "--chip", GROQ, "--model", LLAMA, *GROQ_LAYOUT, *command[1:], "--input-tokens", "128",
            "--output-tokens", "16", "--format", "json"]
    code, text = run_main(args)
    assert code == 2 and "--chunk-tokens" in text  # a full chunk's 665 MB: the advice names a smaller chunk
    code, text = run_main([*args, "--chunk-tokens", "128"])
    assert code == 0, text
    got = json.loads(text)
    assert got["prefill_chunk_tokens"] == 128 and got["prefill_chunk_source"] == "--chunk-tokens"
    assert got["activations_bytes_per_chip"] == 14_499_840
    code, text = run_main([*args, "--chunk-tokens", "0"])
    assert code == 2 and "--chunk-tokens" in text and "1,048,576" in text
    rows = [a for a in args if a not in ("--requests", "4")]
    code, text = run_main([*rows, "--chunk-tokens", "128", "--mtp", "1"])
    assert code == 2 and "drop --chunk-tokens" in text


def test_curve_fits_and_schedules_the_engines_chunk(monkeypatch: pytest.MonkeyPatch):
    """ATOM's chunk_tokens is 16,384 (catalog/engines.yaml): the memory fit kept 8,192 tokens' activations while the
    scheduler ran 16,384 before stop 41; now both take 16,384 (one attention-DP rank here, so the budget is the
    chunk)."""
    import inferchip.sim

    seen = {}

    def stop(step, *args, scheduler_config, **kwargs):
        seen.update(fit=step.mm.chunk_tokens, budget=scheduler_config.max_num_batched_tokens, ranks=step.ranks)
        raise InvalidSettingError("stopped before the sweep")

    monkeypatch.setattr(inferchip.sim, "throughput_interactivity_curve", stop)
    code, _ = run_main(["curve", "--chip", "amd-mi355x", "--model", "openai/gpt-oss-120b", "--engine", "atom"])
    assert code == 2 and seen == {"fit": 16384, "budget": 16384, "ranks": 1}


@pytest.mark.parametrize("command", [["serve", "--concurrency", "1", "--requests", "4"], ["curve"]])
def test_the_engine_record_reports_the_chunk_the_run_used(command: list[str]):
    """quality42: with ``--chunk-tokens`` over ``--engine``'s chunk, the engine block (JSON ``engine.chunk_tokens``
    and the table's engine line) said the engine record's 8,192 (vLLM, catalog/engines.yaml) while the run used the
    option's 2,048; now it gives the chunk used, as ``prefill_chunk_tokens`` does."""
    args = [command[0], "--chip", "nvidia-h100-sxm-80gb", "--model", LLAMA, "--engine", "vllm", *command[1:],
            "--input-tokens", "128", "--output-tokens", "16", "--chunk-tokens", "2048"]
    code, text = run_main([*args, "--format", "json"])
    assert code == 0, text
    got = json.loads(text)
    assert got["engine"]["chunk_tokens"] == 2048 and got["prefill_chunk_tokens"] == 2048
    assert got["engine"]["max_num_seqs"] == 1024  # vLLM's record, untouched
    code, text = run_main(args)
    words = " ".join(text.split())  # the engine line wraps at the console width
    assert code == 0 and "prefill chunk 2,048 tokens" in words and "8,192" not in words, text
