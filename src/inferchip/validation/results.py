"""One validated case: the case, its prediction (or why there is none), how it was made, its error."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from inferchip.errors import DoesNotFitError, InferchipError, InvalidSettingError, UnknownIdError
from inferchip.mapping.layout import Layout
from inferchip.units import percent_error
from inferchip.validation.case_notes import measured_stall_s
from inferchip.validation.cases import Case
from inferchip.validation.plan import NotPredictable, OperatingPoint


@dataclass
class CaseResult:
    """A case, its prediction (or why there is none) and how the prediction was made.

    ``server_model`` names the model that predicted a server row ("sim" or "analytic"; None
    for other rows); ``by_model`` holds each server model's value where it was evaluated."""

    case: Case
    status: str  # "ok" | "unknown_id" | "does_not_fit" | "invalid_setting" | "not_predictable"
    reason: str = ""
    predicted: float | None = None
    layout: Layout | None = None
    point: OperatingPoint | None = None
    notes: list[str] = field(default_factory=list)
    server_model: str | None = None
    by_model: dict[str, float | None] = field(default_factory=dict)
    sim: dict[str, Any] | None = None  # the simulator's outcome (rate, p99 TTFT/TPOT), see SimOutcome.to_dict

    @property
    def measured(self) -> float:
        return self.case.value

    @property
    def signed_error_pct(self) -> float | None:
        return None if self.predicted is None else percent_error(self.predicted, self.measured)

    @property
    def ape(self) -> float | None:
        e = self.signed_error_pct
        return None if e is None else abs(e)

    def __repr__(self) -> str:  # the dataclass's printed the case's every field: ~1,000 characters a row
        c, e = self.case, self.signed_error_pct

        def num(v: float) -> str:
            return f"{v:,.0f}" if abs(v) >= 100 else f"{v:.3g}"

        got = (f"predicted {num(self.predicted)} vs measured {num(self.measured)} {c.unit} ({e:+.1f} %)"
               if e is not None and self.predicted is not None else f"{self.status}: {self.reason[:100]}")
        return (f"<CaseResult {c.case_id}: {c.num_accelerators} x {c.accelerator}, {c.model}, {c.metric}; {got}; "
                "every field: .to_dict()>")

    def to_dict(self) -> dict[str, Any]:
        c, p, lay = self.case, self.point, self.layout
        return {
            "case_id": c.case_id, "accelerator": c.accelerator, "num_accelerators": c.num_accelerators,
            "model": c.model, "scenario": c.scenario, "metric": c.metric, "unit": c.unit, "source_kind": c.source_kind,
            "predicted": self.predicted, "measured": self.measured, "signed_error_pct": self.signed_error_pct,
            "ape": self.ape, "status": self.status, "reason": self.reason,
            "tp": lay.tp if lay else None, "pp": lay.pp if lay else None, "ep": lay.ep if lay else None,
            "replicas": lay.replicas if lay else None, "attn_dp": lay.attn_dp if lay else None,
            "energy_scope": c.energy_scope,
            "concurrency_per_replica": p.batch if p else None,
            "ttft_ms": None if p is None or math.isnan(p.ttft_s) else p.ttft_s * 1e3,
            "tpot_ms": p.tpot_s * 1e3 if p else None,
            "limits_met": p.limits_met if p else None, "saturated": p.saturated if p else None,
            "server_model": self.server_model, "predicted_by_model": dict(self.by_model), "sim": self.sim,
            "notes": list(self.notes),
            # the measured run's one-off stall (s), where its notes' TTFT spread shows one: flagged, never dropped
            "measured_stall_s": measured_stall_s(c),
        }


def error_text(value: float | None, measured: float) -> str:
    """A prediction and its signed error against ``measured`` for a row's notes ("-" where there is none)."""
    return "-" if value is None else f"{value:.4g} ({percent_error(value, measured):+.1f}%)"


def error_result(case: Case, exc: InferchipError) -> CaseResult:
    """The result of a row its setting refused, by the kind of refusal: an unknown id, a model that
    does not fit, a row that cannot be predicted (with why), or another invalid setting (first line)."""
    if isinstance(exc, UnknownIdError):
        return CaseResult(case, "unknown_id", str(exc))
    if isinstance(exc, DoesNotFitError):
        return CaseResult(case, "does_not_fit", str(exc).splitlines()[0])
    if isinstance(exc, NotPredictable):
        return CaseResult(case, "not_predictable", str(exc))
    return CaseResult(case, "invalid_setting", str(exc).splitlines()[0])


_FLAGS = re.compile(r"--(count|tp|pp|ep)\b")
_COLUMNS = {"count": "num_accelerators", "tp": "tp", "pp": "pp", "ep": "ep"}  # the CLI's option -> the row's column


def in_row_terms(case: Case, exc: InferchipError) -> InferchipError:
    """``exc``, a layout refusal worded for the command line (``--ep 3 must divide --tp 8``), reworded for the
    case file: the row's line and id, the columns it names (``--count`` is ``num_accelerators``) with the row's
    values, then the reason and what is allowed in column names. Other refusals are returned as they are."""
    msg = str(exc)
    cols = list(dict.fromkeys(_COLUMNS[f] for f in _FLAGS.findall(msg)))
    if not cols:
        return exc
    values = ", ".join(f"{c} {'blank' if getattr(case, c) is None else getattr(case, c)}" for c in cols)
    exc.args = (f"line {case.line} ({case.case_id}), column{'s' if len(cols) > 1 else ''} {', '.join(cols)} "
                f"({values}): {_FLAGS.sub(lambda m: _COLUMNS[m[1]], msg)}",)
    return exc


