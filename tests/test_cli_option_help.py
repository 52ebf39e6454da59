"""Every option of every command says what it is in ``--help`` (stop 36: predict's --max-ttft-ms/--max-tpot-ms and
serve/curve's --weights, --activations, --kv, --calibration, --slo-ttft-ms and --slo-tpot-ms had none; predict's
--weights had one). ``--format`` (table|json, shown as its choices) is the one exception."""

from __future__ import annotations

import inspect
import typing

import inferchip.interfaces.cli as cli
from inferchip.interfaces.app import app


def _options() -> list[tuple[str, str, str | None]]:
    cli._import_command_modules()
    out = []
    for command in app.registered_commands:
        hints = typing.get_type_hints(command.callback, include_extras=True)
        for param in inspect.signature(command.callback).parameters.values():
            # the option: the default (typer.Option(...)), or an Annotated type's (serve/curve's shared ones, stop 51)
            info = next((m for m in getattr(hints.get(param.name), "__metadata__", ()) if hasattr(m, "param_decls")),
                        param.default)
            if hasattr(info, "help") and getattr(info, "param_decls", None):
                out.append((command.name or command.callback.__name__, info.param_decls[0], info.help))
    return out


def test_every_option_has_help_text():
    options = _options()
    assert len(options) > 100
    missing = [f"{cmd} {name}" for cmd, name, text in options if not text and name != "--format"]
    assert not missing, missing


def test_an_option_shared_by_the_llm_commands_reads_the_same_in_each():
    by_name: dict[str, set[str]] = {}
    for cmd, name, text in _options():
        if cmd in ("predict", "serve", "curve") and name in ("--weights", "--activations", "--kv", "--calibration"):
            by_name.setdefault(name, set()).add(text or "")
    assert len(by_name) == 4 and all(len(texts) == 1 for texts in by_name.values()), by_name
