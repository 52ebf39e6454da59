"""What one energy row (``energy_cases.csv``, ``mlenergy_cases.csv``) states: its cells read and checked, its power
cap and MaxQ mark, the data set it replays, its p99 limits, and the system and question it asks
(:func:`row_setting`; the scenario rules in :mod:`inferchip.validation.energy.rows`). A bad cell raises ValueError
naming the column and value."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, TypedDict

from inferchip.spec.calibration import DatasetLengths
from inferchip.workload.datasets import DATASETS, MLPERF_DATASETS, Dataset, dataset_for_model, mean_input_of

if TYPE_CHECKING:
    from inferchip.performance.operating import Question

_NUM = r"(\d+(?:\.\d+)?)"
_POWER_CAP = re.compile(r"power_limit\s+" + _NUM + r"\s*W\s+per\s+(?:GPU|accelerator|chip)", re.IGNORECASE)
_LIMIT_MS = re.compile(r"\b(TTFT|TPOT)\s+p99\s*<=\s*" + _NUM + r"\s*ms", re.IGNORECASE)
_LIMIT_E2E = re.compile(r"latency limit\s+" + _NUM + r"\s*s\s+end-to-end|end-to-end latency\s+p99\s*<=\s*" + _NUM
                        + r"\s*s\b", re.IGNORECASE)


def power_cap_w(row: dict[str, str]) -> float | None:
    """Per-accelerator power cap stated in a row's notes (``power_limit 450 W per GPU``), W; None if none."""
    m = _POWER_CAP.search(row.get("notes", "") or "")
    return float(m.group(1)) if m else None


def says_maxq(row: dict[str, str]) -> bool:
    """True when the row's id or notes name a MaxQ (power-capped) system."""
    return "maxq" in (row.get("case_id", "") or "").lower() or bool(
        re.search(r"\bMaxQ\b", row.get("notes", "") or "", re.IGNORECASE))


def row_dataset(row: dict[str, str]) -> Dataset | None:
    """The data set a row replays (:func:`inferchip.validation.cases.case_dataset` for a dict row):
    its ``dataset`` column, else, for an MLPerf row (``source_kind`` names MLPerf) without an input
    length, its model's MLPerf data set; None otherwise (never guessed from the model id alone).
    An unknown ``dataset`` raises ValueError naming the row and the column."""
    name = cell(row, "dataset")
    if name:
        if name not in DATASETS:
            raise ValueError(f"row {cell(row, 'case_id')!r}, column 'dataset': value {name!r} is not a known data "
                             f"set; allowed: {', '.join(DATASETS)}")
        return DATASETS[name]
    if not cell(row, "input_tokens") and "mlperf" in cell(row, "source_kind").lower():
        return dataset_for_model(cell(row, "model"))
    return None


def latency_limits(row: dict[str, str]) -> tuple[float | None, float | None, float | None]:
    """(TTFT, TPOT, end-to-end) p99 limits in s of a Server row: from its notes, else its MLPerf data set's."""
    notes = row.get("notes", "") or ""
    found = {m.group(1).upper(): float(m.group(2)) / 1e3 for m in _LIMIT_MS.finditer(notes)}
    e2e_m = _LIMIT_E2E.search(notes)
    e2e = float(e2e_m.group(1) or e2e_m.group(2)) if e2e_m else None
    if found or e2e is not None:
        return found.get("TTFT"), found.get("TPOT"), e2e
    ds = row_dataset(row)
    ms = None if ds is None else MLPERF_DATASETS.get(ds.name)  # its Server limits (README, cited there)
    if ms is None:
        return None, None, None
    return ms.server.ttft_s, ms.server.tpot_s, ms.server.e2e_s


def cell(row: dict[str, str], key: str) -> str:
    return (row.get(key) or "").strip()


def _opt_int(row: dict[str, str], key: str) -> int | None:
    v = cell(row, key)
    if not v:
        return None
    f = float(v)
    if not math.isfinite(f) or f != int(f) or f < 1:
        raise ValueError(f"{key} {v!r} is not a whole number >= 1")
    return int(f)


def _opt_float(row: dict[str, str], key: str) -> float | None:
    v = cell(row, key)
    if not v:
        return None
    f = float(v)
    if not math.isfinite(f) or f <= 0:
        raise ValueError(f"{key} {v!r} is not a positive number")
    return f


