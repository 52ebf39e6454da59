"""Files written atomically: a temporary sibling, flushed and fsynced, then renamed over the target.

A full disk, a quota or a device that fails late gives one clear :class:`OutputError` and
leaves the old file (or none), never half a file. Every file inferchip writes goes through
here (reports, pages, calibration files).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from inferchip.errors import OutputError, os_reason


def _staged(path: Path, data: bytes, label: str, unopened: str = "") -> str:
    """``data`` in a temporary sibling of ``path`` (flushed, fsynced, the umask's mode): the sibling's name, for the
    caller to rename. OutputError naming ``label`` where it cannot be written (``unopened`` ends the message when the
    sibling cannot even be made); the sibling is removed on any failure."""
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name[:100]}.", suffix=".tmp", dir=path.absolute().parent)
    except OSError as exc:
        raise OutputError(f"cannot write {label}: {os_reason(exc)}{unopened}") from None
    with _removed_on_failure(tmp, label):
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
    return tmp


@contextmanager
def _removed_on_failure(tmp: str, label: str) -> Iterator[None]:
    """Work on the temporary sibling ``tmp``; on any failure it is removed, an OSError raised as OutputError naming
    ``label`` ("nothing was written": the target is untouched), anything else (an interrupt) as it came."""
    try:
        yield
    except OSError as exc:
        _unlink(tmp)
        raise OutputError(f"cannot write {label}: {os_reason(exc)}; nothing was written") from None
    except BaseException:
        _unlink(tmp)
        raise


def write_bytes(path: Path, data: bytes, what: str | None = None) -> None:
    """Write ``data`` to ``path`` atomically (temporary sibling, fsync, rename)."""
    path = Path(path)
    label = what or str(path)
    tmp = _staged(path, data, label)
    with _removed_on_failure(tmp, label):
        os.replace(tmp, path)


def write_text(path: Path, text: str, what: str | None = None) -> None:
    write_bytes(path, text.encode("utf-8"), what)


def write_all(files: list[tuple[Path, str]]) -> None:
    """Write several text files as one: each into a temporary sibling (flushed, fsynced), then every rename in a row
    with Ctrl-C and SIGTERM held until the last is done, so an interrupted or failed run leaves all the earlier
    files or all the new ones (``validate --page``: a page and its two plots; one interrupt between three
    :func:`write_text` calls left a new plot beside the old page). A signal that came in the meantime acts after."""
    import signal
    import threading

    temps: list[tuple[str, Path]] = []
    try:
        for path, text in files:
            path = Path(path)
            temps.append((_staged(path, text.encode("utf-8"), str(path), "; nothing was written"), path))
        held = {signal.SIGINT, signal.SIGTERM}
        main = threading.current_thread() is threading.main_thread()
        old = signal.pthread_sigmask(signal.SIG_BLOCK, held) if main else None
        try:
            for k, (tmp, path) in enumerate(temps):
                try:
                    os.replace(tmp, path)
                except OSError as exc:
                    done = ", ".join(str(p) for _, p in temps[:k])
                    raise OutputError(f"cannot write {path}: {os_reason(exc)}"
                                      + (f"; already replaced: {done}" if done else "; nothing was written")) from None
        finally:
            if old is not None:
                signal.pthread_sigmask(signal.SIG_SETMASK, old)
    finally:
        for tmp, _ in temps:
            _unlink(tmp)  # a temporary file not renamed (an error or an interrupt before the renames)


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
