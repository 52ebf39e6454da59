"""Reliability of the command line, one class of fault per test: nothing the user owns is lost,
no traceback, nothing silently accepted, output that keeps every id, number and JSON key.

Commands run in-process through :func:`inferchip.interfaces.cli.main` (capsys captures them).
"""

from __future__ import annotations

import errno
import inspect
import json
import os
import signal
import subprocess
import sys

import pytest

from inferchip.interfaces.app import app
from inferchip.interfaces.cli import main
from inferchip.interfaces.cli_options import files
from inferchip.interfaces.report.output import STAGING_MARK, prepare_output

H100 = "nvidia-h100-sxm-80gb"
INF2 = "aws-inferentia2"
L8 = "meta-llama/Llama-3.1-8B-Instruct"
SMALL_REVIEW = ["review", "--chips", H100, "--models", L8, "--claim", "none", "--slo", "batch", "--no-sensitivity"]


def one_line(capsys) -> str:
    cap = capsys.readouterr()
    assert "Traceback" not in cap.err + cap.out
    return " ".join(cap.err.split())


# ------------------------------------------------------------------ data loss
def test_review_into_an_existing_folder_keeps_the_users_files(tmp_path, capsys):
    out = tmp_path / "mine"
    (out / "sub").mkdir(parents=True)
    (out / "notes.txt").write_text("the user's notes")
    (out / "sub" / "data.csv").write_text("1,2\n")
    assert main([*SMALL_REVIEW, "--out", str(out)]) == 0
    assert (out / "notes.txt").read_text() == "the user's notes"
    assert (out / "sub" / "data.csv").read_text() == "1,2\n"
    assert {"report.html", "results.csv", "results.json"} <= {p.name for p in out.iterdir()}
    assert [p.name for p in tmp_path.iterdir()] == ["mine"]  # no staging folder left


def test_review_out_dot_keeps_the_current_folder(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "keep.txt").write_text("keep")
    assert main([*SMALL_REVIEW, "--out", "."]) == 0
    assert (tmp_path / "keep.txt").read_text() == "keep"
    assert (tmp_path / "report.html").exists()


@pytest.mark.parametrize("out, words", [("", "--out: empty path"), ("/", "root folder"),
                                        ("x" * 300, "longer than the file system allows")])
def test_review_out_that_cannot_be_a_report_folder(tmp_path, monkeypatch, capsys, out, words):
    monkeypatch.chdir(tmp_path)
    assert main([*SMALL_REVIEW, "--out", out]) == 2
    assert words in one_line(capsys)
    assert list(tmp_path.iterdir()) == []


