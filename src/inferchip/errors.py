"""Errors a user can cause. The CLI prints them without a traceback."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class InferchipError(Exception):
    """Base class of every error caused by user input or an impossible request."""


class SpecError(InferchipError):
    """A chip, model or assumptions file is malformed: names file, field, value and what is allowed."""


class UnknownIdError(InferchipError):
    """An id that is not in the catalogue; the message names the closest ids."""

    def __init__(self, kind: str, given: str, known: Iterable[str], listing: str | None = None):
        """``listing``: the command that lists the ids (default ``inferchip {kind}s``)."""
        known = list(known)
        close = closest(given, known)
        if not close:
            low = given.lower()
            close = [k for k in known if low in k.lower() or k.lower() in low][:5]
        hint = f" Closest: {', '.join(close)}." if close else ""
        super().__init__(f"unknown {kind} '{given}'.{hint} See `{listing or f'inferchip {kind}s'}` for the full list.")
        self.given = given
        self.closest = close


class InvalidSettingError(InferchipError):
    """An impossible setting (tp that does not divide heads, zero sizes, ...)."""


class DoesNotFitError(InferchipError):
    """The model does not fit in memory; the message says by how much and what would make it fit."""


def closest(given: str, known: Iterable[str]) -> list[str]:
    """Up to five known ids nearest ``given``, without regard to case: those holding it first ("NVIDIA-H100" ->
    the three nvidia-h100-* chips), then difflib's closest."""
    by_lower: dict[str, str] = {}
    for k in known:
        by_lower.setdefault(k.lower(), k)
    low = given.strip().lower()
    holding = sorted(k for k in by_lower if low and low in k) if len(low) >= 3 else []
    near = difflib.get_close_matches(low, list(by_lower), n=5, cutoff=0.3)
    return [by_lower[m] for m in dict.fromkeys([*holding, *near])][:5]


def os_reason(exc: OSError) -> str:
    """Why the operating system refused a read or write, in its words ("No such file or directory"), else the
    exception's name: the reason every file error of inferchip quotes."""
    return exc.strerror or type(exc).__name__


class OutputError(InferchipError):
    """A file or folder inferchip cannot write (or, for an input, read)."""


class InternalError(Exception):
    """An invariant of inferchip's own code broke (a bug, not bad input): raised where ``assert`` would vanish under
    ``python -O``. Not an :class:`InferchipError`, so the CLI reports it as a bug: one ``internal error:`` line
    naming the command and the invariant, exit status 3 (``interfaces/cli.py``), not the ``error:`` line and
    status 2 of bad input."""
