"""``ic.sweep``'s most-throughput points (``batch`` None) on arrays equal the point-by-point sweep's.

A chip's most-throughput points after its setting's first two questions are answered at once
(``interfaces.api.sweep_columns.best_segment``, ``performance.fast_columns.best_columns``): every grid of the
concurrency search priced together (``fast_sweep.decode_times_points``), the two steps of each point in one
``step_rows`` call. The concurrency picked, the memory, the refusals, every int, bool and string equal the
per-point sweep's exactly; the figures priced from the steps equal them to 1e-12 relative (``step_rows`` is the
scalar step to float rounding).
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
from inferchip.performance.fast_columns import best_columns
from sweep_paths import forget_settings, hold_or_forget

SETTINGS = [
    *sweep_paths.SETTINGS,
    (("nvidia-a100-sxm-80gb",), "meta-llama/Llama-3.1-70B", dict(count=2, tp=2)),
    (("nvidia-l4",), "meta-llama/Llama-3.1-8B", {}),  # long contexts do not fit: predict's refusals
]

EXACT = ("batch", "memory_per_chip_bytes", "num_chips", "replicas", "input_tokens", "output_tokens")


def _by_points(*args: Any, **kw: Any) -> pd.DataFrame:
    """The sweep with this file's array path (``best_segment``) off: those points through ``predict``."""
    return sweep_paths.by_points("best_segment", *args, **kw)


def _assert_equal(on_arrays: pd.DataFrame, by_points: pd.DataFrame) -> None:
    """Columns, order, dtypes and every non-float value exactly; the concurrency and memory exactly; the other
    floats to 1e-12 relative (NaN where NaN)."""
    assert list(on_arrays.columns) == list(by_points.columns)
    assert (on_arrays.dtypes == by_points.dtypes).all()
    for name in on_arrays.columns:
        a, b = on_arrays[name], by_points[name]
        if a.dtype.kind == "f" and name not in EXACT:
            pd.testing.assert_series_equal(a, b, check_exact=False, rtol=1e-12, atol=0.0)
        else:
            pd.testing.assert_series_equal(a, b, check_exact=True)


lengths = st.lists(st.sampled_from([1, 2, 7, 128, 1000, 3000, 9000, 30000]), min_size=1, max_size=4)


@settings(max_examples=20, deadline=None)
@given(k=st.integers(0, len(SETTINGS) - 1), ins=lengths, outs=lengths, fresh=st.booleans(), both=st.booleans())
def test_most_throughput_on_arrays_equals_the_points(k: int, ins: list[int], outs: list[int], fresh: bool,
                                                    both: bool) -> None:
    """The same frame, the concurrency exact, the figures to 1e-12: settings fresh (their first two points the
    general way) or held, one or two chips, lengths past a model's context refused alike."""
    chips, model, kw = SETTINGS[k]
    chip = list(chips) if both else chips[0]
    hold_or_forget(chips, model, kw, fresh)
    try:
        by_points = _by_points(chip, model, input_tokens=ins, output_tokens=outs, **kw)
    except InvalidSettingError as exc:
        with pytest.raises(type(exc), match="context|position"):
            ic.sweep(chip, model, input_tokens=ins, output_tokens=outs, **kw)
        return
    if fresh:
        forget_settings()
    _assert_equal(ic.sweep(chip, model, input_tokens=ins, output_tokens=outs, **kw), by_points)


def test_a_large_most_throughput_sweep_goes_on_arrays() -> None:
    """2 chips x 30 x 30 lengths: all but each chip's first two points answered on arrays, equal to the points."""
    answered: list[int] = []
    real = sweep_columns.best_segment

    def counted(*a: Any, **k: Any) -> Any:
        got = real(*a, **k)
        answered.append(0 if got is None else got[0])
        return got

    chips = ["nvidia-h100-sxm-80gb", "amd-mi300x"]
    kw: dict[str, Any] = dict(input_tokens=list(range(64, 64 * 31, 64)), output_tokens=[1, *range(50, 50 * 30, 50)])
    forget_settings()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(sweep_columns, "best_segment", counted)
        on_arrays = ic.sweep(chips, "meta-llama/Llama-3.1-8B", **kw)
    assert answered == [30 * 30 - 2] * 2
    assert on_arrays["fits"].all() and (on_arrays["mode"] == "continuous").all()
    assert on_arrays["tpot_s"].isna().sum() == 2 * 30  # one output token: no TPOT
    forget_settings()
    _assert_equal(on_arrays, _by_points(chips, "meta-llama/Llama-3.1-8B", **kw))


