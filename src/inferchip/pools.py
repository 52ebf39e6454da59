"""Worker pools that stop at once on Ctrl-C, SIGTERM or a failed task.

A ``with ProcessPoolExecutor() as pool`` block shuts the pool down with ``wait=True`` on any exit, so an
interrupt (the CLI turns SIGTERM into :class:`~inferchip.interfaces.cli_options.boundary.Terminated`) waits for
every queued task before the command can end: `validate` took 80 s to end after a SIGTERM at 20 s of the
4,776 closed-loop rows, having done all the work. :func:`stopping_pool` cancels the tasks not started
(``shutdown(cancel_futures=True)``) and kills the worker processes (as Python 3.14's
``ProcessPoolExecutor.kill_workers``; SIGKILL, not SIGTERM: a forked worker inherits the CLI's SIGTERM
handler, which would only end its current task, and it would take the next one already queued to it), so
nothing more is computed and no worker outlives the command. The workers only compute: results travel back
to the parent, which alone writes files (atomically, :mod:`inferchip.atomic_io`), so no output is left
half-written.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager

THREAD_JOIN_S = 2.0  # at most this long for the pool's own thread to end after its workers are killed (ms in practice)


@contextmanager
def stopping_pool(pool: ProcessPoolExecutor) -> Iterator[ProcessPoolExecutor]:
    """``pool`` for a ``with`` block: on a normal exit shut down waiting for its tasks (all are done);
    on an exception (KeyboardInterrupt, the CLI's Terminated, a failed task) cancel the tasks not started,
    stop the running ones and re-raise without waiting."""
    try:
        yield pool
    except BaseException:
        stop(pool)
        raise
    pool.shutdown()


def stop(pool: ProcessPoolExecutor) -> None:
    """Cancel ``pool``'s tasks not started, end its workers, and let its thread see both (a moment: it ends as
    soon as it finds the workers gone). The order and the wait matter on CPython 3.11: the pool's thread
    drops the cancelled tasks (``Executor.map`` cancels its own on an exception) only while the pool object
    is alive, and failing a cancelled task raises InvalidStateError in that thread."""
    processes = list((getattr(pool, "_processes", None) or {}).values())  # CPython's workers, by pid
    thread = getattr(pool, "_executor_manager_thread", None)
    pool.shutdown(wait=False, cancel_futures=True)
    for p in processes:
        try:
            if p.is_alive():
                p.kill()
        except (OSError, ValueError):  # already reaped, or closed
            pass
    if thread is not None:
        thread.join(timeout=THREAD_JOIN_S)
