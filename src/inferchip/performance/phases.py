"""A model mapped onto a system: per-chip shapes, memory fit and step times for one layout.

This is the bridge between the step cost (one iteration of one pipeline stage) and the
user-facing metrics: static batches (TTFT of a batch's prefill, then decode steps) and
continuous batching in steady state (each decode step also carries the prefill of the
requests that replace finished ones).

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

from inferchip.cost.roofline import ArrayLike as Numbers
from inferchip.cost.step import StepCost, StepPlan, cached_step_plan
from inferchip.errors import DoesNotFitError
from inferchip.mapping.layout import Layout, divisors, tp_domain, tp_splits_heads
from inferchip.mapping.memory_fit import (
    FloatArray,
    Formats,
    activation_bytes_per_chip,
    kv_bytes_per_sequence,
    weight_bytes_per_chip,
)
from inferchip.mapping.sharding import ShardedModel, pad_experts, shard
from inferchip.spec.calibration import Calibration
from inferchip.spec.chip import ChipParams
from inferchip.spec.model import ModelSpec
from inferchip.units import GIGA

DEFAULT_CHUNK_TOKENS = 8192  # prefill token budget per step (vLLM max_num_batched_tokens / TRT-LLM max_num_tokens)


@dataclass
class MappedModel:
    model: ModelSpec
    chip: ChipParams
    layout: Layout
    formats: Formats
    cal: Calibration
    sm: ShardedModel
    weights_bytes: float
    chunk_tokens: int = DEFAULT_CHUNK_TOKENS
    static_memory_fraction: float | None = None  # an engine's static fraction (SGLang), else None

    @property
    def budget_bytes(self) -> float:
        """Device memory the engine may use on one chip: the calibration's share of the usable memory,
        or, under a static fraction (SGLang ``--mem-fraction-static``), that share of it for the
        weights and the KV pool alone (activations and CUDA graphs live in the rest)."""
        if self.static_memory_fraction is not None:
            return self.chip.usable_memory_bytes * self.static_memory_fraction
        return self.chip.usable_memory_bytes * self.cal.memory_utilization_fraction

    def _kv_activation_bytes(self, act: FloatArray) -> FloatArray:
        """The activations the KV pool gives room to: none under a static fraction (outside its budget)."""
        return act * 0.0 if self.static_memory_fraction is not None else act

    @property
    def replica_chunk_tokens(self) -> int:
        """Prefill tokens one step of the replica can carry: the per-chip budget on each chip
        that runs its own sequences (``tp`` of them under attention DP, else one group)."""
        return self.chunk_tokens * self.sm.dp_attention

    @property
    def reserve_bytes(self) -> float:
        return self.chip.memory_capacity_bytes - self.budget_bytes

    def kv_bytes_per_seq(self, context_tokens: FloatArray | float) -> FloatArray | np.float64:
        if type(context_tokens) is float:  # one context: memory_fit.kv_bytes_per_sequence in floats
            return np.float64(self._kv_bytes_one(context_tokens))
        return kv_bytes_per_sequence(self.sm, self.formats, context_tokens)

    def _kv_bytes_one(self, ctx: float) -> float:
        held = getattr(self, "_kv_terms", None)
        if held is None or held[0] is not self.sm or held[1] is not self.formats:
            terms = tuple((layer.count * layer.kv_elements_per_token, layer.window) for layer in self.sm.layers)
            held = self._kv_terms = (self.sm, self.formats, terms)
        kv_bytes = self.formats.kv_bytes
        out = 0.0
        for c, window in held[2]:
            out = out + c * (ctx if window is None else min(ctx, window)) * kv_bytes
        dp = self.sm.dp_attention
        return out / dp if dp > 1 else out

    def activation_bytes(self, step_tokens: FloatArray | float) -> FloatArray:
        return activation_bytes_per_chip(self.model, self.sm, self.formats, step_tokens)

    def kv_capacity_tokens(self) -> int:
        """Tokens of KV cache one replica holds (full-attention equivalent per token)."""
        act = float(self._kv_activation_bytes(self.activation_bytes(self.chunk_tokens)))
        free = self.budget_bytes - self.weights_bytes - act
        per_token = float(self.kv_bytes_per_seq(1.0))
        return max(0, int(free // per_token)) if per_token > 0 else 0

    def free_bytes(self) -> FloatArray:
        """Memory one chip has for KV cache: the budget less weights and a full chunk's activations
        (kept for the chunk size it was computed at)."""
        held = self._chunk_memory()
        return held[3]

    def chunk_activation_bytes(self) -> FloatArray:
        """:meth:`activation_bytes` of a full chunk (kept for the chunk size it was computed at)."""
        return self._chunk_memory()[2]

    def _chunk_memory(self) -> tuple[int, ChipParams, FloatArray, FloatArray]:
        held: tuple[int, ChipParams, FloatArray, FloatArray] | None = getattr(self, "_free", None)
        if held is None or held[0] != self.chunk_tokens or held[1] is not self.chip:
            act = self.activation_bytes(self.chunk_tokens)
            free: FloatArray = self.budget_bytes - self.weights_bytes - self._kv_activation_bytes(act)
            held = self._free = (self.chunk_tokens, self.chip, act, free)
        return held

    def max_batch(self, input_tokens: npt.ArrayLike, output_tokens: npt.ArrayLike) -> FloatArray | np.float64:
        """Largest number of sequences of length input+output whose KV cache fits one replica
        (under attention DP: whole sequences on each of the ``tp`` chips)."""
        if type(input_tokens) is float and type(output_tokens) is float:  # one point, in floats
            free1, dp1 = float(self.free_bytes()), self.sm.dp_attention
            per_seq = self._kv_bytes_one(input_tokens + output_tokens) * dp1
            if per_seq > 0 and math.isfinite(per_seq) and math.isfinite(free1):
                return np.float64(dp1 * math.floor(max(free1, 0.0) / per_seq))
        ctx = np.asarray(input_tokens, float) + np.asarray(output_tokens, float)
        free = self.free_bytes()
        dp = self.sm.dp_attention
        fit: FloatArray = dp * np.floor(np.maximum(free, 0.0) / (self.kv_bytes_per_seq(ctx) * dp))
        return fit

    def stage_step(self, num_tokens: Numbers, num_decode_seqs: Numbers, decode_kv_tokens: Numbers,
                   prefill_attn_pairs: Numbers, logit_rows: Numbers | None = None,
                   prefill_chip: float | None = None) -> StepCost:
        # The step compiled once for this mapping (recompiled if sm, chip, formats or cal change).
        self._plan: StepPlan = cached_step_plan(getattr(self, "_plan", None), self.sm, self.chip, self.formats,
                                                self.cal)
        return self._plan.cost(num_tokens, num_decode_seqs, decode_kv_tokens, prefill_attn_pairs, logit_rows,
                               prefill_chip)

    def stage_step_point(self, shape: tuple[int, ...], num_tokens: float, num_decode_seqs: float,
                         decode_kv_tokens: float, prefill_attn_pairs: float,
                         logit_rows: float | None = None) -> StepCost:
        """:meth:`stage_step` of one point given as finite floats, its arrays of ``shape`` (all of size one)."""
        self._plan = cached_step_plan(getattr(self, "_plan", None), self.sm, self.chip, self.formats, self.cal)
        return self._plan.point_cost(shape, num_tokens, num_decode_seqs, decode_kv_tokens, prefill_attn_pairs,
                                     logit_rows)

    # --- replica-level step times (pp micro-batches in flight) ---------------------------
    def replica_step_s(self, num_tokens: npt.ArrayLike, num_decode_seqs: npt.ArrayLike,
                       decode_kv_tokens: npt.ArrayLike, prefill_attn_pairs: npt.ArrayLike,
                       logit_rows: npt.ArrayLike | None = None,
                       prefill_chip: float | None = None) -> tuple[FloatArray, StepCost]:
        """Time for a whole batch to advance one iteration through all ``pp`` stages, the
        batch split into ``pp`` micro-batches (each chip runs its stage once per micro-batch).
        ``prefill_chip``: one point's prefill tokens on its busiest attention-DP chip (cost.step.step_points)."""
        pp = self.layout.pp
        lr = None if logit_rows is None else np.asarray(logit_rows, float) / pp
        pc = None if prefill_chip is None else float(prefill_chip) / pp
        c = self.stage_step(np.asarray(num_tokens, float) / pp, np.asarray(num_decode_seqs, float) / pp,
                            np.asarray(decode_kv_tokens, float) / pp, np.asarray(prefill_attn_pairs, float) / pp, lr,
                            pc)
        return pp * c.time_s, c