def in_pool_terms(case: Case, exc: InferchipError, pool: str) -> InferchipError:
    """:func:`in_row_terms` for a worker of a disaggregated row's ``pool`` ("prefill", "decode"): its layout is
    the one the notes state for that pool, not the row's tp and ep columns, so the refusal names the notes."""
    msg = str(exc)
    if not _FLAGS.search(msg):
        return exc
    exc.args = (f"line {case.line} ({case.case_id}), column notes ({pool} pool): "
                f"{_FLAGS.sub(lambda m: _COLUMNS[m[1]], msg)}",)
    return exc


def worker_columns(case: Case, pool: str | None) -> str:
    """Where a closed-loop row states its worker: the tp, pp and ep columns with their values, or a disaggregated
    row's notes (``pool``: "prefill" or "decode")."""
    return f"column notes ({pool} pool)" if pool else "columns tp, pp, ep (" + ", ".join(
        f"{c} {'blank' if getattr(case, c) is None else getattr(case, c)}" for c in ("tp", "pp", "ep")) + ")"


def in_worker_terms(case: Case, exc: InferchipError, layout: Layout, pool: str | None) -> InferchipError:
    """A closed-loop worker's refusal that names no option (its weights leave no KV cache), reworded to name what
    sets the worker (:func:`worker_columns`)."""
    exc.args = (f"line {case.line} ({case.case_id}), {worker_columns(case, pool)}: a worker of "
                f"{layout.chips_per_replica} chip(s): {exc}; allowed: a worker whose memory holds the weights and "
                "some KV cache",)
    return exc


def whole_workers(case: Case, worker_chips: int, attn_dp: bool, where: str) -> int:
    """How many workers of ``worker_chips`` chips (the row's tp, pp, ep, and ``attn_dp``) the row's
    ``num_accelerators`` holds. A count that is not a whole number of them is refused naming the row and the
    column: rounding it (3 chips of tp=2 workers as one worker) would predict another system than the row's."""
    if worker_chips < 1 or case.num_accelerators % worker_chips:
        raise InvalidSettingError(f"{where}, column num_accelerators: {case.num_accelerators} chips are not a whole "
                                  f"number of workers of {worker_chips} chips (the row's tp={case.tp or 1}, "
                                  f"pp={case.pp or 1}, ep={case.ep or 1}{', attention DP' if attn_dp else ''}); "
                                  f"allowed: a multiple of {worker_chips}")
    return case.num_accelerators // worker_chips


def stated_pools(case: Case, groups: tuple[str, ...], where: str) -> tuple[str, ...]:
    """A disaggregated row's pools as its notes state them (prefill chips first, decode chips sixth), refused
    naming the row and the column when they do not add up to its ``num_accelerators`` or a pool's chips are not
    whole workers."""
    pre, dec = int(groups[0]), int(groups[5])
    if pre + dec != case.num_accelerators:
        raise InvalidSettingError(f"{where}, column num_accelerators: {case.num_accelerators} chips, but the "
                                  f"notes' pools hold {pre} prefill + {dec} decode = {pre + dec}; allowed: {pre + dec}")
    for pool, chips, workers in (("prefill", pre, int(groups[1])), ("decode", dec, int(groups[6]))):
        if workers < 1 or chips % workers:  # a remainder would be chips no worker holds (5 GPUs of 2 workers: 2 x 2)
            raise InvalidSettingError(f"{where}, column notes: {chips} {pool} GPUs are not {workers} whole worker(s); "
                                      f"allowed: a worker count of at least 1 dividing {chips}")
    return groups


def least_pool_per_rank(need_tokens: int, ranks: int, block_tokens: int) -> int:
    """The smallest KV pool per rank (tokens) whose pool over ``ranks`` ranks, in whole blocks of ``block_tokens``,
    holds ``need_tokens`` (rounded up to whole blocks)."""
    pages = -(-need_tokens // block_tokens) * block_tokens
    return -(-pages // max(ranks, 1))


def check_recipe_pool(where: str, field: str, per_rank: int, ranks: int, block_tokens: int, need_tokens: int,
                      what: str) -> None:
    """Refuse a launch recipe's KV pool (``per_rank`` tokens on each of ``ranks`` ranks; 0: the memory fit's) that
    cannot hold ``need_tokens`` (``what``: the longest prompt, or on a decode worker that plus its reservation,
    which SGLang would never admit), naming ``where`` (the catalogue file and engine), the field and its value."""
    least = least_pool_per_rank(need_tokens, ranks, block_tokens)
    if 0 < per_rank < least:
        raise InvalidSettingError(f"{where}, {field}: max_total_tokens = {per_rank} per rank ({per_rank * ranks} "
                                  f"tokens over {ranks} rank(s)) holds no {what} ({need_tokens} tokens); allowed: 0 "
                                  f"(the memory fit) or at least {least} per rank")
