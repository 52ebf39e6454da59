"""The typer application object every command module registers on."""

from __future__ import annotations

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
        """``Typer.command``; registering (which appends to the list) imports no other module."""
        decorator = super().command(*args, **kwargs)

        def register(f: Any) -> Any:
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


app = LazyApp(
    name="inferchip",
    help="Model AI inference chips: latency, throughput, memory fit, energy and cost of LLM and vision inference.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
