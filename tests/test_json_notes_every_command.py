"""Every command's ``--format json`` carries the notes its text prints (newuser43b, stop 43).

On main ``curve --format json`` had no ``notes`` key (serve's gained one in polish42), ``curve --mtp``'s JSON had
its notes only inside each point, and ``serve``/``curve`` with ``--mtp``/``--disagg`` dropped a user config's parser
notes from text and JSON alike. Each test compares a command's JSON ``notes`` with its text's ``note:`` lines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from inferchip.catalog.engines import get_engine
from inferchip.interfaces.cli import app

REF = Path(__file__).resolve().parents[1] / "src" / "inferchip" / "catalog" / "models"
H100 = "nvidia-h100-sxm-80gb"
SHORT = ["--input-tokens", "64", "--output-tokens", "8"]
PARSER_NOTE = "n_shared_experts = 2 is not read"


@pytest.fixture(scope="module")
def odd_config(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A user's config.json the parser notes a convention for (a key its family's code does not read)."""
    cfg = json.loads((REF / "Qwen__Qwen3-30B-A3B.json").read_text(encoding="utf-8")) | {"n_shared_experts": 2}
    path = tmp_path_factory.mktemp("cfg") / "moe.json"
    path.write_text(json.dumps(cfg))
    return str(path)


def _both(args: list[str]) -> tuple[dict, str]:
    res = CliRunner().invoke(app, [*args, "--format", "json"])
    assert res.exit_code == 0, res.output
    text = CliRunner().invoke(app, args)
    assert text.exit_code == 0, text.output
    return json.loads(res.stdout), " ".join(text.output.split())


def _same_notes(d: dict, text: str, must: str | None) -> None:
    assert isinstance(d["notes"], list) and all(isinstance(n, str) for n in d["notes"]), d.get("notes")
    for n in d["notes"]:  # each JSON note is one the text prints
        assert " ".join(f"note: {n}".split()) in text, (n, text)
    assert text.count("note:") == len(d["notes"]), (d["notes"], text)
    if must is not None:
        assert any(must in n for n in d["notes"]), d["notes"]


def test_curve_json_carries_the_parser_note(odd_config: str) -> None:
    d, text = _both(["curve", "--chip", H100, "--model", odd_config, *SHORT])
    _same_notes(d, text, PARSER_NOTE)


def test_curve_json_of_a_catalogue_model_has_an_empty_notes_list() -> None:
    d, text = _both(["curve", "--chip", H100, "--model", "meta-llama/Llama-3.1-8B", *SHORT])
    # no parser or context note; the one note is the sweep's end at the running-batch cap (the vLLM engine record's
    # 1,024 sequences, where memory holds thousands: leftover45), and the serve run each point is (newuser46), in the
    # text as in the JSON
    cap = get_engine("vllm").max_num_seqs
    assert len(d["notes"]) == 2 and d["notes"][0].startswith(f"the sweep stops at {cap:,} clients")
    assert d["notes"][1].startswith("each point runs 8 requests a client")
    assert text.count("note:") == 2


def test_curve_mtp_json_has_the_texts_notes_at_the_top(odd_config: str) -> None:
    d, text = _both(["curve", "--chip", H100, "--model", odd_config, *SHORT, "--mtp", "1"])
    _same_notes(d, text, PARSER_NOTE)
    assert d["notes"] == d["points"][-1]["notes"]


def test_serve_mtp_keeps_the_parser_note(odd_config: str) -> None:
    d, text = _both(["serve", "--chip", H100, "--model", odd_config, *SHORT, "--mtp", "1", "--concurrency", "4"])
    _same_notes(d, text, PARSER_NOTE)


def test_serve_json_carries_the_parser_note(odd_config: str) -> None:
    d, text = _both(["serve", "--chip", H100, "--model", odd_config, *SHORT, "--rate", "2", "--requests", "5"])
    _same_notes(d, text, PARSER_NOTE)


def test_predict_json_carries_the_parser_note(odd_config: str) -> None:
    d, text = _both(["predict", "--chip", H100, "--model", odd_config, *SHORT, "--batch", "1"])
    _same_notes(d, text, PARSER_NOTE)


def test_cost_json_carries_the_texts_notes() -> None:
    d, text = _both(["cost", "--chip", H100])
    _same_notes(d, text, "harvesting")


def test_vision_json_carries_the_texts_notes() -> None:
    d, text = _both(["vision", "--chip", H100, "--model", "resnet50-v1.5"])
    _same_notes(d, text, None)


def test_drive_json_carries_the_texts_notes() -> None:
    d, text = _both(["drive", "--chip", "nvidia-jetson-agx-orin-64gb", "--cameras", "2", "--fps", "10",
                     "--duration", "1"])
    _same_notes(d, text, None)