@settings(max_examples=10, deadline=None)
@given(i=st.lists(st.integers(1, 20_000), min_size=1, max_size=40), o=st.integers(1, 8_000))
def test_best_columns_pick_max_throughputs_concurrency(i: list[int], o: int) -> None:
    """Each question's concurrency is the one ``FastLayout.max_throughput`` picks (a near tie searched as it
    searches), and a question whose memory holds no sequence is said not to fit, as it says."""
    for _ in range(2):
        ic.predict("nvidia-a100-sxm-80gb", "meta-llama/Llama-3.1-8B", input_tokens=8, output_tokens=8)
    fast = sweep_columns.recent_fast_layout("nvidia-a100-sxm-80gb", "meta-llama/Llama-3.1-8B")
    assert fast is not None
    got = best_columns(fast, np.array(i, dtype=float), np.full(len(i), float(o)))
    assert got is not None
    batches = iter(np.asarray(got.columns["batch"]).tolist())
    for x, fits in zip(i, got.fits.tolist(), strict=True):
        one = fast.max_throughput(float(x), float(o))
        assert fits == (not isinstance(one, str))
        if fits:
            assert not isinstance(one, str) and one is not None and next(batches) == one.batch


def test_columns_written_as_they_come_equal_the_rows_frame() -> None:
    """``Columns``: segments copied into preallocated columns as they come (ints then floats with NaN, bools then
    objects, a column first met in a later segment, one a segment lacks) give the frame ``from_records`` gives the
    same rows; more rows than allotted are refused."""
    piece = sweep_columns.Piece
    segs = [(2, {"a": piece(np.array([1, 2]), {"int": 1}), "b": piece(np.array([True, False]), {"bool": True})}),
            (3, {"a": piece(np.array([0.5, np.nan, 3.0]), {"float": 0.5, "missing": sweep_columns.MISSING}),
                 "c": piece("s", {"str": "s"})}),
            (1, {"a": piece(np.array([7]), {"int": 7}), "b": piece(np.array([True]), {"bool": True})})]
    rows = [{"a": 1, "b": True}, {"a": 2, "b": False}, {"a": 0.5, "c": "s"}, {"c": "s"}, {"a": 3.0, "c": "s"},
            {"a": 7, "b": True}]
    cols = sweep_columns.Columns(6)
    for seg in segs:
        cols.append(seg)
    got = cols.frame(["a", "b", "c", "d"])
    pd.testing.assert_frame_equal(got, pd.DataFrame.from_records(rows, columns=["a", "b", "c", "d"]), check_exact=True)
    small = sweep_columns.Columns(1)
    with pytest.raises(sweep_columns.InternalError, match="allotted"):
        small.append(segs[0])


def test_most_throughput_refusals_on_arrays_are_predicts() -> None:
    """Lengths whose KV cache leaves no room for one sequence (Llama-3.1-8B on an L4): each point answered on arrays
    refuses with ``predict``'s own words (its advice), the others fit, all as point by point."""
    kw: dict[str, Any] = dict(input_tokens=[1000, 20000, 60000, 100000, 8, 50000], output_tokens=[1, 4000, 20000])
    forget_settings()
    on_arrays = ic.sweep("nvidia-l4", "meta-llama/Llama-3.1-8B", **kw)
    assert 0 < on_arrays["fits"].sum() < len(on_arrays)
    assert on_arrays.loc[~on_arrays["fits"], "refusal"].str.contains("does not fit on nvidia-l4").all()
    forget_settings()
    _assert_equal(on_arrays, _by_points("nvidia-l4", "meta-llama/Llama-3.1-8B", **kw))
