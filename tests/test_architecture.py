"""Data flows one way: each layer imports only the layers before it (and the foundation)."""

from __future__ import annotations

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "src" / "inferchip"
FOUNDATION = {"units", "sources", "errors"}
LAYERS = ["spec", "catalog", "workload", "mapping", "cost", "sim", "analysis", "interfaces"]


def _layer_of(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "inferchip" or len(parts) < 2:
        return None
    return parts[1]


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append((node.lineno, node.module))
            out += [(node.lineno, f"{node.module}.{a.name}") for a in node.names if node.module == "inferchip"]
    return out


def test_every_module_belongs_to_a_layer():
    for path in PKG.rglob("*.py"):
        rel = path.relative_to(PKG).parts
        if len(rel) == 1:
            assert rel[0][:-3] in FOUNDATION | {"__init__", "__main__"}, f"{path}: top-level module outside the foundation"
        else:
            assert rel[0] in LAYERS, f"{path}: folder {rel[0]} is not a layer of {LAYERS}"


def test_layers_import_only_earlier_layers():
    bad = []
    for path in PKG.rglob("*.py"):
        rel = path.relative_to(PKG).parts
        own = rel[0][:-3] if len(rel) == 1 else rel[0]
        own_rank = -1 if own in FOUNDATION or own in ("__init__", "__main__") else LAYERS.index(own)
        for lineno, mod in _imports(path):
            layer = _layer_of(mod)
            if layer is None or layer in FOUNDATION:
                continue
            if layer not in LAYERS:
                continue
            if own_rank == -1 and own in FOUNDATION:
                bad.append(f"{path}:{lineno} foundation module imports {mod}")
            elif LAYERS.index(layer) > own_rank and own not in ("__init__", "__main__"):
                bad.append(f"{path.relative_to(PKG)}:{lineno} ({own}) imports later layer {mod}")
    assert not bad, "\n".join(bad)


def test_the_checker_catches_a_violation(tmp_path):
    src = tmp_path / "m.py"
    src.write_text("from inferchip.interfaces.cli import main\n")
    assert (1, "inferchip.interfaces.cli") in _imports(src)
    assert LAYERS.index(_layer_of("inferchip.interfaces.cli")) > LAYERS.index("cost")
