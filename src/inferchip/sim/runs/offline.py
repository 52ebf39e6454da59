"""A max-throughput run of one replica: every request sent at once (MLPerf Offline's one query), the engine's
scheduler admitting and preempting as it does, output tokens over the time to the last finish.

``waves`` times the sequences that run at once (``cap``) are simulated first: a start (every place taken at
once), a steady stretch (each finish admits the next request) and a drain (the queue empty, the batch thinning
out). The steady stretch runs from the ``cap``-th finish (the first wave done) to the last admission (the queue
empty); a run too short to have one takes its whole-run rate. That rate sizes the run (MLPerf: LoadGen's query at
the expected QPS). A run of fewer requests is simulated again whole; in a longer one the requests beyond those
simulated run at the steady rate: the span grows by ``extra / steady requests per s`` and the tokens by ``extra``
times the simulated mean output (:func:`offline_run`; Little's law, as the closed-loop benchmark's missing middle,
``sim.engines.bench.missing_span_s``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from inferchip.sim.results.metrics import SimResult

SIM_WAVES = 4  # requests simulated first: this many running-batch caps
MIN_SIMULATED = 400  # never fewer requests simulated (a small cap's steady stretch is otherwise a few finishes)


@dataclass(frozen=True)
class OfflineRun:
    """A burst run of ``requests`` requests on one replica, ``simulated`` of them simulated (``result``)."""

    result: SimResult
    simulated: int
    requests: int
    span_s: float  # first send to last finish, the whole run
    output_tokens: float  # the whole run's
    steady_tokens_per_s: float  # the steady stretch's (module doc)

    @property
    def tokens_per_s(self) -> float:
        return self.output_tokens / self.span_s if self.span_s > 0 else math.nan


def steady_tokens_per_s(res: SimResult, cap: int) -> float:
    """Output tokens per second of ``res`` from its ``cap``-th finish to its last admission (module doc); the
    whole run's where that stretch is empty."""
    r, st = res.requests, res.steps
    fin = np.sort(r["finish_s"][np.isfinite(r["finish_s"])])
    ends = st["start_s"] + st["duration_s"]
    tokens = float(st["emitted_tokens"].sum())
    t_b = float(np.max(r["first_scheduled_s"])) if r["first_scheduled_s"].size else 0.0
    t_a = float(fin[min(cap, fin.size) - 1]) if fin.size else 0.0
    if t_b > t_a:
        return float(st["emitted_tokens"][(ends > t_a) & (ends <= t_b)].sum()) / (t_b - t_a)
    span = float(fin[-1] - np.min(r["arrival_s"])) if fin.size else 0.0
    return tokens / span if span > 0 else math.nan


def offline_run(simulate: Callable[[int], SimResult], min_requests: int, cap: int,
                run_requests: Callable[[float], int], waves: int = SIM_WAVES) -> OfflineRun:
    """The burst run of one replica whose requests are ``run_requests(steady requests per s)`` and at least
    ``min_requests``; ``simulate(n)`` runs ``n`` requests sent at once; ``cap`` is the sequences that run at
    once (a wave: the scheduler's running-batch cap, or what the KV cache holds). The steady rate comes from
    ``waves`` waves of requests (at least ``MIN_SIMULATED``); a run of fewer requests than those is simulated again
    whole, a longer one extended at the steady rate (module doc)."""
    n_sim = max(MIN_SIMULATED, waves * cap)
    res = simulate(n_sim)
    steady = steady_tokens_per_s(res, cap)
    per_request = float(res.steps["emitted_tokens"].sum()) / n_sim
    steady_rate = steady / per_request if per_request > 0 else math.nan
    n = max(1, min_requests, run_requests(steady_rate) if math.isfinite(steady_rate) else 0)
    if n < n_sim:
        res, n_sim = simulate(n), n
    r = res.requests
    fin = r["finish_s"][np.isfinite(r["finish_s"])]
    span = float(fin.max() - np.min(r["arrival_s"])) if fin.size else math.nan
    tokens = float(res.steps["emitted_tokens"].sum())
    if n > n_sim and steady_rate > 0:
        span += (n - n_sim) / steady_rate
        tokens += (n - n_sim) * per_request
    return OfflineRun(res, n_sim, n, span, tokens, steady)
