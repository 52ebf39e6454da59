"""Predict the measured energy figures of ``energy_cases.csv``: system power and tokens per joule.

One row of the energy case file (the columns of ``shared/validation/cases.csv``) states a
system (accelerator, count, tp/pp/ep), a model, number formats, a scenario with its lengths
and concurrency, and one measured energy metric:

* ``power_w_board_total``: GPU board power summed over the accelerators (NVML scope);
* ``power_w_wall_total``: AC power of the whole server at the wall (MLPerf Power);
* ``output_tokens_per_j_board`` / ``output_tokens_per_j_wall``: output tokens per joule in
  those scopes.

What is predicted, and how (:func:`predict_energy_row`):

* Board power: :func:`inferchip.performance.predict.predict` in the row's setting gives the
  average board power of one chip (``Prediction.extra["power_w_per_chip"]``: event energies
  / step time + static power, throttled at TDP; the static power of a busy chip is
  ``energy.active_floor_fraction_of_tdp`` x its power limit, see
  :func:`inferchip.cost.economics.active_static_power_w`); the total is that times the
  chips used, plus the idle power of any chip the layout leaves unused.
* Wall power: board total plus the host model :func:`inferchip.cost.energy.wall_power_w`
  (host idle + per-accelerator switch/NIC share, fans, PSU efficiency; every constant is in
  ``catalog/assumptions.yaml`` with its source). This host model is a stated assumption.
* Tokens per joule: OUR predicted output throughput divided by OUR predicted power, both in
  the row's setting. The measured throughput in a row's notes is never used: it is the
  other half of the measurement being predicted (the README pairs a row's watts with the
  throughput in its notes to *derive* the measured tokens/J; a prediction must not borrow it).
* MaxQ power caps: a row whose notes state ``power_limit N W per GPU`` (set with
  ``nvidia-smi -pl`` by the MLPerf harness) is predicted with the chip's TDP replaced by N
  (``dataclasses.replace`` on :class:`~inferchip.spec.chip.ChipParams`), so steps whose
  power would exceed the cap are throttled (:func:`inferchip.cost.energy.throttle`). A row
  whose id or notes say MaxQ but state no cap is refused with a reason.

Scenario mapping (README "What Server, Offline and Interactive mean"):

* ``offline``: max-throughput continuous batching (``batch=None``, no latency limit);
* ``server`` without concurrency: max throughput under the benchmark's p99 TTFT/TPOT limits
  (read from the row's notes, else the README's data-set table); a 20 s end-to-end limit
  (GPT-J) becomes a TPOT limit of 20 s / output tokens;
* ``server`` with a concurrency (closed loop), ``fixed_length`` with a concurrency: a static
  batch of that many sequences spread over the replicas;
* ``fixed_length`` without concurrency: max throughput;
* ``single_stream``: batch 1.

MLPerf rows give no input length: the data set's mean input from
``DatasetLengths.mean_input_tokens`` (stored with the calibration) is used (one value per data set, never per row).
NVIDIA "fp4" activations mean NVFP4 on selected layers with FP8 elsewhere (README caveat 1).
Which layers is not stated, so every GEMM is modelled at the 4-bit peak (W4A4, as
``predict --activations fp4``), attention at 16 bit, KV as given: the upper end of the
speed. Measured against the B200 rows (7 tokens/J rows, 2026-11-29), W4A4 gave a median
tokens/J APE of ~23 % against ~56 % with every GEMM at fp8 (the lower end); the truth lies
between. ``int4`` activations (weight-only here) run as fp8.
"""

from __future__ import annotations

import csv
import math
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from inferchip.catalog.calibration_file import load_calibration, load_dataset_lengths
from inferchip.errors import DoesNotFitError, InferchipError
from inferchip.spec.calibration import Calibration, DatasetLengths
from inferchip.units import percent_error

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

BUNDLED_CSV = Path(__file__).resolve().parent.parent / "catalog" / "energy_cases.csv"


@dataclass(frozen=True)
class MlperfSet:
    """An MLPerf LLM data set: its Server p99 limits and mean output length (README, with citations there)."""

    name: str
    ttft_s: float | None
    tpot_s: float | None
    e2e_s: float | None
    default_output_tokens: float | None