def map_model(model: ModelSpec, chip: ChipParams, layout: Layout, formats: Formats, cal: Calibration) -> MappedModel:
    sm = pad_experts(sharded(model, layout), cal.moe_pad_hidden_to, cal.moe_pad_intermediate_to, model.mlp_gated)
    return MappedModel(model, chip, layout, formats, cal, sm, weight_bytes_per_chip(model, sm, formats))


SHARDED_KEPT = 512  # (model, layout) pairs whose sharded model is kept
_SHARDED: dict[tuple[int, Layout], tuple[ModelSpec, ShardedModel]] = {}


def sharded(model: ModelSpec, layout: Layout) -> ShardedModel:
    """:func:`~inferchip.mapping.sharding.shard` of ``model`` on ``layout``, the same object for the same
    model object and layout (a review maps each model on each layout for every chip and scaled chip:
    its step plans then share their shape, found by identity, ``cost.plan.shape``). A sharded model is
    frozen; the model is kept with it, so its id is not reused while the entry lives."""
    key = (id(model), layout)
    held = _SHARDED.get(key)
    if held is not None and held[0] is model:
        return held[1]
    sm = shard(model, layout)
    if len(_SHARDED) >= SHARDED_KEPT:
        _SHARDED.clear()
    _SHARDED[key] = (model, sm)
    return sm


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
    """A static batch: all prompts prefilled together, then ``output - 1`` decode steps.

    TTFT is the batch's prefill (the first token comes out of the prefill step); TPOT is the
    decode step at the mean context ``input + output/2`` (decode time is linear in context).
    """
    one = _static_one(mm, batch, input_tokens, output_tokens)
    if one is not None:
        return one
    b = np.asarray(batch, float)
    i = np.asarray(input_tokens, float)
    o = np.asarray(output_tokens, float)
    pp = mm.layout.pp
    n_chunks = np.maximum(np.ceil(b * i / mm.replica_chunk_tokens), 1.0)
    chunk = b * i / n_chunks
    pre_t, pre = mm.replica_step_s(chunk, 0.0, 0.0, prefill_pairs(i) * b / n_chunks, logit_rows=b / n_chunks)
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
    if found is None:
        return None
    (b, i, o), ndim = found
    shape = (1,) * ndim
    pp = mm.layout.pp
    n_chunks = max(float(math.ceil(b * i / mm.replica_chunk_tokens)), 1.0)
    chunk = b * i / n_chunks
    pairs = i * (0.0 + (i + 1.0) / 2.0) * b / n_chunks
    pre = mm.stage_step_point(shape, chunk / pp, 0.0 / pp, 0.0 / pp, pairs / pp, b / n_chunks / pp)
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
    first_t, pre = mm.replica_step_s(b + chunk, b, b * ctx, prefill_pairs(chunk) + new_per_step * prefill_pairs(i),
                                     logit_rows=b + 1)
    ttft = n_chunks * first_t
    e2e = ttft + np.maximum(o - 1.0, 0.0) * tpot
    return PhaseMetrics(ttft, tpot, e2e, b / tpot, pre, dec, prefill_chunks=n_chunks, prefill_step_s=first_t)


