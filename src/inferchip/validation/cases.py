"""Published measurements in the case format of ``shared/validation/cases.csv``.

One row is one measured figure (``value`` in ``unit``) of one model on one system in one
setting. :func:`read_cases` parses a file strictly: a missing column, a number that is not one, an
unknown chip, model, scenario, metric or number format stops the read with a :class:`CaseFileError`
naming the file, the line, the column and what is allowed (for an id, the closest catalogue ids).
A row that parses but cannot be predicted (a model that does not fit) is the validator's business.

Facts that the format keeps in the free-text ``notes`` are read by the small pattern
functions at the end (:func:`stated_limits`, :func:`stated_load_per_s`, :func:`stated_ttft_spread_s`):
the MLPerf latency constraint a Server/Interactive row ran under, the request rate at which a
latency row was measured, and the median and p99 TTFT of the run a closed-loop row comes from
(:func:`measured_stall_s` reads a one-off stall of the measured server from them). They read
the text, never the case id, and apply to every row.

MLPerf data-set facts (``MLPERF_DATASETS``) are those of the README next to cases.csv,
each with its citation there.
"""

from __future__ import annotations

import csv
import io
import math
import re
from dataclasses import dataclass
from pathlib import Path

from inferchip.catalog.chips import resolve_chip_id
from inferchip.catalog.known_ids import id_refusal
from inferchip.errors import SpecError
from inferchip.input_files import read_regular_bytes
from inferchip.spec.formats import ALL_FORMATS, canonical_format

# re-exported (the ``X as X`` form marks them public for mypy --strict): the data sets rows replay
from inferchip.workload.datasets import DATASETS as DATASETS
from inferchip.workload.datasets import MLPERF_DATASETS as MLPERF_DATASETS
from inferchip.workload.datasets import SERVING_DATASETS as SERVING_DATASETS
from inferchip.workload.datasets import Dataset as Dataset
from inferchip.workload.datasets import LatencyLimits as LatencyLimits
from inferchip.workload.datasets import dataset_for_model as dataset_for_model
from inferchip.workload.limits import MAX_CHIPS, MAX_CONCURRENCY, MAX_TOKENS

COLUMNS = (
    "case_id", "source_kind", "source", "accelerator", "num_accelerators", "software", "model",
    "weight_dtype", "act_dtype", "kv_dtype", "tp", "pp", "ep", "scenario", "input_tokens",
    "output_tokens", "concurrency", "metric", "value", "unit", "notes",
)
SCENARIOS = ("fixed_length", "offline", "server", "single_stream")
# metric -> the unit its value must be given in
METRIC_UNITS = {
    "output_tokens_per_s_total": "tokens/s",
    "output_tokens_per_s_per_accelerator": "tokens/s/accelerator",
    "samples_per_s": "samples/s",
    "ttft_ms": "ms",
    "tpot_ms": "ms",
    "itl_ms": "ms",
    "batch_e2e_latency_ms": "ms",
    # energy metrics (shared/validation/energy_cases.csv; scopes in its README)
    "power_w_wall_total": "W",
    "power_w_board_total": "W",
    "output_tokens_per_j_wall": "tokens/J",
    "output_tokens_per_j_board": "tokens/J",
}
# Columns a case file may add (blank = not stated): ``dataset`` names the data set whose prompts were
# sent (``DATASETS``); its mean input length is one unknown per data set, as for MLPerf.
OPTIONAL_COLUMNS = ("dataset",)
THROUGHPUT_METRICS = ("output_tokens_per_s_total", "output_tokens_per_s_per_accelerator", "samples_per_s")
LATENCY_METRICS = ("ttft_ms", "tpot_ms", "itl_ms", "batch_e2e_latency_ms")
# energy metric -> its measurement scope: "board" = accelerator boards (NVML), "wall" = whole server at the wall
ENERGY_METRIC_SCOPE = {
    "power_w_wall_total": "wall",
    "power_w_board_total": "board",
    "output_tokens_per_j_wall": "wall",
    "output_tokens_per_j_board": "board",
}


