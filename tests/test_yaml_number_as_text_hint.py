"""A text field given an unquoted number in a user's YAML (review42).

Since newuser42 the loader reads YAML 1.2's exponent forms as numbers, so ``id: 1e3`` or ``name: 5e10``, text before,
is now the float 1000.0 and was refused as ``id = 1000.0: must be text``: a value the user never wrote, with no word
of why. The refusal now says that YAML read the value as a number and how to keep it text (quote it)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from inferchip.catalog.chips import _CHIPS_DIR as CHIPS_DIR
from inferchip.catalog.chips import load_chip
from inferchip.errors import SpecError


def _write(tmp_path: Path, field: str, text: str) -> Path:
    src = (CHIPS_DIR / "nvidia-h100-sxm-80gb.yaml").read_text(encoding="utf-8")
    lines = [f"{field}: {text}" if ln.startswith(f"{field}: ") else ln for ln in src.splitlines()]
    path = tmp_path / "mine.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize(("field", "text", "shown"), [("id", "1e3", "1000.0"), ("name", "5e10", "50000000000.0"),
                                                      ("id", "1234", "1234")])
def test_an_unquoted_number_in_a_text_field_says_to_quote_it(tmp_path: Path, field: str, text: str,
                                                             shown: str) -> None:
    path = _write(tmp_path, field, text)
    with pytest.raises(SpecError) as err:
        load_chip(str(path))
    msg = str(err.value)
    assert f"{path}: {field} = {shown}: must be text" in msg
    assert "YAML reads it as a number" in msg and "quote it" in msg


def test_the_quoted_form_loads(tmp_path: Path) -> None:
    path = _write(tmp_path, "name", "'5e10'")
    assert load_chip(str(path)).name == "5e10"
    assert yaml.safe_load("x: '1e3'")["x"] == "1e3"


def test_a_list_for_text_gets_no_quote_hint(tmp_path: Path) -> None:
    path = _write(tmp_path, "name", "[a, b]")
    with pytest.raises(SpecError) as err:
        load_chip(str(path))
    assert "must be text" in str(err.value) and "quote it" not in str(err.value)
