"""Bad design-space files to ``inferchip explore`` (stop 36): each is one ``error:`` line naming the file and the
field, without pydantic's wording ("Value error, ", "Extra inputs are not permitted"), and a misspelt top-level
field lists the fields there are. Generated from the example space by seeded mutations."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import yaml

from cli_in_process import run_main

EXAMPLE = yaml.safe_load((Path(__file__).parents[1] / "docs/explore-space.yaml").read_text(encoding="utf-8"))


def _mutations() -> list[tuple[str, dict, str]]:
    rng = random.Random(36)
    out = []
    for key in ("name", "max_dies", "parameters"):  # a misspelt top-level field
        doc = dict(EXAMPLE)
        doc[key[:-1] + rng.choice("xz")] = doc.pop(key)
        out.append((f"typo-{key}", doc, key[:-1]))
    for value in (0, 17, -1, "two", 2.5):
        out.append((f"max_dies-{value}", {**EXAMPLE, "max_dies": value}, "max_dies"))
    for steps in (0, -3, "x"):
        params = {**EXAMPLE["parameters"], "clock_ghz": {"low": 1.0, "high": 2.0, "steps": steps}}
        out.append((f"steps-{steps}", {**EXAMPLE, "parameters": params}, "clock_ghz.steps"))
    for bound, value in (("low", True), ("high", "2"), ("steps", True), ("steps", 2.0)):  # stop 45: coerced before
        rng_ = {"low": 1.0, "high": 2.0, "steps": 2, bound: value}
        params = {**EXAMPLE["parameters"], "clock_ghz": rng_}
        out.append((f"clock-{bound}-{value!r}", {**EXAMPLE, "parameters": params}, f"clock_ghz.{bound}"))
    out += [("max_dies-True", {**EXAMPLE, "max_dies": True}, "max_dies"), ("name-5", {**EXAMPLE, "name": 5}, "name")]
    for name, value in (("clock_ghz", {"low": 3, "high": 1, "steps": 2}), ("memory_type", ["hbm9"]),
                        ("matrix_units", []), ("matrix_units", "many"), ("node_nm", [1000])):
        params = {**EXAMPLE["parameters"], name: value}
        out.append((f"{name}-{value}", {**EXAMPLE, "parameters": params}, name))
    return out


@pytest.mark.parametrize(("case", "doc", "field"), _mutations(), ids=[m[0] for m in _mutations()])
def test_a_bad_space_file_is_one_clear_error(tmp_path, case, doc, field):
    path = tmp_path / "space.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    code, out = run_main(["explore", str(path), "--out", str(tmp_path / "run"), "--budget", "2"])
    errors = [line for line in out.splitlines() if line.startswith("error:")]
    assert code == 2 and len(errors) == 1, out[-500:]
    assert str(path) in errors[0] and field in errors[0], errors[0]
    assert "Value error" not in errors[0] and "Extra inputs" not in errors[0], errors[0]
    assert "should be a valid" not in errors[0], errors[0]  # pydantic's type words, not the user's
    if case.startswith("typo-"):
        assert "allowed: name, max_dies, parameters" in errors[0]
    assert not (tmp_path / "run").exists()
