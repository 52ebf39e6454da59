"""Every worker pool stops soon after a real SIGTERM (the CLI's handler raises Terminated, exit 143): the
tasks not started are cancelled and the workers stopped (inferchip.pools.stopping_pool; explore's
multiprocessing pool terminated), instead of the pool waiting for the queued tasks. Checked on calibrate's
leave-one-out folds, the review's pieces, the vision validation's forked jobs, the vision fit's folds,
validate's groups and explore's process pool: the first task sends SIGTERM to the command's process, each
task takes TASK_S (2 s) and logs when it ends; the command must end before the running tasks could (a pool's ``map``
cancels the tasks not yet handed to a worker, but its ``with`` block waited for the running ones and those
queued to them: a leave-one-out fold is a whole fit, minutes) and at most one task may end."""

from __future__ import annotations

import dataclasses
import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from inferchip.interfaces.cli_options.boundary import Terminated, on_signal
from inferchip.validation.cases import read_cases

sys.path.insert(0, str(Path(__file__).parent))
from test_calibrate_bad_rows import GOOD, _write  # noqa: E402

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="forked workers: Linux only")
TASKS = 12
# 12 tasks on 2 workers: 12 s if every queued task ran. 2 s per task, so that a loaded machine's slower shutdown
# (1.05 s seen with six suites running at once) still ends well before a running task could.
TASK_S = 2.0
LOG: Path | None = None  # where the tasks log (set by the test before the workers fork)


def _task(arg: Any = None) -> int:
    """One slow task in a worker: the first one to start sends SIGTERM to the command's process. (A spawned
    worker does not inherit LOG: its task names the log.)"""
    log = Path(arg) if isinstance(arg, str) and arg.endswith("done.txt") else LOG
    assert log is not None
    flag = log.with_suffix(".signalled")
    try:
        os.close(os.open(flag, os.O_CREAT | os.O_EXCL))
        os.kill(os.getppid(), signal.SIGTERM)
    except FileExistsError:
        pass
    time.sleep(TASK_S)
    with log.open("a") as fh:
        fh.write("done\n")
    return 0


def _stops_at_once(tmp_path: Path, run: Callable[[], object]) -> None:
    global LOG
    LOG = tmp_path / "done.txt"
    LOG.touch()
    with on_signal(), pytest.raises(Terminated):
        run()
    took = time.time() - LOG.with_suffix(".signalled").stat().st_mtime  # from the signal (workers may start slowly)
    time.sleep(1.5 * TASK_S)  # anything still running would end (and log) by now
    done = len(LOG.read_text().split())
    assert took < 0.75 * TASK_S, f"the command took {took:.1f} s to end after SIGTERM"
    assert done < 2, f"{done} of {TASKS} tasks ran to their end after SIGTERM"


def test_calibrate_folds_stop_on_sigterm(tmp_path, monkeypatch):
    from inferchip.validation import calibrate as cmod

    chips = ["nvidia-h100-sxm-80gb", "nvidia-h200-sxm-141gb", "nvidia-b200-180gb", "amd-mi300x", "amd-mi325x",
             "nvidia-a100-sxm-80gb", "nvidia-gh200-144gb", "nvidia-h100-nvl-94gb", "nvidia-h100-pcie-80gb",
             "amd-mi355x", "nvidia-b300-288gb", "nvidia-gb200-186gb"]
    base = read_cases(_write(tmp_path / "c.csv", [GOOD]))[0]
    cases = [dataclasses.replace(base, case_id=f"c{k}", accelerator=chip) for k, chip in enumerate(chips)]
    assert len(chips) == TASKS

    def quick_fit(rows, start, names=None, **_kw):  # the full fit in the parent: not what is tested
        p = cmod.as_point(start)
        return cmod.FitResult(p.calibration, p.lengths, list(names or []), [], len(rows), 0.0, 0)

    monkeypatch.setattr(cmod, "fit", quick_fit)
    monkeypatch.setattr(cmod, "_fold", _task)
    _stops_at_once(tmp_path, lambda: cmod.calibrate(cases, cross_validate=True, workers=2))


def test_review_pieces_stop_on_sigterm(tmp_path):
    from inferchip.review.parallel.pool import run_pieces

    if os.cpu_count() == 1:
        pytest.skip("one core: the pieces run here")
    _stops_at_once(tmp_path, lambda: run_pieces([lambda _report: _task() for _ in range(TASKS)], 2))


def test_vision_forked_jobs_stop_on_sigterm(tmp_path):
    from inferchip.validation.vision.forked import fork_map

    _stops_at_once(tmp_path, lambda: fork_map(_task, TASKS, 2))


def test_vision_fit_folds_stop_on_sigterm(tmp_path, monkeypatch):
    from inferchip.validation.vision import fit as fmod

    rows = [SimpleNamespace(case=SimpleNamespace(accelerator=f"chip{k}")) for k in range(TASKS)]
    monkeypatch.setattr(fmod, "_fit_fold", _task)
    _stops_at_once(tmp_path, lambda: fmod.leave_one_accelerator_out(rows, rows * fmod.MIN_FIT_ROWS, workers=2))


def test_validate_groups_stop_on_sigterm(tmp_path, monkeypatch):
    from inferchip.spec.calibration import Calibration
    from inferchip.validation import validate as vmod
    from inferchip.validation.results import CaseResult

    monkeypatch.setattr(vmod.Validator, "predict_case", lambda self, case: (_task(), CaseResult(case, "ok", ""))[1])
    base = read_cases(_write(tmp_path / "c.csv", [GOOD]))[0]
    cases = [dataclasses.replace(base, case_id=f"g{k}", num_accelerators=k + 1) for k in range(TASKS)]  # 12 groups
    _stops_at_once(tmp_path, lambda: vmod.validate_cases(cases, Calibration(), workers=2))


def test_explore_pool_stops_on_sigterm(tmp_path, monkeypatch):
    from inferchip.explore import run as rmod
    from inferchip.explore.executor import LocalExecutor

    if (os.cpu_count() or 1) < 2:
        pytest.skip("one core: the chunks run here")
    ex = LocalExecutor(2)

    def explore_like() -> None:  # as explore(): the executor closed in a finally, aborting on an exception
        finished = False
        try:
            ex.map(_task, [str(tmp_path / "done.txt")] * TASKS)
            finished = True
        finally:
            ex.close(abort=not finished)

    _stops_at_once(tmp_path, explore_like)
    # and explore() itself closes its executor so when its search is interrupted
    closed: list[bool] = []

    class Recording(LocalExecutor):
        def close(self, abort: bool = False) -> None:
            closed.append(abort)

    def interrupted(*_a: Any, **_k: Any) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(rmod, "make_executor", lambda *_a: Recording(1))
    monkeypatch.setattr(rmod, "grid", interrupted)
    monkeypatch.setattr(rmod, "search", interrupted)
    from inferchip.spec.design_space import DesignSpace

    with pytest.raises(KeyboardInterrupt):
        rmod.explore(DesignSpace.from_dict({"parameters": {"clock_ghz": [1.0, 2.0]}}), tmp_path / "run", 4)
    assert closed == [True]
