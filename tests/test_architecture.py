"""Guard rails on the shape of the code.

Data flows one way: each layer imports only the layers before it (and the foundation).
The checker reads every import: absolute and relative (``from ..cost import x``), inside
functions too, and ``importlib.import_module("inferchip...")`` / ``__import__`` with a
literal name. No module imports itself back through others (no cycles), no module is longer
than 400 lines and no folder holds more than 16 modules: in the package, and in the script folders
tools/ (scripts grouped by purpose, ``tools/<folder>/<name>.py``) and benchmarks/. Every
``tools/<...>.py`` the repository's text names exists, and no text names a machine-local path.
Its self-tests run the checkers on small trees with known faults.
"""

from __future__ import annotations

import ast
import re
import tomllib
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PKG = REPO / "src" / "inferchip"
SCRIPT_ROOTS = [REPO / "tools", REPO / "benchmarks"]  # scripts, not a package: sizes only
FOUNDATION = {"units", "sources", "errors", "atomic_io", "input_files", "pools"}
LAYERS = ["spec", "catalog", "workload", "mapping", "cost", "sim", "performance", "validation", "review",
          "explore", "interfaces"]
MAX_MODULE_LINES = 400
MAX_MODULES_PER_FOLDER = 16
DYNAMIC_IMPORTERS = {"import_module", "__import__"}


