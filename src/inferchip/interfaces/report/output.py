"""The review's output folder, written safely: files go into a staging folder beside
``--out`` (:func:`prepare_output`) and are renamed into place one by one at the end
(:func:`commit_output`), so a failed or interrupted run leaves no half-written report and
nothing that inferchip did not write is ever deleted: an existing ``--out`` keeps every other
file in it; only the report's own files (report.html, results.csv, results.json) are replaced, and
only where they are regular files: a symbolic link, a named pipe, a device, a socket or a folder of
one of those names is refused before any work (:func:`check_report_names`), as it is again before
the first rename.

A staging folder is named ``.<out>.partial-XXXX`` and holds a marker with the id of the
process that made it. A run interrupted by SIGINT or SIGTERM removes its staging folder at
once; one killed outright (SIGKILL) leaves it, and the next run beside it removes every
staging folder of that naming whose process is gone.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from collections.abc import Iterable
from pathlib import Path

from inferchip.errors import InvalidSettingError
from inferchip.input_files import kind_name
from inferchip.interfaces.cli_options.files import OutputError, fsync_file

REPORT_FILES = ("report.html", "results.csv", "results.json")  # what review writes into --out
STAGING_MARK = ".inferchip-staging"
STAGING_INFIX = ".partial-"


def _out_path(out: Path) -> Path:
    text = str(out)
    if not text.strip():
        raise InvalidSettingError("--out: empty path; give a folder for the report")
    try:
        p = Path(os.path.abspath(os.path.expanduser(text)))
    except ValueError as exc:  # NUL in the path
        raise InvalidSettingError(f"--out {text!r}: {exc}") from None
    if p.parent == p:
        raise InvalidSettingError(f"--out {text}: the root folder; give a folder of its own for the report")
    if len(p.name.encode("utf-8", "surrogateescape")) > 200:
        raise InvalidSettingError(f"--out: folder name longer than the file system allows ({len(p.name)} characters)")
    return p


def checked_out(text: str) -> Path:
    """``--out`` as given (a string: the empty one would become ``.`` as a Path), refused when empty."""
    if not str(text).strip():
        raise InvalidSettingError("--out: empty path; give a folder for the report")
    return Path(text)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return True
    return True


def clean_stale_staging(out: Path) -> list[Path]:
    """Remove staging folders of ``out`` left by killed runs (marker present, its process gone)."""
    removed: list[Path] = []
    parent = out.parent
    try:
        candidates = list(parent.glob(f".{out.name}{STAGING_INFIX}*"))
    except OSError:
        return removed
    for d in candidates:
        mark = d / STAGING_MARK
        try:
            pid = int(mark.read_text(encoding="ascii").split()[0])
        except (OSError, ValueError, IndexError):
            continue  # not a staging folder of ours
        if pid != os.getpid() and not _alive(pid):
            shutil.rmtree(d, ignore_errors=True)
            removed.append(d)
    return removed


def check_report_names(out: Path, names: Iterable[str], given: Path | str) -> None:
    """Refuse an ``out`` folder where a file the run writes (``names``) is there as anything but a regular file: a
    symbolic link (replacing it would leave the user's file it names stale), a named pipe, a device, a socket or a
    folder. InvalidSettingError naming the file, what it is and what is allowed; nothing is changed."""
    for name in names:
        try:
            mode = os.lstat(out / name).st_mode
        except OSError:
            continue  # absent (or unreadable: the write will say)
        if not stat.S_ISREG(mode):
            raise InvalidSettingError(f"--out {given}: {name} there is {kind_name(mode)}, not a file of inferchip's "
                                      f"that it may replace; allowed: a folder where {', '.join(names)} are absent "
                                      "or regular files (nothing was changed)")


def check_out_folder(given: Path, names: Iterable[str] = ()) -> Path:
    """``--out`` as an absolute folder path, refused before any work where it or a folder above it is a file (the
    folder could never be made there), or where the folder, or the nearest folder above it that exists, cannot be
    written in (a read-only or immutable folder: the run's files could never be written), or where one of the files
    the run writes (``names``) is there as a link, pipe, device, socket or folder (:func:`check_report_names`)."""
    out = _out_path(given)
    if out.is_symlink() and not out.exists():  # a folder could be made neither there nor where it points, unasked
        raise InvalidSettingError(f"--out {given}: a symbolic link to {os.readlink(out)}, which does not exist (or "
                                  "loops); allowed: a folder, new or existing, or a link to an existing one")
    for p in (out, *out.parents):
        if p.exists() and not p.is_dir():
            what = "a file" if p.is_file() else kind_name(os.stat(p).st_mode)
            raise InvalidSettingError(f"--out {given}: {p} is {what}, not a folder; allowed: a folder, new or "
                                      "existing")
    nearest = next(p for p in (out, *out.parents) if p.exists())
    if not os.access(nearest, os.W_OK | os.X_OK):
        raise InvalidSettingError(f"--out {given}: folder {nearest} is not writable; allowed: a folder that can be "
                                  "written in, new or existing")
    check_report_names(out, names, given)
    return out


def prepare_output(out: Path) -> Path:
    """Refuse an unwritable ``out`` before any work, and make the staging folder beside it."""
    given = out
    out = check_out_folder(out, REPORT_FILES)
    parent = out.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        clean_stale_staging(out)
        staging = Path(tempfile.mkdtemp(prefix=f".{out.name}{STAGING_INFIX}", dir=parent))
        (staging / STAGING_MARK).write_text(f"{os.getpid()}\n", encoding="ascii")
        umask = os.umask(0)
        os.umask(umask)
        staging.chmod(0o777 & ~umask)  # mkdtemp makes it private; the report is an ordinary folder
    except OSError as exc:
        raise InvalidSettingError(f"--out {given}: cannot write in {parent} ({exc.strerror})") from None
    if out.exists() and not os.access(out, os.W_OK | os.X_OK):
        shutil.rmtree(staging, ignore_errors=True)
        raise InvalidSettingError(f"--out {given}: the existing folder is not writable")
    return staging


def commit_output(staging: Path, out: Path) -> None:
    """Move the finished report into ``out``: the whole folder when ``out`` is new, else file by
    file (each rename atomic), replacing only the files the report writes."""
    out = _out_path(out)
    mark = staging / STAGING_MARK
    names = sorted(p.name for p in staging.iterdir() if p.name != STAGING_MARK)
    try:
        for n in names:
            if (staging / n).is_file():
                fsync_file(staging / n)  # a device that fails late fails here, before anything is replaced
        if not out.exists():
            mark.unlink()
            os.replace(staging, out)
            return
        try:
            check_report_names(out, names, out)  # again: one made during the run is not replaced either
        except InvalidSettingError as exc:
            raise OutputError(str(exc)) from None
        for n in names:
            os.replace(staging / n, out / n)
    except OSError as exc:
        raise OutputError(f"--out {out}: cannot write the report ({exc.strerror or exc}); "
                          f"the folder keeps its earlier files") from None
    shutil.rmtree(staging, ignore_errors=True)


def discard_output(staging: Path) -> None:
    shutil.rmtree(staging, ignore_errors=True)
