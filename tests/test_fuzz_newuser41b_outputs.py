"""A new user's output findings left by newuser41 (its journal's items 5 to 7), fixed by newuser41b.

5. ``--kv fp4`` / ``--kv int4`` on an H100 were priced with no note. No engine runs a 4-bit float KV cache on a chip
   without 4-bit float units (TensorRT-LLM's NVFP4 KV cache is Blackwell-only: NVIDIA Technical Blog, 2025-12-08),
   and vLLM, SGLang and TensorRT-LLM store no int4 KV cache: a note now says so, on the chip's format data.
6. ``serve``'s ``energy_j`` is the whole run's, ``output_tokens_per_j`` the measurement window's, and no key said
   so: ``energy_window_j`` is added, so that window tokens = ``energy_window_j`` x ``output_tokens_per_j``, and the
   text table labels each.
7. ``predict --batch 100000`` said "short by 26785.9 GB" where the rest of the CLI writes thousands separators.
"""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cli_in_process import run_main
from inferchip.catalog.chips import chip_ids, get_chip_params
from inferchip.cost.peaks import executed_format
from inferchip.errors import DoesNotFitError
from inferchip.performance.setting import format_choice, resolve_setting

LLAMA = "meta-llama/Llama-3.1-8B"
H100 = "nvidia-h100-sxm-80gb"
GPUS = [c for c in chip_ids() if c.startswith(("nvidia-h", "nvidia-b", "nvidia-gb", "amd-mi", "nvidia-a100"))]


@settings(max_examples=60, deadline=None)
@given(chip=st.sampled_from(GPUS), kv=st.sampled_from(["fp4", "mxfp4", "int4", "fp8", "bf16"]))
def test_a_4_bit_kv_cache_is_noted_where_no_engine_runs_it(chip, kv):
    cp = get_chip_params(chip)
    _, _, notes = format_choice("bf16", None, kv, None, chip=cp, model_id=LLAMA)
    kv_notes = [n for n in notes if n.startswith(f"kv {kv}:")]
    has_fp4 = executed_format(cp, "fp4") in ("fp4", "mxfp4")
    if kv == "int4" or (kv in ("fp4", "mxfp4") and not has_fp4):
        assert len(kv_notes) == 1, notes
        assert "a what-if" in kv_notes[0]
    else:
        assert kv_notes == [], notes


def test_fp4_kv_on_an_h100_by_hand():
    code, text = run_main(["predict", "--chip", H100, "--model", LLAMA, "--batch", "1", "--kv", "fp4",
                           "--format", "json"])
    assert code == 0, text
    notes = json.loads(text)["notes"]
    assert any(n.startswith("kv fp4: nvidia-h100-sxm-80gb has no 4-bit float units") and "Blackwell-only" in n
               for n in notes), notes
    code, text = run_main(["predict", "--chip", "nvidia-b200-180gb", "--model", LLAMA, "--batch", "1", "--kv", "fp4",
                           "--format", "json"])
    assert code == 0 and not any(n.startswith("kv ") for n in json.loads(text)["notes"])


@settings(max_examples=6, deadline=None)
@given(rate=st.sampled_from([2.0, 5.0, 20.0]), requests=st.sampled_from([60, 120]))
def test_serve_names_the_window_energy(rate, requests):
    code, text = run_main(["serve", "--chip", H100, "--model", LLAMA, "--rate", str(rate), "--requests",
                           str(requests), "--input-tokens", "256", "--output-tokens", "64", "--format", "json"])
    assert code == 0, text
    d = json.loads(text[text.index("{"):text.rindex("}") + 1])
    span = d["window_end_s"] - d["window_start_s"]
    assert 0 < d["energy_window_j"] <= d["energy_j"]
    # window tokens, two ways: the throughput over the window, and the window's energy times tokens per joule
    assert d["energy_window_j"] * d["output_tokens_per_j"] == pytest.approx(d["output_tokens_per_s"] * span,
                                                                           rel=1e-9)
    assert d["power_w_per_chip"] == pytest.approx(d["energy_window_j"] / span / d["num_chips"], rel=1e-9)


def test_serve_text_labels_each_energy():
    code, text = run_main(["serve", "--chip", H100, "--model", LLAMA, "--rate", "5", "--requests", "60",
                           "--input-tokens", "256", "--output-tokens", "64"])
    assert code == 0, text
    for label in ("energy, whole run", "energy, measurement window", "output tokens per joule (window)",
                  "power per chip (board, window)", "power per chip (wall share, window)"):
        assert label in text, text


@settings(max_examples=20, deadline=None)
@given(batch=st.integers(min_value=20_000, max_value=2_000_000))
def test_the_does_not_fit_line_writes_thousands_separators(batch):
    s = resolve_setting(H100, LLAMA, count=1, tp=1, weights="bf16")
    from inferchip.performance.operating import Question
    from inferchip.performance.predict import predict_setting

    with pytest.raises(DoesNotFitError) as err:
        predict_setting(s, Question.fixed(1024, 1024, batch))
    first = str(err.value).splitlines()[0]
    assert "short by " in first
    assert not re.search(r"\d{4}", first.replace("Llama-3.1-8B", "")), first  # no run of four digits unseparated