def admit_share(new_per_step: float | FloatArray) -> FloatArray:
    """Share of decode steps that admit at least one new prompt, when ``new_per_step`` requests start
    per step on average and their arrivals (Poisson; or completions of sequences of spread lengths,
    each ending at random) are independent: ``1 - exp(-new)`` (at least a tiny share, so a step that
    admits carries a finite prompt load)."""
    return np.asarray(np.maximum(-np.expm1(-np.asarray(new_per_step, float)), 1e-12), dtype=float)


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
    mean step's cost (returned, for energy and breakdowns) holds the mean FLOP and bytes per step."""
    _, dec = mm.replica_step_s(b + new * mean_input, b, kv_tokens, new * mean_pairs)
    p = admit_share(new)
    t_pure, _ = mm.replica_step_s(b, b, kv_tokens, 0.0 * b)
    t_fill, _ = mm.replica_step_s(b + new * mean_input / p, b, kv_tokens, new * mean_pairs / p)
    return (1.0 - p) * t_pure + p * t_fill, dec


def _tp_whose_activations_fit(mm: MappedModel, budget: float) -> int | None:
    """The smallest tensor-parallel size above the layout's, within the chip's tp domain and splitting the
    model's heads (``mapping.layout``), at which one prefill chunk's activations fit ``budget``; None where none
    does (the residual stream, ``4 x hidden`` per token, is held whole on every chip whatever the tp)."""
    for tp in divisors(tp_domain(mm.chip.max_scaleup_domain)):
        if tp > mm.layout.tp and tp_splits_heads(mm.model, tp):
            wide = sharded(mm.model, Layout(tp=tp))
            if float(activation_bytes_per_chip(mm.model, wide, mm.formats, mm.chunk_tokens)) < budget:
                return tp
    return None


