"""Calibration: bounds from the pydantic fields, recovery of known parameters from data the model
generated itself, leave-one-accelerator-out bookkeeping and the `inferchip calibrate` command."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import replace

import pytest

from inferchip.catalog.calibration_file import load_calibration, load_dataset_lengths
from inferchip.interfaces.cli import main
from inferchip.spec.calibration import Calibration
from inferchip.validation.calibrate import (
    DS_PREFIX,
    FitPoint,
    FitResult,
    calibrate,
    fit,
    parameter_bounds,
    prepare,
    with_values,
)
from inferchip.validation.cases import COLUMNS, parse_cases
from inferchip.validation.validate import Validator

L8, L70, L2 = "meta-llama/Llama-3.1-8B-Instruct", "meta-llama/Llama-3.1-70B-Instruct", "meta-llama/Llama-2-70b-chat-hf"
H100, H200, B200, MI300X = "nvidia-h100-sxm-80gb", "nvidia-h200-sxm-141gb", "nvidia-b200-180gb", "amd-mi300x"

# (id, chip, count, model, w, tp, scenario, in, out, concurrency, metric, notes). Closed loops and static
# batches at a stated concurrency (no max-throughput grid), so the model is smooth in the parameters.
# Small batches are memory/overhead bound, long prompts at large batch compute bound, tp > 1 adds links;
# the two MLPerf rows (no input length) carry the llama2-70b mean input length.
SETTINGS = [
    ("s1", H100, 1, L8, "fp8", 1, "fixed_length", "128", "512", "8", "output_tokens_per_s_total", ""),
    ("s2", H100, 1, L8, "fp8", 1, "fixed_length", "2048", "128", "384", "output_tokens_per_s_total", ""),
    ("s3", H200, 1, L70, "fp8", 1, "single_stream", "128", "256", "1", "batch_e2e_latency_ms", ""),
    ("s4", H200, 4, L70, "fp8", 4, "fixed_length", "2048", "128", "64", "batch_e2e_latency_ms", ""),
    ("s5", B200, 2, L70, "fp8", 2, "fixed_length", "1000", "1000", "32", "output_tokens_per_s_total", ""),
    ("s6", MI300X, 1, L8, "bf16", 1, "single_stream", "128", "128", "1", "batch_e2e_latency_ms", ""),
    ("s7", H200, 8, L2, "fp8", 1, "server", "", "290", "2400", "output_tokens_per_s_total", "MLPerf"),
    ("s8", H100, 8, L2, "fp8", 2, "server", "", "290", "256", "ttft_ms", "MLPerf"),
    ("s9", MI300X, 8, L70, "fp8", 8, "fixed_length", "128", "2048", "256", "tpot_ms", ""),
]
TRUE = dict(gemm_compute_fraction=0.62, memory_bandwidth_fraction=0.71, step_overhead_s=0.0035,
            link_bandwidth_fraction=0.5)
TRUE_MEAN_INPUT = 420.0
FITTED = list(TRUE) + [DS_PREFIX + "llama2-70b"]


def _csv(rows: list[dict]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue()


def synthetic_cases(truth: FitPoint):
    """The settings above, each 'measured' value being the model's own prediction under ``truth``."""
    rows = []
    for cid, chip, n, model, w, tp, scen, i, o, conc, metric, notes in SETTINGS:
        unit = "ms" if metric.endswith("_ms") else "tokens/s"
        kind = "synthetic" if i else "mlperf-synthetic"  # a row without an input length replays MLPerf
        rows.append(dict(case_id=cid, source_kind=kind, source="test", accelerator=chip, num_accelerators=n,
                         software="-", model=model, weight_dtype=w, act_dtype=w, kv_dtype=w, tp=tp, pp=1, ep="",
                         scenario=scen, input_tokens=i, output_tokens=o, concurrency=conc, metric=metric, value=1,
                         unit=unit, notes=notes))
    cases = parse_cases(_csv(rows), "synthetic.csv")
    v = truth.validator()
    out = []
    for c in cases:
        r = v.predict_case(c)
        assert r.status == "ok", (c.case_id, r.reason)
        out.append(replace(c, value=r.predicted))
    return out


@pytest.fixture(scope="module")
def truth() -> FitPoint:
    return with_values(Calibration(), FITTED, list(TRUE.values()) + [TRUE_MEAN_INPUT])


