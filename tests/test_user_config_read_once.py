"""A user's config.json is read once per command (stop 41): ``--model`` is read into one record
(``cli_options.options.read_model``) that the context check, the engine's expert kernel, host time and served
attention and the setting all take. Before, ``predict --engine`` opened the file seven times (the context check,
the expert kernel's model and weights, the host time's and the served attention's weights, the setting). The one
other open is the ``--model`` option's own check that a path given is UTF-8 text (``cli_options.options.identifier``),
made before any command runs."""

from __future__ import annotations

import builtins
import json
import os
import pathlib
import shutil
from pathlib import Path

import pytest

from cli_in_process import run_main

BUNDLED = Path(__file__).parents[1] / "src" / "inferchip" / "catalog" / "models" / "openai__gpt-oss-120b.json"


@pytest.fixture
def counted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A user's copy of gpt-oss-120b's config and a list that grows by one each time it is opened."""
    path = tmp_path / "gpt-oss" / "config.json"
    path.parent.mkdir()
    shutil.copy(BUNDLED, path)
    opened: list[str] = []
    read_text, read_bytes, open_ = pathlib.Path.read_text, pathlib.Path.read_bytes, builtins.open
    os_open = os.open

    def note(target: object) -> None:
        if str(target) == str(path):
            opened.append(str(target))

    def text(self: pathlib.Path, *a: object, **k: object) -> str:
        note(self)
        return read_text(self, *a, **k)  # type: ignore[arg-type]

    def raw(self: pathlib.Path) -> bytes:
        note(self)
        return read_bytes(self)

    def opening(file: object, *a: object, **k: object) -> object:
        note(file)
        return open_(file, *a, **k)  # type: ignore[call-overload]

    monkeypatch.setattr(pathlib.Path, "read_text", text)
    monkeypatch.setattr(pathlib.Path, "read_bytes", raw)
    def os_opening(file: object, *a: object, **k: object) -> int:  # inferchip.input_files reads through os.open
        note(file)
        return os_open(file, *a, **k)  # type: ignore[arg-type]

    monkeypatch.setattr(builtins, "open", opening)
    monkeypatch.setattr(os, "open", os_opening)
    return path, opened


@pytest.mark.parametrize("command", [
    ["predict", "--max-throughput", "--engine", "vllm"],
    ["predict", "--batch", "4"],
    ["serve", "--engine", "vllm", "--concurrency", "4", "--requests", "8", "--output-tokens", "16"],
])
def test_predict_and_serve_read_a_users_config_once(counted, command: list[str]):
    path, opened = counted
    code, text = run_main([command[0], "--chip", "nvidia-h100-sxm-80gb", "--model", str(path), *command[1:],
                           "--format", "json"])
    assert code == 0, text
    assert len(opened) == 2, opened  # the option's UTF-8 check, then the one read every step shares
    assert json.loads(text)["weights"] == "mxfp4"  # the checkpoint's format, from that one read


@pytest.mark.parametrize("command", [
    ["serve", "--concurrency", "2", "--mtp", "1"],
    ["serve", "--concurrency", "2", "--disagg", "1xtp2:1xtp2"],
    ["curve", "--mtp", "1"],
])
def test_the_mtp_and_disagg_rows_read_a_users_config_once(counted, command: list[str]):
    """quality42: the ``--mtp``/``--disagg`` rows take the record too. Before, serve opened the file 6 or 7 times
    (the context check; the rows' stated formats; the layout search; the validator's model; its reading of each row's
    formats, and serve's of the first row's) and curve 15 times (each of its concurrencies' rows read the
    checkpoint's attention formats)."""
    path, opened = counted
    code, text = run_main([command[0], "--chip", "nvidia-h100-sxm-80gb", "--model", str(path), *command[1:],
                           "--input-tokens", "512", "--output-tokens", "64", "--format", "json"])
    assert code == 0, text
    assert len(opened) == 2, opened  # the option's UTF-8 check, then the one read the rows share
    got = json.loads(text)
    rows = got["points"] if command[0] == "curve" else [got]
    assert all(r["weights"] == "mxfp4" for r in rows), rows  # the checkpoint's format, from that one read
