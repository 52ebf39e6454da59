"""``ic.sweep``'s rows as columns: the static batches of one (chip, lengths) on arrays, and the data frame built
from numpy columns with the dtypes pandas gives the rows' dicts.

``ic.sweep`` answered each point with a ``Prediction`` and its dict, one DataFrame row each (~35 us a point, a
million points ~35 s). Where every remaining static batch of a (chip, input, output) goes to the fast path's primed
steps (the sweep would prime them: :func:`~inferchip.performance.fast_sweep.prime`), :func:`static_segment` answers
them at once (:func:`~inferchip.performance.fast_columns.static_columns`, the same floats), the batches that do not
fit memory refused with the same words: the first of them at these lengths through ``predict`` (its advice), a
larger one by the sentence ``ic.sweep`` writes. Points the arrays do not cover are rows, as before; :func:`frame`
joins both, each column the dtype ``DataFrame.from_records`` infers from the rows' values (read from a few
representative values, one of each type met), so the frame equals the one the rows alone would make.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import pandas as pd

from inferchip.errors import InternalError
from inferchip.workload.limits import MAX_BATCH, MAX_TOKENS

if TYPE_CHECKING:
    from inferchip.catalog.chips import ChipInput
    from inferchip.catalog.models import ModelInput
    from inferchip.performance.fast_path import FastLayout
    from inferchip.spec.chip import ChipParams
    from inferchip.spec.model import ModelSpec

MISSING = object()  # a key a row lacks (NaN in the frame, as from_records fills it)
POINT = ("chip", "input_tokens_asked", "output_tokens_asked", "batch_asked", "fits", "refusal")
_SKIP = ("breakdown", "notes", "memory_breakdown_bytes")  # per-point structures: the Prediction's own, not columns


class Piece(NamedTuple):
    """One column over one segment's rows: an array of them (missing rows NaN) or one value for all, and one value
    of each type it holds (``reps``: type name -> value; MISSING where some row lacks it)."""

    values: Any
    reps: dict[str, Any]


Segment = tuple[int, dict[str, Piece]]  # rows, and their columns in the rows' key order


def _kind(v: object) -> str:
    if v is None:
        return "none"
    if isinstance(v, bool | np.bool_):
        return "bool"
    if isinstance(v, numbers.Integral):
        return "int"
    if isinstance(v, numbers.Real):
        return "float"
    return type(v).__name__


def _array_reps(a: np.ndarray[Any, Any]) -> dict[str, Any]:
    if a.dtype == object:
        return {_kind(v): v for v in a}
    return {_kind(a[0].item()): a[0].item()} if len(a) else {}


def rows_segment(rows: list[dict[str, Any]]) -> Segment:
    """Rows made point by point as a segment (each column an object array; few rows, in practice)."""
    keys = list(dict.fromkeys(k for r in rows for k in r))
    cols = {}
    for k in keys:
        vals = [r.get(k, MISSING) for r in rows]
        reps = {("missing" if v is MISSING else _kind(v)): v for v in vals}
        arr = np.empty(len(vals), dtype=object)
        arr[:] = [np.nan if v is MISSING else v for v in vals]
        cols[k] = Piece(arr, reps)
    return len(rows), cols


def _spread(v: Any, fits: np.ndarray[Any, np.dtype[np.bool_]], all_fit: bool) -> Piece:
    """A figure over the points that fit as a column over all points of the segment (NaN where one does not)."""
    if isinstance(v, np.ndarray):
        reps = _array_reps(v)
        if all_fit:
            return Piece(v, reps)
        out = np.full(len(fits), np.nan, dtype=object if v.dtype == bool else float)
        out[fits] = v
    else:
        reps = {_kind(v): v} if fits.any() else {}
        if all_fit:
            return Piece(v, reps)
        out = np.full(len(fits), np.nan, dtype=object if v is None or isinstance(v, str | bool) else float)
        out[fits] = v
    return Piece(out, {**reps, "missing": MISSING})


def static_segment(fast: FastLayout, label: str, i: Any, o: Any, tail: Sequence[Any], tail_array: np.ndarray[Any, Any],
                   batch_reps: dict[str, Any], first: Callable[[], tuple[Any, str] | None],
                   point_row: Callable[[Any], dict[str, Any]]) -> Segment | None:
    """The static batches ``tail`` (per replica; ``tail_array`` their numpy array, ``batch_reps`` a value of each
    type the sweep's batches hold) at lengths ``i``, ``o`` on ``fast``, as a segment of the sweep's rows; None where
    the arrays do not answer them all (a value ``predict`` would refuse, a figure the scalar code checks): the
    sweep asks point by point. ``first()``: the smallest batch refused for memory at these
    lengths so far and its reason (``ic.sweep``'s record); ``point_row``: the sweep's row of one batch, asked for a
    batch that does not fit and is not above ``first()`` (``predict``'s refusal, with its advice; the sweep records
    it)."""
    from inferchip.performance.fast_columns import static_columns

    ctx = fast.setting.model.max_position_embeddings
    if i > MAX_TOKENS or o > MAX_TOKENS or (ctx is not None and i + o > ctx) or \
            float(tail_array.max()) > MAX_BATCH:
        return None  # predict's own refusals, at their point
    got = static_columns(fast, tail_array, float(i), float(o))
    if got is None:
        return None
    fits, figures = got
    figures = _with_host(fast, figures, np.full(len(tail), float(i)))
    n = len(tail)
    refusal = np.full(n, None, dtype=object)
    out = np.flatnonzero(~fits)
    if len(out):
        # the batches asked point by point: those not above the smallest refused before them (non-strict record
        # lows), each of which the sweep records when below it; every other one takes its sentence, naming the
        # smallest refused before it
        smallest = first()
        b_out = tail_array[out]
        lows = np.minimum.accumulate(b_out)
        before = np.concatenate(([np.inf if smallest is None else smallest[0]], lows[:-1]))
        if smallest is not None:
            before = np.minimum(before, smallest[0])
        asked = np.flatnonzero(~(b_out > before))
        said: list[str] = []
        cut_from = 0
        for a in [*asked.tolist(), len(out)]:
            if smallest is not None and a > cut_from:  # the cut batches between two asked ones
                text = (f" does not fit memory: the first that does not at these lengths is {smallest[0]:,} "
                        f"({smallest[1]})")
                said += [f"batch {tail[j]:,}{text}" for j in out[cut_from:a].tolist()]
            if a == len(out):
                break
            row = point_row(tail[out[a]])
            if row["fits"]:
                raise InternalError(f"sweep: batch {tail[out[a]]} fits on the scalar path, not on the arrays")
            said.append(row["refusal"])
            smallest, cut_from = first(), a + 1
        refusal[out] = said
    all_fit = bool(fits.all())
    cols = {"chip": Piece(label, {"str": label}), "input_tokens_asked": Piece(i, {_kind(i): i}),
            "output_tokens_asked": Piece(o, {_kind(o): o}),
            "batch_asked": Piece(tail_array, batch_reps),
            "fits": Piece(fits, {"bool": True}),
            "refusal": Piece(refusal, ({"none": None} if fits.any() else {}) | ({} if all_fit else {"str": "x"}))}
    cols.update((k, _spread(v, fits, all_fit)) for k, v in figures.items())
    return n, cols


def best_segment(fast: FastLayout, label: str, i: np.ndarray[Any, Any], o: np.ndarray[Any, Any],
                 reps: tuple[dict[str, Any], dict[str, Any]],
                 point_row: Callable[[Any, Any], dict[str, Any]]) -> Segment | None:
    """The most-throughput points (``batch`` None) at the lengths ``i``, ``o`` (one element a point, as given;
    ``reps``: a value of each type each holds) on ``fast`` as a segment of the sweep's rows
    (:func:`~inferchip.performance.fast_columns.best_columns`); None where the arrays do not answer them all.
    ``point_row(i, o)``: the sweep's row of a point that does not fit (``predict``'s refusal, with its advice)."""
    from inferchip.performance.fast_columns import best_columns

    ctx = fast.setting.model.max_position_embeddings
    if float(i.max()) > MAX_TOKENS or float(o.max()) > MAX_TOKENS or (ctx is not None and
                                                                      float((i + o).max()) > ctx):
        return None  # predict's own refusals, at their point
    got = best_columns(fast, i.astype(float), o.astype(float))
    if got is None:
        return None
    fits, figures = got
    figures = _with_host(fast, figures, i.astype(float))
    refusal = np.full(len(i), None, dtype=object)
    for j in np.flatnonzero(~fits).tolist():
        row = point_row(i[j].item(), o[j].item())
        if row["fits"]:
            raise InternalError(f"sweep: {i[j]}/{o[j]} tokens fit on the scalar path, not on the arrays")
        refusal[j] = row["refusal"]
    all_fit = bool(fits.all())
    has_tpot = np.asarray(figures["output_tokens"]) > 1
    cols = {"chip": Piece(label, {"str": label}), "input_tokens_asked": Piece(i, reps[0]),
            "output_tokens_asked": Piece(o, reps[1]), "batch_asked": Piece(None, {"none": None}),
            "fits": Piece(fits, {"bool": True}),
            "refusal": Piece(refusal, ({"none": None} if fits.any() else {}) | ({} if all_fit else {"str": "x"}))}
    for k, v in figures.items():
        if k in ("tpot_s", "output_tokens_per_s_per_user") and not has_tpot.all():  # None where one output token
            piece = _spread(v if has_tpot.any() else None, fits, all_fit)
            cols[k] = Piece(piece.values, piece.reps | {"none": None})
        else:
            cols[k] = _spread(v, fits, all_fit)
    return len(i), cols


def _with_host(fast: FastLayout, figures: dict[str, Any], prompt_tokens: np.ndarray[Any, Any]) -> dict[str, Any]:
    """``figures`` (the arrays' answer on ``fast``, one element a point of ``prompt_tokens`` prompt tokens) with the
    setting's engine's host time per request in TTFT and E2E, as ``predict`` adds it to its scalar answer
    (``ServedEngine.with_host``); unchanged without an engine. A new mapping: the arrays' own are not written."""
    engine = fast.setting.engine
    if engine is None:
        return figures
    host_s = np.zeros(len(prompt_tokens))
    for tokens in np.unique(prompt_tokens).tolist():
        host = engine.host(tokens)
        if host is not None:
            host_s[prompt_tokens == tokens] = host.total_s
    return figures | {k: np.asarray(figures[k], dtype=float) + host_s for k in ("ttft_s", "e2e_latency_s")}


def _target_dtype(name: str, reps: dict[str, Any]) -> Any:
    """The dtype ``DataFrame.from_records`` gives a column holding values of these types (a row per type)."""
    sample = [{} if v is MISSING else {name: v} for v in reps.values()] or [{}]
    return pd.DataFrame.from_records(sample, columns=[name])[name].dtype


def _fill(col: np.ndarray[Any, Any], lo: int, hi: int, piece: Piece | None) -> None:
    """Write a segment's piece (None: the segment lacks the column, NaN) into ``col[lo:hi]``, as ``col``'s dtype
    (float64, int64, bool or object) holds it: None as NaN in a float column."""
    v = MISSING if piece is None else piece.values
    if isinstance(v, np.ndarray):
        if v.dtype == object and col.dtype.kind == "f":
            v = np.array([np.nan if x is None else x for x in v], dtype=float)
        col[lo:hi] = v
    else:
        col[lo:hi] = np.nan if v is MISSING or (v is None and col.dtype.kind == "f") else v


class Columns:
    """The sweep's columns, written as its segments come (:meth:`append`), then one DataFrame (:meth:`frame`). A
    segment's numeric and bool arrays are copied into one preallocated array a column (the dtype of its first
    such piece; the frame's own where the dtype from_records infers is that one), so the segments are not all held
    at once beside the frame: the peak is about the frame. Other pieces (one value for all rows, object arrays, an
    array of another dtype) are kept and written last."""

    def __init__(self, total: int) -> None:
        self.total, self.at, self.count = total, 0, 0
        self.reps: dict[str, dict[str, Any]] = {}  # first-met order
        self.store: dict[str, np.ndarray[Any, Any]] = {}
        self.kept: dict[str, list[tuple[int, int, Piece | None]]] = {}

    def __len__(self) -> int:
        return self.count

    def append(self, segment: Segment) -> None:
        n, cols = segment
        lo, hi = self.at, self.at + n
        if hi > self.total:
            raise InternalError(f"sweep: {hi:,} rows written of {self.total:,} allotted")
        for name, reps in self.reps.items():
            if name not in cols:  # missing in this segment's rows
                reps["missing"] = MISSING
                self.kept.setdefault(name, []).append((lo, hi, None))
        for name in [k for k in cols if k not in self.reps] if lo else ():  # a new column: missing in earlier rows
            self.reps[name] = {"missing": MISSING}
            self.kept[name] = [(0, lo, None)]
        for name, piece in cols.items():
            self.reps.setdefault(name, {}).update(piece.reps)
            v, buf = piece.values, self.store.get(name)
            if isinstance(v, np.ndarray) and (v.dtype.kind in "fb" or v.dtype == np.int64):
                if buf is None:
                    buf = self.store[name] = np.empty(self.total, dtype=v.dtype)
                if buf.dtype == v.dtype:
                    buf[lo:hi] = v
                    continue
            self.kept.setdefault(name, []).append((lo, hi, piece))
        self.at, self.count = hi, self.count + 1

    def frame(self, columns: list[str]) -> pd.DataFrame:
        """One DataFrame of the rows: ``columns`` then any other key in first-met order, each column the dtype
        from_records infers from all its values."""
        if self.at != self.total:
            raise InternalError(f"sweep: {self.at:,} rows written of {self.total:,} allotted")
        names = list(dict.fromkeys([*columns, *self.reps]))
        out: dict[str, Any] = {}
        for name in names:
            reps = self.reps.get(name) or {"missing": MISSING}
            dtype = _target_dtype(name, reps)
            kind = dtype.kind if isinstance(dtype, np.dtype) else "O"
            if kind not in "fiuObS":
                raise InternalError(f"sweep: column {name} of dtype {dtype}; the arrays build float, int, bool or "
                                    "object")
            np_dtype = dtype if isinstance(dtype, np.dtype) else np.dtype(object)
            buf = self.store.pop(name, None)
            col = np.empty(self.total, dtype=np_dtype) if buf is None else \
                buf if buf.dtype == np_dtype else buf.astype(np_dtype)
            del buf
            for lo, hi, piece in self.kept.pop(name, [] if name in self.reps else [(0, self.total, None)]):
                _fill(col, lo, hi, piece)
            out[name] = col if isinstance(dtype, np.dtype) else pd.array(col, dtype=dtype)
        if self.total == 0:
            return pd.DataFrame.from_records([], columns=names)
        return pd.DataFrame(out, columns=names, copy=False)  # (each column its own array: no stacking, no copy)


def frame(segments: list[Segment], columns: list[str]) -> pd.DataFrame:
    """One DataFrame of the segments' rows in order (:class:`Columns`)."""
    cols = Columns(sum(n for n, _ in segments))
    for seg in segments:
        cols.append(seg)
    return cols.frame(columns)


_WHOLE = ("count", "tp", "pp", "ep", "chunk_tokens")  # predict's keywords whose recent setting needs an int given


def recent_fast_layout(chip: ChipInput | ChipParams, model: ModelInput | ModelSpec, **kw: Any) -> FastLayout | None:
    """The :class:`~inferchip.performance.fast_path.FastLayout` that ``predict(chip, model, **kw)`` answers a
    fixed-length question on, where recent calls made one (None otherwise: no call yet, fewer than the fast path
    waits for, or a setting it does not cover). ``kw``: predict's keywords other than the question's (lengths,
    batch, limits), as the calls were given them."""
    from inferchip.catalog.models import input_key
    from inferchip.performance.fast_path import FastLayout
    from inferchip.performance.predict import _RECENT, KEYED

    if kw.keys() - KEYED.keys() - {"max_ttft_s", "max_tpot_s"}:  # one predict does not take: it says so, at the point
        return None
    if {type(kw.get(k)) for k in _WHOLE} - {int, type(None)}:  # 1.0 or True hashes as 1: predict's guard (review52),
        return None  # so an int's setting does not answer a count predict refuses; predict says why, at the point
    try:
        setting = _RECENT.get((input_key(chip), input_key(model), *(kw.get(k, d) for k, d in KEYED.items())))
    except TypeError:  # an unhashable argument: predict keeps no setting for it
        return None
    held = None if setting is None else setting.derived.get("fast")
    return held[0] if held is not None and isinstance(held[0], FastLayout) else None
