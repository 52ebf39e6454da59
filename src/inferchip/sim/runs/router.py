"""Route each arriving request to one replica.

``round_robin`` cycles through replicas in index order. ``least_loaded`` picks the
replica with the fewest requests in it (``Replica.load``: running, waiting or swapped out, and for an
engine replica that polls its queue the requests received but not yet scheduled) at the
arrival instant, the lowest index on ties, which is deterministic. ``random`` picks one
uniformly at random, blind to load (Dynamo's Python ``Client.generate``, which calls
``Client.random``: ai-dynamo/dynamo ``lib/bindings/python/rust/lib.rs``), from a generator seeded
with ``seed``, so a run is repeatable.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from inferchip.errors import InvalidSettingError
from inferchip.sim.batching.replica import Replica

ROUTERS = ("round_robin", "least_loaded", "random")


class Router:
    def __init__(self, policy: str, replicas: Sequence[Replica], seed: int = 0, stream: int = 0):
        """``seed``: the run's seed (an ``int`` or numpy integer); ``stream``: the pool's index, so that two
        pools routing at random draw different sequences (pool 0 draws from ``seed`` itself)."""
        if policy not in ROUTERS:
            raise InvalidSettingError(f"router: value {policy!r} is not known; allowed: {', '.join(ROUTERS)}")
        self.policy = policy
        self.replicas = list(replicas)
        self._next = 0
        self._rng = random.Random(int(seed) + 1_000_003 * int(stream))

    def choose(self) -> Replica:
        reps = self.replicas
        if len(reps) == 1:
            return reps[0]
        if self.policy == "round_robin":
            rep = reps[self._next]
            self._next = (self._next + 1) % len(reps)
            return rep
        if self.policy == "random":
            return reps[self._rng.randrange(len(reps))]
        best = reps[0]
        best_load = best.load
        for rep in reps[1:]:
            load = rep.load  # the replica's own count: an engine replica adds the requests its scheduler holds
            if load < best_load:
                best, best_load = rep, load
        return best
