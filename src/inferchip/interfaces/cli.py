"""Command-line entry point: ``inferchip``. User errors print a clear message, never a traceback."""

from __future__ import annotations

import sys

from rich.console import Console

from inferchip.errors import InferchipError
from inferchip.interfaces.app import app

# Each module registers its commands on ``app`` when imported.
from inferchip.interfaces import cmd_catalog, cmd_predict  # noqa: E402,F401

_OPTIONAL_COMMANDS = ("cmd_validate", "cmd_serve", "cmd_review", "cmd_cost")
for _name in _OPTIONAL_COMMANDS:
    try:
        __import__(f"inferchip.interfaces.{_name}")
    except ModuleNotFoundError as exc:  # a command module not written yet
        if exc.name != f"inferchip.interfaces.{_name}":
            raise


def main(argv: list[str] | None = None) -> int:
    err = Console(stderr=True)
    try:
        app(args=argv, standalone_mode=False)
    except InferchipError as exc:
        from rich.markup import escape

        err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False)
        return 2
    except KeyboardInterrupt:
        err.print("interrupted")
        return 130
    except SystemExit as exc:
        return int(exc.code or 0)
    except Exception as exc:  # click usage errors come through here in non-standalone mode
        import click

        if isinstance(exc, click.exceptions.Exit):
            return exc.exit_code
        if isinstance(exc, click.exceptions.ClickException):
            exc.show()
            return exc.exit_code
        if isinstance(exc, click.exceptions.Abort):
            err.print("aborted")
            return 1
        raise
    return 0


if __name__ == "__main__":
    sys.exit(main())
