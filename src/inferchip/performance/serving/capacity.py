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
with fixed lengths: Llama-3.1-8B on one H100 at 1,024/1,024 tokens, 11.2 requests/s from decode steps alone.

**The prefill** (open53b). Each request also needs its prompt's ``i`` prefill tokens (``i``: the mean prompt), and a
step carries at most the scheduler's budget (``max_num_batched_tokens``) of decode and prefill tokens. A run's
``N`` completions in time ``T`` need ``N (o - 1)`` decode and ``N i`` prefill tokens, so for any weight ``w`` in
[0, 1], ``N <= sum over its steps of (w x decode tokens / (o - 1) + (1 - w) x prefill tokens / i)``, and
``N / T`` is at most the largest of that sum's terms per second of a step: ``max over (b, p) of (w b / (o - 1) +
(1 - w) p / i) / t(b, p)``, ``t(b, p)`` the step model's time of ``b`` decode sequences at the shortest context and
``p`` prefill tokens with the fewest attention pairs (each attends at least to itself). Every ``w`` gives a bound
(``w = 1``: the decode-only one); the least over ``w`` (a convex function of it, ternary-searched) is the bound,
the linear programme's dual (the mix of steps a scheduler could run is its primal). A step's time is summed in the
simulator exactly as the step model prices it, so the only assumptions are the ones above: more tokens, context or
pairs never shorten a step. It counts what a mixed step shares (the weights read once for its decode and prefill
tokens), where adding a lone prefill's time to the decode time would count the weights twice and could fall below
what a run completes. H100, Llama-3.1-8B 1,024/1,024: 11.2 -> 8.96 requests/s (the simulator's saturated run
completes 5.7); 8,192/64: 26.5 -> 4.40.

**The ramp** (:func:`with_capacity`'s ``ramp_s_needed``, :func:`ramp_e2es`). An open loop's first half is its ramp,
which the measurement window and the queue test skip (:meth:`~inferchip.sim.results.metrics.SimResult.ramp_s`). Its
requests in flight reach the load's ``L = rate x E2E`` (Little's law) only as the batch fills, and a fuller batch
lengthens every step, so the E2E of the requests the window reads is still rising where the ramp is short: the
window's completions then lag its arrivals and the queue test calls a load the system carries saturated (open53:
32 H100s at 100 requests/s of Llama-3.1-8B 1,024/1,024 for 30 s, a 15 s ramp and a 12.8 s median E2E, saturated;
120 s, not). :func:`steady_e2e_s` estimates a typical request's E2E on a replica running ``b`` sequences, from the
step model; the steady batch is the first ``b = (rate / replicas) x E2E(b)``, and ``rho = (rate / replicas) x
dE2E/db`` there says how a batch ``d`` above or below it carries over to the next E2E's batch: ``rho x d``.
Started empty, the E2E is ``E (1 - rho^(n+1))`` after ``n`` E2Es (linearised), so the window's requests, which
arrived from ``R - E`` (``R`` the ramp), complete a share about ``rho^(R/E) E / R`` short of their arrivals;
the queue test's share is ``1 -`` :data:`~inferchip.sim.results.metrics.SATURATION_COMPLETION_RATIO` (0.05), so the
ramp needed is ``x E`` with ``x`` the least ``>= 1`` where ``rho^x <= 0.05 x``: ``rho`` 0 -> 1 E2E, 0.34 (the 32
H100s above) -> 2.1, 0.69 (16 H100s) -> 4.2, and none where ``rho >= 1``. Where the estimate has no steady state
below the batch limit (``load_beyond_estimate``: an estimate, not a bound), a run whose queue grows is saturated (the
two agree), and one whose queue does not needs twice the longest E2E (:data:`RAMP_E2E_MULTIPLE`).

