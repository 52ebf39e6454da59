"""The review's independent pieces in worker processes (review.parallel.pool): the same results
with one worker or two, in the order asked, progress replayed, workers capped at the cores."""

from __future__ import annotations

import json
import os

import pytest

from inferchip.interfaces.cli import main
from inferchip.review.parallel import pool

L8 = "meta-llama/Llama-3.1-8B-Instruct"
SMALL = ["review", "--chips", "nvidia-h100-sxm-80gb,amd-mi300x", "--models", L8, "--slo", "batch"]


def _square_with_pid(x: int, report) -> tuple[int, int]:
    report(f"piece {x}", 1)
    return x * x, os.getpid()


def test_pieces_come_back_in_order_with_their_progress(monkeypatch):
    monkeypatch.setattr(pool, "available_cores", lambda: 2)
    seen: list[tuple[str, int]] = []
    pieces = [lambda report, x=x: _square_with_pid(x, report) for x in range(9)]
    got = pool.run_pieces(pieces, 2, lambda msg, n: seen.append((msg, n)))
    assert [v for v, _ in got] == [x * x for x in range(9)]
    assert seen == [(f"piece {x}", 1) for x in range(9)]
    if "fork" in pool.multiprocessing.get_all_start_methods():
        assert os.getpid() not in {pid for _, pid in got}  # really ran in workers


def test_one_worker_runs_here():
    got = pool.run_pieces([lambda report, x=x: _square_with_pid(x, report) for x in range(3)], 1)
    assert got == [(x * x, os.getpid()) for x in range(3)]


@pytest.mark.parametrize(("jobs", "pieces", "cores", "want"),
                         [(0, 10, 2, 2), (0, 1, 2, 1), (5, 10, 2, 2), (1, 10, 8, 1), (0, 10, 1, 1), (3, 2, 8, 2)])
def test_workers_never_exceed_the_cores_nor_the_pieces(monkeypatch, jobs, pieces, cores, want):
    monkeypatch.setattr(pool, "available_cores", lambda: cores)
    assert pool.workers_for(jobs, pieces) == want


def test_one_or_two_workers_give_the_same_review(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(pool, "available_cores", lambda: 2)
    out = {}
    for jobs in (1, 2, 99_999):
        folder = tmp_path / f"j{jobs}"
        capsys.readouterr()
        assert main([*SMALL, "--jobs", str(jobs), "--out", str(folder)]) == 0
        out[jobs] = json.loads((folder / "results.json").read_text())
        # more than the cores there are: capped, and a note says so (as validate --workers does)
        assert ("--jobs 99,999 capped" in capsys.readouterr().err) == (jobs == 99_999)
    # the parallel stages ran: chips, sensitivity knobs, corners, boundary points
    assert out[1]["verdict"]["sensitivity"] and out[1]["named_corners"] and out[1]["boundary_map"]
    assert out[1] == out[2] == out[99_999]


def test_negative_jobs_is_refused(tmp_path, capsys):
    assert main([*SMALL, "--jobs", "-1", "--out", str(tmp_path / "x")]) != 0
    assert "--jobs" in capsys.readouterr().err


def test_a_result_that_cannot_travel_back_is_computed_here(monkeypatch):
    monkeypatch.setattr(pool, "available_cores", lambda: 2)
    got = pool.run_pieces([lambda report, x=x: (x, lambda: x) for x in range(3)], 2)  # a lambda cannot be pickled
    assert [x for x, f in got] == [0, 1, 2] and [f() for _, f in got] == [0, 1, 2]
