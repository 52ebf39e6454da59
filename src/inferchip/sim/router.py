"""Route each arriving request to one replica.

``round_robin`` cycles through replicas in index order. ``least_loaded`` picks the
replica with the fewest requests in it (running, waiting or swapped out) at the
arrival instant, the lowest index on ties, which is deterministic.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from inferchip.errors import InvalidSettingError
from inferchip.sim.replica import Replica

RouterName = Literal["round_robin", "least_loaded"]
ROUTERS = ("round_robin", "least_loaded")


class Router:
    def __init__(self, policy: str, replicas: Sequence[Replica]):
        if policy not in ROUTERS:
            raise InvalidSettingError(f"router: value {policy!r} is not known; allowed: {', '.join(ROUTERS)}")
        self.policy = policy
        self.replicas = list(replicas)
        self._next = 0

    def choose(self) -> Replica:
        reps = self.replicas
        if len(reps) == 1:
            return reps[0]
        if self.policy == "round_robin":
            rep = reps[self._next]
            self._next = (self._next + 1) % len(reps)
            return rep
        best = reps[0]
        best_load = best.n_running + len(best.waiting) + len(best.swapped)
        for rep in reps[1:]:
            load = rep.n_running + len(rep.waiting) + len(rep.swapped)  # inlined Replica.load (hot path)
            if load < best_load:
                best, best_load = rep, load
        return best