def module_name(pkg: Path, path: Path) -> str:
    """Dotted name of ``path`` inside the package rooted at ``pkg`` (a package's ``__init__`` is the package)."""
    parts = [pkg.name, *path.relative_to(pkg).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _resolve_relative(current: str, is_package: bool, level: int, module: str | None) -> str:
    base = current.split(".")
    if not is_package:
        base = base[:-1]
    base = base[: len(base) - (level - 1)] if level > 1 else base
    return ".".join(base + ([module] if module else []))


def imports_of(pkg: Path, path: Path) -> Iterator[tuple[int, str]]:
    """(line, dotted module) of every import in ``path``, relative ones resolved, dynamic literal ones included.

    ``from a.b import c`` yields ``a.b`` and ``a.b.c`` (``c`` may be a module)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    current = module_name(pkg, path)
    is_package = path.name == "__init__.py"
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            mod = _resolve_relative(current, is_package, node.level, node.module) if node.level else (node.module or "")
            yield node.lineno, mod
            for alias in node.names:
                yield node.lineno, f"{mod}.{alias.name}"
        elif isinstance(node, ast.Call):
            f = node.func
            name = f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else ""
            if name in DYNAMIC_IMPORTERS and node.args and isinstance(node.args[0], ast.Constant) \
                    and isinstance(node.args[0].value, str):
                yield node.lineno, node.args[0].value


def _unit_of(pkg: str, module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != pkg or len(parts) < 2:
        return None
    return parts[1]


def layer_violations(pkg: Path, layers: list[str], foundation: set[str]) -> list[str]:
    """Imports of a later layer (or of any layer from the foundation), as readable lines."""
    bad = []
    for path in sorted(pkg.rglob("*.py")):
        rel = path.relative_to(pkg).parts
        own = rel[0][:-3] if len(rel) == 1 else rel[0]
        if own in ("__init__", "__main__"):
            continue  # the package's front door may import anything
        for lineno, mod in imports_of(pkg, path):
            unit = _unit_of(pkg.name, mod)
            if unit is None or unit in foundation or unit not in layers:
                continue
            if own in foundation:
                bad.append(f"{path.relative_to(pkg)}:{lineno} foundation module imports {mod}")
            elif layers.index(unit) > layers.index(own):
                bad.append(f"{path.relative_to(pkg)}:{lineno} ({own}) imports later layer {mod}")
    return bad


def import_cycles(pkg: Path) -> list[list[str]]:
    """Cycles among the package's modules (every import counts, in functions and TYPE_CHECKING blocks too)."""
    modules = {module_name(pkg, p): p for p in pkg.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        deps = set()
        for _, mod in imports_of(pkg, path):
            while mod and mod not in modules:
                mod = mod.rpartition(".")[0]
            if mod and mod != name and not name.startswith(mod + "."):  # a package's own __init__ is not a cycle
                deps.add(mod)
        graph[name] = deps
    cycles: list[list[str]] = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(n: str) -> None:
        state[n] = 1
        stack.append(n)
        for d in sorted(graph[n]):
            if modules[d].name == "__init__.py":
                continue  # importing a package's front door is not a dependency on its modules
            if state.get(d) == 1:
                cycles.append(stack[stack.index(d):] + [d])
            elif d not in state:
                visit(d)
        stack.pop()
        state[n] = 2

    for n in sorted(graph):
        if n not in state:
            visit(n)
    return cycles


def size_violations(pkg: Path, max_lines: int, max_modules: int) -> list[str]:
    """Modules over ``max_lines`` lines and folders over ``max_modules`` modules (``__init__`` not counted) under
    ``pkg``, a package or a folder of scripts."""
    bad = []
    for path in sorted(pkg.rglob("*.py")):
        n = len(path.read_text(encoding="utf-8").splitlines())
        if n > max_lines:
            bad.append(f"{path.relative_to(pkg)}: {n} lines (at most {max_lines})")
    for folder in sorted({p.parent for p in pkg.rglob("*.py")}):
        mods = [p for p in folder.glob("*.py") if p.name != "__init__.py"]
        if len(mods) > max_modules:
            bad.append(f"{folder.relative_to(pkg.parent)}: {len(mods)} modules (at most {max_modules})")
    return bad


TEXT_SUFFIXES = {".py", ".md", ".yaml", ".yml", ".csv", ".json", ".toml", ".txt", ".html", ".sh", ".cfg", ".ini",
                 ".svg"}
# A tool path that a text names: ``tools/<folder>/<name>.py`` (or a flat ``tools/<name>.py``, the layout before
# stop 26), not preceded by a path character (``vision/.../tools/x.py`` names another repository's file).
TOOL_REF = re.compile(r"(?<![\w/.-])tools/((?:\w+/)*\w+)\.py\b")
# Tool paths that are not this repository's: tools/runner_prompts.py (named in a dated record, a script of the branch
# runner-prompts, never merged), tools/retinanet_pytorch_to_onnx.py (mlcommons/inference's, docs/vision.md).
OTHER_TOOLS = {"tools/runner_prompts.py", "tools/retinanet_pytorch_to_onnx.py"}
MACHINE_PATHS = ("/work/", "/home/", "/root/", "/Users/")  # /tmp/ is allowed: scratch output in example commands
# Verbatim output of the peer program (AIConfigurator's exception messages name its own virtualenv).
MACHINE_PATH_EXEMPT = {"docs/data/aiconfigurator_peer_0.12.0.csv", "docs/data/aiconfigurator_peer_0.12.0_864.csv"}


def text_files(repo: Path, tops: Iterable[str]) -> Iterator[Path]:
    """``repo``'s top-level files ``tops`` and the text files (by suffix, or none: ``.ci/run``) of its top-level
    folders ``tops``, caches and builds left out."""
    for top in tops:
        path = repo / top
        if path.is_file():
            yield path
        for p in sorted(path.rglob("*")) if path.is_dir() else []:
            skip = {"__pycache__", "node_modules"} & set(p.parts) or any(x.endswith(".egg-info") for x in p.parts)
            if p.is_file() and (p.suffix in TEXT_SUFFIXES or not p.suffix) and not skip:
                yield p


def stale_tool_references(repo: Path, files: Iterable[Path], former: set[str]) -> list[str]:
    """Every ``tools/...py`` a file names that is not a file of ``repo`` (a flat name gets its new folder)."""
    where = {p.stem: p.relative_to(repo).as_posix() for p in (repo / "tools").rglob("*.py")}
    bad = []
    for path in files:
        for lineno, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            for m in TOOL_REF.finditer(line):
                ref = m.group(0)
                if ref in former or (repo / ref).is_file():
                    continue
                hint = f" (now {where[m.group(1)]})" if m.group(1) in where else ""
                bad.append(f"{path.relative_to(repo).as_posix()}:{lineno} names {ref}{hint}")
    return bad


def needle_mentions(repo: Path, files: Iterable[Path], needles: Iterable[str], exempt: set[str]) -> list[str]:
    bad = []
    for path in files:
        rel = path.relative_to(repo).as_posix()
        text = path.read_text(encoding="utf-8", errors="replace")
        bad += [f"{rel}: mentions {n}" for n in needles if n in text and rel not in exempt]
    return bad


# ------------------------------------------------------------------ the real package
def test_every_module_belongs_to_a_layer():
    for path in PKG.rglob("*.py"):
        rel = path.relative_to(PKG).parts
        if len(rel) == 1:
            assert rel[0][:-3] in FOUNDATION | {"__init__", "__main__"}, (
                f"{path}: top-level module outside the foundation")
        else:
            assert rel[0] in LAYERS, f"{path}: folder {rel[0]} is not a layer of {LAYERS}"


def test_layers_import_only_earlier_layers():
    bad = layer_violations(PKG, LAYERS, FOUNDATION)
    assert not bad, "\n".join(bad)


def test_no_import_cycles():
    cycles = import_cycles(PKG)
    assert not cycles, "\n".join(" -> ".join(c) for c in cycles)


def test_module_and_folder_sizes():
    bad = size_violations(PKG, MAX_MODULE_LINES, MAX_MODULES_PER_FOLDER)
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("root", SCRIPT_ROOTS, ids=lambda p: p.name)
def test_script_folder_sizes(root: Path):
    """tools/ and benchmarks/ keep the package's limits: scripts of one purpose per folder, at most 16 a folder, each
    at most 400 lines (both met when tools/ was grouped, stop 26: the longest tool 363 lines, benchmark 111)."""
    assert any(root.rglob("*.py")), f"{root}: no scripts (moved?)"
    bad = size_violations(root, MAX_MODULE_LINES, MAX_MODULES_PER_FOLDER)
    assert not bad, "\n".join(bad)


def test_named_tool_paths_exist():
    """Every ``tools/...py`` that the docs, the code, the tests and the build name is a file of tools/."""
    files = text_files(REPO, ["README.md", "Makefile", "pyproject.toml", ".ci", "docs", "src", "tools", "tests",
                              "benchmarks"])
    bad = [line for line in stale_tool_references(REPO, files, OTHER_TOOLS) if "test_architecture.py" not in line]
    assert not bad, "\n".join(bad)


def test_tests_read_no_files_outside_the_repository():
    """Tests use fixtures inside the repository: no ``../shared``, no machine paths."""
    files = [p for p in text_files(REPO, ["tests"]) if p.name != Path(__file__).name]
    bad = needle_mentions(REPO, files, ("../shared", '"shared"', "'shared'", *MACHINE_PATHS), set())
    assert not bad, "\n".join(bad)


def test_docs_code_and_tools_name_no_machine_paths():
    """What a reader or a fresh clone gets names no path of one machine (a venv, a scratch run, a home)."""
    files = text_files(REPO, ["README.md", "docs", "src", "tools"])
    bad = needle_mentions(REPO, files, MACHINE_PATHS, MACHINE_PATH_EXEMPT)
    assert not bad, "\n".join(bad)


# ------------------------------------------------------------------ the checker on a bad package
@pytest.fixture
def bad_pkg(tmp_path: Path) -> Path:
    pkg = tmp_path / "inferchip"
    for folder, files in {
        "spec": {"chip.py": "from ..interfaces import cli\n",  # relative import of a later layer
                 "model.py": "import importlib\nm = importlib.import_module('inferchip.cost.step')\n"},
        "cost": {"step.py": "def f():\n    from inferchip.cost import roofline\n",
                 "roofline.py": "from inferchip.cost.step import f\n"},  # a cycle through a function-level import
        "interfaces": {"cli.py": "from inferchip.spec.chip import x\n"},  # fine: earlier layer
    }.items():
        (pkg / folder).mkdir(parents=True)
        (pkg / folder / "__init__.py").write_text("")
        for name, text in files.items():
            (pkg / folder / name).write_text(text)
    (pkg / "__init__.py").write_text("")
    (pkg / "units.py").write_text("from inferchip.spec import chip\n")  # foundation importing a layer
    (pkg / "cost" / "big.py").write_text("x = 1\n" * 12)
    return pkg


def test_the_checker_catches_relative_dynamic_and_foundation_violations(bad_pkg: Path):
    bad = layer_violations(bad_pkg, ["spec", "cost", "interfaces"], {"units"})
    assert any(line.startswith("spec/chip.py:1") and "inferchip.interfaces" in line for line in bad), bad
    assert any(line.startswith("spec/model.py:2") and "inferchip.cost.step" in line for line in bad), bad
    assert any(line.startswith("units.py:1") and "foundation" in line for line in bad), bad
    assert not any(line.startswith("interfaces/") for line in bad), bad


def test_the_checker_catches_a_cycle(bad_pkg: Path):
    cycles = import_cycles(bad_pkg)
    assert any({"inferchip.cost.step", "inferchip.cost.roofline"} <= set(c) for c in cycles), cycles


def test_the_checker_catches_sizes(bad_pkg: Path):
    bad = size_violations(bad_pkg, max_lines=10, max_modules=2)
    assert any("cost/big.py: 12 lines" in line for line in bad), bad
    assert any("inferchip/cost: 3 modules" in line for line in bad), bad


def test_relative_imports_resolve():
    assert _resolve_relative("inferchip.spec.chip", False, 2, "cost") == "inferchip.cost"
    assert _resolve_relative("inferchip.spec", True, 1, "chip") == "inferchip.spec.chip"
    assert _resolve_relative("inferchip.spec.chip", False, 1, None) == "inferchip.spec"


def test_the_checker_catches_script_folder_sizes(tmp_path: Path):
    root = tmp_path / "tools"
    for folder, n in (("fit", 3), ("peer", 1)):
        (root / folder).mkdir(parents=True)
        for i in range(n):
            (root / folder / f"s{i}.py").write_text("x = 1\n" * (12 if folder == "peer" else 1))
    bad = size_violations(root, max_lines=10, max_modules=2)
    assert any(line.startswith("tools/fit: 3 modules") for line in bad), bad
    assert any(line.startswith("peer/s0.py: 12 lines") for line in bad), bad
    assert size_violations(root, max_lines=12, max_modules=3) == []


def test_the_checker_catches_stale_tool_paths_and_machine_paths(tmp_path: Path):
    (tmp_path / "tools" / "fit").mkdir(parents=True)
    (tmp_path / "tools" / "fit" / "fit_power.py").write_text("")
    (tmp_path / "docs").mkdir()
    flat, moved, foreign = "tools/" + "fit_power.py", "tools/fit/fit_power.py", "vision/tools/" + "onnx.py"
    (tmp_path / "docs" / "a.md").write_text(f"run `python {flat}`\nthen {moved}, {foreign}, tools/gone.py\n"
                                            "see tools/old.py\nsaved at /work/x.json, or /tmp/y.json\n")
    (tmp_path / "docs" / "peer.csv").write_text("at /home/me/venv\n")
    files = list(text_files(tmp_path, ["docs", "README.md"]))
    bad = stale_tool_references(tmp_path, files, {"tools/old.py"})
    assert bad == [f"docs/a.md:1 names {flat} (now {moved})", "docs/a.md:2 names tools/gone.py"], bad
    bad = needle_mentions(tmp_path, files, MACHINE_PATHS, {"docs/peer.csv"})
    assert bad == ["docs/a.md: mentions /work/"], bad


def strict_lint_gaps(makefile: str, pyproject: str) -> list[str]:
    """Layers that ``make lint`` does not run ``mypy --strict`` on, and mypy overrides that read a module with its
    errors silenced (``follow_imports`` silent or skip): what a later layer needed until it passed (stop 37)."""
    lint = re.search(r"^lint:.*?(?=^\S|\Z)", makefile, re.MULTILINE | re.DOTALL)
    line = (lint.group(0) if lint else "").replace("\\\n", " ")
    mypy = next((cmd for cmd in line.splitlines() if "mypy" in cmd and "--strict" in cmd), "")
    gaps = [f"make lint: no mypy --strict on src/inferchip/{layer}" for layer in LAYERS
            if f"src/inferchip/{layer}" not in mypy.split() and "src/inferchip" not in mypy.split()]
    for o in tomllib.loads(pyproject).get("tool", {}).get("mypy", {}).get("overrides", []):
        if o.get("follow_imports") in ("silent", "skip"):
            gaps.append(f"pyproject.toml: follow_imports = {o['follow_imports']!r} for {o.get('module')}")
    return gaps


def test_lint_checks_every_layer_strictly():
    gaps = strict_lint_gaps((REPO / "Makefile").read_text(encoding="utf-8"),
                            (REPO / "pyproject.toml").read_text(encoding="utf-8"))
    assert not gaps, "\n".join(gaps)


def test_the_checker_catches_a_layer_left_out_of_strict_lint():
    make = ("lint: deps\n\truff check src\n\tmypy --strict src/inferchip/spec \\\n\t\tsrc/inferchip/catalog\n"
            "\ntest: lint\n")
    toml = '[[tool.mypy.overrides]]\nmodule = ["inferchip.review.*"]\nfollow_imports = "silent"\n'
    gaps = strict_lint_gaps(make, toml)
    assert "make lint: no mypy --strict on src/inferchip/workload" in gaps, gaps
    assert not any(g.endswith(("/spec", "/catalog")) for g in gaps), gaps
    assert gaps[-1] == "pyproject.toml: follow_imports = 'silent' for ['inferchip.review.*']", gaps
    assert strict_lint_gaps("lint:\n\tmypy --strict src/inferchip\n", "") == []
