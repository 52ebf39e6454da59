"""Read and write calibration files: the shipped ``catalog/calibration.yaml`` or one written
by ``inferchip calibrate -o FILE``.

A file holds the :class:`~inferchip.spec.calibration.Calibration` fields and, under
``mlperf_mean_input_tokens``, the :class:`~inferchip.spec.calibration.DatasetLengths` that
validation reads. ``which``: None for the shipped file (the defaults if none is shipped),
``"none"`` for the uncalibrated defaults, else a path. A file is parsed once: the result is
cached by path, modification time and size (a predict used to re-parse the YAML every call).
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any, NamedTuple

from inferchip.atomic_io import write_text
from inferchip.catalog.yaml_io import read_mapping, validate
from inferchip.input_files import path_argument
from inferchip.spec.calibration import Calibration, DatasetLengths

BUNDLED = Path(__file__).with_name("calibration.yaml")
LENGTHS_KEY = "mlperf_mean_input_tokens"


class CalibrationFile(NamedTuple):
    calibration: Calibration
    lengths: DatasetLengths


def calibration_path(which: str | Path | None) -> Path | None:
    """The file ``which`` names (None for the defaults: ``"none"``, or no shipped file)."""
    if which is not None and str(which) == "none":
        return None
    path = BUNDLED if which is None else path_argument(which, "calibration", "a calibration YAML path or 'none'")
    return None if which is None and not path.exists() else path


def load_calibration_file(which: str | Path | None = None) -> CalibrationFile:
    """The calibration and the data-set lengths of a file (see the module docstring)."""
    path = calibration_path(which)
    if path is None:
        return CalibrationFile(Calibration(), DatasetLengths())
    try:
        st = os.stat(path)
    except OSError:
        return _parse(str(path), 0, 0)  # raises SpecError naming the file
    return _parse(str(path), st.st_mtime_ns, st.st_size)


def load_calibration(which: str | Path | None = None) -> Calibration:
    """``None`` -> the shipped calibration (defaults if none shipped); ``"none"`` -> the
    uncalibrated defaults; otherwise a path to a YAML written by ``inferchip calibrate``."""
    return load_calibration_file(which).calibration


def calibration_label(which: str | Path | None = None) -> str:
    """Which calibration ``which`` (as :func:`load_calibration` takes it) is, in words, for a command's output: the
    shipped file, the defaults (``"none"``), or the user's file with what ``inferchip calibrate`` fitted it on (the
    first clause of its ``fitted_on``). A fitted file of one's own and the shipped one both say ``fitted``
    elsewhere, so without this the output did not show whether ``--calibration FILE`` was used."""
    path = calibration_path(which)
    if path is None:
        return "none: the parameters' defaults (spec/calibration.py), not fitted"
    cal = load_calibration(which)
    if which is None:
        return f"the shipped {path.parent.name}/{path.name}" + (" (fitted)" if cal.fitted else " (not fitted)")
    if not cal.fitted:
        return f"{which} (not fitted: its values as written)"
    on = (cal.fitted_on or "").split(";")[0].strip()
    return f"{which}, fitted on {on}" if on else f"{which} (fitted)"


def load_dataset_lengths(which: str | Path | None = None) -> DatasetLengths:
    """The MLPerf mean input lengths stored with the calibration ``which`` (defaults for ``"none"``)."""
    return load_calibration_file(which).lengths


@lru_cache(maxsize=32)
def _parse(path: str, mtime_ns: int, size: int) -> CalibrationFile:
    """The calibration in ``path`` (cached by path, modification time and size)."""
    data = read_mapping(Path(path))
    lengths: dict[str, Any] = {}
    if LENGTHS_KEY in data:
        lengths["mean_input_tokens"] = data.pop(LENGTHS_KEY)
    return CalibrationFile(validate(Calibration, data, path),
                           validate(DatasetLengths, lengths, f"{path}: {LENGTHS_KEY}"))


def save_calibration(cal: Calibration, path: Path, lengths: DatasetLengths | None = None) -> None:
    """Write ``cal`` (and the data-set lengths, if given) atomically: a failed run leaves no
    half-written file. The lengths follow ``memory_utilization_fraction``, as ever."""
    fields = cal.model_dump(mode="json")
    data: dict[str, Any] = {}
    for key, value in fields.items():
        data[key] = value
        if key == "memory_utilization_fraction" and lengths is not None:
            data[LENGTHS_KEY] = dict(lengths.mean_input_tokens)
    import yaml  # imported here: reading a calibration does not need PyYAML when it is cached

    write_text(Path(path), yaml.safe_dump(data, sort_keys=False), f"calibration {path}")
