"""Measured vision rows in the columns of ``shared/validation/vision_cases.csv``.

:func:`read_vision_cases` parses strictly: a missing column, a value that is not a number, an
unknown scenario or metric stops the read with a :class:`~inferchip.validation.cases.CaseFileError`
naming file, line, column and what is allowed. Whether a row can be predicted (unknown chip or
network, a metric the model does not express) is decided later and reported, never skipped.

Facts kept in the free text: the MLPerf Server latency bound (``target latency 15 ms at p99``).
Where a Server row does not state it, the benchmark's bound from MLCommons ``docs/index.md``
(ResNet-50 15 ms, RetinaNet 100 ms) is used and the row says so.
"""

from __future__ import annotations

import csv
import io
import math
import re
from dataclasses import dataclass
from pathlib import Path

from inferchip.catalog.chips import resolve_chip_id
from inferchip.input_files import is_regular_file
from inferchip.spec.formats import ALL_FORMATS
from inferchip.validation.cases import CaseFileError, read_case_text
from inferchip.workload.limits import MAX_BATCH, MAX_CHIPS

VISION_COLUMNS = ("case_id", "source_kind", "source", "accelerator", "num_accelerators", "system_name", "software",
                  "model", "input_shape", "precision", "scenario", "batch", "metric", "value", "unit", "notes")
VISION_SCENARIOS = ("offline", "server", "single_stream", "multi_stream", "constant_stream")
VISION_METRICS = {"samples_per_s": "samples/s", "fps": "fps", "latency_p90_ms": "ms", "latency_p99_ms": "ms",
                  "latency_p999_ms": "ms", "system_power_avg_w": "W", "mac_utilization_fraction_min": "fraction"}
SERVER_BOUND_MS = {"resnet50-v1.5": 15.0, "retinanet-resnext50-fpn-800": 100.0}
"""MLPerf Inference Server p99 latency bounds (github.com/mlcommons/inference @b66003e1 docs/index.md)."""
MULTISTREAM_SAMPLES = 8  # MLPerf MultiStream: each query holds 8 samples (LoadGen mlperf.conf)

_TARGET = re.compile(r"target latency ([0-9.]+) ms")
_MEASURED_P99 = re.compile(r"measured p99 ([0-9.]+) ms")
_STREAM_RATE = re.compile(r"([0-9]+(?:\.[0-9]+)?)\s*(?:fps|frames/s|Hz)\b")


@dataclass(frozen=True)
class VisionCase:
    case_id: str
    source_kind: str
    accelerator: str
    num_accelerators: int
    model: str
    precision_text: str
    scenario: str
    batch: int | None
    metric: str
    value: float
    unit: str
    notes: str
    line: int
    source: str = ""  # the row's source (an MLPerf result path names the submitter, system and scenario)
    software: str = ""  # the row's software column (runtime, versions)

    @property
    def precision(self) -> str:
        """The number format the row states: int8 for every int8 variant, fp8 for float8, else as stated."""
        t = self.precision_text.lower()
        if "int8" in t and not t.startswith(("fp16/", "fp32/")) or t.startswith("weights int8"):
            return "int8"
        if "float8" in t or t.startswith("fp8"):
            return "fp8"
        if t.startswith("fp16"):
            return "fp16"
        if t.startswith("fp32"):
            return "fp32"  # as stated; the format it ran in is harness.executed_format's (TF32 runtimes)
        return "int8" if not t else t.split()[0]

    @property
    def latency_bound_ms(self) -> tuple[float | None, str]:
        """(Server p99 bound in ms, where it comes from), or (None, why) for rows without one."""
        m = _TARGET.search(self.notes)
        if m:
            return float(m.group(1)), "stated in the row"
        if self.scenario == "server" and self.model in SERVER_BOUND_MS:
            return SERVER_BOUND_MS[self.model], "MLPerf docs/index.md bound for the benchmark"
        return None, "no latency bound"

    @property
    def measured_p99_ms(self) -> float | None:
        """A Server row's measured p99 latency at its load, as its notes state it (``measured p99 94.67 ms``)."""
        m = _MEASURED_P99.search(self.notes) if self.scenario == "server" else None
        return float(m.group(1)) if m else None

    @property
    def stream_rate_per_s(self) -> float | None:
        """A ConstantStream row's frame rate as its notes state it (``30 fps``), else None."""
        m = _STREAM_RATE.search(self.notes)
        return float(m.group(1)) if m else None

    @property
    def kind(self) -> str:
        return "power" if self.metric == "system_power_avg_w" else "performance"


