"""Predict measured energy rows (``energy_cases.csv``, ``mlenergy_cases.csv``): power and tokens per joule.

A row states a system (accelerator, count, tp/pp/ep), a model, formats, a scenario with its
lengths (or a ``dataset`` it replays) and concurrency, and one energy metric:
``power_w_board_total`` (GPU boards, NVML), ``power_w_wall_total`` (server at the wall,
MLPerf Power), ``output_tokens_per_j_board`` / ``_wall`` (tokens per joule in those scopes).

How (:func:`predict_energy_run`, :func:`predict_energy_row`):

* Board power: ``predict_setting`` in the row's setting gives one chip's average power
  (``cost.economics.step_power``: idle + busy share of the range up to the power limit + event
  energies / step time, throttled at the limit); the total is
  that times the chips used, plus the idle power of any chip the layout leaves unused.
* Wall power: board total plus the host model :func:`inferchip.cost.energy.wall_power_w`
  (host idle, per-accelerator share, per completed request, fans, PSU; ``catalog/assumptions.yaml``).
* Tokens per joule: OUR predicted throughput over OUR predicted power; the throughput in a row's
  notes is read only by the fit of the data-set means (``validation.energy.power_fit``), never here.
* MaxQ: a row whose notes state ``power_limit N W per GPU`` is predicted with the TDP replaced
  by N; a row that says MaxQ but states no cap is refused with a reason.

Scenarios: ``offline`` and ``fixed_length`` without a concurrency: max throughput;
``server`` without one: max throughput under the p99 limits of the notes, else of the MLPerf
data set (a 20 s end-to-end limit, GPT-J, becomes a TPOT limit of 20 s / output tokens);
``server`` with a concurrency (the system's, shared by the replicas: ``operating.replica_load``): a closed loop
held at that many sequences (ML.ENERGY: all requests sent at once, ``max_num_seqs`` caps the running batch), more
than the KV cache holds run as the largest batch that fits and the rest queue; ``fixed_length`` with a concurrency:
a static batch (larger than memory: simulated with admission and preemption); ``single_stream``: batch 1.

Rows without an input length take the mean of the data set they replay (:func:`row_dataset`), one value per data
set (``DatasetLengths``), lengths lognormal as ``validate`` does; outputs spread as the notes state (``output length
CV``). "fp4" activations are W4A4 (README caveat 1); ``int4`` activations (weight-only here) run as fp8.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from inferchip.catalog.calibration_file import load_calibration, load_dataset_lengths
from inferchip.errors import DoesNotFitError, InferchipError, InternalError
from inferchip.input_files import read_regular_bytes
from inferchip.spec.assumptions import Assumptions
from inferchip.spec.calibration import Calibration, DatasetLengths
from inferchip.units import percent_error
from inferchip.validation.energy.row_setting import (
    FormatNames,
    RowSetting,
    cell,
    power_cap_w,
    row_activations,
    row_setting,
    says_maxq,
)

if TYPE_CHECKING:
    import pandas as pd

    from inferchip.performance.operating import Question
    from inferchip.performance.setting import Setting
    from inferchip.spec.chip import ChipSpec
    from inferchip.spec.params import ChipParams

METRIC_SCOPE = {
    "power_w_wall_total": "wall",
    "power_w_board_total": "board",
    "output_tokens_per_j_wall": "wall",
    "output_tokens_per_j_board": "board",
}
METRIC_UNIT = {
    "power_w_wall_total": "W",
    "power_w_board_total": "W",
    "output_tokens_per_j_wall": "tokens/J",
    "output_tokens_per_j_board": "tokens/J",
}

BUNDLED_CSV = Path(__file__).resolve().parents[2] / "catalog" / "energy_cases.csv"


def predict_energy_row(row: dict[str, str], calibration: Calibration | str | None = None,
                       assumptions: str | Path | Assumptions | None = None,
                       lengths: DatasetLengths | None = None,
                       notes: list[str] | None = None) -> tuple[float | None, str | None]:
    """Predicted value of a row's energy metric, in the row's unit, or ``(None, reason)``.

    ``calibration``: a Calibration, a path, ``"none"``, or None for the shipped one.
    ``lengths``: MLPerf mean input lengths (None: those stored with ``calibration`` when it
    names a file, the defaults when it is a Calibration).
    ``assumptions``: path of a YAML overriding the energy/host constants, or an Assumptions (None = bundled).
    Throughput and power are both predicted (never taken from the row's notes); see the
    module docstring for the scenario mapping, the MaxQ cap and the wall (host) model.
    ``notes``: a list the prediction's notes (format fallbacks, a capped running batch) are appended to.
    """
    metric = cell(row, "metric")
    if metric not in METRIC_SCOPE:
        return None, f"metric {metric!r} is not an energy metric; allowed: {', '.join(METRIC_SCOPE)}"
    run, reason = predict_energy_run(row, calibration, assumptions, lengths, notes)
    if run is None:
        return None, reason
    return run.value(metric), None


@dataclass(frozen=True)
class EnergyRun:
    """What the model predicts for the run of an energy row: board and wall power of the whole
    system (W) and its output tokens/s, from the same prediction."""

    board_w: float
    wall_w: float
    output_tokens_per_s: float

    def value(self, metric: str) -> float:
        """The row's metric: power in its scope, or tokens per joule in its scope."""
        power = self.board_w if METRIC_SCOPE[metric] == "board" else self.wall_w
        return power if metric.startswith("power_w") else self.output_tokens_per_s / power


def predict_energy_run(row: dict[str, str], calibration: Calibration | str | None = None,
                       assumptions: str | Path | Assumptions | None = None,
                       lengths: DatasetLengths | None = None,
                       notes: list[str] | None = None) -> tuple[EnergyRun | None, str | None]:
    """:class:`EnergyRun` of a row's setting (its metric is not read), or ``(None, reason)``; the
    arguments are those of :func:`predict_energy_row`."""
    from inferchip.catalog.assumptions import load_assumptions
    from inferchip.catalog.chips import family_defaults, load_chip
    from inferchip.cost.energy import wall_power_w
    from inferchip.performance.mapped import DEFAULT_CHUNK_TOKENS
    from inferchip.performance.predict import predict_setting
    from inferchip.performance.setting import resolve_setting
    from inferchip.spec.chip import chip_params
    from inferchip.validation.moe_kernels import run_calibration

    notes = [] if notes is None else notes
    try:
        cal = calibration if isinstance(calibration, Calibration) else load_calibration(calibration)
        if lengths is None:
            lengths = DatasetLengths() if isinstance(calibration, Calibration) else load_dataset_lengths(calibration)
        a = assumptions if isinstance(assumptions, Assumptions) else load_assumptions(assumptions)
        spec = load_chip(cell(row, "accelerator"))
        cp = chip_params(spec, family_defaults(spec.family))
        cap = power_cap_w(row)
        if cap is None and says_maxq(row):
            return None, "MaxQ row whose notes state no per-GPU power_limit: the cap cannot be modelled"
        if cap is not None:
            cp = replace(cp, tdp_w=cap)
        kw = row_setting(row, lengths)
        q = kw.question
        cal = run_calibration(cal, row, q.mode == "closed_loop", spec.family)  # its engine, kernels and chip family
        # attention as the checkpoint's per-layer map has it: resolve_setting reads it (validate's rule)
        formats: FormatNames = {"weights": cell(row, "weight_dtype") or "bf16",
                   "activations": row_activations(cell(row, "act_dtype") or None), "kv": cell(row, "kv_dtype") or None}
        setting = resolve_setting(cp, cell(row, "model"), count=kw.count, tp=kw.tp, pp=kw.pp, ep=kw.ep,
                                  calibration=cal, assumptions=a, chip_spec=spec, chunk_tokens=DEFAULT_CHUNK_TOKENS,
                                  padding=None, **formats)  # the chunk and steps these rows are validated at
        notes.extend(setting.format_notes)  # a format fallback travels with the result
        try:
            p = predict_setting(setting, q)
            per_chip, used, tput = p.extra.get("power_w_per_chip"), p.num_chips, p.output_tokens_per_s
        except DoesNotFitError:
            if q.mode == "closed_loop":
                # More sequences than the KV cache holds: the engine runs what fits and queues the
                # rest, so the steady state is the largest running batch that fits.
                held = _running_batch_that_fits(setting, q)
                if held < 1:
                    raise
                notes.append(f"concurrency {q.concurrency:g} exceeds the KV cache: {held:g} sequences per replica run, "
                             "the rest wait in the engine's queue")
                p = predict_setting(setting, replace(q, batch=float(held)))
                per_chip, used, tput = p.extra.get("power_w_per_chip"), p.num_chips, p.output_tokens_per_s
            elif q.mode == "static" and cell(row, "scenario") == "fixed_length":
                # The engine admits what fits and preempts the rest (vLLM recompute): simulate it.
                per_chip, used, tput = _simulated_batch(cp, spec, cell(row, "model"), formats, cal, a, kw)
                notes.append("static batch larger than the KV cache: simulated with admission and preemption")
            else:
                raise
    except (InferchipError, ValueError) as exc:
        return None, f"{type(exc).__name__}: {exc}"
    if per_chip is None or not math.isfinite(per_chip):
        return None, f"no power predicted for {spec.id} (no TDP published)"
    count = kw.count
    idle = cp.idle_w if math.isfinite(cp.idle_w) else 0.0
    board = per_chip * used + idle * max(0, count - used)
    wall = float(wall_power_w(board, count, a, sequences_per_s=tput / kw.output_tokens))
    return EnergyRun(board, wall, tput), None


def _running_batch_that_fits(setting: Setting, q: Question) -> float:
    """The most sequences per replica whose KV cache fits on any of the setting's layouts."""
    from inferchip.performance.operating import max_concurrency

    return max((math.floor(max_concurrency(setting.mapped(lay), q)) for lay in setting.layouts), default=0)


def _simulated_batch(cp: ChipParams, spec: ChipSpec, model: str, formats: FormatNames, cal: Calibration,
                     a: Assumptions, kw: RowSetting) -> tuple[float | None, int, float]:
    """(power W per chip, chips used, output tokens/s) of a static batch larger than memory holds.

    A fixed-length batch whose KV cache outgrows memory still runs on vLLM-style engines: the
    scheduler admits what fits and preempts (recomputes) the rest. The serving simulator runs
    that: ``batch x replicas`` requests arriving together, energy from the same step model.
    """
    from inferchip.performance.mapped import DEFAULT_CHUNK_TOKENS
    from inferchip.performance.serving import serving_model
    from inferchip.sim import BurstArrivals, simulate

    step, replicas = serving_model(cp, model, count=kw.count, tp=kw.tp or 1, pp=kw.pp or 1, ep=kw.ep or 1,
                                   calibration=cal, assumptions=a, chip_spec=spec, chunk_tokens=DEFAULT_CHUNK_TOKENS,
                                   padding=None, **formats)  # the chunk and steps these rows are validated at
    q = kw.question
    if q.batch is not None:
        n = round(q.batch) * replicas  # the system's requests
    else:
        if q.concurrency is None:
            raise InternalError("_setting gives a fixed_length static batch the row's concurrency")
        n = round(q.concurrency)
    res = simulate(step, BurstArrivals(input_tokens=round(kw.input_tokens), output_tokens=round(kw.output_tokens)),
                   num_requests=n, replicas=replicas)
    s = res.summary()
    return s.get("power_w_per_chip"), res.num_chips, s["output_tokens_per_s"]


# ------------------------------------------------------------------ report over a file
def energy_validation_summary(csv_path: str | Path | None = None, calibration: Calibration | str | None = None,
                              assumptions: str | Path | None = None, lengths: DatasetLengths | None = None
                              ) -> pd.DataFrame:
    """One row per energy case: case_id, metric, scope, measured, predicted, ape % (and reason).

    ``csv_path`` None reads the copy shipped in the package (``catalog/energy_cases.csv``).
    ``ape %`` is 100 |predicted - measured| / measured; NaN with a reason when not predicted.
    """
    import pandas as pd

    path = Path(csv_path) if csv_path is not None else BUNDLED_CSV
    rows = list(csv.DictReader(io.StringIO(read_regular_bytes(path).decode("utf-8-sig"), newline="")))
    cal = calibration if isinstance(calibration, Calibration) else load_calibration(calibration)
    if lengths is None:
        lengths = DatasetLengths() if isinstance(calibration, Calibration) else load_dataset_lengths(calibration)
    out = []
    for row in rows:
        metric = cell(row, "metric")
        if metric not in METRIC_SCOPE:
            continue
        measured = float(row["value"])
        pred, reason = predict_energy_row(row, cal, assumptions, lengths)
        ape = abs(percent_error(pred, measured)) if pred is not None else float("nan")
        out.append({"case_id": row["case_id"], "metric": metric, "scope": METRIC_SCOPE[metric],
                    "measured": measured, "predicted": float("nan") if pred is None else pred,
                    "ape %": ape, "reason": reason or ""})
    return pd.DataFrame(out, columns=["case_id", "metric", "scope", "measured", "predicted", "ape %", "reason"])
