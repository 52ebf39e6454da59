"""Files the commands write: checked before any work, written atomically, never half-written.

:func:`check_writable` refuses an output path whose folder is missing or read-only before a
long run starts. :func:`write_text` / :func:`write_bytes` write a temporary file beside the
target, flush and fsync it, then rename it over the target: a full disk, a quota or a device
that fails late gives one clear error and leaves the old file (or none), never half a file.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from inferchip.errors import InferchipError


class OutputError(InferchipError):
    """A file or folder a command cannot write (or, for an input, read)."""


def _reason(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


def check_writable(path: Path, option: str, make_folder: bool = False) -> Path:
    """``path`` can be created or replaced: its folder exists (or, with ``make_folder``, can be made)
    and is writable, and it is not a folder."""
    text = str(path)
    if not text.strip():
        raise OutputError(f"{option}: empty path; give a file name")
    try:
        p = path.expanduser()
        if p.is_dir():
            raise OutputError(f"{option} {text}: is a folder; give a file name")
        parent = p.absolute().parent
        if make_folder:
            while not parent.exists() and parent.parent != parent:
                parent = parent.parent
        if not parent.is_dir():
            raise OutputError(f"{option} {text}: folder {parent} does not exist")
        if not os.access(parent, os.W_OK | os.X_OK):
            raise OutputError(f"{option} {text}: folder {parent} is not writable")
        if p.exists() and not os.access(p, os.W_OK):
            raise OutputError(f"{option} {text}: file is read-only")
        if len(p.name.encode("utf-8", "surrogateescape")) > 250:
            raise OutputError(f"{option}: file name longer than the file system allows ({len(p.name)} characters)")
    except OSError as exc:
        raise OutputError(f"{option} {text}: {_reason(exc)}") from None
    except ValueError as exc:  # a NUL in the path
        raise OutputError(f"{option} {text!r}: {exc}") from None
    return p


def check_readable_text(path: Path, option: str) -> None:
    """``path`` is a readable file of UTF-8 text (an input a command reads)."""
    try:
        Path(path).read_bytes().decode("utf-8")
    except OSError as exc:
        raise OutputError(f"{option} {path}: cannot read ({_reason(exc)})") from None
    except UnicodeDecodeError as exc:
        raise OutputError(f"{option} {path}: not UTF-8 text (byte {exc.start}: {exc.reason})") from None


def write_bytes(path: Path, data: bytes, what: str | None = None) -> None:
    """Write ``data`` to ``path`` atomically (temporary sibling, fsync, rename)."""
    path = Path(path)
    label = what or str(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name[:100]}.", suffix=".tmp", dir=path.absolute().parent)
    except OSError as exc:
        raise OutputError(f"cannot write {label}: {_reason(exc)}") from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        mode = 0o666 & ~_umask()
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except OSError as exc:
        _unlink(tmp)
        raise OutputError(f"cannot write {label}: {_reason(exc)}; nothing was written") from None
    except BaseException:
        _unlink(tmp)
        raise


def write_text(path: Path, text: str, what: str | None = None) -> None:
    write_bytes(path, text.encode("utf-8"), what)


def fsync_file(path: Path) -> None:
    """Flush a file another library wrote to the device (raises OSError)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _umask() -> int:
    u = os.umask(0)
    os.umask(u)
    return u


def _unlink(p: str) -> None:
    try:
        os.unlink(p)
    except OSError:
        pass