class CaseFileError(SpecError):
    """A malformed case file; ``line`` and ``column`` (1-based, 0 = whole line) locate the fault."""

    def __init__(self, path: str, line: int, column: int, field: str | None, message: str):
        where = f"{path}: line {line}" if line else path  # line 0: the whole file (unreadable, not UTF-8)
        if column:
            where += f", column {column}"
        if field:
            where += f" ({field})"
        super().__init__(f"{where}: {message}")
        self.path, self.line, self.column, self.field = path, line, column, field


def case_dataset(case: Case) -> Dataset | None:
    """The data set whose prompts a row replays: the ``dataset`` column where it names one, else,
    for an MLPerf row (``source_kind`` names MLPerf) without an input length, the MLPerf data set
    of its model. Never inferred from the model id for rows of other sources."""
    if case.dataset is not None:
        return DATASETS[case.dataset]
    if case.input_tokens is None and "mlperf" in case.source_kind.lower():
        return dataset_for_model(case.model)
    return None


@dataclass(frozen=True)
class Case:
    """One parsed row. Blank optional fields are ``None``; ``line`` is where the row starts."""

    case_id: str
    source_kind: str
    source: str
    accelerator: str
    num_accelerators: int
    software: str
    model: str
    weight_dtype: str | None
    act_dtype: str | None
    kv_dtype: str | None
    tp: int | None
    pp: int | None
    ep: int | None
    scenario: str
    input_tokens: float | None
    output_tokens: float | None
    concurrency: int | None
    metric: str
    value: float
    unit: str
    notes: str
    line: int
    dataset: str | None = None  # the optional ``dataset`` column (a key of DATASETS)

    @property
    def energy_scope(self) -> str | None:
        """"board" or "wall" for an energy metric, None for a performance metric."""
        return ENERGY_METRIC_SCOPE.get(self.metric)

    def to_row(self) -> dict[str, str]:
        """The row as the case file spells it (strings, blank for None), keyed by column."""
        def text(v: object) -> str:
            if v is None:
                return ""
            if isinstance(v, float) and v.is_integer():
                return str(int(v))
            return str(v)

        return {name: text(getattr(self, name)) for name in (*COLUMNS, *OPTIONAL_COLUMNS)}

    @property
    def is_mlperf(self) -> bool:
        """A replay of a data set without a stated input length: offline/server rows of an MLPerf
        source, or rows whose ``dataset`` column names the data set (:func:`case_dataset`)."""
        return (self.scenario in ("offline", "server") and self.input_tokens is None
                and case_dataset(self) is not None)

    @property
    def interactive(self) -> bool:
        """MLPerf Interactive (Server with tighter limits), as the notes or the id say."""
        return bool(re.search(r"\binteractive\b", self.notes, re.IGNORECASE)) or "interactive" in self.case_id.lower()


# upper bounds: the command line's (workload.limits); past them a row reached the simulator, refused in its own terms
_MIN = {"input_tokens": 1.0, "output_tokens": 1.0}  # tokens per request (means where MLPerf states them)
_MAX = {"num_accelerators": MAX_CHIPS, "tp": MAX_CHIPS, "pp": MAX_CHIPS, "ep": MAX_CHIPS, "input_tokens": MAX_TOKENS,
        "output_tokens": MAX_TOKENS, "concurrency": MAX_CONCURRENCY}


def _int(path: str, line: int, col: int, name: str, text: str, *, minimum: int = 1) -> int:
    try:
        v = float(text)
    except ValueError:
        raise CaseFileError(path, line, col, name,
                            f"value {text!r} is not a number; expected a whole number >= {minimum}") from None
    if not math.isfinite(v) or v != int(v) or v < minimum:
        raise CaseFileError(path, line, col, name, f"value {text!r}: expected a whole number >= {minimum}")
    if v < _MIN.get(name, 0.0):
        raise CaseFileError(path, line, col, name, f"value {text!r}: expected at least {_MIN[name]:g} (a request "
                            "has at least one token; a mean length below one token is no benchmark)")
    if v > _MAX.get(name, math.inf):
        raise CaseFileError(path, line, col, name, f"value {text!r}: expected at most {_MAX[name]:,}")
    return int(v)


