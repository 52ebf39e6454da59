"""A case row whose tp/pp/ep the model or chip refuses is answered in the case file's terms: the row's line
and id, the column(s) and the row's values, and what is allowed, never the command line's options
(``--ep 3 must divide --tp 8`` was the message of a row with ep 3 and tp 8)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from inferchip.catalog.calibration_file import load_calibration
from inferchip.validation.cases import read_cases
from inferchip.validation.validate import Validator, case_formats

sys.path.insert(0, str(Path(__file__).parent))
from test_calibrate_bad_rows import GOOD, _write  # noqa: E402

MOE = "Qwen/Qwen3-30B-A3B"  # a mixture-of-experts model of the catalogue: 32 heads, 128 experts
VALIDATOR = Validator(load_calibration(None))


def _case(tmp_path: Path, **over: object):
    return read_cases(_write(tmp_path / "r.csv", [{**GOOD, "case_id": "lay", "num_accelerators": 8, **over}]))[0]


def test_ep_that_does_not_divide_tp_names_line_columns_values_and_allowed(tmp_path):
    case = _case(tmp_path, model=MOE, tp=8, ep=3)
    res = VALIDATOR.predict_case(case)
    assert res.status == "invalid_setting"
    assert res.reason.startswith("line 2 (lay), columns ep, tp (ep 3, tp 8): ep 3 must divide tp 8"), res.reason
    assert "allowed: 1, 2, 4, 8" in res.reason and "--" not in res.reason


def test_a_dense_model_with_ep_and_too_few_chips_name_their_columns(tmp_path):
    dense = VALIDATOR.predict_case(_case(tmp_path, tp=1, ep=2))  # Llama-3.1-8B: no experts
    assert dense.reason.startswith("line 2 (lay), column ep (ep 2): ep 2 needs a mixture-of-experts model")
    assert "allowed: 1" in dense.reason
    few = VALIDATOR.predict_case(_case(tmp_path, num_accelerators=2, tp=4, pp=2))
    assert few.reason.startswith("line 2 (lay), column num_accelerators (num_accelerators 2): "), few.reason
    assert "--" not in dense.reason + few.reason


@settings(max_examples=40, deadline=None)
@given(tp=st.integers(1, 16), pp=st.integers(1, 4), ep=st.one_of(st.none(), st.integers(1, 16)),
       count=st.sampled_from([1, 2, 8, 16]), moe=st.booleans())
def test_every_layout_refusal_of_a_row_is_in_column_terms(tmp_path_factory, tp, pp, ep, count, moe):
    case = _case(tmp_path_factory.mktemp("h"), model=MOE if moe else GOOD["model"], tp=tp, pp=pp,
                 ep="" if ep is None else ep, num_accelerators=count)
    try:
        VALIDATOR.setting(case, case_formats(case)[0])
    except Exception as exc:  # noqa: BLE001 - any refusal must read in the row's terms
        msg = str(exc)
        assert "--" not in msg, msg
        named = re.match(r"line 2 \(lay\), columns? ([a-z_, ]+) \(", msg)
        assert named is not None, msg
        for col in named.group(1).split(", "):
            value = getattr(case, col)
            assert f"{col} {'blank' if value is None else value}" in msg
