"""Exit status and error output of ``inferchip``: the code a command asks for reaches the shell,
a user error is one ``error:`` line on stderr with no traceback, success exits 0.

End-to-end checks run ``python -m inferchip.interfaces.cli`` (what the ``inferchip`` script
does: ``sys.exit(main())``) in a subprocess; the exit requests a command can make (typer.Exit,
sys.exit, typer.Abort) are checked in-process through a probe command registered for the test.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
import typer

from inferchip.interfaces.app import app
from inferchip.interfaces.cli import USER_ERROR_EXIT, main

L8 = "meta-llama/Llama-3.1-8B-Instruct"


def run_cli(*args: str, tmp_path) -> subprocess.CompletedProcess:
    # COLUMNS=60: a narrow terminal, so a message wrapped by rich would show up as several lines.
    env = {"COLUMNS": "60", "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    return subprocess.run([sys.executable, "-m", "inferchip.interfaces.cli", *args], capture_output=True, text=True,
                          timeout=120, cwd=tmp_path, env=env)


def assert_one_error_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert "Traceback" not in stderr
    assert len(lines) == 1, f"expected one line on stderr, got {len(lines)}:\n{stderr}"
    assert lines[0].startswith("error: ")
    return lines[0]


# ------------------------------------------------------------------ end to end
def test_validate_of_a_malformed_case_file_exits_2_with_one_error_line(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("garbage,columns\n1,2\n", encoding="utf-8")
    p = run_cli("validate", str(bad), tmp_path=tmp_path)
    assert p.returncode == 2
    line = assert_one_error_line(p.stderr)
    assert str(bad) in line  # the message names the file


def test_validate_of_a_missing_file_exits_2(tmp_path):
    p = run_cli("validate", str(tmp_path / "no-such.csv"), tmp_path=tmp_path)
    assert p.returncode == 2
    assert "no-such.csv" in assert_one_error_line(p.stderr)


def test_unknown_chip_is_one_line_even_when_longer_than_the_terminal(tmp_path):
    p = run_cli("predict", "--chip", "nope-chip", "--model", L8, "--batch", "1", tmp_path=tmp_path)
    assert p.returncode == USER_ERROR_EXIT
    line = assert_one_error_line(p.stderr)
    assert "unknown chip 'nope-chip'" in line
    assert len(line) > 60  # longer than COLUMNS: rich did not wrap it


def test_unknown_option_is_a_one_line_usage_error(tmp_path):
    p = run_cli("predict", "--nonsense", tmp_path=tmp_path)
    assert p.returncode == 2  # click's status for usage errors
    line = assert_one_error_line(p.stderr)
    assert "--nonsense" in line and "predict --help" in line  # names the option and where help is


def test_unknown_command_is_a_one_line_usage_error(tmp_path):
    p = run_cli("no-such-command", tmp_path=tmp_path)
    assert p.returncode == 2
    assert "no-such-command" in assert_one_error_line(p.stderr)


def test_a_successful_command_exits_0(tmp_path):
    p = run_cli("chips", tmp_path=tmp_path)
    assert p.returncode == 0, p.stderr
    assert "chips" in p.stdout  # the catalogue table was printed
    assert p.stderr == ""


# ------------------------------------------------------------------ exit requests of a command
@pytest.fixture
def probe():
    """A command ``exit-probe --how H --code N`` that ends the way ``H`` says."""
    before = len(app.registered_commands)

    @app.command("exit-probe")
    def exit_probe(how: str = "typer", code: int = 0) -> None:
        if how == "typer":
            raise typer.Exit(code=code)
        if how == "sys":
            sys.exit(code)
        if how == "sys-message":
            sys.exit("cannot go on")
        if how == "sys-none":
            sys.exit()
        if how == "abort":
            raise typer.Abort()

    yield
    del app.registered_commands[before:]


@pytest.mark.parametrize("code", [0, 1, 3, 42])
def test_typer_exit_code_is_the_exit_status(probe, code):
    assert main(["exit-probe", "--how", "typer", "--code", str(code)]) == code


@pytest.mark.parametrize("code", [0, 4])
def test_sys_exit_code_is_the_exit_status(probe, code):
    assert main(["exit-probe", "--how", "sys", "--code", str(code)]) == code


def test_sys_exit_without_a_code_is_success(probe):
    assert main(["exit-probe", "--how", "sys-none"]) == 0


def test_sys_exit_with_a_message_prints_it_and_exits_1(probe, capsys):
    # As the Python interpreter does for sys.exit("text").
    assert main(["exit-probe", "--how", "sys-message"]) == 1
    err = capsys.readouterr().err
    assert "cannot go on" in err and "Traceback" not in err


def test_abort_exits_1(probe, capsys):
    assert main(["exit-probe", "--how", "abort"]) == 1
    assert "aborted" in capsys.readouterr().err


def test_a_command_that_returns_normally_exits_0(probe):
    assert main(["exit-probe", "--how", "return"]) == 0


def test_the_probe_is_removed_after_its_test():
    # The fixture leaves the application as it found it: the probe is an unknown command again.
    assert all(c.name != "exit-probe" for c in app.registered_commands)


def test_help_text_keeps_square_brackets_that_rich_would_read_as_markup(tmp_path):
    # rich drops an unescaped "[ray]" from typer's help as a style tag; the extra's name must reach the user
    env_wide = run_cli("explore", "--help", tmp_path=tmp_path)
    assert env_wide.returncode == 0
    assert "inferchip[ray]" in "".join(env_wide.stdout.split())