def _num(path: str, line: int, col: int, name: str, text: str, *, integer: bool = False,
         optional: bool = False, maximum: float = math.inf) -> float | None:
    t = text.strip()
    if not t and optional:
        return None
    try:
        v = float(t)
    except ValueError:
        raise CaseFileError(path, line, col, name, f"value {t!r} is not a number; expected a positive "
                                                   f"{'whole ' if integer else ''}number") from None
    if not math.isfinite(v) or v <= 0 or (integer and v != round(v)):
        raise CaseFileError(path, line, col, name, f"value {t!r} must be a positive {'whole ' if integer else ''}"
                                                   "number")
    if v > maximum:  # the command line's bound (workload.limits): past it a row would only reach the cost model's
        raise CaseFileError(path, line, col, name, f"value {t!r}: expected at most {maximum:,}")
    return v


def _csv_rows(text: str, path: str) -> list[tuple[int, list[str]]]:
    """(first line, cells) of each CSV record. strict: a quote never closed (a truncated file) is an error, not a
    field that runs to the end of the file; a malformed record names its line (before: a traceback, stop 45)."""
    reader = csv.reader(io.StringIO(text), strict=True)
    rows: list[tuple[int, list[str]]] = []
    line = 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return rows
        except csv.Error as exc:
            hint = "; a quote (\") is not closed" if "end of data" in str(exc) else ""
            raise CaseFileError(path, line, 0, None, f"not valid CSV: {exc}{hint}") from None
        rows.append((line, row))
        line = reader.line_num + 1


def parse_vision_cases(text: str, path: str = "<vision cases>") -> list[VisionCase]:
    rows = _csv_rows(text, path)
    if not rows:
        raise CaseFileError(path, 1, 0, None, "the file is empty; expected the header " + ",".join(VISION_COLUMNS))
    header = [h.strip() for h in rows[0][1]]
    missing = [c for c in VISION_COLUMNS if c not in header]
    if missing:
        raise CaseFileError(path, 1, 0, None, f"missing column(s) {', '.join(missing)}; the header must hold "
                                              + ",".join(VISION_COLUMNS))
    dup = next((h for h in header if h and header.count(h) > 1), None)
    if dup is not None:
        raise CaseFileError(path, 1, len(header) - header[::-1].index(dup), dup, "column given twice")
    idx = {c: header.index(c) for c in VISION_COLUMNS}
    out: list[VisionCase] = []
    seen: set[str] = set()
    for line, row in rows[1:]:
        if not row or not any(x.strip() for x in row):
            continue
        if len(row) != len(header):
            raise CaseFileError(path, line, 0, None, f"{len(row)} fields, the header has {len(header)}")

        def cell(c: str, row: list[str] = row) -> str:
            return row[idx[c]].strip()

        cid = cell("case_id")
        if not cid or cid in seen:
            raise CaseFileError(path, line, idx["case_id"] + 1, "case_id", f"value {cid!r} is empty or repeats")
        seen.add(cid)
        scen, metric = cell("scenario"), cell("metric")
        if scen not in VISION_SCENARIOS:
            raise CaseFileError(path, line, idx["scenario"] + 1, "scenario",
                                f"value {scen!r} not allowed; allowed: {', '.join(VISION_SCENARIOS)}")
        if metric not in VISION_METRICS:
            raise CaseFileError(path, line, idx["metric"] + 1, "metric",
                                f"value {metric!r} not allowed; allowed: {', '.join(VISION_METRICS)}")
        n = _num(path, line, idx["num_accelerators"] + 1, "num_accelerators", cell("num_accelerators"), integer=True,
                 maximum=MAX_CHIPS)
        batch = _num(path, line, idx["batch"] + 1, "batch", cell("batch"), integer=True, optional=True,
                     maximum=MAX_BATCH)
        value = _num(path, line, idx["value"] + 1, "value", cell("value"))
        case = VisionCase(case_id=cid, source_kind=cell("source_kind"),
                          accelerator=resolve_chip_id(cell("accelerator")),
                          num_accelerators=int(n or 1), model=cell("model"), precision_text=cell("precision"),
                          scenario=scen, batch=int(batch) if batch else None, metric=metric,
                          value=float(value or 0.0), unit=cell("unit"), notes=cell("notes"), line=line,
                          source=cell("source"), software=cell("software"))
        if case.precision not in ALL_FORMATS:
            raise CaseFileError(path, line, idx["precision"] + 1, "precision",
                                f"value {cell('precision')!r} names no number format; allowed: "
                                f"{', '.join(ALL_FORMATS)} (int8/float8 variants are read as int8/fp8)")
        out.append(case)
    return out


def read_vision_cases(path: str | Path) -> list[VisionCase]:
    """Read and parse a vision case file; unreadable or malformed files raise :class:`CaseFileError`."""
    return parse_vision_cases(read_case_text(path), str(Path(path)))


def is_vision_case_file(path: str | Path) -> bool:
    """True when the file's header is the vision columns (``input_shape``/``system_name`` present)."""
    if not is_regular_file(path):  # open() would block on a pipe; reading the file reports what it is
        return False
    try:
        with open(path, encoding="utf-8", newline="") as fh:
            header = next(csv.reader(fh), [])
    except (OSError, UnicodeDecodeError):
        return False
    names = {h.strip() for h in header}
    return "input_shape" in names and "system_name" in names
