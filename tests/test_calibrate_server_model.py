"""Calibrate scores a server row with the model validate reports for it (issue 12: the cross-validation
used the analytic model on every server row while validate reports the simulator's TTFT/TPOT), and says,
per metric kind, which server model has the lower held-out error."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

import test_calibrate as tc
from inferchip.spec.calibration import Calibration
from inferchip.validation.calibrate import SCORE_SERVER_MODEL, calibrate, scorer, with_values
from inferchip.validation.server_choice import SERVER_MODEL_BY_METRIC, metric_kind, server_model_for
from inferchip.validation.stats import server_models_by_kind

# Two open-loop server rows at a stated load (the MLPerf Server kind: no concurrency), next to s1-s6.
SERVER_ROWS = [(f"srv-{m}", tc.H100, 1, tc.L8, "fp8", 1, "server", "512", "128", "", m,
                "measured at the load above (4 completed samples/s)") for m in ("ttft_ms", "tpot_ms")]


@pytest.fixture(scope="module")
def cases(monkeypatch_module):
    truth = with_values(Calibration(), tc.FITTED, list(tc.TRUE.values()) + [tc.TRUE_MEAN_INPUT])
    monkeypatch_module.setattr(tc, "SETTINGS", tc.SETTINGS[:6] + SERVER_ROWS)
    return tc.synthetic_cases(truth)


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as mp:
        yield mp


def test_held_out_server_rows_are_scored_by_the_model_validate_reports(cases):
    rep = calibrate(cases, Calibration(), workers=1, max_evaluations=8)
    assert SCORE_SERVER_MODEL == "auto"  # validate's default (interfaces/validating/command.py, --server-model)
    server = [r for r in rep.held_out if r.case.scenario == "server"]
    assert len(server) == 2
    for r in server:
        want = server_model_for(r.case.metric, "auto")
        assert r.server_model == want and set(r.by_model) == {"sim", "analytic"}
        assert r.predicted == r.by_model[want]
        again = scorer(rep.folds[r.case.accelerator]).predict_case(r.case)
        assert again.predicted == pytest.approx(r.predicted, rel=1e-12)
    assert all(r.server_model == server_model_for(r.case.metric, "auto")
               for r in rep.in_sample if r.case.scenario == "server")
    per_kind = rep.summary()["server_models_cross_validated"]
    assert set(per_kind) == {"ttft", "tpot"}
    for kind, per in per_kind.items():
        (row,) = [r for r in server if metric_kind(r.case.metric) == kind]
        for m in ("sim", "analytic"):  # one row: its median APE is its own APE
            assert per[m]["median_ape"] == pytest.approx(abs(100 * (row.by_model[m] / row.measured - 1)))
        assert per["auto"] == SERVER_MODEL_BY_METRIC[kind]
        assert per["lower"] == min(("sim", "analytic"), key=lambda m: per[m]["median_ape"])


def _row(metric: str, sim: float | None, analytic: float | None, measured: float = 100.0):
    return SimpleNamespace(case=SimpleNamespace(metric=metric), by_model={"sim": sim, "analytic": analytic},
                           measured=measured, status="ok")


def test_the_lower_median_error_names_the_model_per_kind():
    rows = [_row("ttft_ms", 90, 60), _row("ttft_ms", 120, 150), _row("ttft_ms", 105, 130),  # sim 10 vs analytic 40
            _row("tpot_ms", 70, 95), _row("tpot_ms", 80, 104),  # sim 25 vs analytic 4.5
            _row("output_tokens_per_s_total", 110, 90),  # a tie (10 and 10): the auto choice stays
            _row("tpot_ms", None, 100)]  # one model missing: left out of both
    got = server_models_by_kind(rows)
    assert got["ttft"]["sim"]["median_ape"] == pytest.approx(10.0)
    assert got["ttft"]["analytic"]["median_ape"] == pytest.approx(40.0)
    assert got["ttft"]["lower"] == "sim"
    assert got["tpot"]["sim"]["cases"] == 2
    assert got["tpot"]["analytic"]["median_ape"] == pytest.approx(4.5)
    assert got["tpot"]["lower"] == "analytic"
    assert got["throughput"]["lower"] == SERVER_MODEL_BY_METRIC["throughput"] == got["throughput"]["auto"]


def test_calibrate_command_says_which_server_model_scores_and_which_is_lower(cases, tmp_path, capsys):
    from inferchip.interfaces.cli import main
    from inferchip.validation.cases import COLUMNS

    src = tmp_path / "synthetic.csv"
    src.write_text(tc._csv([{k: getattr(c, k) if getattr(c, k) is not None else "" for k in COLUMNS} for c in cases]))
    assert main(["calibrate", str(src), "-o", str(tmp_path / "cal.yaml"), "--cv", "--workers", "1"]) == 0
    out = " ".join(capsys.readouterr().out.split())  # the console wraps long lines
    assert "server rows: auto" in out
    for kind in ("ttft", "tpot"):
        line = out.split(f"server models, held out, {kind}: ")[1]
        assert line.startswith("sim ") and f"validate uses {SERVER_MODEL_BY_METRIC[kind]}" in line
