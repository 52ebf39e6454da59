"""Command-line entry point: ``inferchip``. User errors print a clear message, never a traceback.

Exit status: 0 on success; the code of a ``typer.Exit`` / ``SystemExit`` a command raises;
2 for a user error (:class:`~inferchip.errors.InferchipError`, an invalid file read through a
pydantic model, a file the system refuses: ``OSError``) and for a usage error (unknown option,
missing argument, a value out of bounds), whose message is printed as one ``error: ...`` line
on stderr; 3 for an unexpected error (a bug), one ``internal error: ...`` line naming the
command; 1 when aborted; 130 when interrupted (Ctrl-C), 143 when terminated (SIGTERM).
"""

from __future__ import annotations

import importlib
import os
import sys
from dataclasses import replace
from types import ModuleType
from typing import TYPE_CHECKING

# No pydantic plugins are looked for (an entry-point scan of every installed package on each
# start); a user who sets the variable keeps their choice.
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")

import typer  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.markup import escape  # noqa: E402

from inferchip.errors import OPTIONS, InferchipError, readable, spelled  # noqa: E402

# Each module registers its commands on ``app`` when imported: all of them when the command
# list is first read (``app.registered_commands``: --help, a test), else the module of the one
# command run (_COMMAND_MODULES: a hint; a command it does not name imports them all).
from inferchip.interfaces.app import app  # noqa: E402
from inferchip.interfaces.cli_options.boundary import (
    INTERNAL_ERROR_EXIT,
    Terminated,
    command_of,
    conversion_message,
    is_pydantic_error,
    on_signal,
    os_error_message,
    pydantic_message,
)

if TYPE_CHECKING:  # the click that typer >= 0.16 vendors (the click package before: the same classes)
    from typer._click.core import Command
    from typer._click.exceptions import ClickException
    from typer.models import CommandInfo

_OPTIONAL_COMMANDS = ("validating.command", "cmd_serve", "cmd_curve", "cmd_review", "cmd_cost", "cmd_drive",
                      "cmd_vision", "cmd_explore")
_COMMAND_MODULES = {"chips": "cmd_catalog", "models": "cmd_catalog", "predict": "cmd_predict",
                    "serve": "cmd_serve", "curve": "cmd_curve", "validate": "validating.command",
                    "calibrate": "validating.command", "review": "cmd_review", "cost": "cmd_cost", "drive": "cmd_drive",
                    "vision": "cmd_vision", "explore": "cmd_explore"}


def _import_command_module(name: str) -> None:
    try:
        __import__(f"inferchip.interfaces.{name}")
    except ModuleNotFoundError as exc:  # a command module not written yet
        if exc.name != f"inferchip.interfaces.{name}":
            raise


def _import_command_modules() -> None:
    for name in ("cmd_catalog", "cmd_predict", *_OPTIONAL_COMMANDS):
        _import_command_module(name)


app.load_all = _import_command_modules

CLI_SPELLING = replace(OPTIONS, renames=(("precision", "--weights"),  # vision/drive: frame_cost's precision=
                                         ("models", "--model"),  # drive's networks: ic.drive's models=, repeated
                                         ("duration_s", "--duration"),  # drive's run length: ic.drive's duration_s=
                                         ("slo_ttft_s", "slo_ttft_s (seconds, from --slo-ttft-ms)"),
                                         ("slo_tpot_s", "slo_tpot_s (seconds, from --slo-tpot-ms)")))
"""How the command line names a setting in a layer's message (:class:`inferchip.errors.Spelling`): every key a layer
names (``input_tokens``, ``batch``, ``count``, ``tp``, ``attn_dp``, ``chunk_tokens``, ``weights``, ...) is its option
by the rule, ``--`` and the key with ``-`` for ``_``; ``precision`` (``frame_cost``'s) is ``--weights`` in
``vision`` and ``drive``, and ``models`` (``ic.drive``'s list of networks) is ``drive``'s repeated ``--model``
(``review --models`` names its option in its own messages). The SLO limits are the exception: the options take
milliseconds and are checked in them before any layer sees the seconds, so a layer's message about one (not
reached from the command line today) names the seconds and the option they came from."""
USER_ERROR_EXIT = 2  # the exit status of a user error, as click uses it for usage errors
INTERRUPTED_EXIT = 130  # Ctrl-C: 128 + SIGINT, as a shell reports it


def _click_exceptions() -> ModuleType:
    """The click exception module typer raises from: typer >= 0.16 vendors click as
    ``typer._click``, earlier versions use the ``click`` package."""
    try:
        return importlib.import_module("typer._click.exceptions")
    except ImportError:
        return importlib.import_module("click.exceptions")


def _error(err: Console, message: str) -> None:
    """``error: message`` on stderr, not re-wrapped by rich (the terminal wraps a long line), the values it echoes
    kept readable (``errors.readable``: click's and pydantic's messages too)."""
    err.print(f"[bold red]error:[/] {escape(readable(message))}", highlight=False, soft_wrap=True)


