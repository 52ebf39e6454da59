"""Files written atomically: a temporary sibling, flushed and fsynced, then renamed over the target.

A full disk, a quota or a device that fails late gives one clear :class:`OutputError` and
leaves the old file (or none), never half a file. Every file inferchip writes goes through
here (reports, pages, calibration files).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from inferchip.errors import OutputError, os_reason


def write_bytes(path: Path, data: bytes, what: str | None = None) -> None:
    """Write ``data`` to ``path`` atomically (temporary sibling, fsync, rename)."""
    path = Path(path)
    label = what or str(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name[:100]}.", suffix=".tmp", dir=path.absolute().parent)
    except OSError as exc:
        raise OutputError(f"cannot write {label}: {os_reason(exc)}") from None
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
        raise OutputError(f"cannot write {label}: {os_reason(exc)}; nothing was written") from None
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
