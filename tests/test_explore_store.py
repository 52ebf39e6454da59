"""The exploration run's store: resume after SIGKILL, foreign stores, workers, Ray, bad input."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from inferchip.errors import InvalidSettingError, SpecError
from inferchip.explore.designs import load_space
from inferchip.explore.executor import RayUnavailableError, make_executor
from inferchip.explore.run import explore
from inferchip.explore.store import STORE_FILE, ForeignStoreError, Store
from inferchip.interfaces.cli import main
from inferchip.spec.design_space import DesignSpace

DATA = Path(__file__).parent / "data"
MODELS = ["meta-llama/Llama-3.1-8B-Instruct"]
SPACE = {"parameters": {"matrix_units": [64, 128, 256, 512], "clock_ghz": [1.0, 1.5, 2.0],
                        "memory_units": [2, 4, 6, 8], "sram_mb": [16, 64, 256], "formats": ["bf16", "bf16+fp8"]}}
SRC = str(Path(__file__).resolve().parents[1] / "src")

# The run in a child process: prints one line per batch the search asks for (after its commit).
CHILD = textwrap.dedent("""
    import sys
    from inferchip.explore.run import explore
    from inferchip.spec.design_space import DesignSpace
    space = DesignSpace.from_dict({space!r})
    def step(done, new):
        print("batch", done, new, flush=True)
    explore(space, sys.argv[1], {budget}, seed=3, workers=1, models={models!r}, progress=step)
    print("end", flush=True)
""")


def _rows(out: Path) -> list[tuple]:
    import duckdb

    con = duckdb.connect(str(out / STORE_FILE), read_only=True)
    try:
        rows = con.execute("SELECT * FROM evaluations ORDER BY design_id, workload_id").fetchall()
        # NaN (a figure a design has not) compares unequal to itself: compare it as None
        return [tuple(None if isinstance(v, float) and v != v else v for v in r) for r in rows]
    finally:
        con.close()


def _child(out: Path, budget: int) -> subprocess.Popen:
    code = CHILD.format(space=SPACE, budget=budget, models=MODELS)
    env = {**os.environ, "PYTHONPATH": SRC}
    return subprocess.Popen([sys.executable, "-c", code, str(out)], stdout=subprocess.PIPE, text=True, env=env)


def test_a_run_killed_with_sigkill_resumes_to_exactly_the_uninterrupted_rows(tmp_path):
    budget = 120
    whole = tmp_path / "whole"
    p = _child(whole, budget)
    assert p.wait(timeout=600) == 0
    expected = _rows(whole)
    assert len(expected) == len({(r[0], r[1]) for r in expected}) > 0

    cut = tmp_path / "cut"
    p = _child(cut, budget)
    batches = 0
    assert p.stdout is not None
    for line in p.stdout:
        if line.startswith("batch") and int(line.split()[2]) > 0:
            batches += 1
            if batches == 3:  # a few batches committed, the search far from done
                os.kill(p.pid, signal.SIGKILL)
                break
    p.wait(timeout=60)
    assert p.returncode == -signal.SIGKILL
    partial = _rows(cut)
    assert 0 < len(partial) < len(expected)
    assert set(partial) <= set(expected)

    p = _child(cut, budget)  # the same command again
    out, _ = p.communicate(timeout=600)
    assert p.returncode == 0 and "end" in out
    assert _rows(cut) == expected


def test_same_seed_same_rows_whatever_the_workers(tmp_path):
    space = DesignSpace.from_dict(SPACE)
    explore(space, tmp_path / "one", 60, seed=5, workers=1, models=MODELS)
    explore(space, tmp_path / "two", 60, seed=5, workers=2, models=MODELS)
    assert _rows(tmp_path / "one") == _rows(tmp_path / "two")


def test_a_store_of_another_space_is_refused_and_kept(tmp_path):
    space = DesignSpace.from_dict(SPACE)
    explore(space, tmp_path / "run", 30, seed=1, models=MODELS)
    before = _rows(tmp_path / "run")
    other = DesignSpace.from_dict({"parameters": {**SPACE["parameters"], "clock_ghz": [1.0, 2.5]}})
    with pytest.raises(ForeignStoreError, match="another space"):
        explore(other, tmp_path / "run", 30, seed=1, models=MODELS)
    with pytest.raises(ForeignStoreError, match="other workloads"):
        Store(tmp_path / "run", space, ["x|batch"])
    assert _rows(tmp_path / "run") == before


def test_a_foreign_database_is_refused(tmp_path):
    import duckdb

    (tmp_path / "d").mkdir()
    con = duckdb.connect(str(tmp_path / "d" / STORE_FILE))
    con.execute("CREATE TABLE mine (x INTEGER)")
    con.close()
    with pytest.raises(ForeignStoreError, match="did not write"):
        Store(tmp_path / "d", DesignSpace.from_dict(SPACE), ["a|b"])


def test_budget_zero_is_refused_before_anything_is_written(tmp_path):
    with pytest.raises(InvalidSettingError, match="--budget"):
        explore(DesignSpace.from_dict(SPACE), tmp_path / "z", 0, models=MODELS)
    assert not (tmp_path / "z").exists()


def test_ray_missing_or_unreachable_is_a_clear_error():
    try:
        import ray  # noqa: F401
    except ModuleNotFoundError:
        with pytest.raises(RayUnavailableError, match=r"inferchip\[ray\]"):
            make_executor(True, None, 1)
        return
    with pytest.raises(RayUnavailableError, match="cannot connect"):
        make_executor(True, "10.255.255.1:1", 1)


def test_ray_runs_the_same_rows_as_the_local_pool(tmp_path):
    pytest.importorskip("ray", reason="Ray is an optional extra (pip install 'inferchip[ray]')")
    space = DesignSpace.from_dict(SPACE)
    explore(space, tmp_path / "local", 40, seed=2, workers=2, models=MODELS)
    explore(space, tmp_path / "ray", 40, seed=2, workers=2, use_ray=True, models=MODELS)
    assert _rows(tmp_path / "local") == _rows(tmp_path / "ray")


def test_ray_address_without_ray_is_refused():
    with pytest.raises(InvalidSettingError, match="--ray-address"):
        make_executor(False, "127.0.0.1:6379", 1)


def test_cli_bad_inputs_exit_with_a_message(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("parameters:\n  warp_drive: [1]\n")
    assert main(["explore", str(bad), "--out", str(tmp_path / "o")]) == 2
    assert "warp_drive" in capsys.readouterr().err
    assert main(["explore", str(DATA / "explore_space_small.yaml"), "--out", str(tmp_path / "o"),
                 "--budget", "0"]) == 2
    assert "--budget" in capsys.readouterr().err


def test_cli_grid_run_writes_store_and_page(tmp_path):
    out = tmp_path / "run"
    rc = main(["explore", str(DATA / "explore_space_small.yaml"), "--out", str(out), "--budget", "1000",
               "--models", ",".join(MODELS), "--workers", "1"])
    assert rc == 0
    space = load_space(DATA / "explore_space_small.yaml")
    rows = _rows(out)
    assert len(rows) == space.size * 2  # every design, both service levels
    assert (out / "explore.html").stat().st_size > 100_000


def test_space_file_errors_name_the_file(tmp_path):
    f = tmp_path / "s.yaml"
    f.write_text("parameters:\n  clock_ghz: {low: 2, high: 1, steps: 2}\n")
    with pytest.raises(SpecError, match=r"s\.yaml.*clock_ghz"):
        load_space(f)