_README = "shared/validation/README.md, 'MLPerf dataset facts and latency constraints'"
# model id fragment (lower case) -> data set; limits are the Server ones of the README.
_MLPERF_SETS: tuple[tuple[str, MlperfSet], ...] = (
    ("llama-2-70b", MlperfSet("llama2-70b", 2.0, 0.2, None, 294.45)),
    ("llama-3.1-405b", MlperfSet("llama3.1-405b", 6.0, 0.175, None, 684.68)),
    ("llama-3.1-8b", MlperfSet("llama3.1-8b", 2.0, 0.1, None, None)),
    ("mixtral-8x7b", MlperfSet("mixtral-8x7b", 2.0, 0.2, None, 144.84)),
    ("deepseek-r1", MlperfSet("deepseek-r1", 2.0, 0.08, None, 3886.2)),
    ("gpt-j", MlperfSet("gptj", None, None, 20.0, 128.0)),  # at most 128 new tokens per sample
)

_NUM = r"(\d+(?:\.\d+)?)"
_POWER_CAP = re.compile(r"power_limit\s+" + _NUM + r"\s*W\s+per\s+(?:GPU|accelerator|chip)", re.IGNORECASE)
_LIMIT_MS = re.compile(r"\b(TTFT|TPOT)\s+p99\s*<=\s*" + _NUM + r"\s*ms", re.IGNORECASE)
_LIMIT_E2E = re.compile(r"latency limit\s+" + _NUM + r"\s*s\s+end-to-end|end-to-end latency\s+p99\s*<=\s*" + _NUM
                        + r"\s*s\b", re.IGNORECASE)


def mlperf_set(model_id: str) -> MlperfSet | None:
    """The MLPerf data set a model id is benchmarked on (None for models MLPerf does not use)."""
    low = model_id.lower()
    for frag, ds in _MLPERF_SETS:
        if frag in low:
            return ds
    return None


def power_cap_w(row: dict[str, str]) -> float | None:
    """Per-accelerator power cap stated in a row's notes (``power_limit 450 W per GPU``), W; None if none."""
    m = _POWER_CAP.search(row.get("notes", "") or "")
    return float(m.group(1)) if m else None


def says_maxq(row: dict[str, str]) -> bool:
    """True when the row's id or notes name a MaxQ (power-capped) system."""
    return "maxq" in (row.get("case_id", "") or "").lower() or bool(
        re.search(r"\bMaxQ\b", row.get("notes", "") or "", re.IGNORECASE))


def latency_limits(row: dict[str, str]) -> tuple[float | None, float | None, float | None]:
    """(TTFT, TPOT, end-to-end) p99 limits in s of a Server row: from its notes, else its data set's."""
    notes = row.get("notes", "") or ""
    found = {m.group(1).upper(): float(m.group(2)) / 1e3 for m in _LIMIT_MS.finditer(notes)}
    e2e_m = _LIMIT_E2E.search(notes)
    e2e = float(e2e_m.group(1) or e2e_m.group(2)) if e2e_m else None
    if found or e2e is not None:
        return found.get("TTFT"), found.get("TPOT"), e2e
    ds = mlperf_set(row.get("model", ""))
    if ds is None:
        return None, None, None
    return ds.ttft_s, ds.tpot_s, ds.e2e_s


def _cell(row: dict[str, str], key: str) -> str:
    return (row.get(key) or "").strip()


def _opt_int(row: dict[str, str], key: str) -> int | None:
    v = _cell(row, key)
    if not v:
        return None
    f = float(v)
    if not math.isfinite(f) or f != int(f) or f < 1:
        raise ValueError(f"{key} {v!r} is not a whole number >= 1")
    return int(f)


def _opt_float(row: dict[str, str], key: str) -> float | None:
    v = _cell(row, key)
    if not v:
        return None
    f = float(v)
    if not math.isfinite(f) or f <= 0:
        raise ValueError(f"{key} {v!r} is not a positive number")
    return f


def _activations(act: str | None) -> str | None:
    """Activation format of a row: NVFP4/MXFP4 as given (W4A4: every GEMM at the 4-bit peak,
    attention at 16 bit, see ``performance.setting.resolve_formats``); int4 (weight-only here) as fp8."""
    return "fp8" if act == "int4" else act


