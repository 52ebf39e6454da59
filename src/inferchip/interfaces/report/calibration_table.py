"""The validation page's table of calibration parameters: each with its value, the bounds ``inferchip calibrate``
fits it within (:func:`inferchip.validation.calibrate.parameter_bounds`) and who sets it (issue 12: the parameters
listed with their fitted values and bounds). The serving data sets' mean inputs are not calibrate's: gpqa's is
published, lm-arena-chat's is fitted on the energy rows by ``tools/energy/fit_power.py``."""

from __future__ import annotations

from inferchip.spec.calibration import Calibration, DatasetLengths
from inferchip.validation.calibrate import DS_PREFIX, parameter_bounds
from inferchip.workload.datasets import DATASETS, MLPERF_DATASETS

HEADER = ["parameter", "value", "fit bounds", "set by"]
# Fields the shipped calibration relies on that no fit moves (each field's description gives its source)
NOT_FITTED = ("prefill_attention_compute_fraction", "expert_popularity_log_sd", "memory_utilization_fraction")


def _interval(lo: float, hi: float) -> str:
    return f"[{lo:g}, {hi:g}]"


def parameter_rows(cal: Calibration, lengths: DatasetLengths | None = None) -> list[list[str]]:
    """One row per fitted physical parameter, per data-set mean input and per :data:`NOT_FITTED` field."""
    fitted = "fitted by inferchip calibrate" if cal.fitted else "default (not fitted)"
    held = ("held by inferchip calibrate, not fitted: its rows leave it on a flat direction "
            "(validation/calibrate.py identified_fit)")
    rows = [[n, f"{getattr(cal, n):.4g}", _interval(*parameter_bounds(n, cal)),
             held if f"held:{n}" in cal.fit_summary else fitted] for n in Calibration.physical_parameter_names()]
    for d, val in sorted((lengths or DatasetLengths()).mean_input_tokens.items()):
        ds = DATASETS.get(d)
        if ds is not None and ds.mean_input_tokens is not None:
            kind = "MLPerf " if d in MLPERF_DATASETS else ""
            name, bounds, who = f"mean input tokens, {kind}{d}", "-", "stated (not fitted)"
            val = ds.mean_input_tokens
        elif d in MLPERF_DATASETS:
            name, who = f"mean input tokens, MLPerf {d}", fitted
            bounds = _interval(*parameter_bounds(DS_PREFIX + d, cal))
        elif ds is not None:
            name, bounds = f"mean input tokens, {d}", _interval(*parameter_bounds(DS_PREFIX + d, cal))
            who = "not calibrate's: fitted on the energy rows by tools/energy/fit_power.py"
        else:
            name, bounds, who = f"mean input tokens, {d}", "-", "given in the calibration file"
        rows.append([name, f"{val:.1f}", bounds, who])
    rows += [[n, f"{getattr(cal, n):.4g}", "-", "not fitted (source in the field's description)"] for n in NOT_FITTED]
    return rows
