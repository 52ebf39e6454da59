"""validation/closed_loop.py split by concept: what a closed-loop row states (closed_loop_facts.py: engine, workers,
pools, layout checks) is read without the serving simulator; the simulated benchmark (closed_loop.py) re-exports those
names, so every earlier import of them from closed_loop still gets the same objects."""

from __future__ import annotations

import ast
from pathlib import Path

import inferchip.validation.closed_loop as bench
import inferchip.validation.closed_loop_facts as facts

SRC = Path(facts.__file__)


def test_the_row_facts_do_not_import_the_simulator():
    tree = ast.parse(SRC.read_text(encoding="utf-8"))
    mods = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module} | {
        a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert not {m for m in mods if m.startswith(("inferchip.sim", "inferchip.performance"))}, mods


def test_the_benchmark_module_reexports_the_same_facts():
    for name in ("PROMPTS_PER_CLIENT", "EngineRowError", "RowFacts", "Worker", "check_row", "check_span",
                 "engine_row_calibration", "row_facts"):
        assert getattr(bench, name) is getattr(facts, name), name


def test_the_row_facts_and_an_energy_rows_calibration_load_no_simulator_at_all():
    """Transitively too (the test above reads one file's own imports): importing the row facts, or the calibration
    an energy row is predicted with (validation.moe_kernels), loads no module of inferchip.sim."""
    import subprocess
    import sys

    code = ("import sys, inferchip.validation.closed_loop_facts, inferchip.validation.moe_kernels as k\n"
            "from inferchip.catalog.calibration_file import load_calibration\n"
            "k.run_calibration(load_calibration(None), {'software': 'vLLM', 'case_id': 'x', 'notes': ''}, True,\n"
            "                  'nvidia-hopper')\n"
            "print(sorted(m for m in sys.modules if m.startswith('inferchip.sim')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout
