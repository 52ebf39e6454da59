"""One operating-point solver: a question (lengths, load, latency limits) on one mapped layout.

``predict`` (a fixed length, a static batch or the most throughput under limits) and the
validation (MLPerf length spreads, closed and open loops, beam search) both ask it.

* **Lengths** are a :class:`~inferchip.performance.question.LengthDist` and the question a
  :class:`~inferchip.performance.question.Question` (:mod:`inferchip.performance.question`, re-exported here).
* **Steady-state continuous batching** (:func:`steady_state`): the sequences in flight are
  length-biased (a long answer stays longer): their mean context is ``E[i] + E[o^2]/(2 E[o])``
  and each holds KV for ``E[i] + E[o^2]/E[o]`` tokens; new requests arrive at ``b / E[o]`` per
  step and each brings ``E[i (i+1) / 2]`` causal prefill pairs; where prompts join at random steps
  (:func:`random_admission`) TPOT is the mean of pure-decode and prompt-carrying steps (:func:`~inferchip.
  performance.phases.decode_step`), else the mean step (fixed lengths: exactly :func:`~inferchip.performance.
  phases.continuous_batch`). A Poisson arrival (``queue_wait``) also waits half an iteration on average.
* **Open loop at a rate**: the concurrency solves Little's law ``b = rate x E2E(b)`` per
  replica; above the predicted capacity the replica saturates.
* **Fewer sequences than replicas** (:func:`replica_load`): a static batch or closed loop of
  ``C`` sequences on ``R > C`` replicas runs them at batch 1 on ``C`` replicas while ``R - C``
  idle: the latency is batch 1's and the system makes ``C`` x one sequence's tokens/s (not a
  half-sequence batch). With ``C >= R`` each replica holds the mean ``C / R``: the real mix of
  ``floor(C/R)`` and ``ceil(C/R)`` differs from it only by the curvature of the step time in
  the batch (small where decode is bandwidth-bound: 0.04-0.3% in system tokens/s for Llama-3.1
  8B/70B on 8 H100s at 1.5 and 2.5 per replica), and a closed loop's router keeps moving
  sequences between replicas, so each holds ``C / R`` on average over time. Where a GEMM row
  tile boundary falls between the two batches the gap is larger (the steady state's mean rows
  per step are themselves an average); a static batch's last sequence ends with the
  ``ceil(C/R)`` replica, 0.4-1% after the mean's in the same cases.

The point carries the :class:`~inferchip.performance.phases.PhaseMetrics` it was read from
(the step costs, the prefill chunks), so energy uses exactly the steps TTFT and TPOT came from.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from inferchip.cost.step import StepCost
from inferchip.errors import DoesNotFitError, InvalidSettingError
from inferchip.mapping.memory_fit import FloatArray
from inferchip.performance.mapped import MappedModel, fit_error
from inferchip.performance.phases import (
    PhaseMetrics,
    admit_share,
    decode_step,
    dp_decode_step,
    first_chunk_step,
    static_batch,
)
from inferchip.performance.question import (  # re-exported: the solver's question and its lengths
    LENGTH_POINTS as LENGTH_POINTS,
)
from inferchip.performance.question import LENGTH_SIGMA as LENGTH_SIGMA
from inferchip.performance.question import LengthDist as LengthDist
from inferchip.performance.question import Question as Question
from inferchip.performance.setting import Sweeps

QUEUE_WAIT_STEPS = 0.5  # mean wait of a Poisson arrival for the running iteration to end
# Sorted and distinct (np.unique's result, without importing numpy.ma at start-up: ~10 ms of a cold predict).
BATCH_GRID = np.array(sorted(set(np.concatenate([np.arange(1, 17), np.round(np.geomspace(16, 16384, 80))]).tolist())),
                      dtype=float)
MODES = ("static", "closed_loop", "open_loop", "max_throughput")


@dataclass
class OperatingPoint:
    """An operating point on one layout. ``batch``: sequences in flight on each busy replica;
    ``tokens_per_s_replica``: the system's output tokens/s divided by all its replicas (idle ones
    included), so ``tokens_per_s_replica x replicas`` is the system's; ``busy_fraction``: the
    share of the replicas that hold sequences (below 1 only where a static or closed-loop
    question has fewer sequences than replicas, :func:`replica_load`)."""

    batch: float  # sequences in flight per busy replica
    ttft_s: float
    tpot_s: float
    e2e_s: float
    tokens_per_s_replica: float  # system output tokens/s / replicas
    limits_met: bool = True
    saturated: bool = False
    metrics: PhaseMetrics | None = field(default=None, repr=False, compare=False)  # what the point was read from
    index: int = 0  # of the point in ``metrics``' arrays
    busy_fraction: float = 1.0  # replicas holding sequences / replicas


def replica_load(q: Question, replicas: int) -> tuple[float, float]:
    """(sequences per busy replica, share of the replicas busy) of a static or closed-loop question.

    ``q.batch`` where given (every replica holds it). Otherwise ``C = q.concurrency`` system-wide
    sequences on ``replicas`` R: with ``C < R``, ``C`` replicas run one sequence each and the
    others idle, ``(1, C / R)``; with ``C >= R`` each holds the mean, ``(C / R, 1)`` (module doc).
    A question with no concurrency, or with under one sequence, cannot be answered: InvalidSettingError."""
    if q.batch is not None:
        if not q.batch >= 1.0:
            raise InvalidSettingError(f"batch: value {q.batch!r} sequences per replica; a batch holds at least 1")
        return float(q.batch), 1.0
    c = q.concurrency
    if c is None:
        raise InvalidSettingError(f"a {q.mode} question needs its concurrency (sequences in the system) "
                                  "or its batch per replica; neither is given")
    if not c >= 1.0:
        raise InvalidSettingError(f"concurrency: value {c!r} sequences in the system; at least 1 is needed")
    if not replicas >= 1:
        raise InvalidSettingError(f"replicas: value {replicas!r}; at least 1 is needed")
    if c < replicas:
        return 1.0, c / replicas
    return c / replicas, 1.0


# ------------------------------------------------------------------ evaluation on one layout
def steady_state(mm: MappedModel, b: FloatArray, q: Question, with_ttft: bool,
                 decode: tuple[FloatArray, StepCost] | None = None) -> PhaseMetrics:
    """Steady-state continuous batching at concurrencies ``b`` (sequences per replica), with the
    length moments of the question; with beam search a request is ``beams`` sequences and one
    prefill. Without ``with_ttft`` the TTFT, end-to-end latency and prefill step are NaN / None.
    ``decode``: (TPOT, decode step) of these very concurrencies, lengths and mapping where a sweep
    already holds them (not evaluated again)."""
    if with_ttft and len(q.inputs.points) == 1 and np.shape(b) == (1,):
        return _steady_one(mm, float(b[0]), q)
    i, o = q.inputs, q.outputs
    e_o = max(o.mean, 1.0)
    new = b / e_o / q.beams  # requests (prompts) starting per step
    ctx = i.mean + o.second_moment / (2.0 * e_o)
    if decode is None and mm.sm.dp_attention > 1 and not q.dp_prompts_balanced:  # fill steps at their busiest rank's
        tpot, dec = dp_decode_step(mm, b, new, i.mean, i.mean_prefill_pairs, b * ctx, random_admission(q))
    elif decode is None and random_admission(q):
        tpot, dec = decode_step(mm, b, new, i.mean, i.mean_prefill_pairs, b * ctx)
    elif decode is None:
        tpot, dec = mm.replica_step_s(b + new * i.mean, b, b * ctx, new * i.mean_prefill_pairs)
    else:
        tpot, dec = decode
    if not with_ttft:
        nan = np.full(np.shape(tpot), math.nan)
        return PhaseMetrics(nan, tpot, nan, b / tpot, None, dec)
    iq = i.array[None, :]
    bb = b[:, None]
    chunk = np.minimum(iq, mm.chunk_tokens)
    n_chunks = np.ceil(iq / mm.chunk_tokens)
    chip, pairs = first_chunk_step(mm.sm.dp_attention, chunk, (new * i.mean_prefill_pairs)[:, None], bb + chunk)
    first, pre = mm.replica_step_s(bb + chunk, bb, bb * ctx, pairs,
                                   logit_rows=bb + 1.0, prefill_chip=chip)
    ttft = np.mean(n_chunks * first, axis=1)
    if q.queue_wait:
        ttft = ttft + QUEUE_WAIT_STEPS * tpot
    e2e = ttft + np.maximum(o.mean - 1.0, 0.0) * tpot
    return PhaseMetrics(ttft, tpot, e2e, b / tpot, pre, dec, prefill_chunks=np.broadcast_to(n_chunks, np.shape(first)),
                        prefill_step_s=first)


def random_admission(q: Question) -> bool:
    """Whether prompts join the running batch at random steps: Poisson arrivals (``queue_wait``) or
    answers of spread lengths (each running sequence ends at a random step and a waiting prompt takes
    its place). Fixed lengths without Poisson arrivals keep the mean step (module doc)."""
    return bool(q.queue_wait) or len(q.outputs.points) > 1


def _steady_one(mm: MappedModel, b: float, q: Question) -> PhaseMetrics:
    """:func:`steady_state` (with TTFT) of one concurrency and one input length, in floats,
    operation for operation; arrays of the shapes the array path gives."""
    i, o = q.inputs, q.outputs
    pp = mm.layout.pp
    e_o = max(o.mean, 1.0)
    new = b / e_o / q.beams
    ctx = i.mean + o.second_moment / (2.0 * e_o)
    dec = mm.stage_step_point((1,), (b + new * i.mean) / pp, b / pp, b * ctx / pp, new * i.mean_prefill_pairs / pp)
    if mm.sm.dp_attention > 1 and not q.dp_prompts_balanced:  # dp_decode_step on one-point arrays
        tpot = float(dp_decode_step(mm, np.array([b]), np.array([new]), i.mean, i.mean_prefill_pairs,
                                    np.array([b * ctx]), random_admission(q))[0][0])
    elif random_admission(q):  # decode_step's mixture, on floats
        p = float(admit_share(new))
        pure = mm.stage_step_point((1,), b / pp, b / pp, b * ctx / pp, 0.0)
        fill = mm.stage_step_point((1,), (b + new * i.mean / p) / pp, b / pp, b * ctx / pp,
                                   new * i.mean_prefill_pairs / p / pp)
        tpot = pp * ((1.0 - p) * _time_of(pure) + p * _time_of(fill))
    else:
        tpot = pp * _time_of(dec)
    iq = float(i.points[0])
    chunk = min(iq, float(mm.chunk_tokens))
    n_chunks = float(math.ceil(iq / mm.chunk_tokens))
    dp = mm.sm.dp_attention  # phases.first_chunk_step in floats: the chunk whole on one attention-DP chip
    own = chunk * (0.0 + (chunk + 1.0) / 2.0)
    pairs = (dp * own if dp > 1 else own) + new * i.mean_prefill_pairs
    pre = mm.stage_step_point((1, 1), (b + chunk) / pp, b / pp, b * ctx / pp, pairs / pp, (b + 1.0) / pp,
                              chunk / pp if dp > 1 else None)
    first = pp * _time_of(pre)
    ttft = n_chunks * first
    if q.queue_wait:
        ttft = ttft + QUEUE_WAIT_STEPS * tpot
    e2e = ttft + max(o.mean - 1.0, 0.0) * tpot
    v = np.array([ttft, tpot, e2e, b / tpot, n_chunks, first]).reshape(6, 1)
    return PhaseMetrics(v[0], v[1], v[2], v[3], pre, dec, prefill_chunks=v[4:5], prefill_step_s=v[5:6])


def _time_of(cost: StepCost) -> float:
    return cost.point.time_s if cost.point is not None else float(np.asarray(cost.time_s).reshape(-1)[0])


def max_concurrency(mm: MappedModel, q: Question, step_tokens: float | None = None) -> float:
    """Sequences per replica whose KV cache fits: each with its length-biased full context, or, in a
    closed loop (sequences at every stage of their answer, KV blocks allocated as tokens are made:
    vLLM's paged cache), the mean context a running sequence holds, ``E[i] + E[o^2] / (2 E[o])``. Beside them
    each chip holds the activations of a step of ``step_tokens`` (a static batch's prompts; None: a full chunk,
    which continuous batching may fill)."""
    o = q.outputs
    grown = o.second_moment / max(o.mean, 1.0)
    ctx = q.inputs.mean + (0.5 * grown if q.mode == "closed_loop" else grown)
    if q.whole_sequences_per_chip:
        return float(mm.max_batch(ctx, 0.0, step_tokens))
    free = mm.budget_bytes - mm.weights_bytes - mm.step_activation_bytes(step_tokens)
    return float(np.floor(max(free, 0.0) / float(mm.kv_bytes_per_seq(ctx))))


def batch_grid(bmax: float, coarse: bool = False) -> FloatArray:
    """Concurrencies the max-throughput search evaluates up to ``bmax`` (20 points when ``coarse``)."""
    if coarse:
        return np.unique(np.append(np.round(np.geomspace(1.0, max(bmax, 1.0), 20)), bmax))
    below = BATCH_GRID[BATCH_GRID < bmax]  # sorted and distinct already: bmax goes last
    return np.append(below, bmax)


def _point(met: PhaseMetrics, grid: FloatArray, k: int, busy: float = 1.0, limits_met: bool = True) -> OperatingPoint:
    """The point ``k`` of ``met``; ``busy``: the share of the replicas that run it (the others idle;
    ``busy * tps`` is ``tps`` exactly where all are busy)."""
    tps = float(grid[k]) / float(met.tpot_s[k])
    return OperatingPoint(float(grid[k]), float(met.ttft_s[k]), float(met.tpot_s[k]), float(met.e2e_s[k]),
                          busy * tps, limits_met=limits_met, metrics=met, index=k, busy_fraction=busy)


SWEEPS_KEPT = 2  # questions whose sweeps (every layout's, ~50 kB each) a cache keeps, the latest


def operating_point(mm: MappedModel, q: Question, replicas: int, *, coarse: bool = False,
                    need_ttft: bool = True, sweeps: Sweeps | None = None) -> OperatingPoint:
    """The question's operating point on one layout; raises DoesNotFitError when nothing fits.

    Max throughput: the grid concurrency with the most tokens/s among those meeting the limits
    (``limits_met`` False and concurrency 1 where none does). ``sweeps``: a cache (one per
    setting, :attr:`Setting.sweeps`) of the concurrency sweep, which depends on the layout and
    the lengths but not on the limits: questions that differ only in their limits share it.
    A static or closed-loop question with fewer sequences than replicas runs at batch 1 on as
    many replicas as it has sequences (:func:`replica_load`)."""
    if q.mode in ("static", "closed_loop"):
        b, busy = replica_load(q, replicas)
        # a static batch's largest step is its prompts (bounded by the chunk); a closed loop's may fill a chunk
        bmax = max_concurrency(mm, q, b * q.inputs.mean if q.mode == "static" else None)
        if b > bmax:
            sys_b = b * replicas if q.concurrency is None else q.concurrency
            raise DoesNotFitError(f"{sys_b:g} sequences ({b:g} per replica) of "
                                  f"{q.inputs.mean + q.outputs.mean:.0f} tokens do not fit {mm.chip.id} with "
                                  f"tp={mm.layout.tp} pp={mm.layout.pp}: at most {bmax:.0f} per replica")
        if q.mode == "static":
            met = static_batch(mm, np.array([b]), q.inputs.mean, q.outputs.mean)
            tps = float(met.tokens_per_s_replica[0])
            return OperatingPoint(b, float(met.ttft_s[0]), float(met.tpot_s[0]), float(met.e2e_s[0]),
                                  busy * tps, metrics=met, busy_fraction=busy)
        return _point(steady_state(mm, np.array([b]), q, need_ttft), np.array([b]), 0, busy)
    bmax = max_concurrency(mm, q)
    if bmax < 1:
        raise fit_error(mm, 1.0, q.inputs.mean, q.outputs.mean, mm.layout.num_chips)
    if q.max_seqs_per_rank is not None:  # the engine admits no more (serve/curve's scheduler)
        bmax = min(bmax, q.max_seqs_per_rank * mm.layout.attn_dp_ways)
    if q.mode == "open_loop":
        return _open_loop(mm, q, replicas, bmax)
    grid = batch_grid(bmax, coarse)
    # The sweep carries TTFT only where the limits read it; else only the chosen point's is needed,
    # evaluated on its own below (one point: the scalar step).
    with_ttft = q.needs_ttft
    if sweeps is None:
        met = steady_state(mm, grid, q, with_ttft)
    else:  # {question's lengths and load -> {layout -> sweep}}, the latest SWEEPS_KEPT questions
        qkey = (q.inputs, q.outputs, q.beams, q.queue_wait, q.whole_sequences_per_chip, q.max_seqs_per_rank,
                q.dp_prompts_balanced, coarse, with_ttft)
        by_layout = sweeps.pop(qkey, None) or {}
        sweeps[qkey] = by_layout  # now the latest
        if len(sweeps) > SWEEPS_KEPT:
            del sweeps[next(iter(sweeps))]
        held = by_layout.get(mm.layout)
        if held is None:
            # The same lengths' sweep with TTFT or without it (another question's limits) holds this
            # sweep's decode steps: the same grid, the same step, so the same floats.
            other = sweeps.get(qkey[:-1] + (not with_ttft,), {}).get(mm.layout)
            decode = None if other is None else (other.tpot_s, other.decode)
            held = by_layout[mm.layout] = steady_state(mm, grid, q, with_ttft, decode)
        met = held
    ok = np.ones(grid.shape, bool)
    for lim, v in ((q.max_ttft_s, met.ttft_s), (q.max_tpot_s, met.tpot_s), (q.max_e2e_s, met.e2e_s)):
        if lim is not None:
            ok &= v <= lim
    tput = grid / met.tpot_s
    k = int(np.argmax(np.where(ok, tput, -1.0))) if ok.any() else 0
    if need_ttft and not with_ttft:
        one = grid[k:k + 1]
        return _point(steady_state(mm, one, q, True), one, 0, limits_met=bool(ok.any()))
    return _point(met, grid, k, limits_met=bool(ok.any()))


def _open_loop(mm: MappedModel, q: Question, replicas: int, bmax: float) -> OperatingPoint:
    """Little's law ``b = rate x E2E(b)`` per replica, solved on a grid and interpolated."""
    if q.rate_per_s is None:
        raise InvalidSettingError("an open-loop question needs its rate_per_s (requests per second)")
    rate = q.rate_per_s / replicas * q.beams  # sequences starting per second per replica
    grid = np.geomspace(min(0.05, bmax), bmax, 48)
    met = steady_state(mm, grid, q, True)
    g = rate * met.e2e_s - grid
    if g[-1] > 0:  # more load than the replica can carry: it saturates
        k = len(grid) - 1
        return OperatingPoint(bmax, float(met.ttft_s[k]), float(met.tpot_s[k]), float(met.e2e_s[k]),
                              bmax / float(met.tpot_s[k]), saturated=True, metrics=met, index=k)
    k = int(np.argmax(g <= 0))
    if k == 0:
        b = grid[0]
    else:  # linear interpolation of the sign change
        b = grid[k - 1] + (grid[k] - grid[k - 1]) * g[k - 1] / (g[k - 1] - g[k])
    bb = np.array([b])
    return _point(steady_state(mm, bb, q, True), bb, 0)
