"""The bundled vision networks (``catalog/vision/*.yaml``) and the vision calibration file.

A network file is a :class:`~inferchip.spec.vision.VisionNetworkSpec`: shapes and graph steps only,
each with its sources. :mod:`inferchip.workload.vision.network` expands the steps into layers.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from inferchip.catalog.yaml_io import exists, is_file, not_a_file, read_mapping, validate
from inferchip.errors import SpecError, UnknownIdError
from inferchip.input_files import user_path
from inferchip.spec.vision import VisionCalibration, VisionNetworkSpec

VISION_DIR = Path(__file__).with_name("vision")
CALIBRATION_FILE = VISION_DIR / "calibration.yaml"
VISION_CASES_FILE = VISION_DIR / "vision_cases.csv"


@lru_cache(maxsize=1)
def _bundled() -> dict[str, Path]:
    out: dict[str, Path] = {}
    for p in sorted(VISION_DIR.glob("*.yaml")):
        if p.name == CALIBRATION_FILE.name:
            continue
        out[str(read_mapping(p).get("id", p.stem))] = p
    return out


def vision_network_ids() -> list[str]:
    """Ids of the bundled vision networks, sorted."""
    return sorted(_bundled())


def is_vision_network(given: str) -> bool:
    """True for a bundled vision network id."""
    return given.strip() in _bundled()


def _load(path: Path) -> VisionNetworkSpec:
    """Parsed once per (path, modification time, size): a user's edited network file is read again."""
    stat = path.stat()
    return _load_version(path, stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=64)
def _load_version(path: Path, mtime_ns: int, size: int) -> VisionNetworkSpec:
    return validate(VisionNetworkSpec, read_mapping(path), str(path))


def load_network_spec(id_or_path: str | Path) -> VisionNetworkSpec:
    """A bundled network by id, or a network YAML by path; unknown id -> UnknownIdError with the closest ids."""
    given = str(id_or_path).strip()
    bundled = _bundled()
    if given in bundled:
        return _load(bundled[given])
    path = user_path(given)
    if given.endswith((".yaml", ".yml")):
        if is_file(path):
            return _load(path.resolve())
        if exists(path):  # a folder, a pipe or a device: say which, not "no such file" (stop 45's fuzz)
            raise SpecError(not_a_file(path, "network", "a bundled network id, a network YAML or a FILE.onnx"))
        raise SpecError(f"{given}: no such network YAML file (a bundled network id, a network YAML or a "
                        "FILE.onnx; `inferchip models` lists the bundled ones)")
    allowed = "a vision network id of `inferchip models`, a network YAML or a FILE.onnx"
    path_like = "/" in given or "\\" in given or given.endswith(".json")
    if path_like and is_file(path):  # a file, but not a .yaml (or .onnx, read elsewhere)
        raise SpecError(f"{given}: not a network file (its name ends neither in .yaml/.yml nor .onnx); allowed: "
                        f"{allowed}")
    if path_like and exists(path):  # a folder or a device, not a network file
        raise SpecError(not_a_file(path, "network", allowed))
    raise UnknownIdError("vision network", given, bundled, listing="inferchip models")


def load_vision_calibration(which: str | Path | None = None) -> VisionCalibration:
    """The shipped vision calibration (``which`` None), the uncalibrated defaults (``"none"``), or a file.
    A file is parsed once per (path, modification time, size)."""
    if which is not None and str(which) == "none":
        return VisionCalibration()
    path = CALIBRATION_FILE if which is None else Path(which)
    if which is None and not path.exists():
        return VisionCalibration()
    try:
        st = path.stat()
    except OSError:
        return validate(VisionCalibration, read_mapping(path), str(path))  # read_mapping names the problem
    return _calibration_cached(path.resolve(), st.st_mtime_ns, st.st_size)


@lru_cache(maxsize=16)
def _calibration_cached(path: Path, mtime_ns: int, size: int) -> VisionCalibration:
    return validate(VisionCalibration, read_mapping(path), str(path))
