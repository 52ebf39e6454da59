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


def _never(report):
    raise AssertionError("a piece run ahead ran again")


def test_pieces_run_ahead_are_taken_by_their_keys_not_run_again():
    try:
        pool.run_ahead([(("a", 1), lambda report: 1), (("a", 2), lambda report: 2)], 1)
        assert pool.run_pieces([_never, _never], 1, keys=[("a", 2), ("a", 1)]) == [2, 1]
        assert pool.run_pieces([lambda r: 3], 1, keys=[("a", 1)]) == [3]  # taken once: computed again here
        pool.run_ahead([(("b", 1), lambda report: 1)], 1)
        # a key not run ahead: the stage's pieces all run here (another input, another key)
        assert pool.run_pieces([lambda r: 5, lambda r: 6], 1, keys=[("b", 1), ("b", 9)]) == [5, 6]
    finally:
        pool.forget_ahead()
    assert not pool._AHEAD


def test_pieces_ahead_share_the_pool_with_the_stage_and_come_back_in_order(monkeypatch):
    monkeypatch.setattr(pool, "available_cores", lambda: 2)
    seen: list[str] = []
    try:
        got = pool.run_with_ahead([lambda report, x=x: _square_with_pid(x, report) for x in range(3)],
                                  [((k,), lambda report, k=k: _square_with_pid(k, report)) for k in (7, 8)], 2,
                                  lambda msg, n: seen.append(msg))
        assert [v for v, _ in got] == [0, 1, 4]
        assert seen == ["piece 0", "piece 1", "piece 2", "piece 7", "piece 8"]
        assert [v for v, _ in pool.run_pieces([_never, _never], 2, keys=[(8,), (7,)])] == [64, 49]
    finally:
        pool.forget_ahead()


def test_every_judgement_stage_finds_its_pieces_run_ahead(tmp_path, monkeypatch):
    monkeypatch.setattr(pool, "available_cores", lambda: 2)
    asked: list[tuple[str, bool]] = []
    run = pool.run_pieces

    def recording(pieces, jobs, on_progress=pool.no_progress, keys=None):
        if keys:
            asked.append((keys[0][0], all(k in pool._AHEAD for k in keys)))
        return run(pieces, jobs, on_progress, keys)

    monkeypatch.setattr(pool, "run_pieces", recording)
    assert main([*SMALL, "--jobs", "2", "--out", str(tmp_path / "r")]) == 0
    assert {"corner", "boundary", "in-car"} <= {stage for stage, _ in asked}
    assert all(hit for _, hit in asked), asked
    assert not pool._AHEAD  # nothing left behind