def test_stale_staging_of_a_killed_run_is_removed_on_the_next_run(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = tmp_path / ".rv.partial-abc123"
    stale.mkdir()
    (stale / STAGING_MARK).write_text(dead.stdout)
    (stale / "report.html").write_text("half")
    foreign = tmp_path / ".rv.partial-users-own"  # inferchip's naming but no marker: not ours, kept
    foreign.mkdir()
    live = tmp_path / ".rv.partial-live"  # a run still going (this process): kept
    live.mkdir()
    (live / STAGING_MARK).write_text(f"{os.getppid()}\n")
    staging = prepare_output(tmp_path / "rv")
    assert not stale.exists() and foreign.exists() and live.exists() and staging.exists()


def test_a_killed_review_leaves_no_staging_folder(tmp_path):
    """SIGKILL: the staging folder stays until the next run beside it removes it."""
    out = tmp_path / "rv"
    script = ("import os, signal\n"
              "from inferchip.interfaces.report.output import prepare_output\n"
              f"prepare_output(__import__('pathlib').Path({str(out)!r}))\n"
              "os.kill(os.getpid(), signal.SIGKILL)\n")
    subprocess.run([sys.executable, "-c", script], check=False)
    assert list(tmp_path.glob(".rv.partial-*"))
    prepare_output(out)
    assert len(list(tmp_path.glob(".rv.partial-*"))) == 1  # only the new run's


def test_sigterm_during_review_removes_the_staging_folder_at_once(tmp_path, monkeypatch, capsys):
    def terminated(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGTERM)
        raise AssertionError("SIGTERM did not stop the run")

    monkeypatch.setattr("inferchip.review.review.run_review", terminated)
    before = signal.getsignal(signal.SIGTERM)
    assert main([*SMALL_REVIEW, "--out", str(tmp_path / "rv")]) == 143
    assert list(tmp_path.iterdir()) == []
    assert signal.getsignal(signal.SIGTERM) == before  # the handler is the caller's again


def test_a_full_device_gives_an_error_and_keeps_the_old_file(tmp_path, monkeypatch):
    target = tmp_path / "plot.html"
    target.write_text("old")

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(files.os, "fsync", full)
    with pytest.raises(files.OutputError, match="No space left on device"):
        files.write_text(target, "new" * 1000)
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["plot.html"]  # no temporary file left


# ------------------------------------------------------------------ tracebacks
def test_curve_plot_into_a_missing_folder_is_refused_before_the_sweep(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr("inferchip.sim.throughput_interactivity_curve",
                        lambda *a, **k: pytest.fail("the sweep ran before the plot path was checked"))
    assert main(["curve", "--chip", H100, "--model", L8, "--plot", str(tmp_path / "no" / "c.html")]) == 2
    assert "does not exist" in one_line(capsys)


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_curve_plot_into_a_read_only_folder_is_refused(tmp_path, capsys):
    ro = tmp_path / "ro"
    ro.mkdir(mode=0o555)
    assert main(["curve", "--chip", H100, "--model", L8, "--plot", str(ro / "c.html")]) == 2
    assert "not writable" in one_line(capsys)


@pytest.mark.parametrize("args, option", [
    (["--rate", "0"], "--rate"), (["--rate", "-1"], "--rate"), (["--rate", "nan"], "--rate"),
    (["--rate", "inf"], "--rate"), (["--concurrency", "0"], "--concurrency"),
    (["--concurrency", "1000000000"], "--concurrency"), (["--rate", "1", "--seed", "-1"], "--seed"),
    (["--rate", "1", "--duration", "1e9"], "--duration"), (["--rate", "1", "--count", "1000000000000"], "--count"),
    (["--rate", "1000", "--duration", "80000"], "--duration"), (["--rate", "1e-300"], "--rate"),
    (["--rate", "5", "--duration", "1e-300"], "--duration"), (["--rate", "0.5", "--duration", "1"], "--duration"),
])
def test_serve_bounds(capsys, args, option):
    assert main(["serve", "--chip", H100, "--model", L8, *args]) == 2
    line = one_line(capsys)
    assert line.startswith("error:") and option in line


@pytest.mark.parametrize("option", ["--chip", "--model"])
def test_an_id_longer_than_a_file_name_is_an_unknown_id(capsys, option):
    args = {"--chip": H100, "--model": L8, option: "x" * 300}
    assert main(["predict", "--chip", args["--chip"], "--model", args["--model"], "--batch", "1"]) == 2
    line = one_line(capsys)
    assert f"unknown {option[2:]}" in line and "File name too long" not in line


def test_validate_workers_are_capped_at_the_cores(tmp_path, monkeypatch, capsys):
    seen = {}
    monkeypatch.setattr("inferchip.validation.validate.validate_cases",
                        lambda cases, cal, **kw: seen.update(kw) or [])
    monkeypatch.setattr("inferchip.validation.validate.summarize",
                        lambda results, by=None: {"overall": {}, "groups": {}})
    monkeypatch.setattr("inferchip.interfaces.validating.command._read", lambda cases: ["a case"])
    assert main(["validate", "x.csv", "--workers", "100000", "--format", "json"]) == 0
    cores = len(os.sched_getaffinity(0))
    assert seen["workers"] == cores
    assert f"--workers 100,000 capped at {cores}" in capsys.readouterr().err


def test_pydantic_errors_speak_of_option_and_value(capsys):
    assert main(["serve", "--chip", H100, "--model", L8, "--rate", "nan"]) == 2
    line = one_line(capsys)
    assert "--rate" in line and "pydantic" not in line and "errors.pydantic.dev" not in line


@pytest.fixture
def crashing_command():
    before = len(app.registered_commands)

    @app.command("crash-probe")
    def crash_probe() -> None:
        raise ZeroDivisionError("division by zero")

    yield
    del app.registered_commands[before:]


def test_an_unexpected_error_is_one_internal_error_line_and_exit_3(crashing_command, capsys):
    assert main(["crash-probe"]) == 3
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert err.startswith("internal error:") and "inferchip crash-probe" in err


# ------------------------------------------------------------------ silent nonsense
@pytest.mark.parametrize("chips", [",,,", " , ", ""])
def test_review_without_any_chip_id_is_refused(tmp_path, capsys, chips):
    assert main(["review", "--chips", chips, "--out", str(tmp_path / "rv")]) == 2
    assert "--chips" in one_line(capsys)
    assert not (tmp_path / "rv").exists()


def test_input_beyond_the_context_window_is_refused(capsys):
    assert main(["predict", "--chip", H100, "--model", L8, "--batch", "1", "--input-tokens", "200000"]) == 2
    line = one_line(capsys)
    assert "context window" in line and "131,072" in line


@pytest.mark.parametrize("value", ["0", "-5"])
def test_zero_or_negative_tokens_are_refused(capsys, value):
    assert main(["predict", "--chip", H100, "--model", L8, "--batch", "1", "--output-tokens", value]) == 2
    assert "--output-tokens" in one_line(capsys)


HEADER = ("case_id,source_kind,source,accelerator,num_accelerators,software,model,weight_dtype,act_dtype,kv_dtype,"
          "tp,pp,ep,scenario,input_tokens,output_tokens,concurrency,metric,value,unit,notes")
ROW = f"{{id}},paper,x,{H100},1,vllm,{L8},bf16,,,1,,,fixed_length,1024,128,1,tpot_ms,10,ms,{{notes}}"


def test_an_unclosed_quote_in_a_case_file_does_not_swallow_rows(tmp_path, capsys):
    f = tmp_path / "cases.csv"
    f.write_text("\n".join([HEADER, ROW.format(id="a", notes='"open'), ROW.format(id="b", notes="x"),
                            ROW.format(id="c", notes="y")]) + "\n")
    assert main(["validate", str(f)]) == 2
    line = one_line(capsys)
    assert "line 2" in line and "quote" in line


def test_a_header_only_case_file_is_an_error(tmp_path, capsys):
    f = tmp_path / "cases.csv"
    f.write_text(HEADER + "\n")
    assert main(["validate", str(f)]) == 2
    assert "no cases" in one_line(capsys)


# ------------------------------------------------------------------ output
def test_chips_on_a_narrow_terminal_show_every_id_whole(monkeypatch, capsys):
    from inferchip.catalog.chips import chip_ids

    monkeypatch.setenv("COLUMNS", "60")
    assert main(["chips"]) == 0
    out = capsys.readouterr().out
    for cid in chip_ids():
        assert cid in out, cid


def test_predict_json_has_the_same_keys_for_a_chip_without_tdp(capsys):
    keys = []
    for chip in (H100, INF2):
        assert main(["predict", "--chip", chip, "--model", L8, "--batch", "1", "--format", "json"]) == 0
        keys.append(set(json.loads(capsys.readouterr().out)))
    assert keys[0] == keys[1]


def test_serve_json_has_the_same_keys_for_a_chip_without_tdp_and_a_designed_table(capsys):
    keys = []
    base = ["--model", L8, "--rate", "2", "--requests", "20", "--output-tokens", "16", "--input-tokens", "64"]
    for chip in (H100, INF2):
        assert main(["serve", "--chip", chip, *base, "--format", "json"]) == 0
        d = json.loads(capsys.readouterr().out)
        keys.append(set(d))
        assert all(v is None or isinstance(v, (int, float, str, bool)) for k, v in d.items() if k != "notes")
        assert isinstance(d["notes"], list) and all(isinstance(n, str) for n in d["notes"])  # as predict's
    assert keys[0] == keys[1]
    assert main(["serve", "--chip", H100, *base]) == 0
    table = capsys.readouterr().out
    assert "latency (ms)" in table and "TTFT" in table
    assert "ttft_s" not in table and "_s_" not in table  # no key named in seconds shows milliseconds


def test_one_default_per_option(capsys):
    defaults = {}
    for cmd in ("predict", "serve", "curve"):
        command = next(c for c in app.registered_commands if c.name == cmd)
        for name, p in inspect.signature(command.callback).parameters.items():
            if name in ("input_tokens", "output_tokens", "seed", "count", "weights", "tp", "pp", "ep", "attn_dp"):
                # a shared serve/curve option (Annotated, stop 51) has its default in the signature itself
                defaults.setdefault(name, set()).add(getattr(p.default, "default", p.default))
    assert all(len(v) == 1 for v in defaults.values()), defaults



def test_a_pydantic_error_below_the_cli_is_one_line_in_the_users_words(capsys):
    from pydantic import BaseModel, Field

    class Arrivals(BaseModel):
        rate_per_s: float = Field(gt=0)

    before = len(app.registered_commands)

    @app.command("pydantic-probe")
    def probe() -> None:
        Arrivals(rate_per_s=-1)

    try:
        assert main(["pydantic-probe"]) == 2
    finally:
        del app.registered_commands[before:]
    err = capsys.readouterr().err
    assert err.startswith("error: invalid Arrivals: rate_per_s: input should be greater than 0 (got -1)")
    assert "errors.pydantic.dev" not in err and len(err.strip().splitlines()) == 1


def test_serve_without_a_layout_runs_the_layout_predict_chooses():
    """--tp/--pp/--ep not given: serve searches the layout as predict does (one default in every command), for the
    question it is asked (newuser45): at --concurrency C the layout with the most tokens/s at C clients; with --rate,
    the lowest mean end-to-end latency among the layouts that carry the rate within the running-batch cap it
    simulates, with a note saying so (leftover45). The layout it reports is the one it ran."""
    import json

    from typer.testing import CliRunner

    common = ["--chip", "nvidia-h100-sxm-80gb", "--count", "8", "--model", "meta-llama/Llama-2-70b-chat-hf",
              "--weights", "fp8", "--input-tokens", "512", "--output-tokens", "64", "--format", "json"]
    runner = CliRunner()
    pred = json.loads(runner.invoke(app, ["predict", *common, "--max-throughput"]).output)
    assert (pred["tp"], pred["pp"]) != (1, 1)  # a layout the old serve default (tp=pp=1) would not have run
    for load in (["--concurrency", "4"], ["--rate", "2"]):
        served = runner.invoke(app, ["serve", *common, *load, "--requests", "8"])
        assert served.exit_code == 0, served.output
        got = json.loads(served.output)
        assert (got["tp"], got["pp"]) != (1, 1)
        fixed = runner.invoke(app, ["serve", *common, *load, "--requests", "8",
                                    "--tp", str(got["tp"]), "--pp", str(got["pp"]), "--ep", str(got["ep"])])
        given = json.loads(fixed.output)
        # how a searched layout was chosen (--rate; --concurrency too since newuser46: one rule for both loads)
        rule = [n for n in got["notes"] if n.startswith("layout: ")]
        assert len(rule) == 1 and not any(n.startswith("layout: ") for n in given["notes"])
        assert {**got, "notes": None} == {**given, "notes": None} and set(given["notes"]) <= set(got["notes"])
    four = json.loads(runner.invoke(app, ["serve", *common, "--concurrency", "4", "--requests", "8"]).output)
    assert four["pp"] == 1  # 4 clients: no pipeline (predict's most-throughput layout is tp 1 pp 4 at 2,444 a replica)
