"""Old option spellings, kept working: one name per concept in every command, the old name hidden.

Each renamed option keeps its old spelling as a hidden option of its own (``help`` lists only the new
name). Given, it is taken as the new option with one note on stderr naming the new option (so a
``--format json`` answer on stdout stays JSON); given together with the new spelling it is refused.

Renamed (old -> new): ``vision``/``drive --chips N`` -> ``--count N`` (a number of chips, as in predict,
serve and curve; ``review --chips`` stays: a list of chip ids), ``drive --duration-s`` -> ``--duration``
(as serve), ``vision``/``drive --precision`` -> ``--weights`` (the activations follow the weights, as in
predict), ``review --jobs`` -> ``--workers`` (worker processes, as validate and explore).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import typer

T = TypeVar("T")

RENAMED = {"--chips": "--count", "--duration-s": "--duration", "--precision": "--weights", "--jobs": "--workers"}


def old_spelling(old: str, callback: Callable[..., Any] | None = None) -> Any:
    """The hidden option ``old`` (None when not given); ``callback``: the new option's check, bound to ``old``
    so that a bad value names the spelling the user typed."""
    return typer.Option(None, old, hidden=True, help=f"Deprecated spelling of {RENAMED[old]}.", callback=callback)


def take(ctx: typer.Context, new_param: str, new_value: T, old: str, old_value: T | None) -> T:
    """The value of the option the user gave: ``old_value`` (with a note) when the old spelling was used,
    else ``new_value``. ``new_param``: the new option's parameter name in the command."""
    if old_value is None:
        return new_value
    new = RENAMED[old]
    source = ctx.get_parameter_source(new_param)
    if source is not None and source.name not in ("DEFAULT", "DEFAULT_MAP"):
        from inferchip.errors import InvalidSettingError

        raise InvalidSettingError(f"{old} and {new}: the same option given twice ({old} is its old spelling); "
                                  f"allowed: {new} alone")
    from rich.console import Console

    Console(stderr=True).print(f"note: {old} is deprecated; use {new} (same meaning)", highlight=False,
                               soft_wrap=True)
    return old_value