def _float(path: str, line: int, col: int, name: str, text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise CaseFileError(path, line, col, name,
                            f"value {text!r} is not a number; expected a positive number") from None
    if not math.isfinite(v) or v <= 0:
        raise CaseFileError(path, line, col, name, f"value {text!r}: expected a positive finite number")
    if v < _MIN.get(name, 0.0):
        raise CaseFileError(path, line, col, name, f"value {text!r}: expected at least {_MIN[name]:g} (a request "
                            "has at least one token; a mean length below one token is no benchmark)")
    if v > _MAX.get(name, math.inf):
        raise CaseFileError(path, line, col, name, f"value {text!r}: expected at most {_MAX[name]:,}")
    return v


def _choice(path: str, line: int, col: int, name: str, text: str, allowed: tuple[str, ...]) -> str:
    if text not in allowed:
        raise CaseFileError(path, line, col, name, f"value {text!r} is not allowed; allowed: {', '.join(allowed)}")
    return text


def _header_hint(name: str, header: list[str], unknown: list[str]) -> str:
    """What the header holds instead of a missing column: one field with another separator in it (a file separated
    by ';' or tabs), or a column of another name close to it (a misspelt or renamed column such as 'chip')."""
    if len(header) == 1:
        sep = next((f"'{c}'" if c != "\t" else "tabs" for c in (";", "\t", "|") if c in header[0]), None)
        if sep is not None:
            return f" (the header is one field separated by {sep}; allowed: commas)"
    import difflib

    close = difflib.get_close_matches(name, unknown, n=1, cutoff=0.6)
    if close:
        return f" (the header has '{close[0]}', not a column of this format: '{name}' misspelt?)"
    if unknown:
        more = f", ... ({len(unknown)} in all)" if len(unknown) > 5 else ""
        shown = ", ".join(f"'{u}'" for u in unknown[:5]) + more
        return f" (the header's columns not of this format: {shown})"
    return ""


def parse_cases(text: str, path: str = "<cases>", *, known_ids: bool = False) -> list[Case]:
    """Parse the text of a case file (see module doc; ids are checked when ``known_ids``); raises CaseFileError."""
    # strict: a quote that is never closed is an error, not a field that swallows the rows after it
    reader = csv.reader(io.StringIO(text), strict=True)
    try:
        header = next(reader)
    except StopIteration:
        raise CaseFileError(path, 1, 0, None,
                            f"empty file; expected a header with the columns {', '.join(COLUMNS)}") from None
    except csv.Error as exc:
        raise CaseFileError(path, reader.line_num or 1, 0, None, f"not valid CSV: {exc}") from None
    header = [h.strip() for h in header]
    unknown = [h for h in header if h not in COLUMNS and h not in OPTIONAL_COLUMNS]
    for pos, name in enumerate(COLUMNS, start=1):
        if name not in header:
            raise CaseFileError(path, 1, pos, name, f"column '{name}' is missing from the header"
                                f"{_header_hint(name, header, unknown)}; expected the columns {', '.join(COLUMNS)}")
    if unknown:
        col = header.index(unknown[0]) + 1
        raise CaseFileError(path, 1, col, unknown[0],
                            f"unknown column '{unknown[0]}'; expected the columns {', '.join(COLUMNS)}")
    dup = [h for h in header if header.count(h) > 1]
    if dup:
        raise CaseFileError(path, 1, len(header) - header[::-1].index(dup[0]), dup[0], "column given twice")
    idx = {name: header.index(name) for name in (*COLUMNS, *OPTIONAL_COLUMNS) if name in header}
    out: list[Case] = []
    seen: dict[str, int] = {}
    prev_line = reader.line_num
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            hint = "; a quote (\") is not closed" if "end of data" in str(exc) else ""
            raise CaseFileError(path, prev_line + 1, 0, None, f"not valid CSV: {exc}{hint}") from None
        line = prev_line + 1
        prev_line = reader.line_num
        if not row or all(not c.strip() for c in row):
            continue
        swallowed = next((k for k, c in enumerate(row, start=1) if _holds_rows(c, len(header))), None)
        if swallowed is not None:  # a quote left open runs on over the rows after it
            raise CaseFileError(path, line, swallowed, header[swallowed - 1],
                                f"a quoted field runs over lines {line}-{prev_line} and holds what look like rows: "
                                "a quote (\") is not closed; close it or remove it")
        if len(row) != len(header):
            raise CaseFileError(path, line, 0, None, f"{len(row)} fields, but the header has {len(header)}")
        out.append(_parse_row(path, line, row, idx, seen, known_ids))
    return out


def _holds_rows(cell: str, columns: int) -> bool:
    """A field over several lines, one of which has as many commas as a row: rows an unclosed quote took in."""
    lines = cell.splitlines()
    return len(lines) > 1 and any(ln.count(",") >= max(columns // 2, 2) for ln in lines[1:])


def _parse_row(path: str, line: int, row: list[str], idx: dict[str, int], seen: dict[str, int], ids: bool) -> Case:
    def cell(name: str) -> tuple[str, int]:
        if name not in idx:  # an optional column the file does not have
            return "", 0
        return row[idx[name]].strip(), idx[name] + 1

    def req(name: str) -> tuple[str, int]:
        v, c = cell(name)
        if not v:
            raise CaseFileError(path, line, c, name, "blank; this column is required")
        return v, c

    def opt_int(name: str) -> int | None:
        return None if not (v := cell(name))[0] else _int(path, line, v[1], name, v[0])

    def opt_float(name: str) -> float | None:
        return None if not (v := cell(name))[0] else _float(path, line, v[1], name, v[0])

    def dtype(name: str) -> str | None:  # a format in any case (FP8 is fp8: spec.formats.canonical_format)
        return None if not (v := cell(name))[0] else _choice(path, line, v[1], name, canonical_format(v[0]),
                                                             ALL_FORMATS)

    case_id, c = req("case_id")
    if case_id in seen:
        raise CaseFileError(path, line, c, "case_id", f"value {case_id!r} repeats the case of line {seen[case_id]}")
    seen[case_id] = line
    v, c = req("scenario")
    scenario = _choice(path, line, c, "scenario", v, SCENARIOS)
    v, c = req("metric")
    metric = _choice(path, line, c, "metric", v, tuple(METRIC_UNITS))
    unit, c = req("unit")
    if unit != METRIC_UNITS[metric]:
        raise CaseFileError(path, line, c, "unit",
                            f"value {unit!r} does not match metric {metric}; expected {METRIC_UNITS[metric]!r}")
    v, c = req("value")
    value = _float(path, line, c, "value", v)
    v, c = req("num_accelerators")
    count = _int(path, line, c, "num_accelerators", v)
    v, c = cell("dataset")
    dataset = None if not v else _choice(path, line, c, "dataset", v, tuple(DATASETS))
    for name, kind in (("accelerator", "chip"), ("model", "model")) if ids else ():
        if why := id_refusal(kind, req(name)[0]):
            raise CaseFileError(path, line, req(name)[1], name, f"value {req(name)[0]!r} {why}")
    return Case(
        case_id=case_id, source_kind=cell("source_kind")[0], source=cell("source")[0],
        accelerator=resolve_chip_id(req("accelerator")[0]), num_accelerators=count, software=cell("software")[0],
        model=req("model")[0], weight_dtype=dtype("weight_dtype"), act_dtype=dtype("act_dtype"),
        kv_dtype=dtype("kv_dtype"), tp=opt_int("tp"), pp=opt_int("pp"), ep=opt_int("ep"), scenario=scenario,
        input_tokens=opt_float("input_tokens"), output_tokens=opt_float("output_tokens"),
        concurrency=opt_int("concurrency"), metric=metric, value=value, unit=unit, notes=cell("notes")[0], line=line,
        dataset=dataset,
    )


def read_case_text(path: str | Path) -> str:
    """The text of a case file (UTF-8, a byte-order mark dropped); unreadable or not UTF-8 ->
    :class:`CaseFileError` naming the file."""
    p = Path(path)
    try:
        return read_regular_bytes(p).decode("utf-8-sig")  # a pipe or a device is refused, not read
    except SpecError as exc:
        raise CaseFileError(str(p), 0, 0, None, str(exc).removeprefix(f"{p}: ")) from None
    except UnicodeDecodeError as exc:
        raise CaseFileError(str(p), 0, 0, None, f"not UTF-8 text ({exc.reason})") from None


def read_cases(path: str | Path) -> list[Case]:
    """Read and parse a case file, its chip and model ids checked; unreadable or malformed -> CaseFileError."""
    return parse_cases(read_case_text(path), str(Path(path)), known_ids=True)
