"""`inferchip validate VISION.csv --calibration MY.yaml` (stop 38, newuser38).

Before: any path given to --calibration with a vision case file was replaced by the shipped vision calibration,
and the output said "shipped catalog/vision/calibration.yaml": a user's own calibration (a copy of it with
cpu_matrix_fraction 0.1) gave the shipped predictions, and an LLM calibration file was accepted the same way.
Now the file is read as a vision calibration (its errors name the file and field), named in the output, and one
--calibration file with both LLM and vision case files is refused (one file cannot be both).
"""

from __future__ import annotations

import json

import pytest
import yaml
from typer.testing import CliRunner

from inferchip.catalog.vision_networks import CALIBRATION_FILE, VISION_CASES_FILE
from inferchip.errors import InferchipError, InvalidSettingError
from inferchip.interfaces.cli import app

LLM_HEADER = ("case_id,source_kind,source,accelerator,num_accelerators,software,model,weight_dtype,act_dtype,kv_dtype,"
              "tp,pp,ep,scenario,input_tokens,output_tokens,concurrency,metric,value,unit,notes")
LLM_ROW = ("c1,mine,me,nvidia-l4,1,vLLM 0.10,meta-llama/Llama-3.1-8B-Instruct,fp8,fp8,,1,1,,server,1024,128,8,"
           "output_tokens_per_s_total,500,tokens/s,x")


@pytest.fixture
def vision_csv(tmp_path):
    lines = VISION_CASES_FILE.read_text().splitlines()
    path = tmp_path / "vision.csv"
    path.write_text("\n".join(lines[:3]) + "\n")
    return path


def _predicted(args):
    res = CliRunner().invoke(app, [*args, "--format", "json"])
    assert res.exit_code == 0, (res.exception, res.output)
    body = json.loads(res.output)["vision"]
    return body["calibration"], [c["predicted"] for c in body["cases"]]


def test_a_users_vision_calibration_file_is_read_and_named(vision_csv, tmp_path):
    raw = yaml.safe_load(CALIBRATION_FILE.read_text())
    raw.update(cpu_matrix_fraction=0.1, cpu_vector_fraction=0.1, inference_overhead_s=0.01, matrix_fraction=0.3)
    mine = tmp_path / "mine.yaml"
    mine.write_text(yaml.safe_dump(raw))
    shipped_text, shipped = _predicted(["validate", str(vision_csv)])
    text, got = _predicted(["validate", str(vision_csv), "--calibration", str(mine)])
    assert text.startswith(str(mine)) and shipped_text.startswith("shipped")
    assert all(g > 1.5 * s for g, s in zip(got, shipped, strict=True)), (got, shipped)
    _, same = _predicted(["validate", str(vision_csv), "--calibration", str(CALIBRATION_FILE)])
    assert same == pytest.approx(shipped)  # control: the shipped file given by path


def test_an_llm_calibration_file_for_vision_rows_is_refused_naming_it(vision_csv):
    from inferchip.catalog.calibration_file import BUNDLED as DEFAULT_CALIBRATION_FILE

    res = CliRunner().invoke(app, ["validate", str(vision_csv), "--calibration", str(DEFAULT_CALIBRATION_FILE)])
    assert isinstance(res.exception, InferchipError), (res.exception, res.output)
    assert str(DEFAULT_CALIBRATION_FILE) in str(res.exception) and "unknown field" in str(res.exception)


def test_one_calibration_file_for_both_kinds_of_case_file_is_refused(vision_csv, tmp_path):
    llm = tmp_path / "llm.csv"
    llm.write_text(LLM_HEADER + "\n" + LLM_ROW + "\n")
    res = CliRunner().invoke(app, ["validate", str(vision_csv), str(llm), "--calibration", str(CALIBRATION_FILE)])
    assert isinstance(res.exception, InvalidSettingError), (res.exception, res.output)
    assert str(res.exception).startswith(f"--calibration {CALIBRATION_FILE}: one file cannot calibrate both")
