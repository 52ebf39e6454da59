"""tools/calibration/fold_spread.py: each fitted parameter's full-fit value, bounds and spread over the folds."""

from __future__ import annotations

import pytest
from tests.conftest import load_tool

fs = load_tool("fold_spread")


def test_spread_by_hand() -> None:
    summary = {"parameters": {"kernel_overhead_scale": 1.0, "moe_imbalance": 1.3,
                              "mlperf_mean_input_tokens:gptj": 400.0}}
    folds = {"chip-a": {"kernel_overhead_scale": 0.5, "moe_imbalance": 1.2},
             "chip-b": {"kernel_overhead_scale": 2.0, "moe_imbalance": 3.2},
             "chip-c": {"kernel_overhead_scale": 1.1, "moe_imbalance": 1.3}}
    out = {r["parameter"]: r for r in fs.spread(summary, folds)}
    k = out["kernel_overhead_scale"]
    assert (k["fold_min"], k["fold_median"], k["fold_max"]) == (0.5, 1.1, 2.0)
    assert (k["min_fold"], k["max_fold"]) == ("chip-a", "chip-b")
    assert (k["low_bound"], k["high_bound"]) == (pytest.approx(0.02), 10.0)  # "> 0" -> FRACTION_FLOOR; le=10
    m = out["moe_imbalance"]
    assert (m["low_bound"], m["high_bound"]) == (1.0, 4.0) and m["max_fold"] == "chip-b"
    g = out["mlperf_mean_input_tokens:gptj"]  # the folds store no data-set means
    assert g["fold_min"] is None and g["low_bound"] == 16.0 and g["high_bound"] > g["full"]


def test_a_held_parameter_is_not_listed() -> None:
    out = fs.spread({"parameters": {"step_overhead_s": 0.002}}, {"chip-a": {"step_overhead_s": 0.001}})
    assert [r["parameter"] for r in out] == ["step_overhead_s"]
