"""The most requests/s a served system can complete, from the step model its simulation runs, and the open-loop
verdict it gives: an offered rate plainly above it is saturated, whatever the run's length.

**The bound** (:func:`capacity_bound`). A request of ``o`` output tokens takes its first from its prompt's last
prefill step and each of the other ``o - 1`` from one decode step, where it is one of the step's ``b`` decode
sequences. A step of ``b`` decode sequences takes at least ``t(b)``, the step model's time for ``b`` decode tokens
attending to ``b x i_min`` cached tokens (``i_min``: the shortest prompt, a context no decoding sequence is below)
and nothing else: prefill tokens, longer contexts, padding, swaps and the engine's intake only lengthen a step
(:meth:`~inferchip.performance.serving.ServingStepModel.step_time_s`, the model the simulator's steps are priced by,
TDP stretch included). ``b`` is at most the replica's running-batch cap (``max_num_seqs``, the scheduler's) and
what its KV cache admits (its blocks over the blocks of the shortest prompt). So a replica emits at most
``max_b b / t(b)`` decode tokens per second (``b`` every whole batch up to that limit: the GEMM tile rule makes
``t`` jump, so the best batch need not be the largest), and the system completes at most ``replicas x max_b
b / t(b) / (mean o - 1)`` requests/s: ``(the batch limit) / (the fastest request's decode time at that batch)``
with fixed lengths. It counts no prefill time, so it is an upper bound, not an estimate: Llama-3.1-8B on one
H100 at 1,024/1,024 tokens, 11.2 requests/s, where the simulator's saturated run completes 5.7.

**The verdict** (:func:`with_capacity`). An open loop offered ``rate`` requests/s above ``bound /``
:data:`OVER_CAPACITY_RATIO` is saturated: its requests arrive faster than any window of the run can complete
them, so its queue grows whatever the run's length. The ratio is the one the run's own saturation test reads
(:data:`~inferchip.sim.results.metrics.SATURATION_COMPLETION_RATIO`: completions below 0.95 of the arrivals); above
the bound over it, every window long enough fails that test, since the completions cannot exceed the bound. The 5 %
also covers the simulator's step-time rounding (at most about 0.2 % an input, :mod:`inferchip.sim.step.steptime`),
by which a simulated step may run slightly faster than the model's. Below it the run's own test judges, and a
run whose ramp ends before its fastest request could finish stays too short to judge
(:func:`inferchip.sim.runs.slo.judge_run`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from inferchip.sim.results.metrics import SATURATION_COMPLETION_RATIO

if TYPE_CHECKING:
    from inferchip.performance.serving.step_model import ServingStepModel
    from inferchip.sim.batching.scheduler import SchedulerConfig

__all__ = ["OVER_CAPACITY_RATIO", "CapacityBound", "capacity_bound", "over_capacity", "with_capacity"]

OVER_CAPACITY_RATIO = SATURATION_COMPLETION_RATIO
"""An offered rate above ``bound / OVER_CAPACITY_RATIO`` is saturated (module docstring: the run's own saturation
test's share of the arrivals, and room for the simulator's step-time rounding)."""

CAPACITY_KEYS = ("capacity_requests_per_s", "capacity_batch_per_replica", "capacity_batch_limit",
                 "capacity_step_s", "capacity_rule", "offered_requests_per_s", "over_capacity")
"""The summary keys :func:`with_capacity` sets (None where there is no bound: a closed loop, a one-token answer)."""


@dataclass(frozen=True)
class CapacityBound:
    """The most requests/s a system completes (:func:`capacity_bound`): ``requests_per_s`` (all replicas),
    reached at ``batch`` decode sequences a replica (of at most ``batch_limit``, set by ``limit_source``), each
    decode step ``step_s`` long, for ``decode_tokens`` (mean output tokens - 1) steps a request."""

    requests_per_s: float
    batch: int
    batch_limit: int
    limit_source: str
    step_s: float
    decode_tokens: float
    replicas: int

    def text(self) -> str:
        """The bound and its terms in words."""
        return (f"{self.requests_per_s:,.3g} requests/s: {self.replicas:,} replica(s) x {self.batch:,} decode "
                f"sequences / ({self.decode_tokens:,.0f} decode steps of {self.step_s * 1e3:,.2f} ms each, at the "
                f"shortest context and no prefill); the batch at most {self.batch_limit:,} ({self.limit_source})")


def capacity_bound(step: ServingStepModel, replicas: int, config: SchedulerConfig, input_tokens_min: float,
                   output_tokens_mean: float) -> CapacityBound | None:
    """The most requests/s ``replicas`` replicas of ``step`` under scheduler ``config`` complete (module docstring),
    for requests of at least ``input_tokens_min`` prompt tokens and ``output_tokens_mean`` output tokens on average;
    None where the requests decode nothing (one output token: the bound is the prefill's, not counted here)."""
    decode = float(output_tokens_mean) - 1.0
    if not decode > 0 or not math.isfinite(decode):
        return None
    i_min = max(1, int(math.floor(input_tokens_min)))
    block = int(config.block_size_tokens)
    kv_seqs = (int(step.kv_capacity_tokens) // block) // (-(-i_min // block))  # blocks / the shortest prompt's
    cap = int(config.max_num_seqs)
    limit = max(1, min(cap, kv_seqs))
    source = (f"the running-batch cap, {cap:,}" if cap <= kv_seqs else
              f"the KV cache: {int(step.kv_capacity_tokens):,} tokens hold {kv_seqs:,} prompts of {i_min:,}")
    b = np.arange(1, limit + 1, dtype=float)
    t = np.asarray(step.step_time_s(b, b, b * i_min, np.zeros_like(b)), dtype=float)
    k = int(np.argmax(b / t))
    rate = float(b[k] / t[k]) * replicas / decode
    return CapacityBound(rate, int(b[k]), limit, source, float(t[k]), decode, int(replicas))


def over_capacity(rate_per_s: float | None, bound: CapacityBound | None) -> bool:
    """Whether an offered ``rate_per_s`` is above ``bound`` by more than :data:`OVER_CAPACITY_RATIO` allows."""
    if rate_per_s is None or bound is None or not math.isfinite(rate_per_s):
        return False
    return rate_per_s * OVER_CAPACITY_RATIO > bound.requests_per_s


def with_capacity(summary: dict[str, Any], rate_per_s: float | None, bound: CapacityBound | None) -> dict[str, Any]:
    """``summary`` (a run's, :meth:`SimResult.summary`) with the bound's keys (:data:`CAPACITY_KEYS`) and, where the
    offered ``rate_per_s`` is over it (:func:`over_capacity`), ``saturated`` True: the load is more than the system
    completes, whatever the run's length (its own queue test is ``queue_growing``'s, unchanged)."""
    over = over_capacity(rate_per_s, bound)
    out = {**summary,
           "capacity_requests_per_s": None if bound is None else bound.requests_per_s,
           "capacity_batch_per_replica": None if bound is None else bound.batch,
           "capacity_batch_limit": None if bound is None else bound.batch_limit,
           "capacity_step_s": None if bound is None else bound.step_s,
           "capacity_rule": None if bound is None else bound.text(),
           "offered_requests_per_s": rate_per_s, "over_capacity": over}
    if over:
        out["saturated"] = True
    return out
