"""The review's output folder, written atomically: files go into a staging folder beside
``--out`` (:func:`prepare_output`) and are renamed into place at the end
(:func:`commit_output`), so a failed or interrupted run leaves no half-written report.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from inferchip.errors import InvalidSettingError


def prepare_output(out: Path) -> Path:
    """Refuse an unwritable ``out`` before any work, and make the staging folder beside it."""
    out = out.expanduser()
    for p in (out.absolute(), *out.absolute().parents):
        if p.exists() and not p.is_dir():
            raise InvalidSettingError(f"--out {out}: {p} is a file, not a folder")
    parent = out.absolute().parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=parent))
        umask = os.umask(0)
        os.umask(umask)
        staging.chmod(0o777 & ~umask)  # mkdtemp makes it private; the report is an ordinary folder
    except OSError as exc:
        raise InvalidSettingError(f"--out {out}: cannot write in {parent} ({exc.strerror})") from None
    if out.exists() and not os.access(out, os.W_OK | os.X_OK):
        shutil.rmtree(staging, ignore_errors=True)
        raise InvalidSettingError(f"--out {out}: the existing folder cannot be replaced (no write permission)")
    return staging


def commit_output(staging: Path, out: Path) -> None:
    """Move the finished report into ``out``, replacing an earlier one as a whole."""
    out = out.expanduser()
    old = None
    if out.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.absolute().parent))
        os.replace(out, old / "previous")
    try:
        os.replace(staging, out)
    except OSError:
        if old is not None:
            os.replace(old / "previous", out)
        raise
    finally:
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)


def discard_output(staging: Path) -> None:
    shutil.rmtree(staging, ignore_errors=True)
