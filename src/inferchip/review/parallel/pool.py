"""Independent pieces of a review (one chip's cases, one sensitivity knob, one corner) in worker
processes, results in the order asked.

The workers are forked from the review's process, so they start with its imports, its catalogue
and its caches, and run the very functions (closures included) the serial loop would run: each
piece is one deterministic computation, so the results do not depend on the number of workers
(``tests/test_review_parallel.py`` compares one worker with two). Only the results travel back
(pickled). Progress messages a piece reports are collected in the worker and replayed in the
parent, in the pieces' order, as each piece's result arrives. A result that cannot be pickled makes the pieces
run again here, one after another.

Stages that follow one another but do not need each other's results share one pool: the pieces of
the later ones run ahead, after the current stage's (:func:`run_with_ahead`, :func:`run_ahead`), and
each later stage takes its results by key instead of running them (:func:`run_pieces` with ``keys``),
so no stage waits on its last piece while a worker idles.

Workers are forked only on Linux: macOS offers ``fork`` but its system libraries are not safe
in a child forked from a process with threads (Python's own default there is ``spawn``), and the
progress bar's refresh thread runs during the review. Elsewhere, or where one worker is asked
for, the pieces run here, one after another.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import sys
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from inferchip.pools import stopping_pool
from inferchip.review.inputs import OnProgress, no_progress

Piece = Callable[[OnProgress], Any]  # one piece of work: reports progress, returns a picklable result

_PIECES: Sequence[Piece] = ()  # the pieces of the running map (inherited by the forked workers)


def available_cores() -> int:
    """CPU cores this process may run on (its affinity mask where the OS has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def workers_for(jobs: int, pieces: int) -> int:
    """Worker processes for ``pieces`` pieces: ``jobs`` (0: every core there is), never more than
    the cores there are nor the pieces."""
    cores = available_cores()
    return max(1, min(cores if jobs <= 0 else jobs, cores, pieces))


# Results of pieces run ahead of the stage that asks for them (:func:`run_ahead`), by the stage's key.
_AHEAD: dict[Hashable, Any] = {}


def run_ahead(keyed: Sequence[tuple[Hashable, Piece]], jobs: int, on_progress: OnProgress = no_progress) -> None:
    """Run pieces of several later stages now, in one map (one pool: no stage waits for its last
    piece while the other workers idle), and keep each result for the stage that asks for it by
    its key (:func:`run_pieces` with ``keys``). Give the longest pieces first. Each key names what
    its piece computes (stage, chip, its inputs): a stage whose key differs computes its piece itself."""
    run_with_ahead([], keyed, jobs, on_progress)


def run_with_ahead(pieces: Sequence[Piece], keyed: Sequence[tuple[Hashable, Piece]], jobs: int,
                   on_progress: OnProgress = no_progress) -> list[Any]:
    """:func:`run_pieces` of ``pieces``, with the pieces of later stages (``keyed``) in the same map,
    after them: their results are kept as :func:`run_ahead` keeps them."""
    results = run_pieces([*pieces, *(p for _, p in keyed)], jobs, on_progress)
    _AHEAD.update(zip((k for k, _ in keyed), results[len(pieces):], strict=True))
    return results[:len(pieces)]


def forget_ahead() -> None:
    """Drop the results run ahead and not asked for (the end of a review)."""
    _AHEAD.clear()


def run_pieces(pieces: Sequence[Piece], jobs: int, on_progress: OnProgress = no_progress,
               keys: Sequence[Hashable] | None = None) -> list[Any]:
    """Each piece's result, in order; ``jobs`` workers (see :func:`workers_for`). ``keys``: each
    piece's key, under which :func:`run_ahead` may hold its result already (taken, not run again)."""
    if keys is not None and pieces:
        if all(k in _AHEAD for k in keys):
            return [_AHEAD.pop(k) for k in keys]
    n = workers_for(jobs, len(pieces))
    if n <= 1 or not sys.platform.startswith("linux") or "fork" not in multiprocessing.get_all_start_methods():
        return [p(on_progress) for p in pieces]
    global _PIECES
    _PIECES = pieces
    out: list[Any] = []
    try:
        # Ctrl-C, SIGTERM or a failed piece: the pieces not started are cancelled, the workers stopped
        with stopping_pool(ProcessPoolExecutor(n, mp_context=multiprocessing.get_context("fork"))) as ex:
            for result, messages in ex.map(_run, range(len(pieces))):
                for msg, units in messages:
                    on_progress(msg, units)
                out.append(result)
    except (pickle.PicklingError, TypeError, AttributeError):  # a result that cannot travel back: run them here
        return [p(on_progress) for p in pieces]  # (an error of the piece itself is raised again, here)
    finally:
        _PIECES = ()
    return out


def _run(i: int) -> tuple[Any, list[tuple[str, int]]]:
    """Piece ``i`` of the running map, in a worker: its result and its progress messages."""
    messages: list[tuple[str, int]] = []

    def report(msg: str, units: int = 1) -> None:
        messages.append((msg, units))

    return _PIECES[i](report), messages
