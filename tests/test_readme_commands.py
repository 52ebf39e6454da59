"""Every command of the CLI is in the README's command table, where a new user looks first (the
``vision`` command, the one that imports ONNX graphs, was missing: found by the new-user check of issue 14)."""

from __future__ import annotations

import re
from pathlib import Path

from inferchip.interfaces.cli import _COMMAND_MODULES

README = Path(__file__).parents[1] / "README.md"


def test_every_command_is_in_the_readme_table():
    table = README.read_text(encoding="utf-8").split("## Commands", 1)[1].split("\n\n", 2)[1]
    listed = set(re.findall(r"`inferchip (\w+)", table))
    assert set(_COMMAND_MODULES) <= listed, sorted(set(_COMMAND_MODULES) - listed)
