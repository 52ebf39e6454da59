"""The typer application object every command module registers on."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import typer
from typer.models import CommandInfo


class LazyApp(typer.Typer):
    """A typer app whose command modules are imported when its command list is first read
    (``registered_commands``: by typer building the group for ``--help``, by a test); ``cli``
    sets :attr:`load_all`. A run of one command reads the list as it stands (:meth:`commands_now`)
    after importing that command's module alone (``cli._click_command``)."""

    load_all: Callable[[], None] | None = None

    @property
    def registered_commands(self) -> list[CommandInfo]:
        load, self.load_all = self.load_all, None
        if load is not None:
            load()
        return self.commands_now()

    @registered_commands.setter
    def registered_commands(self, value: list[CommandInfo]) -> None:
        self.__dict__["_commands"] = value

    def command(self, *args: Any, **kwargs: Any) -> Callable[[Any], Any]:
        """``Typer.command``; registering (which appends to the list) imports no other module. The command list of
        ``inferchip --help`` shows each command's :func:`one_line` summary (rich kept the docstring's line breaks:
        "concurrency 1 up to the memory" / "limit or the running-batch cap")."""

        def register(f: Any) -> Any:
            given = dict(kwargs)
            if "short_help" not in given and "help" not in given and f.__doc__:
                given["short_help"] = one_line(f.__doc__)
            decorator = super(LazyApp, self).command(*args, **given)
            load, self.load_all = self.load_all, None
            try:
                return decorator(f)
            finally:
                self.load_all = load

        return register

    def commands_now(self) -> list[CommandInfo]:
        """The commands registered so far (no module imported)."""
        commands: list[CommandInfo] = self.__dict__["_commands"]
        return commands


def one_line(doc: str) -> str:
    """A docstring's first paragraph as one line (its line breaks and indents as single spaces)."""
    return " ".join(inspect.cleandoc(doc).split("\n\n")[0].split())


app = LazyApp(
    name="inferchip",
    help="Model AI inference chips: latency, throughput, memory fit, energy and cost of LLM and vision inference.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
