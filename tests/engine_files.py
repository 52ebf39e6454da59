"""An engine catalogue written with one hardware record's section changed, for tests of the loader's refusals."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from inferchip.catalog.engines import ENGINES_FILE, HARDWARE_FILE


def engines_with_hardware_change(tmp_path: Path, section: str, change: dict[str, Any]) -> Path:
    """``engines.yaml`` under ``tmp_path``: the shipped engines with the shipped hardware records, the first record
    that has ``section`` (``defaults``, ``padding``) holding it updated with ``change``."""
    data = yaml.safe_load(ENGINES_FILE.read_text(encoding="utf-8"))
    hardware = [dict(r) for r in yaml.safe_load(HARDWARE_FILE.read_text(encoding="utf-8"))["hardware"]]
    rec = next(r for r in hardware if section in r)
    rec[section] = {**rec[section], **change}
    path = tmp_path / "engines.yaml"
    path.write_text(yaml.safe_dump({**data, "hardware": hardware}), encoding="utf-8")
    return path
