"""Errors a user can cause. The CLI prints them without a traceback."""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from numbers import Real

ECHO_MAX_CHARS = 200  # an echoed value up to this long is shown whole (a long file path stays readable)
ECHO_HEAD_CHARS = 60  # of a longer one, the first characters shown, then its length
MESSAGE_MAX_CHARS = 8_000  # a message still longer keeps its head (the field) and tail (what is allowed)
_LONG = f"{{{ECHO_MAX_CHARS + 1},}}"  # a regular expression's "more than ECHO_MAX_CHARS times"
_OPEN, _CLOSE = r"(?:(?<=[\s(\[=:,])|^)", r"(?=[\s)\];:,.]|$)"  # quotes around a value, not apostrophes
_QUOTED = re.compile(rf"{_OPEN}'([^'\n]{_LONG})'{_CLOSE}|{_OPEN}\"([^\"\n]{_LONG})\"{_CLOSE}")
_RUN = re.compile(rf"\S{_LONG}")
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")  # breaks or hides a line; a message's own
# line breaks ("\n": DoesNotFitError's breakdown) stay, a value's are escaped where it is echoed (repr)
# a byte that is no UTF-8 in a command-line argument or a file name reaches Python as a lone surrogate U+DC80-U+DCFF
# (PEP 383's surrogateescape); repr writes it "\udcff": both shown as the byte, "\xff" (as repr of bytes writes it)
_RAW_BYTE = re.compile(r"[\udc80-\udcff]|(?<!\\)((?:\\\\)*)\\udc([89a-f][0-9a-f])")


def shown(value: str) -> str:
    """``value`` as an error message echoes it: whole up to :data:`ECHO_MAX_CHARS` characters, else its first
    :data:`ECHO_HEAD_CHARS` and its length ("xxx...(100,000 characters)")."""
    return value if len(value) <= ECHO_MAX_CHARS else f"{value[:ECHO_HEAD_CHARS]}...({len(value):,} characters)"


def readable(message: str) -> str:
    """``message`` with the user's values it echoes kept readable, the one rule of every clear error (the
    :class:`InferchipError` text and the CLI's ``error:`` line): a quoted span or a run of non-blank characters longer
    than :data:`ECHO_MAX_CHARS` is :func:`shown` shortened, a control character that would break or hide the line
    escaped ("\\x1e"), a byte that is no UTF-8 shown as the byte ("\\xff", where Python held it as "\\udcff"); a
    message still longer than :data:`MESSAGE_MAX_CHARS` (a long value with blanks and quotes in it) keeps its first
    and last quarter, which name the field and what is allowed."""
    text = _RAW_BYTE.sub(_raw_byte, message)
    text = _CONTROL.sub(lambda m: m.group(0).encode("unicode_escape").decode("ascii"), text)
    text = _QUOTED.sub(lambda m: m.group(0)[0] + shown(m.group(1) or m.group(2)) + m.group(0)[0], text)
    text = _RUN.sub(lambda m: shown(m.group(0)), text)
    if len(text) <= MESSAGE_MAX_CHARS:
        return text
    keep = MESSAGE_MAX_CHARS // 4
    return f"{text[:keep]}...({len(text) - 2 * keep:,} characters)...{text[-keep:]}"


def _raw_byte(m: re.Match[str]) -> str:
    """A lone surrogate of surrogateescape (the character, or repr's text of it) as the byte it stands for."""
    if m.group(2) is not None:
        return f"{m.group(1)}\\x{m.group(2)}"
    return f"\\x{ord(m.group(0)) - 0xDC00:02x}"


class InferchipError(Exception):
    """Base class of every error caused by user input or an impossible request; its text is :func:`readable`."""

    def __str__(self) -> str:
        return readable(super().__str__())


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
        super().__init__(f"unknown {kind} {given!r}.{hint} See `{listing or f'inferchip {kind}s'}` for the full list.")
        self.given = given
        self.closest = close


class InvalidSettingError(InferchipError):
    """An impossible setting (tp that does not divide heads, zero sizes, ...)."""


class PowerBudgetError(InvalidSettingError):
    """A power budget at or below the chips' idle power, so no clock meets it (``idle_w``, ``budget_w``, W): a rig
    the chip cannot run within its budget (the review's in-car part reads it as the chip not fitting the car)."""

    def __init__(self, message: str, idle_w: float, budget_w: float):
        super().__init__(message)
        self.idle_w, self.budget_w = idle_w, budget_w


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


def unexpected_keyword(name: str, candidates: Iterable[str], allowed: str, caller: str = "",
                       renamed: dict[str, str] | None = None) -> TypeError:
    """The TypeError for a keyword a public function does not take: it names the keyword, the closest of
    ``candidates`` (``rate`` -> ``rate_per_s``; a candidate in ``renamed`` is suggested by its new name) and
    ``allowed`` (the allowed names in words); ``caller``: the function, as Python's own message starts."""
    near = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.5)
    hint = f" (did you mean {(renamed or {}).get(near[0], near[0])!r}?)" if near else ""
    head = f"{caller}() got an unexpected" if caller else "unexpected"
    return TypeError(f"{head} keyword argument {name!r}{hint}; allowed: {allowed}")


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


