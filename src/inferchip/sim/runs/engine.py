"""Minimal discrete-event queue with deterministic tie-breaking.

Entries are ordered by ``(time_s, priority, sequence)``: at equal times a lower
:class:`Priority` goes first, and at equal priority the entry pushed first goes first.
The kernel knows nothing about LLM serving (SimPy's design, written anew here).
"""

from __future__ import annotations

import heapq
import itertools
from enum import IntEnum
from typing import Generic, TypeVar

_Item = TypeVar("_Item")


class Priority(IntEnum):
    """Order of events that fall at the same instant.

    An arrival at the very instant a step starts is seen by that step's scheduler,
    as in a real engine that polls its queue when it forms the next batch.
    """

    ARRIVAL = 0
    STEP = 1


class EventQueue(Generic[_Item]):
    """Heap of ``(time_s, priority, sequence, item)``; ``pop`` returns ``(time_s, item)``."""

    __slots__ = ("_counter", "_heap")

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, int, _Item]] = []
        self._counter = itertools.count()

    def push(self, time_s: float, priority: Priority, item: _Item) -> None:
        heapq.heappush(self._heap, (time_s, int(priority), next(self._counter), item))

    def peek_time_s(self) -> float:
        """Time of the next entry, ``inf`` when empty."""
        return self._heap[0][0] if self._heap else float("inf")

    def pop(self) -> tuple[float, _Item]:
        time_s, _, _, item = heapq.heappop(self._heap)
        return time_s, item

    def __len__(self) -> int:
        return len(self._heap)
