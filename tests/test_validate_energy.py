"""Energy rows in `inferchip validate`: parsed, predicted in their scope, reported apart."""

from __future__ import annotations

import json
import math

import pytest

from inferchip.catalog.calibration_file import load_calibration
from inferchip.validation.cases import ENERGY_METRIC_SCOPE, METRIC_UNITS, parse_cases, read_cases
from inferchip.validation.energy.rows import BUNDLED_CSV, predict_energy_row
from inferchip.validation.validate import Validator, summarize, validate_cases

HEADER = ("case_id,source_kind,source,accelerator,num_accelerators,software,model,weight_dtype,act_dtype,kv_dtype,"
          "tp,pp,ep,scenario,input_tokens,output_tokens,concurrency,metric,value,unit,notes\n")


def _row(case_id: str, metric: str, value: str, unit: str, batch: str = "1") -> str:
    return (f"{case_id},paper,src,nvidia-h100-sxm-80gb,1,vLLM,meta-llama/Meta-Llama-3-8B,fp16,fp16,,1,1,,fixed_length,"
            f"1024,1024,{batch},{metric},{value},{unit},power scope board\n")


def test_energy_metrics_parse_with_their_units_and_scope():
    cases = parse_cases(HEADER + _row("a", "power_w_board_total", "363.3", "W")
                        + _row("b", "output_tokens_per_j_board", "0.35", "tokens/J"), "x.csv")
    assert [c.energy_scope for c in cases] == ["board", "board"]
    assert {m: METRIC_UNITS[m] for m in ENERGY_METRIC_SCOPE} == {
        "power_w_wall_total": "W", "power_w_board_total": "W",
        "output_tokens_per_j_wall": "tokens/J", "output_tokens_per_j_board": "tokens/J"}


def test_energy_metric_with_the_wrong_unit_names_line_and_column():
    from inferchip.validation.cases import CaseFileError

    with pytest.raises(CaseFileError, match=r"line 2, column 20 \(unit\).*expected 'W'"):
        parse_cases(HEADER + _row("a", "power_w_board_total", "363.3", "kW"), "x.csv")


def test_validator_predicts_an_energy_row_exactly_as_predict_energy_row_does():
    """The validator is a thin dispatch: same row, same calibration, same number."""
    cal = load_calibration(None)
    case = parse_cases(HEADER + _row("a", "power_w_board_total", "363.3", "W"), "x.csv")[0]
    r = Validator(cal).predict_case(case)
    direct, reason = predict_energy_row(case.to_row(), cal)
    assert reason is None and r.status == "ok"
    assert r.predicted == pytest.approx(direct, rel=1e-12)
    # one H100 at batch 1: above its idle floor and at most its 700 W TDP
    assert 60.0 < r.predicted <= 700.0
    assert any("board scope" in n for n in r.notes)


def test_tokens_per_joule_row_is_throughput_over_power_of_the_same_setting():
    """The same setting includes the row's engine: its ``software`` (vLLM) on an H100 runs the 16-bit GEMMs on
    cuBLASLt (split-K and the per-shape tile: ``validation.moe_kernels.run_calibration``), so the throughput is
    ``predict``'s under that calibration."""
    cal = load_calibration(None)
    p_case, e_case = parse_cases(HEADER + _row("p", "power_w_board_total", "1", "W")
                                 + _row("e", "output_tokens_per_j_board", "1", "tokens/J"), "x.csv")
    from inferchip.performance.predict import predict
    from inferchip.validation.moe_kernels import run_calibration

    watts = Validator(cal).predict_case(p_case).predicted
    tok_per_j = Validator(cal).predict_case(e_case).predicted
    row_cal = run_calibration(cal, e_case.to_row(), False, "nvidia-hopper")
    assert row_cal.gemm_split_k_16bit  # the engine's fact reaches the row
    pred = predict("nvidia-h100-sxm-80gb", "meta-llama/Meta-Llama-3-8B", weights="fp16", activations="fp16",
                   tp=1, pp=1, input_tokens=1024, output_tokens=1024, batch=1, calibration=row_cal)
    assert tok_per_j == pytest.approx(pred.output_tokens_per_s / watts, rel=1e-9)


def test_summary_keeps_energy_scopes_apart_from_performance():
    cal = load_calibration(None)
    energy = read_cases(BUNDLED_CSV)
    results = validate_cases(energy, cal)
    s = summarize(results)
    kinds = s["kinds"]
    assert set(kinds) == {"energy (board)", "energy (wall)"}
    assert kinds["energy (board)"]["cases"] == sum(c.energy_scope == "board" for c in energy)
    assert kinds["energy (wall)"]["cases"] == sum(c.energy_scope == "wall" for c in energy)
    for st in kinds.values():
        assert st["predicted"] > 0 and math.isfinite(st["median_ape"])


def test_calibrate_leaves_energy_rows_out(monkeypatch):
    from inferchip.validation import calibrate as calmod

    seen = []
    monkeypatch.setattr(calmod, "prepare", lambda cases, start: (seen.extend(cases), ([], []))[1])
    # energy rows only: none reaches the first pass, so there is no row to fit (refused, nothing written)
    with pytest.raises(calmod.NothingToFit, match="none of the 0 performance rows"):
        calmod.calibrate(read_cases(BUNDLED_CSV)[:4], cross_validate=False)
    assert seen == []


def test_cli_validates_performance_and_energy_files_together(tmp_path):
    from typer.testing import CliRunner

    import inferchip.interfaces.validating.command  # noqa: F401  (registers the command)
    from inferchip.interfaces.app import app

    perf = tmp_path / "perf.csv"
    perf.write_text(HEADER + _row("perf-1", "tpot_ms", "8", "ms").replace("power scope board", "static batch"))
    en = tmp_path / "energy.csv"
    en.write_text(HEADER + _row("en-1", "power_w_board_total", "363.3", "W"))
    res = CliRunner().invoke(app, ["validate", str(perf), str(en), "--format", "json", "--workers", "1"])
    assert res.exit_code == 0, res.output
    d = json.loads(res.output)
    assert [c["case_id"] for c in d["cases"]] == ["perf-1", "en-1"]
    assert set(d["summary"]["kinds"]) == {"performance", "energy (board)"}
    assert d["cases"][1]["energy_scope"] == "board"
    dup = CliRunner().invoke(app, ["validate", str(en), str(en), "--workers", "1"])
    # the app raises; cli.main turns it into one error line and exit status 2 (tests/test_cli_exit.py)
    assert dup.exit_code != 0 and "repeats a case of" in str(dup.exception)
