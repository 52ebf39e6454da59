"""Independent random streams derived from one seed.

Every random quantity of a simulation draws from its own named stream, so changing
one setting (say the arrival rate) leaves the others (the request lengths) unchanged:
common random numbers, which make rate searches monotone and comparisons fair.
No global RNG is touched.
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np


class Stream(IntEnum):
    """Named random streams; the value is part of the stream's seed, so never renumber."""

    ARRIVALS = 0
    INPUT_TOKENS = 1
    OUTPUT_TOKENS = 2


def stream(seed: int, which: Stream) -> np.random.Generator:
    """A numpy Generator for ``which``, fully determined by ``(seed, which)``."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([int(seed), int(which)])))
