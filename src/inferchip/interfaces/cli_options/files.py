"""Files the commands write: checked before any work, written atomically, never half-written.

:func:`check_writable` refuses an output path whose folder is missing or read-only before a
long run starts. :mod:`inferchip.atomic_io` writes them atomically (temporary sibling, fsync, rename), through a
symbolic link to its file, straight into a named pipe or a character device, and refuses anything else.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from inferchip.atomic_io import fsync_file, output_target, write_bytes, write_text
from inferchip.errors import OutputError, SpecError, os_reason
from inferchip.input_files import read_regular_bytes, user_path

__all__ = ["OutputError", "check_readable_text", "check_writable", "fsync_file", "write_bytes", "write_text"]



HTML_SUFFIXES = (".html", ".htm")
MARKDOWN_SUFFIXES = (".md", ".markdown")  # validate --page (its plots are written beside it, as _plot.svg/.html)
YAML_SUFFIXES = (".yaml", ".yml")  # calibrate --output, read back by --calibration


def check_writable(path: Path, option: str, make_folder: bool = False,
                   suffixes: tuple[str, ...] | None = None, streams: bool = True) -> Path:
    """``path`` can be written, checked before any work: a new or regular file (or a symbolic link to one) whose
    folder exists (or, with ``make_folder``, can be made) and is writable; with ``suffixes``, its name ends in one
    of them (an HTML page is not written under a .png name). A named pipe or a character device (``/dev/stdout``)
    is written straight into where ``streams`` allows it, its name then free (a stream's name says nothing of the
    file type); a folder, socket, block device or link loop is refused (:func:`~inferchip.atomic_io.output_target`).
    Returns the path to write: the file a symbolic link names (the page's plots, written beside the page, then sit
    beside the file the user reads), else the path as given."""
    text = str(path)
    if not text.strip():
        raise OutputError(f"{option}: empty path; give a file name")
    try:
        p = user_path(path)
        target, stream = output_target(p, f"{option} {text}", streams)
        if stream:
            if not os.access(p, os.W_OK):
                raise OutputError(f"{option} {text}: not writable (a stream this user cannot write to)")
            return p
        if suffixes and not p.name.lower().endswith(suffixes):
            kind = {".md": "Markdown"}.get(suffixes[0], suffixes[0].lstrip(".").upper())
            linked = f" (a symbolic link to {target})" if target != p else ""  # /dev/stdout redirected to a file
            raise OutputError(f"{option} {text}{linked}: this option writes {kind}; give a file name "
                              f"ending in {' or '.join(suffixes)}")
        parent = target.absolute().parent
        if make_folder:
            while not parent.exists() and parent.parent != parent:
                parent = parent.parent
        if not parent.is_dir():
            raise OutputError(f"{option} {text}: folder {parent} does not exist")
        if not os.access(parent, os.W_OK | os.X_OK):
            raise OutputError(f"{option} {text}: folder {parent} is not writable")
        if target.exists() and not os.access(target, os.W_OK):
            raise OutputError(f"{option} {text}: file is read-only")
        _probe(parent, option, text)
        if len(p.name.encode("utf-8", "surrogateescape")) > 250:
            raise OutputError(f"{option}: file name longer than the file system allows ({len(p.name)} characters)")
    except OSError as exc:
        raise OutputError(f"{option} {text}: {os_reason(exc)}") from None
    except ValueError as exc:  # a NUL in the path
        raise OutputError(f"{option} {text!r}: {exc}") from None
    return target  # a link's file: what is written beside it (the page's plots) goes beside that file


def _probe(folder: Path, option: str, text: str) -> None:
    """Create and remove a file in ``folder``: the atomic write makes its temporary file there. ``os.access`` says yes
    where the file system then refuses (``/proc``, a read-only mount seen by root, a full quota), and the error came
    only after the work (calibrate's fit)."""
    import tempfile

    try:
        fd, tmp = tempfile.mkstemp(prefix=".inferchip-probe-", dir=folder)
    except OSError as exc:
        raise OutputError(f"{option} {text}: cannot create a file in folder {folder} ({os_reason(exc)})") from None
    os.close(fd)
    with contextlib.suppress(OSError):
        os.unlink(tmp)


def check_readable_text(path: Path, option: str) -> None:
    """``path`` is a readable file of UTF-8 text (an input a command reads)."""
    try:
        read_regular_bytes(path).decode("utf-8")  # a pipe or a device is refused, not read (it blocks or never ends)
    except SpecError as exc:
        raise OutputError(f"{option} {exc}") from None
    except UnicodeDecodeError as exc:
        raise OutputError(f"{option} {path}: not UTF-8 text (byte {exc.start}: {exc.reason})") from None