**The verdict** (:func:`with_capacity`). An open loop offered ``rate`` requests/s above ``bound /``
:data:`OVER_CAPACITY_RATIO` is saturated: its requests arrive faster than any window of the run can complete
them, so its queue grows whatever the run's length. The ratio is the one the run's own saturation test reads
(:data:`~inferchip.sim.results.metrics.SATURATION_COMPLETION_RATIO`: completions below 0.95 of the arrivals); above
the bound over it, every window long enough fails that test, since the completions cannot exceed the bound. The 5 %
also covers the simulator's step-time rounding (at most about 0.2 % an input, :mod:`inferchip.sim.step.steptime`),
by which a simulated step may run slightly faster than the model's. Below it the run's own test judges, and a
run whose ramp is shorter than its load needs (**the ramp**, below) stays too short to judge
(:func:`inferchip.sim.runs.slo.judge_run`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from inferchip.performance.phases import poisson_pmf
from inferchip.sim.batching.kv_cache import blocks_for
from inferchip.sim.results.metrics import SATURATION_COMPLETION_RATIO

if TYPE_CHECKING:
    from inferchip.performance.serving.step_model import ServingStepModel
    from inferchip.sim.batching.scheduler import SchedulerConfig

__all__ = ["OVER_CAPACITY_RATIO", "RAMP_E2E_MULTIPLE", "CapacityBound", "capacity_bound", "over_capacity",
           "steady_e2e_s", "with_capacity"]

OVER_CAPACITY_RATIO = SATURATION_COMPLETION_RATIO
"""An offered rate above ``bound / OVER_CAPACITY_RATIO`` is saturated (module docstring: the run's own saturation
test's share of the arrivals, and room for the simulator's step-time rounding)."""

CAPACITY_KEYS = ("capacity_requests_per_s", "capacity_batch_per_replica", "capacity_batch_limit",
                 "capacity_step_s", "capacity_rule", "offered_requests_per_s", "over_capacity",
                 "e2e_s_estimate", "load_beyond_estimate", "ramp_s_needed")
"""The summary keys :func:`with_capacity` sets (None where there is no bound: a closed loop, a one-token answer)."""


RAMP_E2E_MULTIPLE = 2.0
"""Where the step model's estimate has no steady state for the load (module docstring, **the ramp**), the ramp a run
whose queue does not grow needs, in E2Es of a request in a full batch: the window's first completions arrived one
E2E before the ramp's end, and they saw a full batch only where they arrived one E2E after the first arrival
(Little's law: the batch fills in one E2E), so ``R - E >= E``."""

WHOLE_LEVELS = 64
"""Batches and prefill tokens priced one by one up to this count, then :data:`LEVEL_RATIO` apart (:func:`_levels`)."""

LEVEL_RATIO = 1.02
"""Above :data:`WHOLE_LEVELS`, the decode batches and prefill tokens of steps carrying prefill are priced at levels
this far apart (a step between two priced at the lower + 1 and credited the upper: at most 2 % above the bound every
whole count would give, and still a bound); the steady-state estimate's batches too."""

TIME_BLOCK = 8192
"""Step-model evaluations per call in :func:`_times` (memory, not accuracy)."""

WEIGHT_SEARCH_STEPS = 60
"""Ternary-search steps for the weight of decode against prefill work (:func:`capacity_bound`): every weight
gives a bound, the search only finds the least."""


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
    prompt_tokens: float = 0.0
    decode_only_requests_per_s: float = math.inf
    step_tokens_max: int = 0
    e2e_s_by_batch: npt.NDArray[np.float64] = field(default_factory=lambda: np.zeros(0), compare=False, repr=False)
    e2e_batches: npt.NDArray[np.float64] = field(default_factory=lambda: np.zeros(0), compare=False, repr=False)

    def e2e_estimate(self, rate_per_s: float) -> tuple[float | None, float | None, float | None]:
        """(a typical request's end-to-end time at ``rate_per_s`` over the system, s, from the step model: the
        steady state of :func:`steady_e2e_s`, None where it has none below the batch limit; the longest such time,
        at the limit: what a request in a full batch takes; the feedback ``rho`` of that steady state, None without
        one), all None without a curve. Little's law at one replica: the batch ``b`` holds the requests that arrived
        over one E2E, ``b = (rate / replicas) x E2E(b)``, the first batch that holds its arrivals; ``rho = (rate /
        replicas) x dE2E/db`` there (a secant over the quarter of the batch below it, through the GEMM tile
        rule's jumps): a batch ``d`` above the steady one makes the next E2E's batch ``rho x d`` above it."""
        e2e = self.e2e_s_by_batch
        if e2e.size == 0 or not math.isfinite(rate_per_s):
            return None, None, None
        batch = self.e2e_batches
        per_replica = rate_per_s / self.replicas
        held = np.flatnonzero(per_replica * e2e <= batch)
        if not held.size:
            return None, float(e2e[-1]), None
        j = int(held[0])
        lo = int(np.searchsorted(batch, 0.75 * batch[j], side="right")) - 1  # the largest batch within 3/4 of it
        lo = (lo if 0 <= lo < j else j - 1) if j else min(1, e2e.size - 1)
        slope = 0.0 if lo == j else (float(e2e[j]) - float(e2e[lo])) / float(batch[j] - batch[lo])
        return float(e2e[j]), float(e2e[-1]), max(0.0, per_replica * slope)

    def text(self) -> str:
        """The bound and its terms in words."""
        return (f"{self.requests_per_s:,.3g} requests/s with each request's {self.prompt_tokens:,.0f} prompt tokens "
                f"priced in the steps that carry them (at most {self.step_tokens_max:,} tokens a step); decode "
                f"steps alone {self.decode_only_requests_per_s:,.3g}: {self.replicas:,} replica(s) x "
                f"{self.batch:,} decode sequences / ({self.decode_tokens:,.0f} decode steps of "
                f"{self.step_s * 1e3:,.2f} ms each, at the shortest context); the batch at most "
                f"{self.batch_limit:,} ({self.limit_source})")


def _levels(most: int) -> npt.NDArray[np.float64]:
    """Whole counts ``1 .. most``: each up to :data:`WHOLE_LEVELS`, then every :data:`LEVEL_RATIO` step (a step
    between two is priced at the lower + 1 and credited the upper: a step's time does not fall as its tokens or
    sequences rise, so that is a bound, within 2 % of the one every whole count gives)."""
    most = max(int(most), 1)
    head = np.arange(1, min(most, WHOLE_LEVELS) + 1, dtype=float)
    if most <= WHOLE_LEVELS:
        return head
    tail = np.round(np.geomspace(WHOLE_LEVELS, most, 2 + int(math.log(most / WHOLE_LEVELS) / math.log(LEVEL_RATIO))))
    return np.unique(np.concatenate((head, tail, [float(most)])))


def _times(step: ServingStepModel, tokens: Any, decode: Any, kv: Any, pairs: Any) -> npt.NDArray[np.float64]:
    """The step model's times of the broadcast arguments, priced :data:`TIME_BLOCK` at a time (the step model's
    arrays are many per element: a whole grid at once held gigabytes for an attention-DP replica)."""
    args = [np.asarray(a, dtype=float) for a in np.broadcast_arrays(tokens, decode, kv, pairs)]
    flat = [a.reshape(-1) for a in args]
    out = np.empty(flat[0].size)
    for lo in range(0, out.size, TIME_BLOCK):
        sl = slice(lo, lo + TIME_BLOCK)
        out[sl] = np.asarray(step.step_time_s(flat[0][sl], flat[1][sl], flat[2][sl], flat[3][sl]), dtype=float)
    return out.reshape(args[0].shape)


def sequences_held(step: ServingStepModel, block_size_tokens: int, tokens: int) -> int:
    """Sequences of ``tokens`` cached tokens the replica's KV cache holds: its blocks
    (:class:`~inferchip.sim.batching.kv_cache.BlockPool`: capacity // block size) over one sequence's
    (:func:`~inferchip.sim.batching.kv_cache.blocks_for`, at least one)."""
    return (int(step.kv_capacity_tokens) // block_size_tokens) // max(1, blocks_for(tokens, block_size_tokens))


def capacity_bound(step: ServingStepModel, replicas: int, config: SchedulerConfig, input_tokens_min: float,
                   output_tokens_mean: float, input_tokens_mean: float | None = None) -> CapacityBound | None:
    """The most requests/s ``replicas`` replicas of ``step`` under scheduler ``config`` complete (module docstring),
    for requests of at least ``input_tokens_min`` prompt tokens, ``input_tokens_mean`` on average (None: the
    shortest, so the prefill counted is the least any request has) and ``output_tokens_mean`` output tokens on
    average; None where the requests decode nothing (one output token: the bound is the prefill's, not counted
    here)."""
    decode = float(output_tokens_mean) - 1.0
    if not decode > 0 or not math.isfinite(decode):
        return None
    i_min = max(1, int(math.floor(input_tokens_min)))
    prompt = float(i_min if input_tokens_mean is None else max(float(input_tokens_mean), i_min))
    block = int(config.block_size_tokens)
    kv_seqs = sequences_held(step, block, i_min)  # the KV cache's blocks / the shortest prompt's
    cap = int(config.max_num_seqs)
    limit = max(1, min(cap, kv_seqs))
    source = (f"the running-batch cap, {cap:,}" if cap <= kv_seqs else
              f"the KV cache: {int(step.kv_capacity_tokens):,} tokens hold {kv_seqs:,} prompts of {i_min:,}")
    budget = int(config.max_num_batched_tokens)
    dec = np.arange(1, limit + 1, dtype=float)
    t0 = _times(step, dec, dec, dec * i_min, 0.0)
    decode_only = dec / t0  # decode steps with no prefill: the bound of open53 (every whole batch priced)
    k = int(np.argmax(decode_only))
    # steps with prefill: b decode sequences in (b_lo, b_hi] (0: none) x p prefill tokens in (lo, hi], priced at
    # b_lo + 1 sequences at the shortest context and lo + 1 tokens with the fewest attention pairs (each attends at
    # least to itself), credited b_hi sequences and the hi tokens the budget leaves them
    bl = np.concatenate(([0.0], _levels(limit)))
    b_lo, b_hi = np.concatenate(([0.0], bl[:-1] + 1))[:, None], bl[:, None]  # row 0: no decode sequence
    q = np.concatenate(([0.0], _levels(budget)))
    lo, hi = q[None, :-1], np.minimum(q[None, 1:], budget - b_lo)
    t = _times(step, b_lo + lo + 1, b_lo, b_lo * i_min, lo + 1)
    ok = hi > lo  # a step of b decode sequences has room for prefill tokens above lo
    a = np.concatenate((decode_only, (np.broadcast_to(b_hi, t.shape) / t)[ok])) / decode
    c = np.concatenate((np.zeros_like(decode_only), (np.broadcast_to(hi, t.shape) / t)[ok])) / prompt
    # a run's N requests need N x decode decode tokens and N x prompt prefill tokens, so for any w in [0, 1]
    # N <= sum over its steps of (w x decode tokens / decode + (1 - w) x prefill tokens / prompt) <= max over
    # step kinds of that per second x the run's time: the least such max over w (convex in w) is the bound
    lo_w, hi_w = 0.0, 1.0
    for _ in range(WEIGHT_SEARCH_STEPS):
        m1, m2 = lo_w + (hi_w - lo_w) / 3, hi_w - (hi_w - lo_w) / 3
        f1, f2 = float(np.max(m1 * a + (1 - m1) * c)), float(np.max(m2 * a + (1 - m2) * c))
        lo_w, hi_w = (lo_w, m2) if f1 <= f2 else (m1, hi_w)
    # the decode-only bound (every whole batch) is one too: the coarser levels' credit may exceed it at w = 1
    rate = min(min(float(np.max(w * a + (1 - w) * c)) for w in (lo_w, hi_w)), float(decode_only[k]) / decode) * replicas
    batches, e2e = steady_e2e_s(step, config, prompt, output_tokens_mean)
    return CapacityBound(rate, int(dec[k]), limit, source, float(t0[k]), decode, int(replicas),
                         prompt, float(decode_only[k]) * replicas / decode, budget, e2e, batches)


def steady_e2e_s(step: ServingStepModel, config: SchedulerConfig, input_tokens_mean: float,
                 output_tokens_mean: float) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """A typical request's end-to-end time (s) on one replica running ``b`` = 1, 2, ... sequences (index ``b - 1``,
    up to the running-batch cap and what the KV cache holds at the mean context): an estimate, not a bound, read
    with Little's law (:meth:`CapacityBound.e2e_estimate`). Its prompt takes its chunks' steps (``ceil(i / (budget -
    b))``, one for a prompt within the step budget) and each of its ``o - 1`` other tokens one step; every step
    carries ``b`` decode sequences at the mean context ``i + o / 2`` and, in the steady state, the prompts arriving
    as fast as requests finish: a Poisson number of mean ``b`` over a request's steps, ``k`` of them ``k x i``
    prefill tokens (within the budget), each prompt's ``i (i + 1) / 2`` attention pairs; a step's time is the step
    model's, averaged over ``k`` (a step that takes a prompt in is longer than one that does not: the mean of the
    steps, not the step of the mean prefill) (:meth:`ServingStepModel.step_time_s`). Empty for one-token
    answers (no decode step). Returns (the batches, their E2Es): every batch to 64, then 2 % apart."""
    i, o = float(input_tokens_mean), float(output_tokens_mean)
    decode = o - 1.0
    if not decode > 0 or not math.isfinite(decode) or not i > 0:
        return np.zeros(0), np.zeros(0)
    budget = int(config.max_num_batched_tokens)
    block = int(config.block_size_tokens)
    kv_seqs = sequences_held(step, block, int(math.ceil(i + o / 2)))
    limit = max(1, min(int(config.max_num_seqs), kv_seqs, budget))
    b = _levels(limit)[:, None]
    room = np.maximum(budget - b, 1.0)
    steps = decode + np.ceil(i / room)  # a request's steps
    mean = b / steps  # prompts a step takes in (requests finish, and so arrive, b per request's steps)
    most = int(np.max(mean + 8 * np.sqrt(mean))) + 8
    k = np.arange(0, most + 1, dtype=float)[None, :]
    share = poisson_pmf(mean[:, 0], most)
    share[:, -1] += np.maximum(1.0 - share.sum(axis=1), 0.0)  # the rest of the tail at the most a step takes
    prefill = np.minimum(k * i, room)  # k arriving prompts' tokens (Poisson), within the step's budget
    t = _times(step, b + prefill, b, b * (i + o / 2), prefill * (i + 1) / 2)
    return b[:, 0], np.asarray(steps[:, 0] * np.sum(share * t, axis=1), dtype=float)


def ramp_e2es(rho: float) -> float:
    """The ramp an open loop needs, in typical end-to-end times at its load (module docstring, **the ramp**): the
    least ``x >= 1`` with ``rho ** x <= (1 - SATURATION_COMPLETION_RATIO) x``; infinite where ``rho >= 1`` (no
    steady state to settle to)."""
    share = 1.0 - SATURATION_COMPLETION_RATIO
    if not rho < 1.0:
        return math.inf
    if rho <= share:
        return 1.0
    lo, hi = 1.0, 2.0
    while rho ** hi > share * hi:
        lo, hi = hi, 2 * hi
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if rho ** mid > share * mid else (lo, mid)
    return hi


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
    steady, longest, rho = (None, None, None) if bound is None or rate_per_s is None else \
        bound.e2e_estimate(rate_per_s)
    beyond = longest is not None and steady is None
    out = {**summary,
           "capacity_requests_per_s": None if bound is None else bound.requests_per_s,
           "capacity_batch_per_replica": None if bound is None else bound.batch,
           "capacity_batch_limit": None if bound is None else bound.batch_limit,
           "capacity_step_s": None if bound is None else bound.step_s,
           "capacity_rule": None if bound is None else bound.text(),
           "offered_requests_per_s": rate_per_s, "over_capacity": over,
           "e2e_s_estimate": steady, "load_beyond_estimate": beyond,
           "ramp_s_needed": None if longest is None else (
               longest * RAMP_E2E_MULTIPLE if steady is None or rho is None else steady * ramp_e2es(rho))}
    if over:
        out["saturated"] = True
    return out
