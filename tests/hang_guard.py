"""A time limit for tests of inputs that once hung (fuzz45): the block raises TimeoutError instead of running on.

SIGALRM-based, so it works on the main thread of a POSIX process, as pytest runs these tests."""
from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator


@contextlib.contextmanager
def time_limit(seconds: int) -> Iterator[None]:
    """Raise TimeoutError in the block once ``seconds`` of wall time have passed; the old handler is restored."""
    def fire(signum: int, frame: object) -> None:
        raise TimeoutError(f"still running after {seconds} s")

    old = signal.signal(signal.SIGALRM, fire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
