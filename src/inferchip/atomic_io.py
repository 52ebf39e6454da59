"""Files written atomically: a temporary sibling, flushed and fsynced, then renamed over the target.

A full disk, a quota or a device that fails late gives one clear :class:`OutputError` and
leaves the old file (or none), never half a file. Every file inferchip writes goes through
here (reports, pages, calibration files).

What the output path names decides how it is written (:func:`output_target`), so that nothing inferchip did not
write is replaced (a rename over ``/dev/null`` run as root made the device a regular file):

* nothing, or a regular file: the atomic write above;
* a symbolic link: the file it resolves to is written atomically, the link stays (a rename over the link replaced
  the link and left the user's file stale); a dangling link: the file it names is created, as the shell's ``>``
  does, where its folder exists; a loop is refused;
* a character device or a named pipe (``/dev/stdout``, ``/dev/null``, a FIFO a reader waits on): written straight
  into (open, write, close; no temporary file, no rename, no fsync). A stream has no earlier content to keep and
  no stored copy to make durable, so atomicity does not apply: a failed write (``/dev/full``, a reader that went
  away) is one OutputError, and the reader may have had part of the data. Opening a FIFO waits for its reader,
  as any writer to it does. A writer whose output is more than one file (``validate --page``: a page and the plots
  it links to by name) or a file of a report folder refuses a stream (``streams=False``);
* a folder, a socket or a block device (a disk: writing there would destroy it): refused, nothing created.
"""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from inferchip.errors import OutputError, os_reason
from inferchip.input_files import kind_name

ALLOWED = ("a regular file (new or existing), a symbolic link to one, or a named pipe (FIFO) or character device "
           "(written straight into)")
ALLOWED_FILE = "a regular file (new or existing) or a symbolic link to one"
ALLOWED_OWN = "no file of that name, or a regular file (replaced)"


def output_target(path: Path, lead: str, streams: bool = True, links: bool = True) -> tuple[Path, bool]:
    """Where a write to ``path`` lands and whether it is a stream: ``(path, False)`` for a new path or a regular
    file, ``(the resolved file, False)`` for a symbolic link (dangling: the file it names), ``(path, True)`` for a
    character device or a named pipe where ``streams`` allows one. Anything else (a folder, a socket, a block
    device, a link loop, a stream where ``streams`` is False) is an OutputError ``LEAD: what the path is; allowed:
    ...`` (``lead``: "cannot write PATH", or the option and its value); nothing is created. ``links=False`` (a
    file of a report folder, which inferchip replaces as its own) refuses a symbolic link too."""
    path = Path(path)
    allowed = ALLOWED if streams else ALLOWED_FILE if links else ALLOWED_OWN
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return path, False
    except (OSError, ValueError) as exc:
        reason = os_reason(exc) if isinstance(exc, OSError) else str(exc)
        raise OutputError(f"{lead}: {reason}; allowed: {allowed}") from None
    link = stat.S_ISLNK(mode)
    if link and not links:
        raise OutputError(f"{lead}: is a symbolic link, and this file of a report folder is replaced as inferchip's "
                          f"own; allowed: {allowed}")
    via = " through a symbolic link" if link else ""
    if link:
        try:
            mode = os.stat(path).st_mode
        except FileNotFoundError:  # dangling: the file it names, made where its folder is
            target = _realpath(path, lead, allowed)
            if not target.parent.is_dir():
                raise OutputError(f"{lead}: a symbolic link to {target}, whose folder does not exist; "
                                  f"allowed: {allowed}") from None
            return target, False
        except OSError as exc:
            raise OutputError(f"{lead}: a symbolic link that cannot be followed ({os_reason(exc)}); "
                              f"allowed: {allowed}") from None
    if stat.S_ISREG(mode):
        return (_resolved(path, lead, allowed) if link else path), False
    if stat.S_ISCHR(mode) or stat.S_ISFIFO(mode):
        if streams:
            return path, True
        raise OutputError(f"{lead}: is {kind_name(mode)}{via}, and this output must be a file it can "
                          f"replace whole; allowed: {allowed}")
    raise OutputError(f"{lead}: is {kind_name(mode)}{via}; allowed: {allowed}")


def _realpath(link: Path, lead: str, allowed: str) -> Path:
    """``os.path.realpath``, whose loop detection can recurse without end on a crafted chain (CPython issue
    128098): that is an OutputError too."""
    try:
        return Path(os.path.realpath(link))
    except (OSError, RecursionError) as exc:
        reason = os_reason(exc) if isinstance(exc, OSError) else "too many links"
        raise OutputError(f"{lead}: a symbolic link that cannot be followed ({reason}); allowed: {allowed}") from None


