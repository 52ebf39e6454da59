"""``ic.sweep``'s static batches priced on arrays give the scalar path's answers.

``cost.step_rows`` prices a block of steps through the plan's array path and lays each out as the scalar step's
flat tuple; ``performance.fast_sweep.prime`` keeps a sweep block's steps where ``FastLayout.static`` finds them.
Each step must equal the scalar step's to 1e-12 relative, and every column of a sweep the same sweep's with the
priming switched off (every step then priced one at a time on the scalar path, as before stop 51), over settings of
dense, MoE, sliding-window, chunked-attention, pipeline, attention-DP and 4-bit models and a chip without a TDP.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import inferchip as ic
from inferchip.cost.step_rows import BLOCK_POINTS, step_rows
from inferchip.interfaces.api import recent_fast_layout, sweep_columns
from inferchip.performance import fast_path, fast_sweep
from inferchip.performance.setting import resolve_setting

SETTINGS: list[tuple[str, str, dict[str, Any]]] = [
    ("nvidia-h100-sxm-80gb", "meta-llama/Llama-3.1-8B", dict(tp=1)),
    ("nvidia-h200-sxm-141gb", "meta-llama/Llama-3.2-1B", dict(weights="fp8", kv="fp8")),
    ("nvidia-h100-sxm-80gb", "mistralai/Mixtral-8x7B-v0.1", dict(count=8, tp=4, ep=2, pp=2)),
    ("nvidia-h100-sxm-80gb", "deepseek-ai/DeepSeek-V2-Lite", dict(count=8, tp=8, attn_dp=True)),
    ("nvidia-h100-sxm-80gb", "google/gemma-2-9b", dict(count=2, tp=2)),
    ("amd-mi300x", "Qwen/Qwen3-30B-A3B", dict(tp=1, weights="fp8")),
    ("nvidia-gb200-186gb", "meta-llama/Llama-3.1-8B", dict(tp=1, weights="fp4", activations="fp4")),
    ("google-tpu-v5e", "meta-llama/Llama-3.1-8B", dict(count=4, tp=4, padding=None)),  # no TDP
]
_PLANS: dict[int, Any] = {}


def _fast(k: int) -> fast_path.FastLayout:
    if k not in _PLANS:
        chip, model, kw = SETTINGS[k]
        s = resolve_setting(chip, model, **kw)
        for _ in range(fast_path.FAST_AFTER):
            fast_path.fast_layout(s)
        _PLANS[k] = fast_path.fast_layout(s)
    fast = _PLANS[k]
    assert fast is not None, SETTINGS[k]
    return fast


points = st.tuples(st.integers(1, 512), st.integers(1, 8192), st.integers(1, 2048))


@settings(max_examples=40, deadline=None)
@given(k=st.integers(0, len(SETTINGS) - 1), pts=st.lists(points, min_size=1, max_size=24))
def test_step_rows_equal_the_scalar_step(k: int, pts: list[tuple[int, int, int]]) -> None:
    """A static batch's prefill and decode steps (and mixed steps: prompt chunks beside decodes) on arrays, row by
    row the scalar step's tuple to 1e-12 relative (0 where it is 0)."""
    fast = _fast(k)
    cols: list[tuple[float, ...]] = []
    for b, i, o in pts:
        t = float(b + i)
        cols += [(b * i, b * i, 0.0, b * i, 0.0, i * (i + 1) / 2 * b, b),  # a prefill step
                 (b, b, b, 0.0, b * (i + o / 2), 0.0, b),  # a decode step
                 (t, t, b, float(i), b * (i + o), i * (i + 1) / 2, b + 1.0)]  # a chunk beside decodes
    rows = step_rows(fast.plan, list(zip(*cols, strict=True)))
    assert rows.shape == (len(cols), len(fast.scalar.step(*cols[0])))
    for row, p in zip(rows, cols, strict=True):
        np.testing.assert_allclose(row, fast.scalar.step(*p), rtol=1e-12, atol=0.0, err_msg=str((SETTINGS[k], p)))


def test_step_rows_blocks_and_refusals() -> None:
    """More points than a block: the same rows as priced one block at a time; bad columns refused, named."""
    fast = _fast(0)
    b = np.arange(1.0, BLOCK_POINTS + 40.0)
    cols = [b, b, b, 0 * b, b * 900.0, 0 * b, b]
    whole = step_rows(fast.plan, cols)
    tail = step_rows(fast.plan, [c[BLOCK_POINTS:] for c in cols])
    assert np.array_equal(whole[BLOCK_POINTS:], tail)
    with pytest.raises(ValueError, match="7 of one size"):
        step_rows(fast.plan, cols[:6])
    with pytest.raises(ValueError, match="7 of one size"):
        step_rows(fast.plan, [*cols[:6], b[:3]])