def _setting(row: dict[str, str], lengths: DatasetLengths) -> dict[str, Any]:
    """predict() keyword arguments for a row (raises ValueError with the reason)."""
    count = _opt_int(row, "num_accelerators")
    if count is None:
        raise ValueError("num_accelerators is blank")
    tp, pp, ep = _opt_int(row, "tp"), _opt_int(row, "pp"), _opt_int(row, "ep")
    scenario = _cell(row, "scenario")
    concurrency = _opt_int(row, "concurrency")
    inp, out = _opt_float(row, "input_tokens"), _opt_float(row, "output_tokens")
    ds = mlperf_set(_cell(row, "model"))
    if inp is None:
        if ds is None or ds.name not in lengths.mean_input_tokens:
            raise ValueError("input_tokens is blank and the model is not on an MLPerf data set with a mean input "
                             "length")
        inp = lengths.mean_input_tokens[ds.name]
    if out is None:
        if ds is None or ds.default_output_tokens is None:
            raise ValueError("output_tokens is blank and the data set states no mean output length")
        out = ds.default_output_tokens
    kw: dict[str, Any] = dict(count=count, tp=tp, pp=pp, ep=ep, input_tokens=max(1, round(inp)),
                              output_tokens=max(1, round(out)))
    replicas = max(1, count // ((tp or 1) * (pp or 1))) if (tp or pp) else 1
    if scenario == "single_stream":
        kw["batch"] = 1
    elif scenario == "offline" or (scenario == "fixed_length" and concurrency is None):
        kw["batch"] = None
    elif concurrency is not None and scenario in ("fixed_length", "server"):
        kw["batch"] = max(1, round(concurrency / replicas))
    elif scenario == "server":
        ttft, tpot, e2e = latency_limits(row)
        if ttft is None and tpot is None and e2e is None:
            raise ValueError("server row without a concurrency or a stated latency limit")
        if e2e is not None and tpot is None:
            tpot = e2e / kw["output_tokens"]  # the whole answer within e2e: a bound on the mean TPOT
        kw.update(batch=None, max_ttft_s=ttft, max_tpot_s=tpot)
    else:
        raise ValueError(f"scenario {scenario!r} is not one of offline, server, fixed_length, single_stream")
    return kw


def predict_energy_row(row: dict[str, str], calibration: Calibration | str | None = None,
                       assumptions: str | Path | None = None,
                       lengths: DatasetLengths | None = None) -> tuple[float | None, str | None]:
    """Predicted value of a row's energy metric, in the row's unit, or ``(None, reason)``.

    ``calibration``: a Calibration, a path, ``"none"``, or None for the shipped one.
    ``lengths``: MLPerf mean input lengths (None: those stored with ``calibration`` when it
    names a file, the defaults when it is a Calibration).
    ``assumptions``: path of a YAML overriding the energy/host constants (None = bundled).
    Throughput and power are both predicted (never taken from the row's notes); see the
    module docstring for the scenario mapping, the MaxQ cap and the wall (host) model.
    """
    from inferchip.catalog.assumptions import load_assumptions
    from inferchip.catalog.chips import family_defaults, load_chip
    from inferchip.cost.energy import wall_power_w
    from inferchip.performance.predict import predict
    from inferchip.spec.chip import chip_params

    metric = _cell(row, "metric")
    if metric not in METRIC_SCOPE:
        return None, f"metric {metric!r} is not an energy metric; allowed: {', '.join(METRIC_SCOPE)}"
    try:
        cal = calibration if isinstance(calibration, Calibration) else load_calibration(calibration)
        if lengths is None:
            lengths = DatasetLengths() if isinstance(calibration, Calibration) else load_dataset_lengths(calibration)
        a = load_assumptions(assumptions)
        spec = load_chip(_cell(row, "accelerator"))
        cp = chip_params(spec, family_defaults(spec.family))
        cap = power_cap_w(row)
        if cap is None and says_maxq(row):
            return None, "MaxQ row whose notes state no per-GPU power_limit: the cap cannot be modelled"
        if cap is not None:
            cp = replace(cp, tdp_w=cap)
        kw = _setting(row, lengths)
        formats = {"weights": _cell(row, "weight_dtype") or "bf16",
                   "activations": _activations(_cell(row, "act_dtype") or None), "kv": _cell(row, "kv_dtype") or None}
        try:
            p = predict(cp, _cell(row, "model"), **formats, calibration=cal,
                        assumptions=None if assumptions is None else str(assumptions), chip_spec=spec, **kw)
            per_chip, used, tput = p.extra.get("power_w_per_chip"), p.num_chips, p.output_tokens_per_s
        except DoesNotFitError:
            if kw.get("batch") is None or _cell(row, "scenario") != "fixed_length":
                raise
            # The engine admits what fits and preempts the rest (vLLM recompute): simulate it.
            per_chip, used, tput = _simulated_batch(cp, spec, _cell(row, "model"), formats, cal, a, kw)
    except (InferchipError, ValueError) as exc:
        return None, f"{type(exc).__name__}: {exc}"
    if per_chip is None or not math.isfinite(per_chip):
        return None, f"no power predicted for {spec.id} (no TDP published)"
    count = kw["count"]
    idle = cp.idle_w if math.isfinite(cp.idle_w) else 0.0
    board = per_chip * used + idle * max(0, count - used)
    power = board if METRIC_SCOPE[metric] == "board" else float(wall_power_w(board, count, a))
    if metric.startswith("power_w"):
        return power, None
    return tput / power, None


def _simulated_batch(cp, spec, model: str, formats: dict[str, Any], cal: Calibration, a, kw: dict[str, Any]
                     ) -> tuple[float | None, int, float]:
    """(power W per chip, chips used, output tokens/s) of a static batch larger than memory holds.

    A fixed-length batch whose KV cache outgrows memory still runs on vLLM-style engines: the
    scheduler admits what fits and preempts (recomputes) the rest. The serving simulator runs
    that: ``batch x replicas`` requests arriving together, energy from the same step model.
    """
    from inferchip.performance.serving import serving_model
    from inferchip.sim import BurstArrivals, simulate

    step, replicas = serving_model(cp, model, count=kw["count"], tp=kw.get("tp") or 1, pp=kw.get("pp") or 1,
                                   ep=kw.get("ep") or 1, calibration=cal, assumptions=a, chip_spec=spec, **formats)
    n = kw["batch"] * replicas
    res = simulate(step, BurstArrivals(input_tokens=kw["input_tokens"], output_tokens=kw["output_tokens"]),
                   num_requests=n, replicas=replicas)
    s = res.summary()
    return s.get("power_w_per_chip"), res.num_chips, s["output_tokens_per_s"]


# ------------------------------------------------------------------ report over a file
def energy_validation_summary(csv_path: str | Path | None = None, calibration: Calibration | str | None = None,
                              assumptions: str | Path | None = None, lengths: DatasetLengths | None = None):
    """One row per energy case: case_id, metric, scope, measured, predicted, ape % (and reason).

    ``csv_path`` None reads the copy shipped in the package (``catalog/energy_cases.csv``).
    ``ape %`` is 100 |predicted - measured| / measured; NaN with a reason when not predicted.
    """
    import pandas as pd

    path = Path(csv_path) if csv_path is not None else BUNDLED_CSV
    with path.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    cal = calibration if isinstance(calibration, Calibration) else load_calibration(calibration)
    if lengths is None:
        lengths = DatasetLengths() if isinstance(calibration, Calibration) else load_dataset_lengths(calibration)
    out = []
    for row in rows:
        metric = _cell(row, "metric")
        if metric not in METRIC_SCOPE:
            continue
        measured = float(row["value"])
        pred, reason = predict_energy_row(row, cal, assumptions, lengths)
        ape = abs(percent_error(pred, measured)) if pred is not None else float("nan")
        out.append({"case_id": row["case_id"], "metric": metric, "scope": METRIC_SCOPE[metric],
                    "measured": measured, "predicted": float("nan") if pred is None else pred,
                    "ape %": ape, "reason": reason or ""})
    return pd.DataFrame(out, columns=["case_id", "metric", "scope", "measured", "predicted", "ape %", "reason"])
