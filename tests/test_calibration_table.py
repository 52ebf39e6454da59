"""interfaces/report/calibration_table.py: the validation page lists each calibration parameter with its value, the
bounds calibrate fits it within, and who sets it (issue 12)."""

from __future__ import annotations

from inferchip.catalog.calibration_file import load_calibration_file
from inferchip.interfaces.report.calibration_table import HEADER, NOT_FITTED, parameter_rows
from inferchip.spec.calibration import Calibration, DatasetLengths


def _by_name(rows: list[list[str]]) -> dict[str, list[str]]:
    return {r[0]: r for r in rows}


def test_bounds_by_hand_from_the_fields() -> None:
    """kernel_overhead_scale: gt 0 (the fit's floor 0.02, validation.calibrate.FRACTION_FLOOR), le 10; step_overhead_s:
    ge 0 (the log fit's 1e-5, LOWER_IF_OPEN), le 0.1; moe_imbalance ge 1, le 4; Llama-2-70B's data set: 16 tokens
    (MIN_MEAN_INPUT_TOKENS) to its 1,024-token input limit."""
    rows = _by_name(parameter_rows(Calibration(fitted=True), DatasetLengths()))
    assert rows["kernel_overhead_scale"][1:3] == ["1", "[0.02, 10]"]
    assert rows["gemm_compute_fraction"][1:3] == ["0.8", "[0.02, 1]"]
    assert rows["step_overhead_s"][2] == "[1e-05, 0.1]"
    assert rows["moe_imbalance"][1:3] == ["1.25", "[1, 4]"]
    assert rows["mean input tokens, MLPerf llama2-70b"][1:3] == ["700.0", "[16, 1024]"]
    assert rows["kernel_overhead_scale"][3] == "fitted by inferchip calibrate"


def test_the_serving_data_sets_are_not_called_calibrate_fits() -> None:
    rows = _by_name(parameter_rows(Calibration(fitted=True), DatasetLengths()))
    assert rows["mean input tokens, gpqa"][2:] == ["-", "stated (not fitted)"]
    arena = rows["mean input tokens, lm-arena-chat"]
    assert arena[2] == "[16, 32768]" and "fit_power" in arena[3] and "not calibrate's" in arena[3]
    assert not any(r[0].startswith("mean input tokens, MLPerf") and ("gpqa" in r[0] or "arena" in r[0])
                   for r in rows.values())


def test_defaults_say_so_and_every_row_has_the_header_width() -> None:
    rows = parameter_rows(Calibration(), None)
    assert all(len(r) == len(HEADER) for r in rows)
    assert _by_name(rows)["memory_bandwidth_fraction"][3] == "default (not fitted)"
    assert [r[0] for r in rows[-len(NOT_FITTED):]] == list(NOT_FITTED)


def test_the_shipped_calibration_has_a_row_for_every_fitted_name_within_its_bounds() -> None:
    shipped = load_calibration_file(None)
    rows = _by_name(parameter_rows(shipped.calibration, shipped.lengths))
    for n in Calibration.physical_parameter_names():
        lo, hi = (float(x) for x in rows[n][2].strip("[]").split(","))
        assert lo <= getattr(shipped.calibration, n) <= hi, n


def test_a_parameter_calibrate_held_says_so() -> None:
    cal = Calibration(fitted=True, kernel_overhead_scale=0.99, fit_summary={"held:kernel_overhead_scale": 0.99})
    by_name = {r[0]: r for r in parameter_rows(cal)}
    assert by_name["kernel_overhead_scale"][3].startswith("held by inferchip calibrate")
    assert by_name["step_overhead_s"][3] == "fitted by inferchip calibrate"