def _resolved(link: Path, lead: str, allowed: str) -> Path:
    """The regular file a symbolic link resolves to, checked to be the file the kernel opens through it (a link
    of ``/proc`` whose name resolves elsewhere, a file deleted since, is refused rather than guessed)."""
    target = _realpath(link, lead, allowed)
    try:
        a, b = os.stat(link), os.stat(target)
        same = (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)
    except OSError:
        same = False
    if not same:
        raise OutputError(f"{lead}: a symbolic link whose file cannot be named (it resolves to "
                          f"{target}); allowed: {allowed}")
    return target


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


def write_bytes(path: Path, data: bytes, what: str | None = None, streams: bool = True, links: bool = True) -> None:
    """Write ``data`` to ``path``: atomically (temporary sibling, fsync, rename) to a new or regular file or the file
    a symbolic link names (where ``links``); straight into a character device or a named pipe (where ``streams``);
    anything else is refused (:func:`output_target`)."""
    path = Path(path)
    label = what or str(path)
    target, stream = output_target(path, f"cannot write {label}", streams, links)
    if stream:
        _write_stream(target, data, label)
        return
    tmp = _staged(target, data, label)
    with _removed_on_failure(tmp, label):
        os.replace(tmp, target)


def write_text(path: Path, text: str, what: str | None = None, streams: bool = True, links: bool = True) -> None:
    write_bytes(path, text.encode("utf-8"), what, streams, links)


def write_report_file(path: Path, text: str) -> None:
    """A file of a report folder (``explore``'s page, ``beat.json``): a new or regular file only, replaced whole;
    a link, a pipe or a device of its name is refused (the folder's files are inferchip's own, as ``review``'s)."""
    write_text(path, text, streams=False, links=False)


def _write_stream(path: Path, data: bytes, label: str) -> None:
    """``data`` written straight into the character device or named pipe at ``path`` (opening a FIFO waits for its
    reader); any failure (``/dev/full``: no space; a reader gone: a broken pipe) is one OutputError."""
    try:
        fd = os.open(path, os.O_WRONLY | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise OutputError(f"cannot write {label}: {os_reason(exc)}; nothing was written") from None
    try:
        mode = os.fstat(fd).st_mode
        if not (stat.S_ISCHR(mode) or stat.S_ISFIFO(mode)):  # replaced since output_target looked: nothing written
            raise OutputError(f"cannot write {label}: it became {kind_name(mode)} while being opened; nothing was "
                              f"written; allowed: {ALLOWED}")
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    except OSError as exc:
        raise OutputError(f"cannot write {label}: {os_reason(exc)} (written straight into: part of it may have "
                          "gone through)") from None
    finally:
        try:
            os.close(fd)
        except OSError:
            pass


def write_all(files: list[tuple[Path, str]]) -> None:
    """Write several text files as one: each into a temporary sibling (flushed, fsynced), then every rename in a row
    with Ctrl-C and SIGTERM held until the last is done, so an interrupted or failed run leaves all the earlier
    files or all the new ones (``validate --page``: a page and its two plots; one interrupt between three
    :func:`write_text` calls left a new plot beside the old page). A signal that came in the meantime acts after.
    A symbolic link is written through (its file replaced, the link kept); a stream (a pipe, a device) is refused,
    as it cannot be replaced with the others at once, and anything else as :func:`output_target` says."""
    import signal
    import threading

    temps: list[tuple[str, Path, Path]] = []  # (temporary file, the file it replaces, the path as given)
    try:
        # every path checked before any write
        targets = [output_target(Path(path), f"cannot write {path}", streams=False)[0] for path, _ in files]
        for target, (path, text) in zip(targets, files, strict=True):
            tmp = _staged(target, text.encode("utf-8"), str(path), "; nothing was written")
            temps.append((tmp, target, Path(path)))
        held = {signal.SIGINT, signal.SIGTERM}
        main = threading.current_thread() is threading.main_thread()
        old = signal.pthread_sigmask(signal.SIG_BLOCK, held) if main else None
        try:
            for k, (tmp, target, path) in enumerate(temps):
                try:
                    os.replace(tmp, target)
                except OSError as exc:
                    done = ", ".join(str(p) for _, _, p in temps[:k])
                    raise OutputError(f"cannot write {path}: {os_reason(exc)}"
                                      + (f"; already replaced: {done}" if done else "; nothing was written")) from None
        finally:
            if old is not None:
                signal.pthread_sigmask(signal.SIG_SETMASK, old)
    finally:
        for tmp, _, _ in temps:
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
