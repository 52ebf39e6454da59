"""Read a request trace: CSV or JSONL with ``arrival_s, input_tokens, output_tokens``.

CSV needs a header row naming exactly these columns (any order). JSONL holds one JSON
object per line with these keys; blank lines are skipped. The file must be UTF-8. A
malformed file or row raises :class:`SpecError` naming the file, the line (and column where
known), the field and the value. Token counts lie in ``1..MAX_TOKENS`` (10x the longest
context published), arrival times in ``0..MAX_TIME_S``.
Rows are returned sorted by arrival time (stable, so equal times keep file order).
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from inferchip.errors import SpecError
from inferchip.input_files import read_regular_bytes
from inferchip.sim.load.lengths import MAX_TOKENS
from inferchip.sim.step.protocol import FloatArray, IntArray

TRACE_FIELDS = ("arrival_s", "input_tokens", "output_tokens")
MAX_TIME_S = 1e9  # s, as inferchip.sim.load.arrivals.MAX_TIME_S (beyond: sub-microsecond steps are lost in float64)


def _number(path: Path, row: int, line: int, field: str, raw: Any, integer: bool) -> float:
    where = f"{path}: row {row} (line {line}), field '{field}'"
    if raw is None or (isinstance(raw, str) and raw.strip() == ""):
        raise SpecError(f"{where}: value is missing")
    if isinstance(raw, bool):
        raise SpecError(f"{where}: value {raw!r} is not a number")
    text = repr(raw) if len(repr(raw)) <= 40 else f"{repr(raw)[:40]}... ({len(repr(raw))} characters)"
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise SpecError(f"{where}: value {text} is not a number") from None
    except OverflowError:  # a JSON integer beyond float range
        raise SpecError(f"{where}: value {text} is too large for a number") from None
    if not math.isfinite(value):
        raise SpecError(f"{where}: value {text} must be finite")
    if integer:
        if value != round(value) or not 1 <= value <= MAX_TOKENS:
            raise SpecError(f"{where}: value {text} must be a whole number of tokens in 1..{MAX_TOKENS:,}")
    elif not 0 <= value <= MAX_TIME_S:
        raise SpecError(f"{where}: value {text} must be >= 0 and <= {MAX_TIME_S:g} seconds")
    return value


class _Pairs(list[tuple[str, Any]]):
    """A JSON object's (key, value) pairs in order: a key given twice stays visible (a dict keeps the last)."""


def _check_columns(path: Path, names: list[str], where: str) -> None:
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:  # csv.DictReader and json keep the last of two same-named columns or keys: silently one of the values
        raise SpecError(f"{path}: {where}: {', '.join(repr(n) for n in twice)} given twice; allowed: each of "
                        f"{list(TRACE_FIELDS)} once")
    missing = [f for f in TRACE_FIELDS if f not in names]
    unknown = [n for n in names if n not in TRACE_FIELDS]
    if missing or unknown:
        parts = []
        if missing:
            parts.append(f"missing {missing}")
        if unknown:
            parts.append(f"unknown {unknown}")
        raise SpecError(f"{path}: {where}: {', '.join(parts)}; allowed columns are exactly {list(TRACE_FIELDS)}")


def _rows(path: Path, text: str) -> list[tuple[int, int, dict[str, Any]]]:
    """(row number, line number, record) for each data row."""
    out: list[tuple[int, int, dict[str, Any]]] = []
    if path.suffix.lower() in (".jsonl", ".ndjson"):
        row = 0
        for line_no, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            row += 1
            try:
                pairs = json.loads(line, object_pairs_hook=_Pairs)
            except json.JSONDecodeError as exc:
                raise SpecError(
                    f"{path}: row {row} (line {line_no}): not valid JSON: {exc.msg} at column {exc.colno}") from None
            except RecursionError:
                raise SpecError(f"{path}: row {row} (line {line_no}): JSON nested too deeply") from None
            if not isinstance(pairs, _Pairs):
                raise SpecError(f"{path}: row {row} (line {line_no}): expected a JSON object, got {line.strip()[:80]}")
            _check_columns(path, [k for k, _ in pairs], f"row {row} (line {line_no})")
            record = dict(pairs)
            out.append((row, line_no, record))
        return out
    if path.suffix.lower() != ".csv":
        raise SpecError(f"{path}: unknown trace format '{path.suffix}'; allowed: .csv, .jsonl")
    reader = csv.DictReader(text.splitlines())
    try:
        _check_columns(path, [n.strip() for n in (reader.fieldnames or [])], "header")
        for row, record in enumerate(reader, start=1):
            if None in record:
                raise SpecError(f"{path}: row {row} (line {reader.line_num}): more values than the header has columns")
            out.append((row, reader.line_num, {k.strip(): v for k, v in record.items()}))
    except csv.Error as exc:  # a NUL byte, a field over the csv module's size limit, ...
        raise SpecError(f"{path}: line {reader.line_num + 1}: not valid CSV: {exc}") from None
    return out


def load_trace(path: str | Path, context_tokens: int | None = None,
               model_id: str = "the model") -> tuple[FloatArray, IntArray, IntArray]:
    """Arrival times (s, float64) and input and output tokens (int64), sorted by arrival.

    ``context_tokens``: the model's context window (``max_position_embeddings``); a request whose input + output
    exceeds it is refused naming its row and line, as ``--input-tokens`` + ``--output-tokens`` are."""
    path = Path(path)
    data = read_regular_bytes(path, "trace file")  # a pipe or a device is refused, not read
    try:
        text = data.decode("utf-8-sig")  # a byte-order mark (spreadsheets write one) is dropped, as for case files
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise SpecError(f"{path}: line {line}, column {column} (byte {exc.start}): not UTF-8 text "
                        f"(byte 0x{data[exc.start]:02x}); a trace must be a UTF-8 CSV or JSONL file") from None
    rows = _rows(path, text)
    if not rows:
        raise SpecError(f"{path}: the trace holds no requests")
    arrival = np.empty(len(rows))
    inp = np.empty(len(rows), dtype=np.int64)
    out = np.empty(len(rows), dtype=np.int64)
    for i, (row, line, rec) in enumerate(rows):
        arrival[i] = _number(path, row, line, "arrival_s", rec.get("arrival_s"), integer=False)
        inp[i] = int(_number(path, row, line, "input_tokens", rec.get("input_tokens"), integer=True))
        out[i] = int(_number(path, row, line, "output_tokens", rec.get("output_tokens"), integer=True))
        if context_tokens is not None and inp[i] + out[i] > context_tokens:
            raise SpecError(f"{path}: row {row} (line {line}): input_tokens {inp[i]:,} + output_tokens {out[i]:,} = "
                            f"{inp[i] + out[i]:,} is beyond the context window of {model_id}: at most "
                            f"{context_tokens:,} tokens (max_position_embeddings in its config)")
    order = np.argsort(arrival, kind="stable")
    return arrival[order], inp[order], out[order]
