"""`validate --workers N` stops soon after Ctrl-C or SIGTERM: the groups of rows not yet started are
cancelled instead of the run waiting for every queued group (before: a SIGTERM at 20 s of the 4,776
closed-loop rows took 80 s to end the command, having done all the work)."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import pytest

import inferchip
from inferchip.spec.calibration import Calibration
from inferchip.validation import validate as vmod
from inferchip.validation.cases import read_cases
from inferchip.validation.results import CaseResult

GROUPS = 24


def test_an_interrupt_cancels_the_groups_not_started(tmp_path, monkeypatch):
    log = tmp_path / "done.txt"
    log.touch()

    def slow_case(self, case):  # runs in the forked workers: one line per case, 0.3 s each
        time.sleep(0.3)
        with log.open("a") as fh:
            fh.write(case.case_id + "\n")
        return CaseResult(case, "not_predictable", "test stand-in")

    monkeypatch.setattr(vmod.Validator, "predict_case", slow_case)
    base = read_cases(Path(inferchip.__file__).parent / "catalog" / "validation_cases.csv")[0]
    # one case per system (accelerator, count, model): GROUPS groups
    cases = [dataclasses.replace(base, case_id=f"g{k}", num_accelerators=k + 1) for k in range(GROUPS)]

    def stop(_done: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        vmod.validate_cases(cases, Calibration(), workers=2, progress=stop)
    time.sleep(1.0)  # what the workers had already taken finishes
    ran = len(log.read_text().split())
    assert ran < GROUPS // 2, f"{ran} of {GROUPS} groups ran after the interrupt"


def test_long_runs_show_a_progress_bar_on_a_terminal_with_json_output_too(monkeypatch):
    """`validate ... --format json > X.json` (the documented closed-loop command) runs for minutes: the bar
    goes to stderr, the JSON to stdout, so a terminal shows it whatever the format."""
    from inferchip.interfaces.validating import command as cmd_validate

    seen: dict = {}

    def fake(cases, cal, **kw):
        seen.update(kw)
        return []

    monkeypatch.setattr(vmod, "validate_cases", fake)
    monkeypatch.setattr(cmd_validate.sys.stderr, "isatty", lambda: True)
    base = read_cases(Path(inferchip.__file__).parent / "catalog" / "validation_cases.csv")[0]
    cmd_validate._run([base] * 60, Calibration(), "auto", 1)
    assert callable(seen.get("progress"))
    seen.clear()
    cmd_validate._run([base] * 10, Calibration(), "auto", 1)  # a short run: no bar
    assert seen.get("progress") is None