def test_bounds_are_the_pydantic_field_bounds():
    cal = Calibration()
    assert parameter_bounds("gemm_compute_fraction", cal) == (0.02, 1.0)  # gt=0 (floored for a log fit), le=1
    assert parameter_bounds("moe_imbalance", cal) == (1.0, 4.0)  # ge=1, le=4
    assert parameter_bounds("step_overhead_s", cal) == (1e-5, 0.1)  # ge=0 -> 10 us floor, le=0.1 s
    assert parameter_bounds("kernel_overhead_scale", cal) == (0.02, 10.0)
    assert parameter_bounds(DS_PREFIX + "llama2-70b", cal) == (16.0, 1024.0)  # README: max_seq_len 1024


def test_fit_recovers_the_parameters_the_data_was_made_with(truth):
    """Noise-free data from the model itself: the fit, started from the defaults (every fitted
    parameter 13-65% away), must land on the truth. Tolerance 2%: the optimiser stops at a log-step
    of 1e-3 (0.1%), and the model has small steps (tile quantisation, ceil of chunks) that forward
    differences of 2% can straddle."""
    cases = synthetic_cases(truth)
    start = Calibration()
    rows, first = prepare(cases, start)
    assert len(rows) == len(SETTINGS)
    res = fit(rows, start, FITTED, max_evaluations=80)
    assert res.converged and res.status > 0 and res.iterations < 80  # stopped on a tolerance, not the limit
    got = dict(zip(res.names, res.values, strict=False))
    for name, want in TRUE.items():
        assert got[name] == pytest.approx(want, rel=0.02), name
    assert got[DS_PREFIX + "llama2-70b"] == pytest.approx(TRUE_MEAN_INPUT, rel=0.02)
    assert res.lengths.mean_input_tokens["llama2-70b"] == pytest.approx(TRUE_MEAN_INPUT, rel=0.02)
    v = Validator(res.calibration, lengths=res.lengths)
    worst = max(v.predict_case(c).ape for c in cases)
    assert worst < 1.0  # percent
    assert max(r.ape for r in first) > 10.0  # the defaults were really off


def test_leave_one_accelerator_out_predicts_each_row_with_a_fold_that_never_saw_it(truth):
    cases = synthetic_cases(truth)[:6]  # s1-s6: H100, H200, B200, MI300X
    rep = calibrate(cases, Calibration(), workers=1, max_evaluations=30)
    assert sorted(rep.folds) == sorted({c.accelerator for c in cases})
    for c, r in zip(cases, rep.held_out, strict=False):
        assert r.case.case_id == c.case_id
        again = rep.folds[c.accelerator].validator().predict_case(c)
        assert r.predicted == pytest.approx(again.predicted, rel=1e-12)
    s = rep.summary()
    # the physical parameters (no MLPerf row, so no data-set mean), less those held: 6 rows cannot pin 7
    # parameters, so the identifiability rule (calibrate.identified_fit) must hold at least one, and says why
    held = s["held"]["full"]
    assert s["fitted_parameters"] + len(held) == 7 and len(held) >= 1
    assert set(held).isdisjoint(s["parameters"]) and all("flat direction" in h["why"] for h in held.values())
    assert {f"held:{n}" for n in held} <= set(rep.fitted.calibration.fit_summary)
    assert set(s["cross_validated_by_accelerator"]) == set(rep.folds)
    fs = rep.fitted.calibration.fit_summary
    assert rep.fitted.calibration.fitted and {"in_sample_median_ape", "cv_median_ape", "cv_p90_ape"} <= set(fs)


def test_cross_validation_folds_in_worker_processes_match_the_folds_in_one_process(truth):
    """The folds travel to worker processes (a step plan's compiled rules do not pickle: the
    workers map each row again); two workers must give the folds one process gives."""
    cases = synthetic_cases(truth)[:6]
    one = calibrate(cases, Calibration(), workers=1, max_evaluations=10)
    two = calibrate(cases, Calibration(), workers=2, max_evaluations=10)
    assert sorted(two.folds) == sorted(one.folds)
    for acc, fold in one.folds.items():
        assert two.folds[acc].calibration == fold.calibration
    assert [r.predicted for r in two.held_out] == [r.predicted for r in one.held_out]


