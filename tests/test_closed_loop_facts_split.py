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