@dataclass(frozen=True)
class Spelling:
    """How an interface names a setting in its messages. A layer raises with the setting's field key, the Python
    API's keyword (``input_tokens``), and the interface that called it spells the key its own way: the API as the
    keyword the caller wrote (``input_tokens=``, ``input_tokens=0``), the command line as its option
    (``--input-tokens``, ``--input-tokens 0``: the key with ``-`` for ``_``, unless ``renames`` names it), so one
    message serves both. A key whose command-line option has another unit (``slo_ttft_s``, ``--slo-ttft-ms``) is
    checked by the command line in its own unit before the layer sees it, and named as the keyword by the layer."""

    options: bool = False  # False: the API's keywords; True: the command line's options
    renames: tuple[tuple[str, str], ...] = ()  # (key, option) where the option is not the key's rule

    def name(self, key: str) -> str:
        """``key`` as this interface names it: ``batch=`` or ``--batch``."""
        if not self.options:
            return f"{key}="
        return dict(self.renames).get(key) or "--" + key.replace("_", "-")

    def label(self, key: str) -> str:
        """``key`` as the head of a message about its value ("weights: unknown number format 'x'"): the bare
        keyword, or the option (``--weights``)."""
        return self.name(key) if self.options else key

    def given(self, key: str, value: object) -> str:
        """``key`` with its value as this interface's caller wrote it: ``tp=3`` or ``--tp 3`` (True: the flag alone,
        ``attn_dp=True`` or ``--attn-dp``)."""
        if not self.options:
            return f"{key}={value}"
        return self.name(key) if value is True else f"{self.name(key)} {value}"  # a flag: --attn-dp


KEYWORDS = Spelling()
"""The Python API's spelling (the default: a layer called from a script names the keyword)."""
OPTIONS = Spelling(options=True)
"""The command line's spelling by the rule alone (``--`` + the key with ``-``); the CLI adds its renames."""
_SPELLING: ContextVar[Spelling] = ContextVar("inferchip_spelling", default=KEYWORDS)


def named(key: str) -> str:
    """The setting ``key`` as the interface now running names it (:class:`Spelling`): ``batch=`` or ``--batch``."""
    return _SPELLING.get().name(key)


def labelled(key: str) -> str:
    """The setting ``key`` as the head of a message about its value (``weights: ...``, ``--weights: ...``)."""
    return _SPELLING.get().label(key)


def named_as(key: str, value: object) -> str:
    """The setting ``key`` with ``value`` as the interface now running writes it: ``tp=3`` or ``--tp 3``."""
    return _SPELLING.get().given(key, value)


def current_spelling() -> Spelling:
    """The spelling messages are named in now (:func:`spelled`), for a worker process to take on."""
    return _SPELLING.get()


def use_spelling(spelling: Spelling) -> None:
    """Name settings in ``spelling`` from now on in this process: the initializer of a spawned worker, which starts
    with the default (a fresh interpreter inherits no context variable) while its parent runs in another."""
    _SPELLING.set(spelling)


@contextmanager
def spelled(spelling: Spelling) -> Iterator[None]:
    """Messages raised inside the block name settings in ``spelling`` (the CLI's ``main`` runs each command in
    its options'); the spelling before is restored after."""
    token = _SPELLING.set(spelling)
    try:
        yield
    finally:
        _SPELLING.reset(token)


def positive(key: str, v: int | float | None, *, bounded: bool = False) -> None:
    """Refuse a setting value that is not a finite number above 0 (None: not given), naming it (``key``: the
    setting's field key, spelled by :func:`named`; a text with a blank in it, "max_ttft_s (seconds)", as it is):
    a NaN or an infinity would pass ``v <= 0`` and fail later as a raw ValueError or OverflowError, a string as a
    TypeError, an integer beyond a float's range (10**400) as an OverflowError, unless ``bounded``: the caller's own
    upper bound refuses it next, saying the bound (``input_tokens``: at most 10,000,000)."""
    if v is None:
        return
    name = key if " " in key else named(key)
    if isinstance(v, bool) or not isinstance(v, Real):
        raise InvalidSettingError(f"{name} must be a number, got {v!r} ({type(v).__name__}); "
                                  "allowed: a finite number above 0")
    try:
        finite = 0 < float(v) < math.inf
    except OverflowError:  # an integer no float holds
        if bounded:
            return
        raise InvalidSettingError(f"{name} must be a finite number, got {v}; "
                                  "allowed: a finite number above 0") from None
    if not finite:
        raise InvalidSettingError(f"{name} must be positive, got {v}; allowed: a finite number above 0")