def test_calibrate_command_writes_a_loadable_fitted_calibration(tmp_path, truth, capsys):
    cases = synthetic_cases(truth)
    rows = [{**{k: getattr(c, k) if getattr(c, k) is not None else "" for k in COLUMNS}} for c in cases]
    src = tmp_path / "synthetic.csv"
    src.write_text(_csv(rows))
    out = tmp_path / "cal.yaml"
    rc = main(["calibrate", str(src), "-o", str(out), "--no-cv", "--format", "json"])
    assert rc == 0
    report = json.loads(capsys.readouterr().out)
    held = report["held"]["full"]  # what the rows leave flat is held, not fitted, and written at its held value
    assert report["fitted_parameters"] + len(held) == len(Calibration.physical_parameter_names()) + 1
    cal = load_calibration(out)
    assert all(getattr(cal, n) == h["value"] and cal.fit_summary[f"held:{n}"] == h["value"] for n, h in held.items())
    # The fitted MLPerf mean input length is written with the calibration and read back apart from it.
    fitted_mean = report["parameters"][DS_PREFIX + "llama2-70b"]
    assert load_dataset_lengths(out).mean_input_tokens["llama2-70b"] == pytest.approx(fitted_mean, rel=1e-12)
    assert fitted_mean != 700.0  # not the default: fitted (near the truth, 420)
    assert cal.fitted and cal.fitted_on.startswith("synthetic.csv (9 cases, sha256 ")
    assert cal.fit_summary["in_sample_median_ape"] < 5.0
    assert not list(tmp_path.glob("*.tmp"))
    rc = main(["validate", str(src), "--calibration", str(out), "--format", "json"])
    assert rc == 0
    assert "fitted on synthetic.csv" in json.loads(capsys.readouterr().out)["calibration"]


def test_a_fit_stopped_by_its_evaluation_limit_is_reported_as_not_converged(truth):
    """Two residual evaluations cannot move 5 parameters 13-65 % to the truth: least_squares stops on
    max_nfev (status 0), and the fit, the report and the written summary say so."""
    cases = synthetic_cases(truth)[:6]
    rows, _ = prepare(cases, Calibration())
    res = fit(rows, Calibration(), FITTED[:-1], max_evaluations=2)
    assert (res.status, res.converged, res.iterations) == (0, False, 2)
    assert "not converged" in res.stop_text()
    rep = calibrate(cases, Calibration(), workers=1, max_evaluations=2)
    conv = rep.summary()["convergence"]
    assert conv["full"] == {"converged": False, "evaluations": 2, "status": 0, "restarts": 0}  # none from a limit
    assert conv["folds_fitted"] == 4 and conv["folds_converged"] == 0  # H100, H200, B200, MI300X
    assert "folds: 0 of 4 converged" in rep.convergence_text() and "stopped at the limit: amd-mi300x" in \
        rep.convergence_text()
    fs = rep.fitted.calibration.fit_summary
    assert (fs["fit_converged"], fs["fit_evaluations"], fs["max_evaluations"]) == (0.0, 2.0, 2.0)
    assert (fs["cv_folds"], fs["cv_folds_converged"]) == (4.0, 0.0)


def test_report_names_the_folds_restarted_from_a_better_probe(truth):
    """A fold whose least_squares point a single-coordinate probe improved (fitting.search) is named with its count of
    restarts; the full fit's restarts are in its stop text."""
    cases = synthetic_cases(truth)[:6]
    rep = calibrate(cases, Calibration(), workers=1, cross_validate=False)
    ff = FitResult(Calibration(), rep.fitted.lengths, [], [], 5, 0.1, 30, 3, "xtol", restarts=2, probes=64)
    rep.fold_fits = {"nvidia-h200-sxm-141gb": ff, "amd-mi300x": replace(ff, restarts=0)}
    text = rep.convergence_text()
    assert "folds: 2 of 2 converged (30-30 evaluations)" in text
    assert "restarted from a better probe: nvidia-h200-sxm-141gb (2)" in text and "amd-mi300x (" not in text
    assert rep.convergence()["folds"]["nvidia-h200-sxm-141gb"]["restarts"] == 2
    assert "2 restart(s) from a better probe" in ff.stop_text()


def test_calibrate_command_says_a_fit_stopped_at_its_limit(tmp_path, truth, capsys):
    """The table output names the stop of every fit; a limit of 2 stops all of them, and the YAML says so."""
    cases = synthetic_cases(truth)[:6]
    src = tmp_path / "synthetic.csv"
    src.write_text(_csv([{k: getattr(c, k) if getattr(c, k) is not None else "" for k in COLUMNS} for c in cases]))
    out = tmp_path / "cal.yaml"
    assert main(["calibrate", str(src), "-o", str(out), "--cv", "--workers", "1", "--max-evaluations", "2"]) == 0
    text = " ".join(capsys.readouterr().out.split())  # the console wraps long lines
    assert "full fit stopped at the evaluation limit (not converged) after 2 residual evaluations" in text
    assert "folds: 0 of 4 converged (2-2 evaluations); stopped at the limit: amd-mi300x" in text
    assert "raise --max-evaluations" in text
    fs = load_calibration(out).fit_summary
    assert (fs["fit_converged"], fs["cv_folds"], fs["cv_folds_converged"], fs["max_evaluations"]) == (0, 4, 0, 2)
