"""`inferchip validate` with vision case files and the LLM rows' options (stop 38, newuser38).

Before: with vision case files alone, `--engine nope` (not even a known engine), `--assumptions GARBAGE`,
`--server-model analytic` and `--by accelerator` were accepted and silently dropped: the vision rows read none of
them. With a vision file and an LLM file, the vision rows (their LOAO folds) ran first, and a malformed LLM file or
an unknown `--engine` was reported only after them. Now the first is one error naming the option, its value, the
vision file and what is allowed, and the LLM file and options are checked before any vision work.
"""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from conftest import LLM_CASE_HEADER, llm_case_row
from inferchip.errors import InvalidSettingError
from inferchip.interfaces.cli import app


@pytest.mark.parametrize(("option", "value"), [("--engine", "vllm"), ("--engine", "nope"),
                                               ("--server-model", "analytic"), ("--server-model", "sim"),
                                               ("--by", "accelerator"), ("--assumptions", "ASSUMPTIONS")])
def test_an_llm_option_with_vision_files_alone_is_refused(vision_csv, tmp_path, option, value):
    if value == "ASSUMPTIONS":
        value = str(tmp_path / "a.yaml")
        (tmp_path / "a.yaml").write_text("not: [an assumptions file\n")
    res = CliRunner().invoke(app, ["validate", str(vision_csv), option, value])
    assert isinstance(res.exception, InvalidSettingError), (res.exception, res.output)
    assert str(res.exception).startswith(f"{option} {value}: applies to LLM case files"), res.exception
    assert str(vision_csv) in str(res.exception) and f"allowed: leave {option} out" in str(res.exception)


def test_vision_files_alone_with_no_llm_option_are_validated(vision_csv):
    """Control."""
    res = CliRunner().invoke(app, ["validate", str(vision_csv), "--format", "json"])
    assert res.exit_code == 0, res.output


@pytest.mark.parametrize("bad", ["unit", "engine"])
def test_a_bad_llm_file_or_engine_beside_vision_files_is_refused_before_the_vision_work(vision_csv, tmp_path,
                                                                                        monkeypatch, bad):
    import inferchip.interfaces.validating.vision_cases as vv

    def no_vision(*_a, **_k):
        raise AssertionError("the vision rows ran before the LLM file and options were checked")

    monkeypatch.setattr(vv, "run_vision", no_vision)
    llm = tmp_path / "llm.csv"
    llm.write_text(LLM_CASE_HEADER + "\n" + llm_case_row("tok/s" if bad == "unit" else "tokens/s") + "\n")
    args = ["validate", str(vision_csv), str(llm), *(["--engine", "nope"] if bad == "engine" else [])]
    res = CliRunner().invoke(app, args)
    assert res.exception is not None and not isinstance(res.exception, AssertionError), res.exception
    assert ("tok/s" in str(res.exception)) if bad == "unit" else ("unknown engine 'nope'" in str(res.exception))
