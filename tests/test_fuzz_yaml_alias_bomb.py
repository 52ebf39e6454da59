"""YAML aliases that expand past any memory, aliases that contain themselves, and JSON keys given twice (found by
tools/fuzz/fuzz_commands.py, stop 45).

Before: a chip YAML of ten nested aliases (``a1: &a1 [*a0, *a0, ...]``, the "billion laughs" file: 10^10 values
once expanded, 1 KB on disk) made ``inferchip predict --chip bomb.yaml`` run until killed, since validation walks
the expansion; a config.json giving ``hidden_size`` twice was read with the second, silently. Now the parse counts
the expanded values (shared nodes once each, so linear in the file) and refuses past ``MAX_YAML_VALUES``, refuses
an alias inside the node it names, and refuses a JSON key given twice; each message names the file."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from cli_in_process import run_main
from hang_guard import time_limit
from inferchip.catalog.yaml_io import MAX_YAML_VALUES, _expanded_size, parse_yaml, read_mapping
from inferchip.errors import SpecError

ROOT = Path(__file__).resolve().parents[1]
L8_CONFIG = ROOT / "src" / "inferchip" / "catalog" / "models" / "meta-llama__Llama-3.1-8B.json"


def _bomb(levels: int, width: int, mapping: bool = False) -> str:
    lines = [f"a0: &a0 [{', '.join(['x'] * width)}]"]
    for i in range(1, levels):
        items = [f"*a{i - 1}"] * width
        body = "{" + ", ".join(f"k{j}: {x}" for j, x in enumerate(items)) + "}" if mapping else f"[{', '.join(items)}]"
        lines.append(f"a{i}: &a{i} {body}")
    return "\n".join(lines) + "\n"


def test_every_shipped_yaml_is_far_below_the_bound():
    """The bound's stated margin: every YAML under src/, docs/ and tests/data holds under 1/1,000 of it."""
    sizes = {}
    for folder in ("src", "docs", "tests/data"):
        for p in (ROOT / folder).rglob("*.y*ml"):
            data = parse_yaml(p.read_text(encoding="utf-8"), str(p))
            if isinstance(data, (dict, list)):
                sizes[p.name] = _expanded_size(data, str(p))
    assert sizes and max(sizes.values()) * 1_000 <= MAX_YAML_VALUES, max(sizes.items(), key=lambda kv: kv[1])


def test_seeded_alias_bombs_are_refused_fast():
    rng = random.Random(45)
    for _ in range(20):
        levels, width, mapping = rng.randint(7, 30), rng.randint(8, 40), rng.random() < 0.5
        with time_limit(20), pytest.raises(SpecError, match=r"b\.yaml: holds more than 1,000,000 values once its "
                                                         r"aliases \(\*name\) are expanded"):
            parse_yaml(_bomb(levels, width, mapping), "b.yaml")


def test_small_aliases_and_merges_still_load():
    data = parse_yaml("base: &b {x: 1, y: 2}\nother:\n  <<: *b\n  y: 3\nlist: [*b, *b]\n" + _bomb(3, 5), "ok.yaml")
    assert data["other"] == {"x": 1, "y": 3} and data["list"][1]["x"] == 1 and len(data["a2"]) == 5


@pytest.mark.parametrize("text", ["a: &a [1, *a]\n", "a: &a {b: *a}\n", "a: &a {b: [{c: *a}]}\n"])
def test_an_alias_inside_itself_is_refused(text):
    with time_limit(20), pytest.raises(SpecError, match=r"c\.yaml: an alias \(\*name\) refers to a mapping or list "
                                                     "that contains it"):
        parse_yaml(text, "c.yaml")


def test_cli_chip_file_bomb_exits_2_naming_the_file(tmp_path):
    path = tmp_path / "bomb.yaml"
    path.write_text(_bomb(10, 10), encoding="utf-8")
    with time_limit(30):
        code, out = run_main(["predict", "--chip", str(path), "--model", "meta-llama/Llama-3.1-8B-Instruct",
                              "--batch", "1"])
    assert code == 2 and "Traceback" not in out and f"{path}: holds more than 1,000,000 values" in out, out


@pytest.mark.parametrize("key", ["hidden_size", "num_attention_heads", "torch_dtype"])
def test_a_json_key_given_twice_is_refused(tmp_path, key):
    text = L8_CONFIG.read_text(encoding="utf-8").rstrip().rstrip("}") + f', "{key}": 1}}'
    path = tmp_path / "config.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SpecError, match=rf"config\.json: key '{key}' appears twice in one object; keep one"):
        read_mapping(path)
    code, out = run_main(["predict", "--chip", "nvidia-h100-sxm-80gb", "--model", str(path), "--batch", "1"])
    assert code == 2 and f"key '{key}' appears twice" in out, out


def test_nested_json_duplicates_are_refused_too(tmp_path):
    cfg = json.loads(L8_CONFIG.read_text(encoding="utf-8"))
    text = json.dumps(cfg)[:-1] + ', "rope_scaling": {"factor": 8.0, "factor": 80.0}}'
    path = tmp_path / "config.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SpecError, match="key 'factor' appears twice"):
        read_mapping(path)