def _usage_error(err: Console, exc: ClickException) -> int:
    """A click error (bad option, missing argument, ...): one line, with where to find help."""
    ce = _click_exceptions()
    if isinstance(exc, getattr(ce, "NoArgsIsHelpError", ())):
        exc.show()  # a command group called without a command: its help is the answer
        return exc.exit_code
    converted = conversion_message(exc)
    if converted is not None:
        exc.message = converted
    ctx = getattr(exc, "ctx", None)
    hint = f" (see `{ctx.command_path} --help`)" if ctx is not None and isinstance(exc, ce.UsageError) else ""
    _error(err, exc.format_message().rstrip(".") + hint if hint else exc.format_message())
    return exc.exit_code


def _system_exit_code(err: Console, exc: SystemExit) -> int:
    """The status ``sys.exit(code)`` asks for; a message instead of a number is printed and exits 1
    (as the Python interpreter does)."""
    if exc.code is None:
        return 0
    if isinstance(exc.code, int):
        return exc.code
    err.print(escape(str(exc.code)), highlight=False, soft_wrap=True)
    return 1


_COMMANDS: dict[tuple[str | int, ...], Command] = {}  # built commands by (which, command name or ids)


def _click_command(argv: list[str] | None) -> tuple[Command, list[str], str]:
    """The click command to run ``argv`` with, its arguments and its program name.

    Building the click objects of every command costs as much as a small command's work, so a
    run of one command (``inferchip predict ...``) builds that command alone, as the program
    ``inferchip predict``; anything else (``--help``, an unknown command) builds the group.
    Built commands are kept for the next call in the same process (keyed on the registered
    commands, which a test may change)."""
    from typer.main import get_command

    args = list(sys.argv[1:] if argv is None else argv)
    infos: dict[str, CommandInfo] = {}
    if args and args[0] in _COMMAND_MODULES and app.load_all is not None:  # that command's module alone
        _import_command_module(_COMMAND_MODULES[args[0]])
        infos = {c.name: c for c in app.commands_now() if c.name}
    if not (args and args[0] in infos):
        infos = {c.name: c for c in app.registered_commands if c.name}
    if args and args[0] in infos:
        key: tuple[str | int, ...] = ("one", args[0], id(infos[args[0]]), id(infos[args[0]].callback))
        if key not in _COMMANDS:
            one = typer.Typer(name=app.info.name, add_completion=False, pretty_exceptions_enable=False)
            one.registered_commands = [infos[args[0]]]
            _COMMANDS[key] = get_command(one)
        return _COMMANDS[key], args[1:], f"inferchip {args[0]}"
    key = ("all", *(id(c) for c in app.registered_commands))
    if key not in _COMMANDS:
        _COMMANDS[key] = get_command(app)
    return _COMMANDS[key], args, "inferchip"


def main(argv: list[str] | None = None) -> int:
    """Run ``inferchip`` with ``argv`` (default: the process arguments); returns the exit status."""
    err = Console(stderr=True)
    try:
        # In non-standalone mode typer hands back the code of a ``typer.Exit`` as the return
        # value; commands themselves return None.
        with on_signal(), spelled(CLI_SPELLING):  # a layer's message names --batch here, batch= from Python
            command, args, prog = _click_command(argv)
            rv = command.main(args=args, prog_name=prog, standalone_mode=False)
    except InferchipError as exc:
        _error(err, str(exc))
        return USER_ERROR_EXIT
    except KeyboardInterrupt:
        err.print("interrupted")
        return INTERRUPTED_EXIT
    except Terminated as exc:
        err.print("terminated")
        return _system_exit_code(err, exc)  # its code: 128 + the signal
    except SystemExit as exc:
        return _system_exit_code(err, exc)
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        err.print("aborted")
        return 1
    except Exception as exc:  # click usage errors come through here in non-standalone mode
        if isinstance(exc, _click_exceptions().ClickException):
            return _usage_error(err, exc)
        if is_pydantic_error(exc):
            _error(err, pydantic_message(exc))
            return USER_ERROR_EXIT
        if isinstance(exc, OSError):
            _error(err, os_error_message(exc))
            return USER_ERROR_EXIT
        cmd = command_of(argv)
        err.print(f"[bold red]internal error:[/] {escape(f'inferchip {cmd}'.strip())} failed: "
                  f"{escape(type(exc).__name__)}: {escape(str(exc)[:300])} (a bug; please report it with the command)",
                  highlight=False, soft_wrap=True)
        return INTERNAL_ERROR_EXIT
    if rv == INTERRUPTED_EXIT:  # typer turns Ctrl-C in a command into a silent return of 130 (typer/core.py _main)
        err.print("interrupted")
    return rv if isinstance(rv, int) and not isinstance(rv, bool) else 0


if __name__ == "__main__":
    sys.exit(main())