def _sweep(k: int, batches: list[int], ins: list[int], outs: list[int], primed: bool) -> pd.DataFrame:
    chip, model, kw = SETTINGS[k]
    with pytest.MonkeyPatch.context() as mp:
        if not primed:  # every step priced on the scalar path, one at a time (the sweep before stop 51): the
            mp.setattr(fast_sweep, "prime", lambda fast, pts: 0)  # points asked one by one (no array path, stop 52)
            mp.setattr(sweep_columns, "static_segment", lambda *a, **k: None)
        return ic.sweep(chip, model, batch=batches, input_tokens=ins, output_tokens=outs, **kw)


def _same_frames(a: pd.DataFrame, b: pd.DataFrame) -> None:
    assert list(a.columns) == list(b.columns) and a.shape == b.shape
    for c in a.columns:
        x, y = a[c], b[c]
        if pd.api.types.is_float_dtype(x):
            np.testing.assert_allclose(y.to_numpy(), x.to_numpy(), rtol=1e-12, atol=0.0, err_msg=c)
        else:
            assert x.equals(y), c


@settings(max_examples=12, deadline=None)
@given(k=st.integers(0, len(SETTINGS) - 1), batches=st.lists(st.integers(1, 4096), min_size=3, max_size=40),
       ins=st.lists(st.integers(1, 4096), min_size=1, max_size=2), outs=st.lists(st.integers(1, 1024), min_size=1,
                                                                              max_size=2))
def test_the_sweep_on_arrays_equals_the_scalar_sweep(k: int, batches: list[int], ins: list[int],
                                                     outs: list[int]) -> None:
    """Every column of a sweep whose steps were primed on arrays equals the scalar sweep's (1e-12 relative; the
    refusals, notes and flags equal), points that do not fit included."""
    _same_frames(_sweep(k, batches, ins, outs, primed=False), _sweep(k, batches, ins, outs, primed=True))


def test_a_sweep_primes_its_steps_and_drops_them() -> None:
    """The vector path runs (a sweep of a dp = 1 setting past one block, its points asked one by one: the array
    path off, primes every block's steps), and its steps are dropped when the sweep ends: a question asked after it
    gets the scalar path's figures, bit for bit."""
    chip, model, kw = SETTINGS[1]
    asked = dict(input_tokens=128, output_tokens=32, batch=7, **kw)
    for _ in range(fast_path.FAST_AFTER):
        before = ic.predict(chip, model, **asked).to_dict()
    priced: list[int] = []
    real = fast_sweep.prime
    n = fast_sweep.PRIME_BLOCK + 100
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(fast_sweep, "prime", lambda fast, pts: priced.append(real(fast, pts)) or priced[-1])
        mp.setattr(sweep_columns, "static_segment", lambda *a, **k: None)
        df = ic.sweep(chip, model, batch=range(1, n + 1), input_tokens=128, output_tokens=32, **kw)
    # a decode step a batch (each its own), and the prefill steps (batches whose chunks are alike share one)
    assert df["fits"].all() and len(priced) == 2 and n < sum(priced) <= 2 * n
    fast = recent_fast_layout(chip, model, **kw)
    assert fast is not None and not fast.primed
    assert ic.predict(chip, model, **asked).to_dict() == before


def test_recent_fast_layout_keys_as_predict_does() -> None:
    """recent_fast_layout finds the setting predict answered on (its key built in predict's order, defaults
    applied), and none for keywords predict has not been called with."""
    for _ in range(fast_path.FAST_AFTER):
        ic.predict("nvidia-h100-sxm-80gb", "meta-llama/Llama-3.1-8B", tp=1, weights="fp8", batch=4)
    got = recent_fast_layout("nvidia-h100-sxm-80gb", "meta-llama/Llama-3.1-8B", weights="fp8", tp=1)
    assert got is not None and got.head[:3] == ("nvidia-h100-sxm-80gb", "meta-llama/Llama-3.1-8B", 1)
    assert got.head[5] == "fp8"
    assert recent_fast_layout("nvidia-h100-sxm-80gb", "meta-llama/Llama-3.1-8B", weights="fp8", tp=1,
                                          count=3) is None
    assert recent_fast_layout("nvidia-h100-sxm-80gb", "meta-llama/Llama-3.1-8B", weights="fp8", tp=1, foo=1) is None
    assert recent_fast_layout("nvidia-h100-sxm-80gb", "meta-llama/Llama-3.1-8B", weights="fp8", tp=1, foo=1) is None
