"""Run the ``inferchip`` command in this process: its exit status and everything it printed."""

from __future__ import annotations

import contextlib
import io
from typing import Any

from inferchip.interfaces.cli import main


def run_main(args: list[str]) -> tuple[int, str]:
    """(exit status, stdout + stderr) of ``inferchip ARGS``; a ``SystemExit`` gives its code."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(args)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
    return int(code or 0), out.getvalue() + err.getvalue()


def run_json(args: list[str]) -> Any:
    """The JSON ``inferchip ARGS --format json`` prints, asserting the command succeeded."""
    import json

    code, text = run_main([*args, "--format", "json"])
    assert code == 0, text
    return json.loads(text)
