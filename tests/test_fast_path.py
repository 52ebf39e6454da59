"""predict's fast path (``performance.fast_path``) gives the general path's answers.

The same question is asked twice on the same resolved setting: ``predict_setting(..., fast=True)``
(floats, compiled steps, the lean decode sweep) and ``fast=False`` (best_layout, operating_point,
phase metrics, array steps). Every field of ``to_dict()`` (breakdown, memory, notes, energy and
money included) must match to rel 1e-9, keys in the same order; a question that does not fit
must raise the same error. Settings span dense, MoE, sliding-window, chunked-attention, pipeline, attention-DP
and 4-bit models, chips with and without a price or a TDP, and layouts the user fixes.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import loop_step
from inferchip.errors import DoesNotFitError
from inferchip.performance import fast_path
from inferchip.performance.predict import ask, predict, predict_setting
from inferchip.performance.setting import resolve_setting
from inferchip.spec.calibration import Calibration

SETTINGS = [
    ("nvidia-h100-sxm-80gb", "meta-llama/Llama-3.1-8B", dict(tp=1)),
    ("nvidia-h100-sxm-80gb", "meta-llama/Llama-3.1-8B", dict(tp=1, weights="fp8", kv="fp8")),
    ("nvidia-h100-sxm-80gb", "mistralai/Mixtral-8x7B-v0.1", dict(count=8, tp=4, ep=2, pp=2)),
    ("nvidia-h100-sxm-80gb", "deepseek-ai/DeepSeek-V2-Lite", dict(count=8, tp=8, attn_dp=True)),
    ("nvidia-h100-sxm-80gb", "google/gemma-2-9b", dict(count=2, tp=2)),
    ("nvidia-h100-sxm-80gb", "openai/gpt-oss-120b", dict(count=8, tp=8, weights="mxfp4", activations="bf16")),
    ("nvidia-a100-sxm-80gb", "Qwen/Qwen3-30B-A3B", dict(count=2, tp=2)),
    ("amd-mi300x", "meta-llama/Llama-3.1-70B", dict(tp=1, weights="fp8")),
    ("nvidia-gb200-186gb", "meta-llama/Llama-3.1-8B", dict(tp=1, weights="fp4", activations="fp4")),
    ("nvidia-h200-sxm-141gb", "meta-llama/Llama-3.1-70B", dict(count=8, tp=4, pp=2, weights="fp8")),
    ("nvidia-h100-sxm-80gb", "Qwen/Qwen3-32B", dict(count=4, tp=4, estimate="high")),
    # chunked local attention on 36 of 48 layers (test_chunked_attention.py)
    ("nvidia-b200-180gb", "meta-llama/Llama-4-Scout-17B-16E-Instruct", dict(count=8, tp=8, ep=8)),
    # a host time per running sequence (test_sequence_overhead.py): every path adds it alike
    ("nvidia-h100-sxm-80gb", "meta-llama/Llama-3.1-8B",
     dict(tp=1, calibration=Calibration(sequence_overhead_s=2.5e-5))),
    # no TDP: no power, energy or money; unpadded (resolve_setting pads TPU steps by default, and a padded setting
    # goes the general way: test_every_setting_takes_the_fast_path)
    ("google-tpu-v5e", "meta-llama/Llama-3.1-8B", dict(count=4, tp=4, padding=None)),
    ("aws-trainium2", "Qwen/Qwen3-30B-A3B", dict(count=2, tp=2, ep=2, weights="fp8")),
]
_RESOLVED: dict[int, Any] = {}


def _setting(k: int) -> Any:
    if k not in _RESOLVED:
        chip, model, kw = SETTINGS[k]
        s = _RESOLVED[k] = resolve_setting(chip, model, **kw)
        for _ in range(fast_path.FAST_AFTER):  # a setting's first question goes the general way
            fast_path.fast_layout(s)
    return _RESOLVED[k]


def _same(a: Any, b: Any, path: str = "") -> None:
    if isinstance(a, dict):
        assert list(a) == list(b), path
        for k in a:
            _same(a[k], b[k], f"{path}/{k}")
    elif isinstance(a, list):
        assert len(a) == len(b), path
        for x, y in zip(a, b, strict=True):
            _same(x, y, path)
    elif isinstance(a, float) and isinstance(b, float) and not (math.isnan(a) and math.isnan(b)):
        assert a == pytest.approx(b, rel=1e-9, abs=0.0), path
    else:
        assert type(a) is type(b) and (a == b or (a != a and b != b)), (path, a, b)


def _answer(setting: Any, q: Any, fast: bool) -> Any:
    try:
        return predict_setting(setting, q, fast=fast).to_dict()
    except DoesNotFitError as exc:
        return ("does not fit", str(exc))


def test_a_chip_without_a_spec_or_a_tdp():
    """A ChipParams object without its spec (energy assumes defaults, said in the notes)."""
    from inferchip.catalog.chips import get_chip_params

    s = resolve_setting(get_chip_params("nvidia-h100-sxm-80gb"), "meta-llama/Llama-3.1-8B", tp=1)
    for _ in range(fast_path.FAST_AFTER):
        fast_path.fast_layout(s)
    for q in (ask(2048, 128, 4), ask(2048, 128)):
        a = _answer(s, q, True)
        _same(a, _answer(s, q, False))
        assert any("no chip spec" in n for n in a["notes"])
    a = _answer(_setting(len(SETTINGS) - 2), ask(512, 64, 2), True)
    assert "power_w_per_chip" not in a and any("no TDP" in n for n in a["notes"])


def test_every_setting_takes_the_fast_path():
    for k in range(len(SETTINGS)):
        assert fast_path.fast_layout(_setting(k)) is not None, SETTINGS[k]
    # A searched layout (several candidates) goes the general way, and so does a setting's first question.
    searched = resolve_setting("nvidia-h100-sxm-80gb", "meta-llama/Llama-3.1-70B", count=8)
    assert all(fast_path.fast_layout(searched) is None for _ in range(fast_path.FAST_AFTER + 1))
    fresh = resolve_setting("nvidia-h100-sxm-80gb", "meta-llama/Llama-3.1-8B", tp=1, weights="fp8")
    assert fast_path.FAST_AFTER == 1 or fast_path.fast_layout(fresh) is None
    # a setting padded to a back end's compiled shapes (TPU by default) too: the fast path prices unpadded steps
    padded = resolve_setting("google-tpu-v5e", "meta-llama/Llama-3.1-8B", count=4, tp=4)
    assert padded.padding is not None
    assert all(fast_path.fast_layout(padded) is None for _ in range(fast_path.FAST_AFTER + 1))


def test_the_compiled_step_equals_the_loop():
    """``ScalarPlan.step`` compiled (straight-line code) gives the loop's floats, bit for bit."""
    import random

    from inferchip.cost.scalar_step import _compile

    rng = random.Random(7)
    for k in range(len(SETTINGS)):
        scalar = fast_path.fast_layout(_setting(k)).plan.scalar  # type: ignore[union-attr]
        compiled = _compile(scalar)
        for _ in range(200):
            p = tuple(rng.choice([0.0, 1.0, rng.uniform(0, 3), rng.uniform(0, 1e5)]) for _ in range(7))
            assert compiled(*p) == loop_step(scalar, p), SETTINGS[k]


