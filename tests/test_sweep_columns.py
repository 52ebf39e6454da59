"""``ic.sweep``'s columns built on arrays equal, value for value and dtype for dtype, the frame of its rows.

Where every remaining static batch of a chip and lengths would be primed, ``ic.sweep`` answers them on arrays
(``interfaces.api.sweep_columns.static_segment``, ``performance.fast_columns``) instead of a ``Prediction`` and a dict
each. The frame must equal the one the same sweep makes point by point (``static_segment`` off: each point through
``predict``, its steps primed as before) exactly (``check_exact``: no tolerance), over drawn grids of chips, models,
number formats, lengths (one output token included: no TPOT), unsorted and repeated batches, batches that do not
fit, and settings fresh or already resolved (a fresh one answers its first two points on the general path).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import inferchip as ic
import sweep_paths
from inferchip.errors import InvalidSettingError
from inferchip.interfaces.api import sweep_columns
from sweep_paths import forget_settings, hold_or_forget

SETTINGS = sweep_paths.SETTINGS


def _by_points(*args: Any, **kw: Any) -> pd.DataFrame:
    """The sweep with this file's array path (``static_segment``) off: those points through ``predict``."""
    return sweep_paths.by_points("static_segment", *args, **kw)


batches = st.lists(st.one_of(st.integers(1, 3000), st.sampled_from([1, 2, 8, 64, 256, 100_000])), min_size=1,
                   max_size=30)
lengths = st.lists(st.sampled_from([1, 2, 7, 128, 1000, 3000, 5000]), min_size=1, max_size=2)


@settings(max_examples=24, deadline=None)
@given(k=st.integers(0, len(SETTINGS) - 1), batch=batches, ins=lengths, outs=lengths, fresh=st.booleans(),
       both=st.booleans())
def test_the_sweep_on_arrays_equals_the_sweep_by_points(k: int, batch: list[int], ins: list[int], outs: list[int],
                                                        fresh: bool, both: bool) -> None:
    """The same frame, exactly: columns, order, dtypes and every value (refusals' words included). Both sweeps
    start from the same settings held: none (``fresh``), or each chip's asked twice already (its fast layout made);
    a setting's first question goes the general way, equal to the fast path's to float rounding only."""
    chips, model, kw = SETTINGS[k]
    chip = list(chips) if both else chips[0]
    hold_or_forget(chips, model, kw, fresh)
    try:
        by_points = _by_points(chip, model, batch=batch, input_tokens=ins, output_tokens=outs, **kw)
    except InvalidSettingError as exc:  # (a length past the model's context: refused the same way on arrays)
        with pytest.raises(type(exc), match="context|position"):
            ic.sweep(chip, model, batch=batch, input_tokens=ins, output_tokens=outs, **kw)
        return
    if fresh:
        forget_settings()
    on_arrays = ic.sweep(chip, model, batch=batch, input_tokens=ins, output_tokens=outs, **kw)
    pd.testing.assert_frame_equal(on_arrays, by_points, check_exact=True)


def test_a_large_sweep_goes_on_arrays_and_equals_the_points() -> None:
    """Thousands of batches across the memory limit, two chips and lengths: the array path answers them (no
    ``Prediction`` made past the first points), each block primed as the sweep primes it, and the frame is the
    point-by-point one; the fast layouts hold no primed steps afterwards."""
    made: list[int] = []
    real = sweep_columns.static_segment

    def counted(*a: Any, **k: Any) -> Any:
        got = real(*a, **k)
        made.append(0 if got is None else got[0])
        return got

    kw: dict[str, Any] = dict(batch=[*range(1, 4998), 3000, 2, 4999], input_tokens=[512, 3000], output_tokens=[64, 1])
    chips = ["nvidia-h100-sxm-80gb", "amd-mi300x"]
    ic.sweep(chips, "meta-llama/Llama-3.1-8B", batch=[1, 2], input_tokens=16, output_tokens=16)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(sweep_columns, "static_segment", counted)
        on_arrays = ic.sweep(chips, "meta-llama/Llama-3.1-8B", **kw)
    assert sum(made) == len(on_arrays) == 2 * 2 * 2 * 5000
    assert 0 < on_arrays["fits"].sum() < len(on_arrays)
    assert on_arrays["refusal"].str.contains("the first that does not at these lengths").any()
    pd.testing.assert_frame_equal(on_arrays, _by_points(chips, "meta-llama/Llama-3.1-8B", **kw), check_exact=True)
    for chip in chips:
        fast = sweep_columns.recent_fast_layout(chip, "meta-llama/Llama-3.1-8B")
        assert fast is not None and not fast.primed


