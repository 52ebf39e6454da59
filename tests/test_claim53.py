"""What an analyst checking a chip maker's claim ("best inference chip under 250B", Cerebras WSE-3) met (stop 53)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"


def _module_run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(SRC), os.environ.get("PYTHONPATH")]))}
    return subprocess.run([sys.executable, "-m", "inferchip", *args], capture_output=True, text=True, env=env,
                          timeout=120, check=False)


def test_python_dash_m_runs_the_command_with_its_exit_statuses():
    ok = _module_run("chips", "--name", "wse-3", "--format", "json")
    assert ok.returncode == 0, ok.stderr
    assert [c["id"] for c in json.loads(ok.stdout)] == ["cerebras-wse-3"]
    bad = _module_run("chips", "--vendor", "no-such-vendor")
    assert bad.returncode == 2
    assert bad.stderr.startswith("error:") and "--vendor" in bad.stderr
