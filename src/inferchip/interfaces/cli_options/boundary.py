"""Errors at the command-line boundary, in the user's words.

:func:`describe` turns an exception that escaped a command into one line: a validation error
of a pydantic model names the field, the value and what is allowed (never pydantic's own
wording of types and URLs); an ``OSError`` names the file and the reason. :func:`on_signal`
makes SIGTERM unwind like SIGINT, so a command removes its temporary files at once.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any, NoReturn

INTERNAL_ERROR_EXIT = 3


def pydantic_message(exc: Any) -> str:
    """``model: field: what is wrong (got value)`` for each error of a pydantic ValidationError."""
    parts = []
    for e in exc.errors()[:3]:
        loc = ".".join(str(x) for x in e.get("loc", ())) or "value"
        got = e.get("input")
        shown = repr(got)
        if len(shown) > 60:
            shown = shown[:57] + "..."
        parts.append(f"{loc}: {e.get('msg', 'invalid').rstrip('.').lower()} (got {shown})")
    more = f" and {len(exc.errors()) - 3} more" if len(exc.errors()) > 3 else ""
    return f"invalid {exc.title}: " + "; ".join(parts) + more


def is_pydantic_error(exc: BaseException) -> bool:
    return type(exc).__name__ == "ValidationError" and type(exc).__module__.startswith("pydantic")


def conversion_message(exc: Any) -> str | None:
    """``'1e3' is not a whole number; allowed: a whole number from 1 to 1,000,000`` for an option value typer
    could not convert (its pydantic error says only "Input should be a valid integer", without the value or the
    bounds); the bounds are the option's check's ``allowed`` (``options.int_range``/``float_range``). None for
    any other error."""
    cause = getattr(exc, "__cause__", None)
    errors = cause.errors() if cause is not None and is_pydantic_error(cause) else []
    kind = {"int_parsing": "a whole number", "int_from_float": "a whole number",
            "float_parsing": "a number"}.get(errors[0].get("type", "") if errors else "")
    if kind is None:
        return None
    allowed = getattr(getattr(getattr(exc, "param", None), "callback", None), "allowed", kind)
    return f"{errors[0].get('input')!r} is not {kind}; allowed: {allowed}"


def os_error_message(exc: OSError) -> str:
    what = exc.filename if exc.filename is not None else None
    reason = exc.strerror or str(exc)
    if what is None:
        return reason
    shown = str(what)
    if len(shown) > 80:
        shown = shown[:77] + "..."
    return f"{shown}: {reason}"


def command_of(argv: list[str] | None) -> str:
    """The command name in ``argv`` (the first word that is not an option), for messages."""
    import sys

    args = sys.argv[1:] if argv is None else argv
    for a in args:
        if not a.startswith("-"):
            return a
    return ""


class Terminated(SystemExit):
    """SIGTERM, raised in the main thread so that ``finally`` blocks run."""


@contextmanager
def on_signal() -> Iterator[None]:
    """While a command runs, SIGTERM raises :class:`Terminated` (exit status 143) instead of killing the
    process outright, so temporary files are removed as after Ctrl-C."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def raise_terminated(signum: int, frame: FrameType | None) -> NoReturn:  # noqa: ARG001
        raise Terminated(128 + signum)

    try:
        previous = signal.signal(signal.SIGTERM, raise_terminated)
    except (ValueError, OSError):
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