def test_a_frame_joins_arrays_and_rows_with_the_rows_dtypes() -> None:
    """``frame`` gives each column the dtype ``from_records`` gives the same values: ints beside floats or a missing
    row as float, a bool beside a missing row as object, strings as the string dtype, a column no row holds."""
    seg_a = sweep_columns.rows_segment([{"a": 1, "b": True, "c": "x"}, {"a": 2.5}])
    seg_b = sweep_columns.static_segment.__globals__["Piece"]  # (the named tuple, as static_segment builds them)
    arrays = (3, {"a": seg_b(np.array([4, 5, 6]), {"int": 4}), "b": seg_b(np.array([True, False, True]),
                                                                           {"bool": True}),
                  "c": seg_b("y", {"str": "y"}), "d": seg_b(None, {"none": None})})
    got = sweep_columns.frame([seg_a, arrays], ["a", "b", "c", "d", "e"])
    rows = [{"a": 1, "b": True, "c": "x"}, {"a": 2.5}] + [{"a": v, "b": f, "c": "y", "d": None}
                                                          for v, f in ((4, True), (5, False), (6, True))]
    pd.testing.assert_frame_equal(got, pd.DataFrame.from_records(rows, columns=["a", "b", "c", "d", "e"]),
                                  check_exact=True)


@pytest.mark.parametrize("k", [3, 7])
def test_attention_dp_and_an_unpriced_chip_on_arrays(k: int) -> None:
    """Attention data parallelism (its steps on the scalar path, the rest on arrays) and a chip with no TDP (no
    power or money columns): the point-by-point frame, across the memory limit."""
    chips, model, kw = SETTINGS[k]
    grid: dict[str, Any] = dict(batch=[*range(1, 400, 7), 200_000, 3], input_tokens=[256, 2000], output_tokens=[1, 300])
    ic.sweep(chips[0], model, batch=[1, 1], input_tokens=8, output_tokens=8, **kw)
    assert sweep_columns.recent_fast_layout(chips[0], model, **kw) is not None
    on_arrays = ic.sweep(chips[0], model, **grid, **kw)
    assert not on_arrays["fits"].all() and on_arrays["fits"].any()
    pd.testing.assert_frame_equal(on_arrays, _by_points(chips[0], model, **grid, **kw), check_exact=True)


def test_attention_dp_steps_have_one_implementation() -> None:
    """The arrays take an attention-DP batch's steps from ``FastLayout.dp_static_steps``, as ``static`` does (they were
    written out twice): a change to it reaches both, and the rows are its rows, to the bit."""
    from inferchip.performance import fast_columns
    from inferchip.performance.fast_path import FastLayout

    chips, model, kw = SETTINGS[3]
    ic.sweep(chips[0], model, batch=[1, 1], input_tokens=8, output_tokens=8, **kw)
    fast = sweep_columns.recent_fast_layout(chips[0], model, **kw)
    assert fast is not None and fast.dp > 1
    b = np.array([1.0, 5.0, 64.0])
    pre, dec, chunks = fast_columns._dp_steps(fast, b, 2000.0, 300.0)
    for n, x in enumerate(b.tolist()):
        p, d, c = fast.dp_static_steps(x, 2000.0, 300.0)
        assert tuple(pre[n]) == p and tuple(dec[n]) == d and chunks[n] == c
    calls: list[float] = []
    real = FastLayout.dp_static_steps
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(FastLayout, "dp_static_steps", lambda self, x, i, o: calls.append(x) or real(self, x, i, o))
        fast_columns._dp_steps(fast, b, 2000.0, 300.0)
        fast.static(5.0, 2000.0, 300.0)
    assert calls == [1.0, 5.0, 64.0, 5.0]
