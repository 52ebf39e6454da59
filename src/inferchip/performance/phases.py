"""The phases of serving a mapped model (:class:`~inferchip.performance.mapped.MappedModel`): static batches
(TTFT of a batch's prefill, then decode steps) and continuous batching in steady state (each decode step also
carries the prefill of the requests that replace finished ones), the user-facing metrics of each.

Under attention data parallelism (``layout.attn_dp``) a replica's sequences are spread over
the ``tp`` chips of a stage: each chip keeps the KV cache of its own sequences (so a replica
holds ``tp`` times as many as one chip fits) and prefills with its own token budget
(TensorRT-LLM's ``max_num_tokens`` is per rank), so a replica's prefill budget per step is
``tp x chunk_tokens``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from inferchip.cost.step import StepCost
from inferchip.mapping.memory_fit import FloatArray
from inferchip.performance.mapped import MappedModel


def prefill_pairs(chunk_tokens: npt.ArrayLike, cached_tokens: npt.ArrayLike = 0.0) -> FloatArray:
    """Causal query-key pairs of a prompt chunk attending to ``cached_tokens`` earlier tokens and itself."""
    c = np.asarray(chunk_tokens, float)
    pairs: FloatArray = c * (np.asarray(cached_tokens, float) + (c + 1.0) / 2.0)
    return pairs


@dataclass
class PhaseMetrics:
    """TTFT, TPOT, end-to-end latency (s) and output tokens/s per replica, with the steps they
    came from: ``prefill`` is the cost of one prefill step (one chunk), ``prefill_chunks`` how
    many such steps a TTFT is made of and ``prefill_step_s`` the replica time of one (pipeline
    fill included), so ``ttft_s = prefill_chunks x prefill_step_s``; ``decode`` is the step
    ``tpot_s`` is the time of. Energy reads these, never re-derives them."""

    ttft_s: FloatArray
    tpot_s: FloatArray
    e2e_s: FloatArray
    tokens_per_s_replica: FloatArray
    prefill: StepCost | None
    decode: StepCost
    prefill_chunks: FloatArray | None = None
    prefill_step_s: FloatArray | None = None


def static_batch(mm: MappedModel, batch: npt.ArrayLike, input_tokens: npt.ArrayLike,
                 output_tokens: npt.ArrayLike) -> PhaseMetrics:
    """A static batch: all prompts prefilled together, then ``output - 1`` decode steps. Under attention data
    parallelism each prompt is prefilled whole on one chip (SGLang's DP attention sends a request to one rank), so a
    step costs its busiest chip's prompts (``cost.step.step_points`` ``prefill_chip``, as the serving simulator
    prices it), not an even share of the batch's tokens: one 1,024-token prompt on 8 chips is 1,024 tokens on one
    chip, not 128 on each, and its attention is that prompt's 524,800 causal pairs, not an eighth of them (the
    busiest chip's ``ceil(b / dp)`` prompts' pairs, given to the step as ``dp`` x those: ``cost.step``'s doc).

    TTFT is the batch's prefill (the first token comes out of the prefill step); TPOT is the
    decode step at the mean context ``input + output/2`` (decode time is linear in context).
    """
    one = _static_one(mm, batch, input_tokens, output_tokens)
    if one is not None:
        return one
    b = np.asarray(batch, float)
    i = np.asarray(input_tokens, float)
    o = np.asarray(output_tokens, float)
    pp, dp = mm.layout.pp, mm.sm.dp_attention
    rank_prompts = None
    pairs = prefill_pairs(i) * b
    if dp > 1:  # whole prompts on each attention-DP chip: the busiest holds ceil(b / dp) of them, chunk by chunk
        rank_seqs = np.ceil(b / dp)
        rank_prompts = rank_seqs * i
        n_chunks = np.maximum(np.ceil(rank_prompts / mm.chunk_tokens), 1.0)
        pairs = dp * (rank_seqs * prefill_pairs(i))  # its own prompts' pairs, in the step's worker form (dp x)
    else:
        n_chunks = np.maximum(np.ceil(b * i / mm.replica_chunk_tokens), 1.0)
    chunk = b * i / n_chunks
    pre_t, pre = mm.replica_step_s(chunk, 0.0, 0.0, pairs / n_chunks, logit_rows=b / n_chunks,
                                   prefill_chip=None if rank_prompts is None else rank_prompts / n_chunks,
                                   prompt_tokens=i)  # whole prompts of i tokens (a back end's prompt buckets)
    # Pipeline fill: the last micro-batch leaves the last stage after 2 pp - 1 stage times.
    ttft = n_chunks * pre_t * (2 * pp - 1) / pp
    ctx = i + o / 2.0
    tpot, dec = mm.replica_step_s(b, b, b * ctx, 0.0)
    e2e = ttft + np.maximum(o - 1.0, 0.0) * tpot
    return PhaseMetrics(ttft, tpot, e2e, b * o / e2e, pre, dec, prefill_chunks=n_chunks, prefill_step_s=ttft / n_chunks)


def _one_point(*xs: npt.ArrayLike) -> tuple[list[float], int] | None:
    """The values of size-one arguments as finite floats, and their largest rank (None otherwise)."""
    vals, ndim = [], 0
    for x in xs:
        if type(x) is not float and type(x) is not int:
            a = np.asarray(x)
            if a.size != 1:
                return None
            ndim = max(ndim, a.ndim)
            x = a.reshape(-1)[0]
        x = float(x)
        if not math.isfinite(x):
            return None
        vals.append(x)
    return vals, ndim


def _static_one(mm: MappedModel, batch: npt.ArrayLike, input_tokens: npt.ArrayLike,
                output_tokens: npt.ArrayLike) -> PhaseMetrics | None:
    """:func:`static_batch` of one point in plain floats, operation for operation (None for many points)."""
    found = _one_point(batch, input_tokens, output_tokens)
    if found is None or mm.sm.dp_attention > 1:  # attention DP: the busiest chip's whole prompts (array path)
        return None
    (b, i, o), ndim = found
    shape = (1,) * ndim
    pp = mm.layout.pp
    n_chunks = max(float(math.ceil(b * i / mm.replica_chunk_tokens)), 1.0)
    chunk = b * i / n_chunks
    pairs = i * (0.0 + (i + 1.0) / 2.0) * b / n_chunks
    pre = mm.stage_step_point(shape, chunk / pp, 0.0 / pp, 0.0 / pp, pairs / pp, b / n_chunks / pp, prompt_tokens=i)
    pre_t = pp * (pre.point.time_s if pre.point is not None else float(np.asarray(pre.time_s).reshape(-1)[0]))
    ttft = n_chunks * pre_t * (2 * pp - 1) / pp
    ctx = i + o / 2.0
    dec = mm.stage_step_point(shape, b / pp, b / pp, b * ctx / pp, 0.0 / pp)
    tpot = pp * (dec.point.time_s if dec.point is not None else float(np.asarray(dec.time_s).reshape(-1)[0]))
    e2e = ttft + max(o - 1.0, 0.0) * tpot
    v = np.array([ttft, tpot, e2e, b * o / e2e, n_chunks, ttft / n_chunks]).reshape(6, *shape)
    return PhaseMetrics(v[0, ...], v[1, ...], v[2, ...], v[3, ...], pre, dec, prefill_chunks=v[4, ...],
                        prefill_step_s=v[5, ...])


def continuous_batch(mm: MappedModel, concurrency: npt.ArrayLike, input_tokens: npt.ArrayLike,
                     output_tokens: npt.ArrayLike) -> PhaseMetrics:
    """Continuous batching in steady state with ``concurrency`` sequences per replica.

    Each iteration decodes one token for every sequence and prefills the prompts of the
    ``concurrency / output`` requests that replace the ones finishing (chunked prefill mixed
    into decode steps, as vLLM and TensorRT-LLM schedule). TPOT is that step's time; a new
    request's TTFT is the ``ceil(input / chunk)`` steps that carry its prompt.
    """
    b = np.asarray(concurrency, float)
    i = np.asarray(input_tokens, float)
    o = np.asarray(output_tokens, float)
    new_per_step = b / np.maximum(o, 1.0)
    ctx = i + o / 2.0
    tokens = b + new_per_step * i
    tpot, dec = mm.replica_step_s(tokens, b, b * ctx, new_per_step * prefill_pairs(i))
    chunk = np.minimum(i, mm.chunk_tokens)
    n_chunks = np.ceil(i / mm.chunk_tokens)
    chip, pairs = first_chunk_step(mm.sm.dp_attention, chunk, new_per_step * prefill_pairs(i), b + chunk)
    first_t, pre = mm.replica_step_s(b + chunk, b, b * ctx, pairs, logit_rows=b + 1, prefill_chip=chip)
    ttft = n_chunks * first_t
    e2e = ttft + np.maximum(o - 1.0, 0.0) * tpot
    return PhaseMetrics(ttft, tpot, e2e, b / tpot, pre, dec, prefill_chunks=n_chunks, prefill_step_s=first_t)


def first_chunk_step(dp: int, chunk_tokens: npt.ArrayLike, background_pairs: npt.ArrayLike,
                     step_tokens: npt.ArrayLike) -> tuple[FloatArray | None, FloatArray]:
    """(busiest attention-DP chip's prefill tokens or None, the step's prefill attention pairs) of the step
    that carries a new request's first chunk of ``chunk_tokens`` beside the prompts of the steady state
    (``background_pairs``, their causal pairs, spread evenly over the chips), for a step of ``step_tokens``
    tokens (the shape the tokens are broadcast to). With ``dp = 1``: no busiest chip, the chunk's own pairs
    plus the background's. Under attention DP the request runs whole on one rank (SGLang's
    ``DataParallelController`` sends it to one DP rank's scheduler; TensorRT-LLM's attention DP schedules it
    on one rank: ``cost.step``'s doc), so that chip prefills the whole chunk and all of its pairs:
    ``dp`` x the chunk's pairs in the step's worker form, plus the background's even share (``dp`` x
    ``background / dp``). E.g. an 8,192-token chunk alone on 8 chips: (8,192, 8 x 33,558,528)."""
    own = prefill_pairs(chunk_tokens)
    background = np.asarray(background_pairs, float)
    if dp <= 1:
        return None, own + background
    shape = np.broadcast_shapes(np.shape(step_tokens), np.shape(own), np.shape(background))
    chip: FloatArray = np.broadcast_to(np.asarray(chunk_tokens, float), shape).astype(float)
    return chip, dp * own + background


def admit_share(new_per_step: float | FloatArray) -> FloatArray:
    """Share of decode steps that admit at least one new prompt, when ``new_per_step`` requests start
    per step on average and their arrivals (Poisson; or completions of sequences of spread lengths,
    each ending at random) are independent: ``1 - exp(-new)`` (at least a tiny share, so a step that
    admits carries a finite prompt load)."""
    return np.asarray(np.maximum(-np.expm1(-np.asarray(new_per_step, float)), 1e-12), dtype=float)


def poisson_pmf(mean: npt.ArrayLike, most: int) -> FloatArray:
    """``P(K = k)`` for ``k = 0 .. most`` along a new last axis, ``K`` Poisson of mean ``mean`` (each element):
    ``exp(k ln(mean) - mean - ln k!)``, ``ln k!`` summed as ``ln 1 + ... + ln k``; the tail above ``most`` is left
    out (the caller's choice of ``most``)."""
    k = np.arange(int(most) + 1)
    log_fact = np.concatenate(([0.0], np.cumsum(np.log(k[1:]))))
    lam = np.asarray(mean, float)
    return np.asarray(np.exp(k * np.log(np.maximum(lam, 1e-300))[..., None] - lam[..., None] - log_fact), dtype=float)


POISSON_TAIL_SIGMAS = 12.0  # the Poisson sum of busiest_rank_prompts stops this many standard deviations above the mean


def busiest_rank_prompts(new_per_step: npt.ArrayLike, dp: int, random: bool) -> tuple[FloatArray, FloatArray]:
    """(share ``p`` of the decode steps that carry prompts, mean prompts on the busiest of ``dp`` attention-DP ranks
    in such a step) where ``new_per_step`` prompts start per step on average. Each prompt runs whole on one rank and
    the ranks' steps are synchronised by the expert all-to-all (SGLang's ``prepare_mlp_sync_batch`` gathers every
    DP rank's tokens before each forward; vLLM's data-parallel deployment: "forward passes must be aligned"), so a
    step lasts its busiest rank's. ``k`` prompts placed each on the least-loaded rank (the serving simulator's
    ``busiest_rank_prefill``) put ``ceil(k / dp)`` on the busiest. ``random``: ``k`` Poisson (``admit_share``'s
    arrivals), ``E[ceil(K / dp) | K >= 1]``; else ``floor(new)`` or ``floor(new) + 1`` prompts a step (fixed lengths,
    completions evenly spaced), ``p = min(new, 1)``. E.g. 1.15 prompts a step on 8 ranks: ~1.0 prompt on the busiest
    (1 - exp(-1.15) = 68 % of the steps), where the even spread gave 1.69 / 8 = 0.21."""
    lam = np.asarray(new_per_step, float)
    if random:
        p = admit_share(lam)
        top = float(np.max(lam)) if lam.size else 0.0
        most = int(math.ceil(top + POISSON_TAIL_SIGMAS * math.sqrt(top) + 2.0 * POISSON_TAIL_SIGMAS))
        busiest: FloatArray = np.sum(poisson_pmf(lam, most) * np.ceil(np.arange(most + 1) / dp), axis=-1) / p
        return p, busiest
    whole = np.floor(lam)
    frac = lam - whole
    p = np.where(whole >= 1.0, 1.0, np.maximum(frac, 1e-12))
    busiest = ((1.0 - frac) * np.ceil(whole / dp) + frac * np.ceil((whole + 1.0) / dp)) / p
    return p, busiest


def dp_decode_step(mm: MappedModel, b: FloatArray, new: FloatArray, mean_input: float, mean_pairs: float,
                   kv_tokens: FloatArray, random: bool) -> tuple[FloatArray, StepCost]:
    """:func:`decode_step` under attention DP (``dp = sm.dp_attention > 1``): the mean of pure-decode steps and
    prompt-carrying ones, each of the latter as long as its busiest rank's (:func:`busiest_rank_prompts`): that
    rank prefills its prompts whole (``cost.step.step_points`` ``prefill_chip``), at most its own chunk budget or
    the even share where that is more (the simulator's ``busiest_rank_prefill`` cap, its pairs scaled with its
    tokens), while the routed experts serve every rank's tokens. Prompts held to a share ``h`` a step run over
    ``1 / h`` steps, as the simulator chunks them (a sequence's chunk at most a rank's budget), so ``p / h`` of the
    steps carry prompts (at most all: then each holds ``p`` of them), every prompt token priced once. The mean
    step's cost (energy, breakdowns) is :func:`decode_step`'s: the mean FLOP and bytes per step."""
    dp = mm.sm.dp_attention
    _, dec = mm.replica_step_s(b + new * mean_input, b, kv_tokens, new * mean_pairs)
    p, busiest = busiest_rank_prompts(new, dp, random)
    even = new * mean_input / p / dp
    rank_tokens = busiest * mean_input
    cap = np.maximum(float(mm.chunk_tokens), even)
    held = np.where(rank_tokens > cap, cap / rank_tokens, 1.0)  # share of its prompts' tokens the rank runs now
    held = np.maximum(held, p)  # the steps that carry prompts, p / held, are at most all of them
    shape = np.broadcast_shapes(np.shape(b), np.shape(rank_tokens))
    chip = np.broadcast_to(rank_tokens * held, shape).astype(float)
    t_pure, _ = mm.replica_step_s(b, b, kv_tokens, 0.0 * b)
    t_fill, _ = mm.replica_step_s(b + new * mean_input / p * held, b, kv_tokens, dp * busiest * mean_pairs * held,
                                  prefill_chip=chip)
    share = p / held  # of the steps, each carrying held of its prompts: every prompt token priced once
    return (1.0 - share) * t_pure + share * t_fill, dec


def decode_step(mm: MappedModel, b: FloatArray, new: FloatArray, mean_input: float, mean_pairs: float,
                kv_tokens: FloatArray) -> tuple[FloatArray, StepCost]:
    """Mean time of a decode step (TPOT, s) and the mean step's cost, with ``b`` sequences per replica
    decoding and ``new`` prompts of ``mean_input`` tokens (``mean_pairs`` causal pairs) starting per step.

    The engines admit a waiting prompt into the next iteration, its prefill (one chunk) mixed with the
    running sequences' decode tokens: TensorRT-LLM's in-flight batching ("the inclusion of newly arrived
    requests and the return of newly completed requests at each iteration", nvidia.github.io/TensorRT-LLM/
    advanced/batch-manager.html; "sequences in the context phase can be processed together with sequences
    in the generation phase", .../features/paged-attention-ifb-scheduler.html) and vLLM's chunked prefill
    (decodes first, then waiting prefills within the token budget: "once chunked prefill is enabled, the
    policy is changed to prioritize decode requests", vllm-project/vllm PR #7874). So a step carries either
    the decodes alone or the decodes plus the prompts that arrived during the previous step: a share
    ``p = admit_share(new)``
    of the steps carries ``new / p`` prompts, the rest none. A request's TPOT is the mean of the steps
    it lives through: ``(1 - p) t(b) + p t(b + new E[i] / p)``. The step time is not linear in its rows
    (GEMM row tiles), so this differs from the time of the mean step ``t(b + new E[i])`` where a tile
    boundary falls between ``b`` and ``b + new E[i]``; FLOP and bytes are linear in the rows, so the
    mean step's cost (returned, for energy and breakdowns) holds the mean FLOP and bytes per step. The prompts'
    tokens are spread evenly over attention-DP ranks (an engine that balances them); where each prefills whole on
    one rank: :func:`dp_decode_step`."""
    _, dec = mm.replica_step_s(b + new * mean_input, b, kv_tokens, new * mean_pairs)
    p = admit_share(new)
    t_pure, _ = mm.replica_step_s(b, b, kv_tokens, 0.0 * b)
    t_fill, _ = mm.replica_step_s(b + new * mean_input / p, b, kv_tokens, new * mean_pairs / p)
    return (1.0 - p) * t_pure + p * t_fill, dec
