"""The typer application object every command module registers on."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import typer
from rich.columns import Columns
from rich.table import Table
from rich.text import Text
from typer.core import TyperCommand
from typer.models import CommandInfo


class _FoldingTable(Table):
    """A rich table whose every column folds a word wider than itself onto the next line (rich's default cuts it
    to "…")."""

    def add_row(self, *renderables: Any, **kwargs: Any) -> None:
        super().add_row(*renderables, **kwargs)
        for column in self.columns:
            column.overflow = "fold"


class _FoldingColumns(Columns):
    """Rich columns whose text folds a word wider than its column (an option's help and its default)."""

    def __init__(self, renderables: Any = None, *args: Any, **kwargs: Any) -> None:
        items = list(renderables or [])
        for item in items:
            if isinstance(item, Text):
                item.overflow = "fold"
        super().__init__(items, *args, **kwargs)


class FoldingHelpCommand(TyperCommand):
    """A command whose ``--help`` folds, never cuts, a long word in its options table: on an 80-column terminal
    typer's table cut ``serve --help``'s option ``--kv-link-latency-…``, the bound ``9,223,372,036,854,7…`` and
    17 file and option names of its help text. Typer builds that table in ``typer.rich_utils`` with rich's default
    column overflow ("ellipsis") and no setting for it: its ``Table`` and ``Columns`` (an option's help beside its
    default) are swapped for :class:`_FoldingTable` and :class:`_FoldingColumns` while the help is written, and put
    back."""

    def format_help(self, ctx: Any, formatter: Any) -> None:
        from typer import rich_utils

        # a typer release that no longer names them there draws its own help, cut as before, never an error
        folding = {name: cls for name, cls in (("Table", _FoldingTable), ("Columns", _FoldingColumns))
                   if hasattr(rich_utils, name)}
        saved = {name: getattr(rich_utils, name) for name in folding}
        for name, cls in folding.items():
            setattr(rich_utils, name, cls)
        try:
            super().format_help(ctx, formatter)
        finally:
            for name, cls in saved.items():
                setattr(rich_utils, name, cls)


    def make_parser(self, ctx: Any) -> Any:
        """click's parser for this command, whose parse refuses an option that takes one value given more than once
        (:func:`refuse_repeated`): click kept the last and dropped the others unsaid (``vision --batch 1 --batch 8``
        costed batch 8 alone)."""
        parser: Any = super().make_parser(ctx)
        parse = parser.parse_args

        def parse_once(args: list[str]) -> Any:
            opts, rest, order = parse(args=list(args))
            refuse_repeated(order, args)
            return opts, rest, order

        parser.parse_args = parse_once
        return parser


def refuse_repeated(order: list[Any], args: list[str]) -> None:
    """Raise :class:`~inferchip.errors.InvalidSettingError` where an option that takes one value (not ``multiple``,
    not a counting flag, not an eager one such as ``--help``) is in ``order`` (click's parser lists a parameter once
    per time it was given) more than once, naming it and the values given (``args``: the command's arguments). An
    option that takes several (``drive --model``) is honoured: each value is kept; a flag given twice meaning the same
    (``--own-views --own-views``) is taken, its on and off spellings together (``--moe --dense``) refused."""
    seen: dict[int, int] = {}
    for param in order:
        if getattr(param, "param_type_name", "") != "option" or param.multiple or param.count or param.is_eager:
            continue
        seen[id(param)] = seen.get(id(param), 0) + 1
        names = [*param.opts, *param.secondary_opts]
        if seen[id(param)] == 2 and not (param.is_flag and _one_meaning(param, names, args)):
            from inferchip.errors import InvalidSettingError

            given = _given(names, args, takes_value=not param.is_flag)
            listed = " (a list is one value, comma-separated)" if "comma-separated" in (param.help or "") else ""
            allowed = f"{names[0]} once" if len(names) == 1 else f"one of {', '.join(names)}, once"
            raise InvalidSettingError(f"{'/'.join(names)} given more than once ({given}): it takes one value and "
                                      f"would keep the last alone; allowed: {allowed}{listed}")


def _one_meaning(param: Any, names: list[str], args: list[str]) -> bool:
    """Whether a flag ``param`` is given among ``args`` always on (its ``opts``) or always off (``secondary_opts``)."""
    return len({a in param.opts for a in _given(names, args, False).split(", ")}) == 1


def _given(names: list[str], args: list[str], takes_value: bool) -> str:
    """The occurrences of an option among ``args`` as the user typed them (``--batch 1``, ``--batch=8``, ``--moe``),
    comma-separated; an argument after ``--`` is not an option."""
    out: list[str] = []
    for i, a in enumerate(args):
        if a == "--":
            break
        if a in names:
            out.append(f"{a} {args[i + 1]}" if takes_value and i + 1 < len(args) else a)
        elif "=" in a and a.split("=", 1)[0] in names:
            out.append(a)
    return ", ".join(out)


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
            given.setdefault("cls", FoldingHelpCommand)
            if "short_help" not in given and "help" not in given and f.__doc__:
                given["short_help"] = one_line(f.__doc__)
                given["help"] = reflowed(f.__doc__)
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


def reflowed(doc: str) -> str:
    """A docstring with each paragraph on one line, paragraphs kept: ``--help`` wraps them at the terminal's width
    (rich kept the docstring's own line breaks in every paragraph after the first: ``serve --help`` on 80 columns
    broke "... the lowest mean" / "end-to-end latency at the load" / "(--concurrency C: ...")."""
    return "\n\n".join(" ".join(p.split()) for p in inspect.cleandoc(doc).split("\n\n"))


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
