"""Input paths that are not regular files (found by tools/fuzz/fuzz_commands.py, stop 45): a named pipe (FIFO), a
character device, a folder, each given where a command reads a file. Before, ``predict --model pipe/config.json``,
``--assumptions pipe.yaml``, ``validate pipe.csv`` and others blocked in ``open()`` for ever (a FIFO waits for a
writer), and ``--model`` given a link to ``/dev/zero`` read until the kernel killed the process for memory. Now each
is refused before a byte is read, naming the path and what it is (``inferchip.input_files``).

Each run has a 20 s alarm: a regression fails the test instead of hanging the suite. ``/dev/null`` stands for the
devices (the same check refuses it; ``/dev/zero`` would fill the memory if the check regressed)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cli_in_process import run_main
from hang_guard import time_limit
from inferchip.errors import SpecError
from inferchip.input_files import is_regular_file, read_regular_bytes

H100 = "nvidia-h100-sxm-80gb"
L8 = "meta-llama/Llama-3.1-8B-Instruct"
DATA = Path(__file__).parent / "data"

# (argv with {f} for the path, the file name): every file input of the commands that a path names
INPUTS = [
    (["predict", "--chip", "{f}", "--model", L8, "--batch", "1"], "chip.yaml"),
    (["predict", "--chip", H100, "--model", "{f}", "--batch", "1"], "config.json"),
    (["cost", "--chip", H100, "--assumptions", "{f}"], "assumptions.yaml"),
    (["predict", "--chip", H100, "--model", L8, "--batch", "1", "--calibration", "{f}"], "calib.yaml"),
    (["validate", "{f}"], "cases.csv"),
    (["serve", "--chip", H100, "--model", L8, "--trace", "{f}"], "trace.csv"),
    (["vision", "--chip", H100, "--model", "{f}", "--batch", "1"], "net.yaml"),
    (["vision", "--chip", H100, "--model", "{f}", "--batch", "1"], "g.onnx"),
    (["review", "--chips", H100, "--models", L8, "--claim-file", "{f}", "--no-sensitivity", "--out", "out"],
     "claim.yaml"),
    (["explore", "{f}", "--out", "out", "--budget", "2", "--workers", "1", "--no-page"], "space.yaml"),
]


def _make(tmp_path: Path, name: str, kind: str) -> Path:
    path = tmp_path / name
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "device":
        path.symlink_to("/dev/null")
    else:
        path.mkdir()
    return path


@pytest.mark.parametrize(("argv", "name"), INPUTS, ids=[n for _, n in INPUTS])
@pytest.mark.parametrize("kind", ["fifo", "device"])
def test_a_pipe_or_device_is_refused_naming_it(tmp_path, monkeypatch, argv, name, kind):
    monkeypatch.chdir(tmp_path)
    _make(tmp_path, name, kind)
    with time_limit(20):
        code, out = run_main([a.replace("{f}", name) for a in argv])
    assert code == 2 and "Traceback" not in out, out
    assert name in out and "not a regular file" in out, out
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(("argv", "name"), INPUTS, ids=[n for _, n in INPUTS])
def test_a_folder_is_refused_naming_it(tmp_path, monkeypatch, argv, name):
    monkeypatch.chdir(tmp_path)
    _make(tmp_path, name, "folder")
    with time_limit(20):
        code, out = run_main([a.replace("{f}", name) for a in argv])
    assert code == 2 and "Traceback" not in out, out
    assert name in out, out


def test_the_boundary_map_pipe_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _make(tmp_path, "map.json", "fifo")
    with time_limit(20):
        code, out = run_main(["explore", "--target", "tesla-ai5", "--beat", "nvidia-l4", "--boundary-map", "map.json",
                              "--out", "out"])
    assert code == 2 and "--boundary-map: map.json: is a named pipe (FIFO), not a regular file" in out, out
    assert not (tmp_path / "out").exists()


def test_read_regular_bytes_says_what_the_path_is(tmp_path):
    fifo = _make(tmp_path, "p", "fifo")
    dev = _make(tmp_path, "d", "device")
    (tmp_path / "f").write_bytes(b"x: 1\n")
    with time_limit(20):
        with pytest.raises(SpecError, match=r"p: is a named pipe \(FIFO\), not a regular file; allowed: a regular"):
            read_regular_bytes(fifo)
        with pytest.raises(SpecError, match=r"d: is a character device, not a regular file"):
            read_regular_bytes(dev)
        with pytest.raises(SpecError, match=r": is a folder; allowed: a regular file"):
            read_regular_bytes(tmp_path)
        with pytest.raises(SpecError, match=r"missing: cannot read the ONNX file \(No such file"):
            read_regular_bytes(tmp_path / "missing", "the ONNX file")
        assert read_regular_bytes(tmp_path / "f") == b"x: 1\n"
    assert is_regular_file(tmp_path / "f") and not is_regular_file(fifo) and not is_regular_file(dev)
    assert not is_regular_file(tmp_path / "a\0b")


@pytest.mark.parametrize("kind", ["fifo", "folder"])
def test_an_explore_store_that_is_a_pipe_or_folder_is_refused_and_kept(tmp_path, monkeypatch, kind):
    """``explore --out D`` where D/explore.duckdb is a pipe: duckdb.connect blocked for ever (stop 45); a folder
    gave duckdb's own IO error. Both are refused naming it, and left as they were."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "out").mkdir()
    store = _make(tmp_path / "out", "explore.duckdb", kind)
    with time_limit(20):
        code, out = run_main(["explore", str(DATA / "explore_space_small.yaml"), "--out", "out", "--budget", "2",
                              "--workers", "1", "--no-page"])
    what = "a pipe or a device" if kind == "fifo" else "a folder"
    assert code == 2 and f"--out out: explore.duckdb is {what}, not a store" in out, out
    assert store.exists() and sorted(p.name for p in (tmp_path / "out").iterdir()) == ["explore.duckdb"]
