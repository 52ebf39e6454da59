"""Generated bad closed-loop rows read end to end, up to the simulated benchmark: an unknown engine text, an unknown
data set, a layout or pool statement the system cannot hold (tp, ep, chip count, attention-DP and disaggregation marks,
the notes' pools), a concurrency or length that is not a positive whole number. Each is read, or refused with an error
naming the row's line and the column; nothing else escapes (no traceback from deeper down).

The cell-by-cell parse fuzz is tests/test_case_columns_fuzz.py; this one goes past the parse, through the row's facts
(validation/closed_loop_facts.py), the recipe's workers and each worker's mapped layout
(validation/closed_loop_rows.py), stopping where the simulation would start (the simulation itself is not fuzzed)."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inferchip.catalog.calibration_file import load_calibration
from inferchip.validation import closed_loop_rows
from inferchip.validation.cases import CaseFileError, parse_cases
from inferchip.validation.plan import case_formats, is_closed_loop
from inferchip.validation.validate import Validator
from inferchip.workload.datasets import DATASETS

CATALOG = Path(__file__).parents[1] / "src" / "inferchip" / "catalog"
_rows = list(csv.reader(io.StringIO((CATALOG / "inferencemax_cases.csv").read_text(encoding="utf-8"))))
HEADER = [*_rows[0], "dataset"]
BASE = dict(zip(HEADER, [*next(r for r in _rows[1:] if r[6] == "openai/gpt-oss-120b" and "disagg" not in r[0]), ""],
                strict=True))  # the first aggregated gpt-oss-120b row: most generated layouts hold its weights
ENGINES = ["SGLang; lmsysorg/sglang:v0.5.6", "vLLM 0.10", "TensorRT-LLM 1.0",
           "NVIDIA Dynamo + SGLang, PD-disaggregated; lmsysorg/sglang:v0.5.5.post2",
           "NVIDIA Dynamo + TensorRT-LLM, PD-disaggregated; nvcr.io#nvidia/ai-dynamo/tensorrtllm-runtime:0.7.0"]
NUMBERS = st.one_of(st.integers(-3, 80).map(str), st.sampled_from(["", "abc", "1.5", "nan", "inf", "-0", "1e9"]))


class Reached(Exception):  # noqa: N818 - not an error: the row was read up to the simulated benchmark
    pass


def _stop(*_a, **_k):
    raise Reached


@pytest.fixture(scope="module")
def validator():
    return Validator(load_calibration(None), server_model="sim", compare=False)


@st.composite
def rows(draw) -> dict[str, str]:
    row = dict(BASE)
    marks = draw(st.lists(st.sampled_from(["-dpa", "-disagg-", "-mtp-"]), unique=True))
    row["case_id"] = "fz-" + "".join(marks) + "-c4"
    row["software"] = draw(st.one_of(st.sampled_from(ENGINES), st.text(max_size=30)))
    row["dataset"] = draw(st.one_of(st.just(""), st.sampled_from(list(DATASETS)), st.text(max_size=12)))
    for col in ("num_accelerators", "tp", "ep"):
        row[col] = str(draw(st.sampled_from([1, 1, 2, 2, 4, 8, 3, 16, 72])))
    bad = draw(st.sampled_from(["", "num_accelerators", "tp", "ep", "concurrency", "input_tokens", "output_tokens"]))
    if bad:  # at most one cell that is not a positive whole number, so most rows get past the parse
        row[bad] = draw(NUMBERS)
    pools = draw(st.lists(st.one_of(st.integers(0, 40).map(str), NUMBERS), min_size=8, max_size=8))
    dpa = draw(st.sampled_from(["true", "false", "maybe"]))
    row["notes"] = (f"{pools[0]} prefill GPUs ({pools[1]} worker(s), TP{pools[2]}/EP{pools[3]}, DP-attention {dpa}) + "
                    f"{pools[4]} decode GPUs ({pools[5]} worker(s), TP{pools[6]}/EP{pools[7]}, DP-attention false)"
                    if draw(st.booleans()) else draw(st.text(max_size=40)))
    return row


def _text(row: dict[str, str]) -> str:
    buf = io.StringIO()
    csv.writer(buf).writerows([HEADER, [row[h] for h in HEADER]])
    return buf.getvalue()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.function_scoped_fixture])
@given(row=rows())
def test_a_bad_closed_loop_row_is_read_or_refused_naming_its_line_and_column(validator, monkeypatch, row):
    monkeypatch.setattr(closed_loop_rows, "simulate_closed_loop", _stop)
    try:
        (case,) = parse_cases(_text(row), "f.csv")
    except CaseFileError as exc:  # the parse: file, line, column and what is allowed
        assert str(exc).startswith("f.csv: line 2, column ") and exc.field is not None, str(exc)
        return
    if not is_closed_loop(case):  # a blank concurrency or length: not a closed loop (the open-loop path's test)
        return
    try:
        res = closed_loop_rows.predict_closed_loop(validator, case, case_formats)
    except Reached:
        return
    assert res.status != "ok"
    assert res.reason.startswith(f"line 2 ({case.case_id})") or res.reason.startswith("line 2,"), res.reason
    assert re.search(r"\bcolumns? [a-z_]+", res.reason), res.reason


def test_the_fuzz_reaches_both_ends():
    """Sanity: the base row is read up to its simulation, an unknown engine text is refused in row terms."""
    v = Validator(load_calibration(None), server_model="sim", compare=False)
    (case,) = parse_cases(_text(BASE), "f.csv")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(closed_loop_rows, "simulate_closed_loop", _stop)
        with pytest.raises(Reached):
            closed_loop_rows.predict_closed_loop(v, case, case_formats)
        (bad,) = parse_cases(_text({**BASE, "software": "FooServe 2"}), "f.csv")
        res = closed_loop_rows.predict_closed_loop(v, bad, case_formats)
    assert res.status == "invalid_setting" and "column software: 'FooServe 2'" in res.reason, res.reason



@pytest.mark.parametrize(("over", "said"), [
    ({"model": "deepseek-ai/DeepSeek-R1-0528", "weight_dtype": "fp8", "act_dtype": "fp8"},
     "columns tp, pp, ep (tp 1, pp 1, ep 1): a worker of 1 chip(s): deepseek-ai/DeepSeek-R1-0528 leaves no memory"),
    ({"num_accelerators": "16", "tp": "16"}, "columns tp, pp, ep (tp 16, pp 1, ep 1): tp=16 exceeds the scale-up")])
def test_a_worker_that_cannot_hold_its_weights_or_span_its_chips_names_its_columns(over, said):
    """Found by the fuzz: a worker whose weights leave no KV cache was refused in the engine's words alone (no line,
    no column), and one wider than the scale-up domain named the line but no column."""
    v = Validator(load_calibration(None), server_model="sim", compare=False)
    (case,) = parse_cases(_text({**BASE, **over}), "f.csv")
    res = closed_loop_rows.predict_closed_loop(v, case, case_formats)
    assert res.status != "ok" and res.reason.startswith(f"line 2 ({case.case_id}), {said}"), res.reason
    assert "allowed:" in res.reason
