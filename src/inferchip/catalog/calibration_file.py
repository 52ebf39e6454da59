"""Read and write calibration files: the shipped ``catalog/calibration.yaml`` or one written
by ``inferchip calibrate -o FILE``.

``load_calibration(None)`` is the shipped calibration (the defaults if none is shipped),
``load_calibration("none")`` the uncalibrated defaults, ``load_calibration(path)`` a file.
A file is parsed once: the result is cached by path and modification time (a predict used
to re-parse the YAML on every call).
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

import yaml

from inferchip.catalog.yaml_io import read_mapping, validate
from inferchip.errors import SpecError
from inferchip.spec.calibration import Calibration

BUNDLED = Path(__file__).with_name("calibration.yaml")


def calibration_path(which: str | Path | None) -> Path | None:
    """The file ``which`` names (None for the defaults: ``"none"``, or no shipped file)."""
    if which is not None and str(which) == "none":
        return None
    path = BUNDLED if which is None else Path(which)
    return None if which is None and not path.exists() else path


def load_calibration(which: str | Path | None = None) -> Calibration:
    """``None`` -> the shipped calibration (defaults if none shipped); ``"none"`` -> the
    uncalibrated defaults; otherwise a path to a YAML written by ``inferchip calibrate``."""
    path = calibration_path(which)
    if path is None:
        return Calibration()
    try:
        st = os.stat(path)
    except OSError:
        return _parse(str(path), 0, 0)  # raises SpecError naming the file
    return _parse(str(path), st.st_mtime_ns, st.st_size)


@lru_cache(maxsize=32)
def _parse(path: str, mtime_ns: int, size: int) -> Calibration:
    """The calibration in ``path`` (cached by path, modification time and size)."""
    return validate(Calibration, read_mapping(Path(path)), path)


def save_calibration(cal: Calibration, path: Path) -> None:
    """Write atomically (a failed run leaves no half-written file)."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    try:
        tmp.write_text(yaml.safe_dump(cal.model_dump(mode="json"), sort_keys=False))
        tmp.replace(path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise SpecError(f"{path}: cannot write calibration ({exc.strerror})") from None
