"""``ic.sweep``: every combination of chips, lengths and batch sizes, one DataFrame row each (static batches and
most-throughput points answered on arrays, :mod:`.sweep_columns`)."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from inferchip.catalog.chips import ChipInput
from inferchip.catalog.models import ModelInput
from inferchip.errors import DoesNotFitError, InvalidSettingError
from inferchip.interfaces.api.sweep_columns import _SKIP, Columns, _kind, recent_fast_layout
from inferchip.spec.chip import ChipParams, ChipSpec
from inferchip.spec.model import ModelSpec

if TYPE_CHECKING:
    from inferchip.performance.fast_path import FastLayout
from inferchip.interfaces.api.arguments import checked_point, vector

MAX_SWEEP_POINTS = 1_000_000
"""The most points one :func:`sweep` takes (the product of its vectors' lengths): ~2.5 us of CPU a static batch
(answered on arrays, ``benchmarks/bench_sweep.py``: a million in ~2.5 s), ~5 us a most-throughput point without
latency limits (on arrays: a million Llama-3.2-1B points in ~5 s; a mixture of experts ~75 us), ~0.2-1 ms a point
asked one by one (latency limits, batch lists holding None): minutes at most."""


def _chip_label(chip: object) -> str:
    if isinstance(chip, ChipSpec | ChipParams):
        return chip.id
    return str(chip)


def sweep(chip: ChipInput | ChipParams | Sequence[ChipInput | ChipParams], model: ModelInput | ModelSpec, *,
          batch: int | Sequence[int] | np.ndarray[Any, Any] | pd.Series[int] | None = None,
          input_tokens: int | Sequence[int] | np.ndarray[Any, Any] | pd.Series[int] = 1024,
          output_tokens: int | Sequence[int] | np.ndarray[Any, Any] | pd.Series[int] = 1024,
          **setting: Any) -> pd.DataFrame:
    """``ic.predict`` over every combination of ``chip`` (one or a list: ids, paths, ChipSpecs, ChipParams),
    ``input_tokens``, ``output_tokens`` and ``batch`` (each one value or a sequence, numpy array or Series; ``batch``
    None: the most throughput), the other keywords (``count``, ``weights``, ``tp``, ``max_ttft_s``, ...) as
    ``ic.predict`` takes them, the same for every point.

    One row per point, chips outermost and batch innermost: ``chip``, ``input_tokens_asked``,
    ``output_tokens_asked``, ``batch_asked`` (the point as given), ``fits`` (False: the point does not fit memory or
    the limits, its figures NaN, ``refusal`` the first line of why), then every scalar of ``Prediction.to_dict()``
    (``ttft_s``, ``tpot_s``, ``output_tokens_per_s``, ``memory_per_chip_bytes``, ``power_w_per_chip``,
    ``usd_per_million_tokens``, ...; units in their names). A bad argument (a batch of 0, an unknown chip) raises
    InvalidSettingError or UnknownIdError before any point is predicted. At most :data:`MAX_SWEEP_POINTS` points."""
    from inferchip.interfaces.api.sweep_columns import Columns, rows_segment, static_segment
    from inferchip.performance.fast_sweep import release
    from inferchip.performance.predict import predict

    chips = vector("chip", chip)
    ins, outs = vector("input_tokens", input_tokens), vector("output_tokens", output_tokens)
    batches = vector("batch", batch, none_ok=True)
    n = len(chips) * len(ins) * len(outs) * len(batches)
    if n > MAX_SWEEP_POINTS:
        raise InvalidSettingError(f"sweep: {n:,} points ({len(chips)} chips x {len(ins)} input x {len(outs)} output "
                                  f"lengths x {len(batches)} batches); allowed: at most {MAX_SWEEP_POINTS:,}")
    from inferchip.catalog.chips import load_chip

    for c in chips:  # an unknown id or a missing file among them refused before the first chip's points run
        if not isinstance(c, ChipParams):
            load_chip(c)
    for name, values in (("input_tokens", ins), ("output_tokens", outs), ("batch", batches)):
        for v in dict.fromkeys(values, None) if all(isinstance(x, int | float) for x in values) else values:
            if v is not None or name != "batch":  # each distinct value checked once, named, before any point runs
                # (None: the most throughput for a batch; a length of None was primed as float(None), a TypeError)
                checked_point(name, v)
    # A static batch that does not fit memory: neither does a larger one of the same chip and lengths (its KV cache
    # and activations only grow), said without building the refusal's advice again (~0.5 ms a point; 10,000 batch
    # sizes across the limit took 5 s). With a latency limit a refusal may be the limit's: every point is predicted.
    memory_only = setting.get("max_ttft_s") is None and setting.get("max_tpot_s") is None
    refused: dict[tuple[int, Any, Any], tuple[float, str]] = {}

    def point_row(k: int, c: Any, i: Any, o: Any, b: Any) -> dict[str, Any]:
        row: dict[str, Any] = {"chip": _chip_label(c), "input_tokens_asked": i, "output_tokens_asked": o,
                               "batch_asked": b}
        first = refused.get((k, i, o)) if memory_only and b is not None else None
        if first is not None and b > first[0]:
            row.update(fits=False, refusal=f"batch {b:,} does not fit memory: the first that does not at "
                                           f"these lengths is {first[0]:,} ({first[1]})")
            return row
        try:
            d = predict(c, model, input_tokens=i, output_tokens=o, batch=b, **setting).to_dict()
        except DoesNotFitError as exc:
            row.update(fits=False, refusal=str(exc).split("\n", 1)[0])
            if b is not None and (first is None or b < first[0]):
                refused[(k, i, o)] = (b, row["refusal"])
        else:
            row.update(fits=True, refusal=None)
            for key in _SKIP:
                d.pop(key, None)
            row.update(d)
        return row

    # Static batches on the fast path: where the sweep would prime every remaining batch of a chip and lengths (the
    # setting's fast layout made, by predict's second question), they are answered on arrays at once
    # (sweep_columns.static_segment: the same steps, primed in the same blocks, and the same floats); other points
    # are asked one by one, each block's steps priced at once (fast_sweep.prime) and dropped when the sweep ends
    # (fast_sweep.release), so a later predict prices its own.
    segments = Columns(len(chips) * len(ins) * len(outs) * len(batches))  # (written as they come: ~1x the frame)
    rows: list[dict[str, Any]] = []
    static = None not in batches
    whole = np.asarray(batches) if static else None
    batch_reps = {type(b).__name__: b for b in batches} if static else {}
    primed: list[FastLayout] = []
    best = memory_only and batches == [None]  # most throughput: a chip's points at once, after its first
    try:
        for k, c in enumerate(chips) if best else ():
            if _most_throughput(c, model, setting, ins, outs, segments, rows, partial(point_row, k, c)):
                rows = []
        for (k, c), i, o in () if best else itertools.product(enumerate(chips), ins, outs):
            n, primed_to = 0, 0 if memory_only else len(batches)
            while n < len(batches):
                if n >= primed_to and memory_only and whole is not None:
                    fast = recent_fast_layout(c, model, **setting)
                    got = None if fast is None else static_segment(
                        fast, _chip_label(c), i, o, batches[n:], whole[n:], batch_reps,
                        partial(refused.get, (k, i, o)), partial(point_row, k, c, i, o))
                    if got is not None:
                        if rows:
                            segments.append(rows_segment(rows))
                            rows = []
                        segments.append(got)
                        break
                if n >= primed_to:
                    primed_to = _prime(c, model, setting, i, o, batches, n, primed)
                rows.append(point_row(k, c, i, o, batches[n]))
                n += 1
    finally:
        for fast in primed:
            release(fast)
    if not segments:
        return pd.DataFrame.from_records(rows, columns=_columns(rows))
    if rows:
        segments.append(rows_segment(rows))
    return segments.frame(_columns([]))


def _most_throughput(chip: Any, model: Any, setting: dict[str, Any], ins: list[Any], outs: list[Any],
                     segments: Columns, rows: list[dict[str, Any]],
                     point_row: Callable[[Any, Any, Any], dict[str, Any]]) -> bool:
    """The most-throughput points of one chip, its lengths' every combination: asked one by one until the setting's
    fast layout is made (predict's first two questions), the rest on arrays
    (:func:`~inferchip.interfaces.api.sweep_columns.best_segment`) where they answer, else one by one. Rows are
    added to ``rows``; True where a segment was added after them (``rows`` then joined it: the caller starts anew)."""
    from inferchip.interfaces.api.sweep_columns import best_segment, rows_segment

    i_all, o_all = np.repeat(np.asarray(ins), len(outs)), np.tile(np.asarray(outs), len(ins))
    reps = ({_kind(v): v for v in ins}, {_kind(v): v for v in outs})
    tried = False
    for n, (i, o) in enumerate(itertools.product(ins, outs)):
        fast = None if tried else recent_fast_layout(chip, model, **setting)
        if fast is not None:
            tried = True
            got = best_segment(fast, _chip_label(chip), i_all[n:], o_all[n:], reps, lambda i, o: point_row(i, o, None))
            if got is not None:
                if rows:
                    segments.append(rows_segment(rows))
                segments.append(got)
                return True
        rows.append(point_row(i, o, None))
    return False


def _prime(chip: Any, model: Any, setting: dict[str, Any], i: Any, o: Any, batches: list[Any], n: int,
           primed: list[FastLayout]) -> int:
    """Prime the fast layout of ``predict(chip, model, **setting)`` with the static batches ``batches[n:]`` at these
    lengths, a block of them (:func:`~inferchip.performance.fast_sweep.prime`; the layout added to ``primed``); the
    index to prime from next (two on where predict has not made its fast layout yet, the end where it never will)."""
    from inferchip.performance.fast_sweep import PRIME_BLOCK, prime


    fast = recent_fast_layout(chip, model, **setting)
    if fast is None:
        return n + 2 if n < 2 else len(batches)
    if fast.dp > 1:  # the float path prices attention-DP steps point by point
        return len(batches)
    if not primed or primed[-1] is not fast:
        primed.append(fast)
    end = min(n + PRIME_BLOCK, len(batches))
    prime(fast, ((float(b), float(i), float(o)) for b in batches[n:end] if b is not None))  # (None: most throughput)
    return end


def _columns(rows: list[dict[str, Any]]) -> list[str]:
    """The sweep's columns: the point, then every figure a Prediction has (NaN in a row that does not fit; where no
    point fits, the columns are there all the same), then any other key a row holds."""
    from dataclasses import fields

    from inferchip.performance.prediction import ENERGY_AND_MONEY_KEYS, Prediction

    cols = ["chip", "input_tokens_asked", "output_tokens_asked", "batch_asked", "fits", "refusal"]
    cols += [f.name for f in fields(Prediction) if f.name not in ("extra", *_SKIP)]
    cols += ["ttft_includes_queueing", "calibration", *ENERGY_AND_MONEY_KEYS]
    seen = dict.fromkeys(cols)
    for r in rows:  # (rows mostly hold the same keys: a set comparison each, not a loop over every key)
        if not r.keys() <= seen.keys():
            seen.update(dict.fromkeys(r))
    return list(seen)
