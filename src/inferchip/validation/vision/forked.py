"""Independent per-row jobs of the vision validation in forked processes (the rule the LOAO folds keep,
:func:`inferchip.validation.vision.fit.leave_one_accelerator_out`): on Linux only, since macOS's system libraries
are not fork-safe (as ``review/parallel/pool.py``); the job and its data are inherited by the workers, never
pickled; only the results travel back. Each job is seeded on its own, so the results equal the serial ones."""

from __future__ import annotations

import multiprocessing
import sys
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from inferchip.errors import InternalError
from inferchip.pools import stopping_pool

_JOB: Callable[[int], Any] | None = None


def fork_map(job: Callable[[int], Any], count: int, workers: int) -> list[Any]:
    """``[job(0), ..., job(count - 1)]``, in ``workers`` forked processes where that is allowed, else serially."""
    if workers > 1 and count > 1 and sys.platform.startswith("linux"):
        global _JOB
        _JOB = job
        try:
            ctx = multiprocessing.get_context("fork")
            with stopping_pool(ProcessPoolExecutor(min(workers, count), mp_context=ctx)) as pool:  # Ctrl-C: stop
                return list(pool.map(_run, range(count)))
        finally:
            _JOB = None
    return [job(k) for k in range(count)]


def _run(k: int) -> Any:
    if _JOB is None:
        raise InternalError("_run runs only in fork_map's forked workers, which inherit _JOB")
    return _JOB(k)
