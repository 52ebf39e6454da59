"""Every case row's ``software`` column is read one way (catalog/engines.py ``row_engine``), whichever server
model predicts the row: an unknown engine is an error naming the line, the column, the value and the
allowed engines, for MLPerf-style rows as for closed-loop ones; software the catalogue lists as no serving
engine (an MLPerf harness, Saxml, SynapseAI, plain TensorRT) is accepted. ``calibrate``'s first pass uses
the same check as its scorer, so it never fits a row that ``validate`` refuses (a closed-loop row with an
unknown engine was fitted, ``rows_used 1``, then refused by the scorer)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

import inferchip
from inferchip.catalog.engines import load_engines, row_engine
from inferchip.errors import InvalidSettingError
from inferchip.interfaces.cli import main
from inferchip.validation.calibrate import as_point, prepare, scorer
from inferchip.validation.cases import read_cases
from inferchip.validation.closed_loop import check_row
from inferchip.validation.plan import is_closed_loop
from inferchip.validation.validate import Validator

sys.path.insert(0, str(Path(__file__).parent))
from test_calibrate_bad_rows import GOOD, _write  # noqa: E402

CATALOG = Path(inferchip.__file__).parent / "catalog"
CLOSED = {**GOOD, "case_id": "closed-foo", "scenario": "server", "software": "FooServe 1.0"}  # a closed loop
PAGE = {**GOOD, "case_id": "page-foo", "software": "FooServe 1.0"}  # fixed-length, MLPerf-style
FRAGMENTS = [m for e in load_engines().engines for m in e.match] + [m for o in load_engines().other_software
                                                                     for m in o.match]


def test_calibrate_first_pass_refuses_what_its_scorer_refuses(tmp_path):
    cases = read_cases(_write(tmp_path / "c.csv", [GOOD, CLOSED]))
    assert is_closed_loop(cases[1])
    rows, first = prepare(cases, as_point(None))
    assert [r.case.case_id for r in rows] == ["good"]  # the closed-loop row is not fitted
    assert first[1].status == scorer(as_point(None)).predict_case(cases[1]).status == "invalid_setting"
    assert "line 3" in first[1].reason and "column software" in first[1].reason and "FooServe 1.0" in first[1].reason


def test_calibrate_lists_the_refused_closed_loop_row_and_fits_without_it(tmp_path, capsys):
    src = _write(tmp_path / "c.csv", [GOOD, CLOSED])
    out = tmp_path / "cal.yaml"
    assert main(["calibrate", str(src), "-o", str(out), "--no-cv", "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    listed = {r["case_id"]: r for r in report["not_predicted"]}
    assert set(listed) == {"closed-foo"} and listed["closed-foo"]["line"] == 3
    assert yaml.safe_load(out.read_text())["fit_summary"]["rows_used"] == 1


@pytest.mark.parametrize("server_model", ["analytic", "auto", "sim"])
def test_an_unknown_engine_on_an_mlperf_style_row_names_line_column_value_and_engines(tmp_path, server_model):
    case = read_cases(_write(tmp_path / "p.csv", [GOOD, PAGE]))[1]
    res = Validator(as_point(None).calibration, server_model=server_model).predict_case(case)
    assert res.status == "invalid_setting"
    for part in ("line 3", "column software", "'FooServe 1.0'", "vllm", "sglang", "trtllm"):
        assert part in res.reason
    # --engine overrides the column: the row is predicted
    assert Validator(as_point(None).calibration, engine="vllm").predict_case(case).status == "ok"


@pytest.mark.parametrize("software", ["", "-", "vLLM 0.10", "TensorRT 10.8, CUDA 12.8",
                                      "Saxml 1.1.0 (JAX 0.4.18), KRAI X harness",
                                      "Intel Gaudi software (SynapseAI) 1.18",
                                      "NVIDIA MLPerf harness (TensorRT-LLM)"])
def test_known_software_on_an_mlperf_style_row_is_accepted(tmp_path, software):
    case = read_cases(_write(tmp_path / "p.csv", [{**GOOD, "software": software}]))[0]
    check_row(case, None, closed_loop=False)  # no error


def test_every_shipped_row_reads_its_software():
    for name in ("validation_cases.csv", "energy_cases.csv", "inferencemax_cases.csv"):
        for case in read_cases(CATALOG / name):
            check_row(case, None, is_closed_loop(case))


@settings(max_examples=200, deadline=None)
@given(st.text(min_size=1, max_size=40))
def test_row_engine_names_the_row_or_finds_a_fragment(text):
    low = text.lower()
    try:
        engine = row_engine(text, "line 9 (x)")
    except InvalidSettingError as exc:
        msg = str(exc)
        assert msg.startswith("line 9 (x), column software:") and repr(text) in msg
        assert not any(f in low for f in FRAGMENTS) and text.strip() not in ("", "-")
        return
    if engine is not None and text.strip() not in ("", "-"):
        assert any(m in low for m in engine.match)
    elif engine is None:
        assert any(f in low for f in FRAGMENTS)