def fit_error(mm: MappedModel, batch: float, input_tokens: float, output_tokens: float,
              chips_given: int) -> DoesNotFitError:
    """A clear 'does not fit' error: by how much, and what would make it fit."""
    need_w = mm.weights_bytes
    kv = float(mm.kv_bytes_per_seq(input_tokens + output_tokens)) * batch
    act = float(mm.activation_bytes(mm.chunk_tokens))
    budget = mm.budget_bytes
    short = need_w + kv + act - budget
    lines = [
        f"{mm.model.id} does not fit on {mm.chip.id} with tp={mm.layout.tp} pp={mm.layout.pp} ep={mm.layout.ep}"
        f"{' (attention data-parallel)' if mm.layout.attn_dp else ''}: "
        f"per chip it needs {(need_w + kv + act) / GIGA:.1f} GB (weights {need_w / GIGA:.1f}, KV cache {kv / GIGA:.1f} "
        f"for batch {batch:g} at {input_tokens + output_tokens:g} tokens, activations {act / GIGA:.1f}) but "
        f"{budget / GIGA:.1f} GB is usable: short by {short / GIGA:.1f} GB.",
        "What would make it fit:",
    ]
    if budget <= act:  # more chips of this layout or narrower weights cannot help: each chip keeps these activations
        tp = _tp_whose_activations_fit(mm, budget) if budget > 0 else None
        helps = ("nothing in the layout or the formats helps" if budget <= 0 else
                 f"a wider tensor-parallel layout shrinks them per chip (--tp {tp} is the narrowest at which they "
                 "fit), as do narrower --activations" if tp else
                 "no wider tensor-parallel layout fits them (the residual stream is held whole on every chip); "
                 "narrower --activations shrink them")
        lines.append(f"  - the activations of one {mm.chunk_tokens:,.0f}-token prefill chunk at tp={mm.layout.tp} "
                     f"({act / GIGA:.1f} GB) alone exceed the {budget / GIGA:.1f} GB usable per chip: {helps}; "
                     "else a chip with more memory (check its memory.capacity and memory.capacity_unit)")
        return DoesNotFitError("\n".join(lines))
    chips = mm.layout.chips_per_replica
    # Weights and KV cache both split over a replica's chips; each chip keeps its activations.
    need_chips = math.ceil((need_w + kv) * chips / (budget - act)) if budget > act else 0
    if need_chips > chips:
        lines.append(f"  - more chips: about {need_chips} per replica (--count {max(need_chips, chips_given)} "
                     "with --tp/--pp to match)")
    if need_w + act < budget and kv > 0:
        b_fit = int(max(0.0, (budget - need_w - act)) // float(mm.kv_bytes_per_seq(input_tokens + output_tokens)))
        if b_fit >= 1:
            lines.append(f"  - a smaller batch: at most {b_fit} sequences of {input_tokens + output_tokens:g} tokens")
        lines.append("  - a shorter context (--input-tokens/--output-tokens) or an fp8 KV cache (--kv fp8)")
    if mm.formats.weights in ("bf16", "fp16", "fp32"):
        lines.append("  - narrower weights: --weights fp8 (half the bytes) or int4/fp4 (a quarter)")
    elif mm.formats.weights in ("fp8", "int8"):
        lines.append("  - narrower weights: --weights fp4 or int4 (half the bytes of fp8)")
    return DoesNotFitError("\n".join(lines))