lengths = st.one_of(st.sampled_from([1, 2, 16, 128, 1024, 4095, 4096, 4097, 8191, 8192, 8193, 32768]),
                    st.integers(1, 40_000))


@settings(max_examples=300, deadline=None)
@given(k=st.integers(0, len(SETTINGS) - 1), i=lengths, o=st.one_of(st.sampled_from([1, 2, 256, 4096]),
                                                                    st.integers(1, 8_000)),
       batch=st.one_of(st.none(), st.sampled_from([1, 2, 8, 64, 512]), st.integers(1, 2_048)))
def test_fast_path_equals_the_general_path(k, i, o, batch):
    s, q = _setting(k), ask(i, o, batch)
    _same(_answer(s, q, True), _answer(s, q, False))


@settings(max_examples=40, deadline=None)
@given(i=lengths, o=st.integers(1, 4_096), batch=st.one_of(st.none(), st.integers(1, 256)))
def test_keyword_predict_takes_the_fast_path_with_the_same_answer(i, o, batch):
    chip, model, kw = SETTINGS[0]
    try:
        got: Any = predict(chip, model, input_tokens=i, output_tokens=o, batch=batch, **kw).to_dict()
    except DoesNotFitError as exc:
        got = ("does not fit", str(exc))
    _same(got, _answer(resolve_setting(chip, model, **kw), ask(i, o, batch), False))


def test_near_ties_in_the_sweep_are_settled_by_the_reference_sweep(monkeypatch):
    """Where two concurrencies' tokens/s come within 1e-9, the lean sweep's last bits could pick
    the other one: the reference sweep (``StepPlan.evaluate``) decides instead."""
    fl = fast_path.fast_layout(_setting(0))
    assert fl is not None
    grid = fl.decode_times  # the lean sweep, made flat so every concurrency ties
    calls = []

    def reference(g, i, o):
        calls.append(len(g))
        return fast_path.FastLayout.decode_times_reference(fl, g, i, o)

    monkeypatch.setattr(fl, "decode_times", lambda g, i, o: g * 1e-3)
    monkeypatch.setattr(fl, "decode_times_reference", reference)
    got = fl.max_throughput(1024.0, 256.0)
    assert calls, "the reference sweep was not consulted"
    monkeypatch.setattr(fl, "decode_times", grid)
    _same(got.to_dict(), _answer(_setting(0), ask(1024, 256), False))  # type: ignore[union-attr]


def test_kept_prefill_steps_give_the_same_answers_and_stay_bounded(monkeypatch):
    """A static question whose prompt length and batch were asked before reuses its prefill step
    (``FastLayout.prefills``): the same answer as the general path; the store never outgrows
    PREFILLS_KEPT."""
    monkeypatch.setattr(fast_path, "PREFILLS_KEPT", 3)
    s = _setting(1)
    fl = fast_path.fast_layout(s)
    assert fl is not None
    for i in (512, 1024, 2048, 4096, 512, 1024):
        for o in (1, 64, 700):  # the same prompt and batch, other output lengths: the kept prefill
            q = ask(i, o, 4)
            _same(_answer(s, q, True), _answer(s, q, False))
            assert len(fl.prefills) <= 3
