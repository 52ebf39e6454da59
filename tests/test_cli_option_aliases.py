"""One name per concept in every command (stop 36, polish36): ``vision``/``drive --chips N`` is now ``--count N``,
``drive --duration-s`` is ``--duration``, ``vision``/``drive --precision`` is ``--weights`` and ``review --jobs`` is
``--workers``. The old spellings still work, hidden from ``--help``: the same answer, one note on stderr naming the
new option; both spellings together are refused; a bad value under the old spelling names the spelling typed."""

from __future__ import annotations

import contextlib
import io
import json

import pytest

from inferchip.interfaces.cli import main

ORIN = "nvidia-jetson-agx-orin-64gb"
VISION = ["vision", "--chip", "nvidia-l4", "--model", "resnet50-v1.5", "--batch", "1,8", "--format", "json"]
DRIVE = ["drive", "--chip", ORIN, "--cameras", "2", "--fps", "10", "--format", "json"]
REVIEW = ["review", "--chips", "nvidia-h100-sxm-80gb", "--models", "meta-llama/Llama-3.1-8B-Instruct",
          "--claim", "none", "--no-sensitivity", "--slo", "batch"]

# (command argv, old spelling, new spelling, a good value)
RENAMES = [
    (VISION, "--chips", "--count", "2"),
    (VISION, "--precision", "--weights", "fp8"),
    (DRIVE, "--chips", "--count", "2"),
    (DRIVE, "--duration-s", "--duration", "1"),
    (DRIVE, "--precision", "--weights", "fp16"),
]


def _run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
    return int(code or 0), out.getvalue(), err.getvalue()


def _base(argv: list[str]) -> list[str]:
    return argv if argv[0] != "drive" else [*argv, "--duration", "1"]


@pytest.mark.parametrize(("argv", "old", "new", "value"), RENAMES, ids=[f"{a[0]}{o}" for a, o, _, _ in RENAMES])
def test_the_old_spelling_gives_the_same_answer_with_one_note(argv, old, new, value):
    base = _base(argv)
    if old == "--duration-s":
        base = argv
    code_new, out_new, err_new = _run([*base, new, value])
    code_old, out_old, err_old = _run([*base, old, value])
    assert code_new == 0 and code_old == 0, err_old + err_new
    assert json.loads(out_old) == json.loads(out_new)  # stdout stays JSON: the note goes to stderr
    assert "deprecated" not in err_new
    notes = [line for line in err_old.splitlines() if "deprecated" in line]
    assert notes == [f"note: {old} is deprecated; use {new} (same meaning)"]


@pytest.mark.parametrize(("argv", "old", "new", "value"), RENAMES, ids=[f"{a[0]}{o}" for a, o, _, _ in RENAMES])
def test_both_spellings_together_are_refused(argv, old, new, value):
    base = argv if old == "--duration-s" else _base(argv)
    code, out, err = _run([*base, new, value, old, value])
    assert code == 2 and old in err and new in err and "given twice" in err, err


@pytest.mark.parametrize(("argv", "old", "new", "value"), RENAMES, ids=[f"{a[0]}{o}" for a, o, _, _ in RENAMES])
def test_a_bad_value_under_the_old_spelling_names_it(argv, old, new, value):
    base = argv if old == "--duration-s" else _base(argv)
    for bad in ("0", "-1", "nan", "abc", "int3"):
        if old == "--precision" and bad in ("0", "-1", "nan"):
            continue
        code, out, err = _run([*base, old, bad])
        assert code == 2 and old in err and "Traceback" not in err, (bad, err)


@pytest.mark.parametrize("command", ["vision", "drive", "review"])
def test_help_shows_only_the_new_names(command):
    code, out, err = _run([command, "--help"])
    assert code == 0
    text = out + err
    old = {"vision": ("--chips", "--precision"), "drive": ("--chips", "--duration-s", "--precision"),
           "review": ("--jobs",)}[command]
    new = {"vision": ("--count", "--weights"), "drive": ("--count", "--duration", "--weights"),
           "review": ("--workers",)}[command]
    for name in old:
        assert f"{name} " not in text and f"{name}\n" not in text, name
    for name in new:
        assert name in text


def test_review_jobs_still_works_and_names_itself():
    """--jobs -1 fails before any work: under either spelling the message names the one typed."""
    code, out, err = _run([*REVIEW, "--jobs", "-1", "--out", "/nonexistent-dir-p36/x"])
    assert code == 2 and err.startswith("error: --jobs: -1") and len(err.strip().splitlines()) == 1, err
    no_model = [a for a in REVIEW if a not in ("--models", "meta-llama/Llama-3.1-8B-Instruct")]  # given once
    code, out, err = _run([*no_model, "--jobs", "1", "--models", "nope/model"])  # a later error: after the note
    assert code == 2 and err.startswith("note: --jobs is deprecated; use --workers") and "nope/model" in err, err
    code, out, err = _run([*REVIEW, "--workers", "-1"])
    assert code == 2 and "error: --workers: -1" in err and "deprecated" not in err, err
    code, out, err = _run([*REVIEW, "--workers", "1", "--jobs", "1"])
    assert code == 2 and "given twice" in err, err


def test_every_renamed_concept_has_one_name_across_commands():
    """No visible option of any command is spelt as a deprecated name for the concept it renames (review --chips,
    a list of chip ids, is a different concept and keeps its name)."""
    import typer

    from inferchip.interfaces.cli import app
    from inferchip.interfaces.cli_options.aliases import RENAMED

    group = typer.main.get_command(app)
    for name, cmd in group.commands.items():  # type: ignore[attr-defined]
        for p in cmd.params:
            if getattr(p, "hidden", False):
                assert set(p.opts) <= set(RENAMED), (name, p.opts)
                continue
            for o in p.opts:
                if o in RENAMED:
                    assert (name, o) == ("review", "--chips"), (name, o)
