"""`inferchip explore ... --out DIR` where DIR (or the folder it would be made in) cannot be written (newuser38).

Before: `explore --target tesla-ai5 --beat nvidia-l4 --out RO` ran the whole beat search, then ended in
``error: cannot write RO/beat.json: Operation not permitted`` (or ``error: RO/sub: Operation not permitted``, no
option named); `explore SPACE --out RO/s` likewise after its start. `review --out` already refused it before any work.
Now ``report/output.check_out_folder``, which both explore modes and review call first, refuses an unwritable folder:
one error naming the option, the given path, the folder that cannot be written in, and what is allowed.

As root (this suite's machine) a chmod does not stop a write, so the test makes the folder unwritable to
``os.access``, the check the code makes; `chattr +i` was used by hand (see docs/serving_journal.md, newuser38).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from inferchip.errors import InvalidSettingError
from inferchip.interfaces.cli import app
from inferchip.interfaces.report import output

MODEL = "meta-llama/Llama-3.1-8B-Instruct"


@pytest.fixture
def read_only(tmp_path, monkeypatch):
    ro = tmp_path / "ro"
    ro.mkdir()
    real = os.access

    def access(path, mode, *a, **k):
        if Path(path) == ro and mode & os.W_OK:
            return False
        return real(path, mode, *a, **k)

    monkeypatch.setattr(output.os, "access", access)
    return ro


def _no_work(*_a, **_k):
    raise AssertionError("the search ran before the output folder was checked")


@pytest.mark.parametrize("sub", ["", "new", "new/deeper"])
def test_explore_beat_refuses_an_unwritable_out_before_the_search(read_only, monkeypatch, sub):
    import inferchip.explore.beat as beat_mod

    monkeypatch.setattr(beat_mod, "beat", _no_work)
    out = read_only / sub if sub else read_only
    res = CliRunner().invoke(app, ["explore", "--target", "tesla-ai5", "--beat", "nvidia-l4", "--models", MODEL,
                                   "--out", str(out)])
    assert isinstance(res.exception, InvalidSettingError), (res.exception, res.output)
    assert str(res.exception) == (f"--out {out}: folder {read_only} is not writable; allowed: a folder that can be "
                                  "written in, new or existing")
    assert not (read_only / "new").exists()


def test_explore_search_refuses_an_unwritable_out_before_the_search(read_only):
    space = Path(__file__).resolve().parents[1] / "docs" / "explore-space.yaml"
    res = CliRunner().invoke(app, ["explore", str(space), "--out", str(read_only / "s"), "--budget", "10"])
    assert isinstance(res.exception, InvalidSettingError), (res.exception, res.output)
    assert "not writable" in str(res.exception) and not (read_only / "s").exists()


def test_a_writable_new_folder_deep_below_passes(tmp_path):
    """Control: a folder to be made two levels below a writable one is fine."""
    assert output.check_out_folder(tmp_path / "a" / "b") == (tmp_path / "a" / "b").resolve()
