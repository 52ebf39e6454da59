"""A chip count that is not a whole number of replicas is refused, naming the option (or, in a case file, the
column) and what is allowed: ``predict --count 3 --tp 2`` used to answer "on 2 x chip", the third chip dropped
without a note (found by the new-user check of issues 12 and 14)."""

from __future__ import annotations

import pytest

from inferchip.errors import InvalidSettingError
from inferchip.interfaces.cli import main
from inferchip.performance.setting import resolve_setting
from inferchip.spec.calibration import Calibration
from inferchip.validation.cases import COLUMNS, parse_cases
from inferchip.validation.validate import validate_cases

CHIP, MODEL = "nvidia-h100-sxm-80gb", "meta-llama/Llama-3.1-8B"


@pytest.mark.parametrize(("count", "tp", "pp"), [(3, 2, 1), (6, 2, 2), (5, 4, 1), (12, 8, 1)])
def test_a_count_that_is_not_whole_replicas_is_refused(count, tp, pp):
    with pytest.raises(InvalidSettingError, match=rf"count={count} .*tp x pp = {tp * pp}.*allowed: a multiple"):
        resolve_setting(CHIP, MODEL, count=count, tp=tp, pp=pp)


def test_whole_replicas_are_kept():
    s = resolve_setting(CHIP, MODEL, count=6, tp=2)
    assert s.layouts[0].replicas == 3 and s.layouts[0].num_chips == 6


def test_the_cli_says_it_in_one_error_line(capsys):
    code = main(["predict", "--chip", CHIP, "--model", MODEL, "--count", "3", "--tp", "2", "--batch", "1"])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: --count 3") and "Traceback" not in err


def test_a_case_row_names_its_column():
    vals = {"case_id": "x-8b-tp2", "source_kind": "x", "source": "x", "accelerator": CHIP, "num_accelerators": "3",
            "software": "", "model": MODEL, "weight_dtype": "bf16", "act_dtype": "", "kv_dtype": "", "tp": "2",
            "pp": "", "ep": "", "scenario": "fixed_length", "input_tokens": "128", "output_tokens": "128",
            "concurrency": "", "metric": "output_tokens_per_s_total", "value": "1000", "unit": "tokens/s",
            "notes": "static batch of 8 requests"}
    case = parse_cases(",".join(COLUMNS) + "\n" + ",".join(f'"{vals[c]}"' for c in COLUMNS) + "\n")[0]
    res = validate_cases([case], Calibration(), compare=False)[0]
    assert res.status == "invalid_setting" and "column" in res.reason and "num_accelerators" in res.reason, res.reason
    assert "--count" not in res.reason
