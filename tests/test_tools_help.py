"""Every script under tools/ answers ``--help`` with its usage and exit 0, and does nothing else.

Stop 49's reading of the docs found three that did not: ``tools/vision/fit_vision_calibration.py --help`` started
the fit and would have rewritten the shipped vision calibration, ``tools/energy/fit_power.py --help`` started its
8-minute fit, ``tools/calibration/choose_server_model.py --help`` crashed with a ValueError. Each script now reads
its arguments with argparse before any work; this test runs all of them with ``--help`` in one interpreter (each
script's own folder first on ``sys.path``, as when it is run), each under a time limit, so a script that ignores
the flag and starts its job fails here instead of writing files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TOOLS = sorted(p for p in (ROOT / "tools").glob("*/*.py") if '__name__ == "__main__"' in p.read_text(encoding="utf-8"))
LIMIT_S = 20  # one script's --help: its imports and the parser; a job started by mistake runs past it

DRIVER = r"""
import contextlib, io, json, runpy, signal, sys, time
class Late(Exception): pass
def late(*_): raise Late()
signal.signal(signal.SIGALRM, late)
out = []
for path in json.loads(sys.argv[1]):
    folder = path.rsplit("/", 1)[0]
    sys.argv = [path, "--help"]
    sys.path.insert(0, folder)
    text, code, t0 = io.StringIO(), "returned", time.perf_counter()
    signal.alarm(LIMIT_S)
    try:
        with contextlib.redirect_stdout(text), contextlib.redirect_stderr(text):
            runpy.run_path(path, run_name="__main__")
    except SystemExit as e:
        code = e.code
    except Late:
        code = "ran past the limit"
    except BaseException as e:
        code = f"{type(e).__name__}: {e}"
    finally:
        signal.alarm(0)
        sys.path.remove(folder)
    out.append({"path": path, "code": code, "usage": text.getvalue().lstrip().startswith("usage:"),
                "s": time.perf_counter() - t0})
print(json.dumps(out))
""".replace("LIMIT_S", str(LIMIT_S))


def test_tools_are_found():
    assert len(TOOLS) >= 100, len(TOOLS)  # the folder holds ~100 scripts; a glob that finds none passes nothing


def test_every_tool_answers_help_and_does_nothing_else(tmp_path):
    before = {p: p.stat().st_mtime_ns for p in (ROOT / "src" / "inferchip" / "catalog").rglob("*") if p.is_file()}
    res = subprocess.run([sys.executable, "-c", DRIVER, json.dumps([str(p) for p in TOOLS])], capture_output=True,
                         text=True, cwd=tmp_path, timeout=LIMIT_S * 12 + 240)
    assert res.returncode == 0, res.stderr[-3000:]
    rows = json.loads(res.stdout.strip().splitlines()[-1])
    assert len(rows) == len(TOOLS)
    bad = [f"{Path(r['path']).relative_to(ROOT)}: exit {r['code']!r}, usage printed: {r['usage']}" for r in rows
           if r["code"] != 0 or not r["usage"]]
    assert not bad, "\n".join(bad)
    after = {p: p.stat().st_mtime_ns for p in (ROOT / "src" / "inferchip" / "catalog").rglob("*") if p.is_file()}
    assert after == before  # no shipped file written (the vision fit's --help once replaced its calibration)
    assert not any(tmp_path.iterdir())  # nor anything in the folder it ran from