def row_activations(act: str | None) -> str | None:
    """A row's activations: NVFP4/MXFP4 as given (W4A4, ``performance.setting.resolve_formats``); int4 as fp8."""
    return "fp8" if act == "int4" else act


class FormatNames(TypedDict):
    """A row's number formats as ``resolve_setting`` and ``serving_model`` take them."""

    weights: str
    activations: str | None
    kv: str | None


@dataclass(frozen=True)
class RowSetting:
    """A row's system (``count`` chips; ``tp``/``pp``/``ep``, None: searched), mean lengths and question."""

    count: int
    tp: int | None
    pp: int | None
    ep: int | None
    input_tokens: float
    output_tokens: float
    question: Question


def row_setting(row: dict[str, str], lengths: DatasetLengths) -> RowSetting:
    """The row's system and question (:class:`RowSetting`; raises ValueError with the reason).

    Rows that replay a data set (an MLPerf row, or a row with a ``dataset`` column) draw their
    lengths from it: lognormal inputs around the data set's mean input (``lengths``, one value
    per data set) and outputs around the row's mean output, as ``validate`` does."""
    from inferchip.performance.operating import LengthDist, Question
    from inferchip.validation.moe_kernels import stated_output_cv

    count = _opt_int(row, "num_accelerators")
    if count is None:
        raise ValueError("num_accelerators is blank")
    tp, pp, ep = _opt_int(row, "tp"), _opt_int(row, "pp"), _opt_int(row, "ep")
    scenario = cell(row, "scenario")
    concurrency = _opt_int(row, "concurrency")
    inp, out = _opt_float(row, "input_tokens"), _opt_float(row, "output_tokens")
    ds = row_dataset(row)
    ms = None if ds is None else MLPERF_DATASETS.get(ds.name)
    if inp is None:
        if ds is None:
            raise ValueError("input_tokens is blank and the row names no data set (column 'dataset'; MLPerf rows "
                             "use their model's MLPerf data set)")
        inp = mean_input_of(ds, lengths.mean_input_tokens)
        if inp is None:
            raise ValueError(f"the calibration has no mean input length for data set {ds.name}")
    if out is None:
        if ms is None or ms.default_output_tokens is None:
            raise ValueError("output_tokens is blank and the data set states no mean output length")
        out = ms.default_output_tokens
    if ds is not None and not cell(row, "input_tokens"):
        inputs, cv = LengthDist.lognormal(inp, ds.max_input_tokens), stated_output_cv(row)  # the run's spread
        outputs = LengthDist.lognormal(out, ds.max_output_tokens) if cv is None else LengthDist.lognormal_cv(
            out, ds.max_output_tokens, cv)
    else:
        inputs, outputs = LengthDist.fixed(max(1, round(inp))), LengthDist.fixed(max(1, round(out)))
    ask = partial(Question, inputs=inputs, outputs=outputs, whole_sequences_per_chip=True)
    if scenario == "single_stream":
        q = ask("static", batch=1.0)
    elif scenario == "offline" or (scenario == "fixed_length" and concurrency is None):
        q = ask("max_throughput")
    elif concurrency is not None and scenario == "fixed_length":
        q = ask("static", concurrency=float(concurrency))
    elif concurrency is not None and scenario == "server":
        # a closed loop (or all requests sent at once with the running batch capped at the
        # concurrency, ML.ENERGY's max_num_seqs): continuous batching held at that many sequences
        q = ask("closed_loop", concurrency=float(concurrency))
    elif scenario == "server":
        ttft, tpot, e2e = latency_limits(row)
        if ttft is None and tpot is None and e2e is None:
            raise ValueError("server row without a concurrency or a stated latency limit")
        if e2e is not None and tpot is None:
            tpot = e2e / outputs.mean  # the whole answer within e2e: a bound on the mean TPOT
        q = ask("max_throughput", max_ttft_s=ttft, max_tpot_s=tpot)
    else:
        raise ValueError(f"scenario {scenario!r} is not one of offline, server, fixed_length, single_stream")
    return RowSetting(count, tp, pp, ep, inputs.mean, outputs.mean, q)
