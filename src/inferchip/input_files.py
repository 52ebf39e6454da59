"""Input files read whole, and only when they are regular files.

A named pipe (FIFO) blocks ``open`` until some process writes to it, and a device such as ``/dev/zero`` never
ends: given as a model's ``config.json``, either made ``inferchip predict`` hang, or read until the kernel killed
it for memory (stop 45's fuzz, ``tools/fuzz/fuzz_commands.py``). Here the file is opened without blocking and
checked with ``fstat`` on the open descriptor (no window between the check and the read) before a byte is read;
anything but a regular file is a :class:`SpecError` naming the path, what it is, and what is allowed.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from inferchip.errors import SpecError, os_reason, shown

_KINDS = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"), (stat.S_ISLNK, "a symbolic link"))


def kind_name(mode: int) -> str:
    """What a ``stat`` mode names, as an error says it ("a named pipe (FIFO)", "a regular file")."""
    if stat.S_ISREG(mode):
        return "a regular file"
    return next((name for test, name in _KINDS if test(mode)), "something else")


def path_argument(given: object, key: str, allowed: str) -> Path:
    """``given`` (a Python argument naming a file: ``calibration=``, ``assumptions=``) as a Path; anything but a
    string or a path is an InvalidSettingError naming the setting ``key`` as the interface running spells it
    (``calibration=``, ``--calibration``; ``calibration=True`` was a raw TypeError); so is a path where nothing is
    (a SpecError: its reader's message named the file alone, not the setting that gave it)."""
    from inferchip.errors import InvalidSettingError, labelled

    if isinstance(given, str | os.PathLike):
        if not os.path.lexists(user_path(given)):
            raise SpecError(f"{labelled(key)}: {shown(str(os.fspath(given)))}: cannot read file (no such file); "
                            f"allowed: {allowed}")
        return Path(given)
    raise InvalidSettingError(f"{labelled(key)}: {given!r} ({type(given).__name__}) is no file path; "
                              f"allowed: {allowed}")


def user_path(given: str | os.PathLike[str]) -> Path:
    """``given`` as a path, a leading ``~`` or ``~user`` expanded where that user has a home (``os.path.expanduser``);
    an unknown user's ``~name`` stays as written, for the reader's "no such file" to refuse, where
    ``Path.expanduser`` raised RuntimeError (``--model ~0``: an internal error until stop 47)."""
    return Path(os.path.expanduser(os.fspath(given)))


def read_regular_bytes(path: str | os.PathLike[str], what: str = "file") -> bytes:
    """The bytes of the regular file at ``path``; a folder, pipe, device or socket, a missing or unreadable path ->
    SpecError ``PATH: WHY; allowed: a regular file`` (``what`` names the input in 'cannot read WHAT', e.g. 'the
    ONNX file')."""
    p = Path(path)
    try:
        fd = os.open(p, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except IsADirectoryError:  # where O_RDONLY refuses a folder (Linux opens it; fstat below tells)
        raise SpecError(f"{p}: is a folder; allowed: a regular file") from None
    except OSError as exc:
        raise SpecError(f"{p}: cannot read {what} ({os_reason(exc)})") from None
    except ValueError as exc:  # a NUL in the path
        raise SpecError(f"{p!s:.200}: cannot read {what} ({exc})") from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        if stat.S_ISDIR(mode):
            raise SpecError(f"{p}: is a folder; allowed: a regular file")
        raise SpecError(f"{p}: is {kind_name(mode)}, not a regular file; allowed: a regular file")
    with os.fdopen(fd, "rb") as fh:
        try:
            return fh.read()
        except OSError as exc:
            raise SpecError(f"{p}: cannot read {what} ({os_reason(exc)})") from None


def is_regular_file(path: str | os.PathLike[str]) -> bool:
    """True for a regular file (``stat``, which neither opens nor blocks on a pipe); False for anything else,
    a missing path or a name the file system cannot hold."""
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except (OSError, ValueError):
        return False
