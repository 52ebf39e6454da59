"""An unknown chip where two options name chips: `explore --target/--beat`, `review --chips/--claim` (newuser38).

Before: each said only `unknown chip 'nope'`, so with `--target` and three `--beat` chips, or `--chips` and
`--claim`, the user could not tell which option held the typo. Now the message starts with the option (the closest
ids are kept), and explore checks its chips before any work.
"""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from inferchip.errors import UnknownIdError
from inferchip.interfaces.cli import app

MODEL = "meta-llama/Llama-3.1-8B-Instruct"


@pytest.mark.parametrize(("args", "option", "chip"), [
    (["explore", "--target", "nvidia-h1000", "--beat", "nvidia-l4"], "--target", "nvidia-h1000"),
    (["explore", "--target", "tesla-ai5", "--beat", "nvidia-l4,nope"], "--beat", "nope"),
    (["review", "--chips", "nvidia-l4,nope", "--no-sensitivity"], "--chips", "nope"),
    (["review", "--claim", "nvidia-h1000", "--chips", "nvidia-l4", "--no-sensitivity"], "--claim", "nvidia-h1000"),
])
def test_an_unknown_chip_is_named_with_its_option(tmp_path, args, option, chip):
    res = CliRunner().invoke(app, [*args, "--models", MODEL, *(["--out", str(tmp_path / "o")])])
    assert isinstance(res.exception, UnknownIdError), (res.exception, res.output)
    assert str(res.exception).startswith(f"{option}: unknown chip '{chip}'."), res.exception
    assert not (tmp_path / "o").exists()


def test_the_closest_ids_are_kept():
    res = CliRunner().invoke(app, ["explore", "--target", "nvidia-h1000", "--beat", "nvidia-l4", "--models", MODEL])
    assert "Closest: nvidia-h100-sxm-80gb" in str(res.exception), res.exception
