"""``serve --format json`` carries the notes its text prints (newuser42's item 8, stop 42).

On main the JSON had no ``notes`` key: the parser's notes for a user's ``config.json`` (a key its family's code does
not read) and the context note reached only the text output. Now ``notes`` holds the same lines as the text's
``note:`` lines, and is an empty list where the text prints none."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from inferchip.interfaces.cli import app

REF = Path(__file__).resolve().parents[1] / "src" / "inferchip" / "catalog" / "models"
H100 = "nvidia-h100-sxm-80gb"
LOAD = ["--input-tokens", "64", "--output-tokens", "8", "--rate", "2", "--requests", "5"]


def _serve(*args: str) -> tuple[dict, str]:
    res = CliRunner().invoke(app, ["serve", "--chip", H100, *args, *LOAD, "--format", "json"])
    assert res.exit_code == 0, res.output
    text = CliRunner().invoke(app, ["serve", "--chip", H100, *args, *LOAD])
    assert text.exit_code == 0, text.output
    return json.loads(res.stdout), " ".join(text.output.split())


def test_a_user_configs_parser_note_reaches_the_json(tmp_path: Path) -> None:
    cfg = json.loads((REF / "Qwen__Qwen3-30B-A3B.json").read_text(encoding="utf-8")) | {"n_shared_experts": 2}
    path = tmp_path / "moe.json"
    path.write_text(json.dumps(cfg))
    d, text = _serve("--model", str(path))
    shared = [n for n in d["notes"] if "n_shared_experts = 2 is not read" in n]
    assert len(shared) == 1 and str(path) in shared[0], d["notes"]
    for n in d["notes"]:  # each JSON note is one the text prints
        assert " ".join(f"note: {n}".split()) in text, (n, text)


def test_a_catalogue_model_has_an_empty_notes_list() -> None:
    d, text = _serve("--model", "meta-llama/Llama-3.1-8B")
    assert d["notes"] == []
    assert "note:" not in text
