"""Every option a command's ``--help`` lists is named where a user reads about that command: its row of the README's
command table, its README section, or its own page (``drive``: docs/drive.md, ``explore``: docs/explore.md). Stop 46
(docs46): ``serve``/``curve --calibration``, ``validate --assumptions``, ``cost --assumptions``/``--estimate``,
``drive --max-batch`` and ``explore --no-page`` were in ``--help`` only."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from inferchip.interfaces.cli import _COMMAND_MODULES, _click_command

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
SECTION = {"predict": "### `inferchip predict`", "serve": "### `inferchip serve` and `inferchip curve`",
           "curve": "### `inferchip serve` and `inferchip curve`", "review": "### `inferchip review`",
           "cost": "### `inferchip cost`", "validate": "### `inferchip validate` and `inferchip calibrate`",
           "calibrate": "### `inferchip validate` and `inferchip calibrate`"}
PAGE = {"drive": "docs/drive.md", "explore": "docs/explore.md"}


def _section(title: str) -> str:
    """The README from ``title`` to the next heading of level 2 or 3."""
    start = README.index(title)
    nxt = re.compile(r"^#{2,3} ", re.M).search(README, start + len(title))
    return README[start:nxt.start() if nxt else len(README)]


def _where_documented(command: str) -> str:
    text = _section("## Commands")
    if command in SECTION:
        text += _section(SECTION[command])
    if command in PAGE:
        text += (ROOT / PAGE[command]).read_text(encoding="utf-8")
    return text


@pytest.mark.parametrize("command", sorted(_COMMAND_MODULES))
def test_every_help_option_is_documented_where_the_command_is(command):
    cmd, _, _ = _click_command([command, "--help"])
    text = _where_documented(command)
    missing = []
    for param in cmd.params:
        if param.param_type_name != "option" or getattr(param, "hidden", False):
            continue  # the old spellings are hidden from --help on purpose
        spellings = [o for o in [*param.opts, *param.secondary_opts] if o != "--help"]
        if spellings and not any(re.search(re.escape(o) + r"(?![\w-])", text) for o in spellings):
            missing.append(spellings[0])
    assert not missing, f"inferchip {command}: options in --help but not in its documentation: {missing}"
