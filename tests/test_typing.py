"""The cost model and the mapping pass ``mypy --strict`` (skipped where mypy is not installed)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "inferchip"


def test_cost_and_mapping_pass_mypy_strict():
    pytest.importorskip("mypy")
    out = subprocess.run([sys.executable, "-m", "mypy", "--strict", "--no-error-summary", str(SRC / "cost"),
                          str(SRC / "mapping")], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
