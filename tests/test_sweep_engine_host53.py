"""``ic.sweep`` with an engine is ``ic.predict`` with it, point by point, whatever ran before (branch cache53).

The sweep answers a setting's static batches (and most-throughput points) on arrays once ``predict`` has made the
setting's fast layout (its second question); ``predict`` adds the engine's host time per request to the fast path's
TTFT and E2E (``ServedEngine.with_host``), so the arrays must too. Before the fix a sweep after two ``predict`` calls of
the same setting read 27.7 ms of TTFT where ``predict`` read 44.9 ms (vLLM's 17.2 ms of host time left out)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import inferchip as ic
from inferchip.errors import InvalidSettingError
from inferchip.performance.fast_path import FAST_AFTER

CHIP = "nvidia-h100-sxm-80gb"
L8B = "meta-llama/Llama-3.1-8B-Instruct"


def _rows_are_predict(df, kw: dict, i: int, o: int) -> None:  # type: ignore[no-untyped-def]
    for b, ttft, e2e in zip(df["batch_asked"], df["ttft_s"], df["e2e_latency_s"], strict=True):
        one = ic.predict(CHIP, L8B, batch=None if b is None or b != b else int(b), input_tokens=i, output_tokens=o,
                         **kw)
        assert ttft == pytest.approx(one.ttft_s, rel=1e-12)
        assert e2e == pytest.approx(one.e2e_latency_s, rel=1e-12)


def test_a_sweep_after_predict_made_the_fast_layout_keeps_the_engines_host_time() -> None:
    """The order that broke: predict asked FAST_AFTER times of the vLLM setting (its fast layout made), then the sweep
    of it on the arrays."""
    for _ in range(FAST_AFTER):
        first = ic.predict(CHIP, L8B, batch=1, input_tokens=1024, output_tokens=128, engine="vllm")
    df = ic.sweep(CHIP, L8B, batch=[1, 8], input_tokens=1024, output_tokens=128, engine="vllm")
    assert df["ttft_s"].iloc[0] == pytest.approx(first.ttft_s, rel=1e-12)
    plain = ic.predict(CHIP, L8B, batch=1, input_tokens=1024, output_tokens=128)
    assert df["ttft_s"].iloc[0] > plain.ttft_s  # the host time is in it (17.2 ms on vLLM)
    _rows_are_predict(df, {"engine": "vllm"}, 1024, 128)


def test_a_most_throughput_sweep_after_predict_keeps_the_engines_host_time() -> None:
    for _ in range(FAST_AFTER):
        ic.predict(CHIP, L8B, input_tokens=512, output_tokens=64, engine="vllm")
    df = ic.sweep(CHIP, L8B, input_tokens=[512, 1024], output_tokens=64, engine="vllm")
    for i, ttft in zip(df["input_tokens_asked"], df["ttft_s"], strict=True):
        assert ttft == pytest.approx(ic.predict(CHIP, L8B, input_tokens=int(i), output_tokens=64,
                                                engine="vllm").ttft_s, rel=1e-12)


@settings(max_examples=12, deadline=None)
@given(engine=st.sampled_from([None, "vllm", "sglang", "trtllm"]), weights=st.sampled_from([None, "fp8", "bf16"]),
       batches=st.lists(st.integers(1, 64), min_size=1, max_size=3, unique=True),
       before=st.integers(0, FAST_AFTER + 1), after=st.booleans(), most=st.booleans())
def test_the_sweeps_row_is_predicts_in_any_call_order(engine: str | None, weights: str | None, batches: list[int],
                                                     before: int, after: bool, most: bool) -> None:
    """Property: for a drawn engine, weights format and batches, a sweep asked after ``before`` predict calls of its
    setting (none, some, past the fast layout's making) and asked twice or once, reads predict's TTFT and E2E at
    every point, static or most throughput."""
    kw = {"engine": engine, "weights": weights}
    asked: list[int | None] = [None] if most else batches
    for _ in range(before):
        ic.predict(CHIP, L8B, batch=asked[0], input_tokens=1024, output_tokens=128, **kw)
    df = ic.sweep(CHIP, L8B, batch=asked, input_tokens=1024, output_tokens=128, **kw)
    if after:
        df = ic.sweep(CHIP, L8B, batch=asked, input_tokens=1024, output_tokens=128, **kw)
    assert df["fits"].all()
    _rows_are_predict(df, kw, 1024, 128)


@pytest.mark.parametrize("count", [True, 1.0])
def test_a_sweep_refuses_a_count_predict_refuses_after_an_ints_setting_was_made(count: object) -> None:
    """The sweep's look-up of predict's recent setting keys by value, where True and 1.0 are 1: it took count=1's fast
    layout and answered every point where predict refuses the count (predict's own guard, review52)."""
    for _ in range(FAST_AFTER):
        ic.predict(CHIP, L8B, batch=1, input_tokens=1024, output_tokens=128, count=1)
    with pytest.raises(InvalidSettingError, match="count"):
        ic.predict(CHIP, L8B, batch=1, input_tokens=1024, output_tokens=128, count=count)  # type: ignore[arg-type]
    with pytest.raises(InvalidSettingError, match="count"):
        ic.sweep(CHIP, L8B, batch=[1, 8], input_tokens=1024, output_tokens=128, count=count)
