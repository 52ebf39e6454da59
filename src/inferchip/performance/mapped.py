"""A model mapped onto a system for one layout: its sharded shapes, the memory one chip holds (weights, KV cache,
a chunk's activations), its step times, and the error that says by how much a model does not fit and what would
make it fit. The phases of serving it (static and continuous batches) are :mod:`inferchip.performance.phases`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import cast

import numpy as np
import numpy.typing as npt

from inferchip.cost.roofline import ArrayLike as Numbers
from inferchip.cost.step import StepCost, StepPlan, cached_step_plan
from inferchip.errors import DoesNotFitError, named, named_as
from inferchip.mapping.layout import Layout, divisors, tp_domain, tp_splits_heads
from inferchip.mapping.memory_fit import (
    FloatArray,
    Formats,
    activation_bytes_per_chip,
    kv_bytes_per_sequence,
    vocab_bytes_per_chip,
    weight_bytes_per_chip,
)
from inferchip.mapping.sharding import ShardedModel, pad_experts, shard
from inferchip.spec.calibration import Calibration
from inferchip.spec.chip import ChipParams
from inferchip.spec.engine.padding import PaddingLadder
from inferchip.spec.model import ModelSpec
from inferchip.units import GIGA, MEGA

LOGIT_ROWS = 4096  # mapping.memory_fit.activation_bytes_per_chip keeps fp32 logits of at most this many rows
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
    # the back end's compiled step shapes (vLLM's TPU and Gaudi back ends, spec.engine.padding), priced in every step
    # below (:meth:`padded_rows`); None (every GPU run, validate's rows): unpadded
    padding: PaddingLadder | None = None

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

    def free_bytes(self, step_tokens: float | None = None) -> FloatArray:
        """Memory one chip has for KV cache: the budget less weights and the activations of the largest step the
        run executes on one chip (:meth:`step_activation_bytes`); ``step_tokens`` None: a full chunk (kept for the
        chunk size it was computed at)."""
        if step_tokens is not None and step_tokens < self.chunk_tokens:
            act = self.activation_bytes(float(step_tokens))
            free: FloatArray = self.budget_bytes - self.weights_bytes - self._kv_activation_bytes(act)
            return free
        held = self._chunk_memory()
        return held[3]

    def step_activation_bytes(self, step_tokens: float | None = None) -> float:
        """The activations one chip holds for the largest step the run executes: ``step_tokens`` (a static batch's
        prompts, batch x prompt tokens) bounded by the chunk (the engine's per-step token budget); None: a chunk."""
        if step_tokens is None or step_tokens >= self.chunk_tokens:
            return float(self.chunk_activation_bytes())
        return float(self.activation_bytes(float(step_tokens)))

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

    def max_batch(self, input_tokens: npt.ArrayLike, output_tokens: npt.ArrayLike,
                  step_tokens: float | None = None) -> FloatArray | np.float64:
        """Largest number of sequences of length input+output whose KV cache fits one replica
        (under attention DP: whole sequences on each of the ``tp`` chips), beside the activations of a step of
        ``step_tokens`` per chip (None: a full chunk, :meth:`free_bytes`)."""
        if type(input_tokens) is float and type(output_tokens) is float:  # one point, in floats
            free1, dp1 = float(self.free_bytes(step_tokens)), self.sm.dp_attention
            per_seq = self._kv_bytes_one(input_tokens + output_tokens) * dp1
            if per_seq > 0 and math.isfinite(per_seq) and math.isfinite(free1):
                return np.float64(dp1 * math.floor(max(free1, 0.0) / per_seq))
        ctx = np.asarray(input_tokens, float) + np.asarray(output_tokens, float)
        free = self.free_bytes(step_tokens)
        dp = self.sm.dp_attention
        fit: FloatArray = dp * np.floor(np.maximum(free, 0.0) / (self.kv_bytes_per_seq(ctx) * dp))
        return fit

    def padded_rows(self, num_tokens: Numbers, num_decode_seqs: Numbers, prompt_tokens: Numbers | None = None
                    ) -> tuple[Numbers, Numbers]:
        """(tokens, decodes) one stage's step of ``num_tokens`` tokens, ``num_decode_seqs`` of them decodes, runs
        under the back end's compiled step shapes (:attr:`padding`): each attention-DP rank's even share padded to
        the next compiled size (:meth:`~inferchip.spec.engine.padding.PaddingLadder.extra_rows`), the padded rows
        priced as decode rows that read no KV cache (as the closed-loop rows' CUDA-graph padding is). The one place
        the padding is applied: predict's static batch and continuous batching, the layout search and the serving
        simulator (``ServingStepModel``) all price their steps through :meth:`stage_step` /
        :meth:`stage_step_point`. Unchanged without padding. ``prompt_tokens``: the prompts' length where the step's
        prefill is whole prompts of one length (predict's static batch), each padded to its prompt bucket."""
        if self.padding is None:
            return num_tokens, num_decode_seqs
        extra = self.padding.extra_rows(num_tokens, num_decode_seqs, self.layout.attn_dp_ways, prompt_tokens)
        return np.asarray(num_tokens, dtype=float) + extra, np.asarray(num_decode_seqs, dtype=float) + extra

    def stage_step(self, num_tokens: Numbers, num_decode_seqs: Numbers, decode_kv_tokens: Numbers,
                   prefill_attn_pairs: Numbers, logit_rows: Numbers | None = None,
                   prefill_chip: Numbers | None = None, prompt_tokens: Numbers | None = None) -> StepCost:
        num_tokens, num_decode_seqs = self.padded_rows(num_tokens, num_decode_seqs, prompt_tokens)
        # The step compiled once for this mapping (recompiled if sm, chip, formats or cal change).
        self._plan: StepPlan = cached_step_plan(getattr(self, "_plan", None), self.sm, self.chip, self.formats,
                                                self.cal)
        return self._plan.cost(num_tokens, num_decode_seqs, decode_kv_tokens, prefill_attn_pairs, logit_rows,
                               prefill_chip)

    def stage_step_point(self, shape: tuple[int, ...], num_tokens: float, num_decode_seqs: float,
                         decode_kv_tokens: float, prefill_attn_pairs: float,
                         logit_rows: float | None = None, prefill_chip: float | None = None,
                         prompt_tokens: float | None = None) -> StepCost:
        """:meth:`stage_step` of one point given as finite floats, its arrays of ``shape`` (all of size one);
        ``prefill_chip``: the busiest attention-DP chip's prefill tokens (cost.step.step_points)."""
        if self.padding is not None:  # :meth:`padded_rows` in floats
            extra = float(self.padding.extra_rows(num_tokens, num_decode_seqs, self.layout.attn_dp_ways,
                                                  prompt_tokens))
            num_tokens, num_decode_seqs = num_tokens + extra, num_decode_seqs + extra
        self._plan = cached_step_plan(getattr(self, "_plan", None), self.sm, self.chip, self.formats, self.cal)
        return self._plan.point_cost(shape, num_tokens, num_decode_seqs, decode_kv_tokens, prefill_attn_pairs,
                                     logit_rows, prefill_chip)

    # --- replica-level step times (pp micro-batches in flight) ---------------------------
    def replica_step_s(self, num_tokens: npt.ArrayLike, num_decode_seqs: npt.ArrayLike,
                       decode_kv_tokens: npt.ArrayLike, prefill_attn_pairs: npt.ArrayLike,
                       logit_rows: npt.ArrayLike | None = None,
                       prefill_chip: npt.ArrayLike | None = None, prompt_tokens: npt.ArrayLike | None = None
                       ) -> tuple[FloatArray, StepCost]:
        """Time for a whole batch to advance one iteration through all ``pp`` stages, the
        batch split into ``pp`` micro-batches (each chip runs its stage once per micro-batch).
        ``prefill_chip``: one point's prefill tokens on its busiest attention-DP chip (cost.step.step_points);
        ``prompt_tokens``: :meth:`padded_rows`'."""
        pp = self.layout.pp
        lr = None if logit_rows is None else np.asarray(logit_rows, float) / pp
        pc = None if prefill_chip is None else np.asarray(prefill_chip, float) / pp
        c = self.stage_step(np.asarray(num_tokens, float) / pp, np.asarray(num_decode_seqs, float) / pp,
                            np.asarray(decode_kv_tokens, float) / pp, np.asarray(prefill_attn_pairs, float) / pp, lr,
                            pc, None if prompt_tokens is None else np.asarray(prompt_tokens, float))
        return pp * c.time_s, c


def map_model(model: ModelSpec, chip: ChipParams, layout: Layout, formats: Formats, cal: Calibration) -> MappedModel:
    sm = pad_experts(sharded(model, layout), cal.moe_pad_hidden_to, cal.moe_pad_intermediate_to, model.mlp_gated)
    pipelined = np.asarray(chip.layer_pipeline, dtype=bool)
    if pipelined.ndim == 0:
        weights = weight_bytes_per_chip(model, sm, formats, balanced=bool(pipelined))
    else:  # chips stacked for a sweep (spec.params.stack_chips): each chip's family's split, an array where
        # ChipParams' numeric fields are (the memory equations are elementwise)
        weights = cast(float, np.where(pipelined, weight_bytes_per_chip(model, sm, formats, balanced=True),
                           weight_bytes_per_chip(model, sm, formats, balanced=False)))
    return MappedModel(model, chip, layout, formats, cal, sm, weights)


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


def _tp_whose_activations_fit(mm: MappedModel, budget: float, step_tokens: float) -> int | None:
    """The smallest tensor-parallel size above the layout's, within the chip's tp domain and splitting the
    model's heads (``mapping.layout``), at which one step of ``step_tokens``' activations fit ``budget``; None where
    none does (the residual stream, ``4 x hidden`` per token, is held whole on every chip whatever the tp)."""
    for tp in divisors(tp_domain(mm.chip.max_scaleup_domain)):
        if tp > mm.layout.tp and tp_splits_heads(mm.model, tp):
            wide = sharded(mm.model, Layout(tp=tp))
            if float(activation_bytes_per_chip(mm.model, wide, mm.formats, step_tokens)) < budget:
                return tp
    return None


def _chunk_that_fits(mm: MappedModel, room: float, step: float) -> int | None:
    """The largest prefill chunk (at most ``LOGIT_ROWS`` tokens) whose activations fit in ``room`` bytes, where it is
    below the ``step``'s tokens; None where no chunk of at least one token fits or the step already fits."""
    per_token = float(mm.activation_bytes(1.0))
    if room <= 0 or per_token <= 0:
        return None
    tokens = min(int(room // per_token), LOGIT_ROWS)
    return tokens if 1 <= tokens < step else None


def _smaller_chunk(mm: MappedModel, room: float, step: float) -> list[str]:
    """The advice of a smaller prefill chunk where the activations of one of at most ``LOGIT_ROWS`` tokens fit the
    ``room`` the weights and KV cache leave (activations grow linearly in the tokens there): empty where none does.
    ``step`` is the largest step's tokens, the chunk or a static batch's prompts below it: a chunk below either
    bounds the step (``step_activation_bytes``), so the advice holds for both."""
    tokens = _chunk_that_fits(mm, room, step)
    if tokens is None:
        return []
    return [f"  - a smaller prefill chunk: {named_as('chunk_tokens', f'{tokens:,}')} or fewer (its activations, "
            f"{float(mm.activation_bytes(float(tokens))) / GIGA:.3f} GB, fit beside the weights and KV cache)"]


def _layout_for_chips(mm: MappedModel, replicas: int, per_seq_tokens: float, batch: float, step: float) -> str:
    """The smallest replica this model and chip allow (``mapping.layout``: a tp dividing the chip's tp domain and
    splitting the heads, no narrower than the run's, a pp up to the layers) on which ``batch`` sequences of
    ``per_seq_tokens`` and a ``step``-token step fit, each layout mapped and summed as :func:`fit_error` sums it (its
    estimate of the chips needed spreads the run's per-chip weights evenly, where a pipeline's end stage keeps the
    embedding or LM head whole: 14 chips where 20 were needed), the widest tp among equals, as the flags that ask for
    it (``--count`` keeps the run's ``replicas``); a sentence saying none exists where none does."""
    tps = [tp for tp in divisors(tp_domain(mm.chip.max_scaleup_domain)) if tp_splits_heads(mm.model, tp)]
    tps = [tp for tp in tps if tp >= mm.layout.tp] or tps  # widen the run's tp, never narrow it

    def fits(tp: int, pp: int) -> bool:
        on = replace(map_model(mm.model, mm.chip, Layout(tp=tp, pp=pp), mm.formats, mm.cal),
                     chunk_tokens=mm.chunk_tokens, static_memory_fraction=mm.static_memory_fraction)
        need = on.weights_bytes + float(on.kv_bytes_per_seq(per_seq_tokens)) * batch + on.step_activation_bytes(step)
        return bool(need <= on.budget_bytes)

    best: tuple[int, int, int] | None = None  # (chips, -tp, pp)
    for tp in tps:
        # fit_error's estimate, from the run's layout, bounds no other: the least pp that fits, by bisection (a
        # deeper pipeline never needs more per chip: each stage holds no more layers, the end stage's vocab the same)
        lo, hi = 1, mm.model.num_layers
        if not fits(tp, hi):
            continue
        while lo < hi:
            mid = (lo + hi) // 2
            lo, hi = (lo, mid) if fits(tp, mid) else (mid + 1, hi)
        if best is None or (tp * lo, -tp) < best[:2]:
            best = (tp * lo, -tp, lo)
    if best is None:
        return (f"no layout of this chip fits it ({mm.model.num_heads} heads, {mm.model.num_layers} layers, "
                f"a tp domain of {tp_domain(mm.chip.max_scaleup_domain)})")
    chips, tp, pp = best[0], -best[1], best[2]
    n = mm.chip.devices_per_package  # --count counts packages; the layout, the runtime's devices
    flags = named_as("tp", tp) + (f" {named_as('pp', pp)}" if pp > 1 else "") + \
        f" {named_as('count', -(-chips * replicas // n))}" + (
        "" if n == 1 else f" ({chips * replicas} runtime devices, {n} a package)")
    return f"the smallest layout this model allows: {flags} (a tp that splits the heads, pp at most the layers)"


def _wider_tp_text(mm: MappedModel) -> str:
    """What a wider tensor-parallel layout offers the end stage: the next tp of the scale-up domain that splits the
    heads (each such tp splits the vocab further), or that the layout's tp is the widest there is."""
    domain = tp_domain(mm.chip.max_scaleup_domain)
    wider = [tp for tp in divisors(domain) if tp > mm.layout.tp and tp_splits_heads(mm.model, tp)]
    if wider:
        return f"a wider tp splits them further ({named_as('tp', wider[0])})"
    return (f"tp={mm.layout.tp} is already the widest the chip's scale-up domain of {domain} allows for "
            f"{mm.model.num_heads} heads")


def _end_stage_bytes(mm: MappedModel) -> float:
    """Bytes a chip of the stage holding the (16-bit, vocab-parallel) embedding or LM head keeps for them alone:
    the larger of the two at pp > 1 (first and last stage), both at pp 1 (the embedding alone where tied)."""
    embed, head = vocab_bytes_per_chip(mm.model, mm.sm)
    if mm.layout.pp > 1:
        return max(embed, head)
    return embed + (0.0 if mm.model.tie_word_embeddings else head)


def _count(x: float) -> str:
    """A count as the CLI writes one: 100,000 and 1,000,006 with separators, a fraction (a mean batch) to 4 figures."""
    return f"{int(x):,}" if float(x).is_integer() else f"{x:,.4g}"


def fit_error(mm: MappedModel, batch: float, input_tokens: float, output_tokens: float,
              chips_given: int, step_tokens: float | None = None) -> DoesNotFitError:
    """A clear 'does not fit' error: by how much, and what would make it fit. ``step_tokens``: the tokens of the
    largest step the run executes on one chip (a static batch: batch x prompt), bounded by the chunk; None: a
    chunk (continuous batching may fill one)."""
    need_w = mm.weights_bytes
    kv = float(mm.kv_bytes_per_seq(input_tokens + output_tokens)) * batch
    step = float(mm.chunk_tokens) if step_tokens is None else min(float(step_tokens), float(mm.chunk_tokens))
    act = mm.step_activation_bytes(step)
    budget = mm.budget_bytes
    short = need_w + kv + act - budget
    per, unit = (MEGA, "MB") if budget < GIGA else (GIGA, "GB")  # an SRAM chip's 211.6 MB, not "0.2 GB"
    lines = [
        f"{mm.model.id} does not fit on {mm.chip.id} with tp={mm.layout.tp} pp={mm.layout.pp} ep={mm.layout.ep}"
        f"{' (attention data-parallel)' if mm.layout.attn_dp else ''}: "
        f"per chip it needs {(need_w + kv + act) / per:,.1f} {unit} (weights {need_w / per:,.1f}, "
        f"KV cache {kv / per:,.1f} for batch {_count(batch)} at {_count(input_tokens + output_tokens)} "
        f"{'token' if input_tokens + output_tokens == 1 else 'tokens'}, "
        f"activations {act / per:,.1f}) but "
        f"{budget / per:,.1f} {unit} is usable: short by {short / per:,.1f} {unit}.",
        "What would make it fit:",
    ]
    chunk_line = _smaller_chunk(mm, budget - need_w - kv, step)
    if budget <= act:  # more chips of this layout or narrower weights cannot help: each chip keeps these activations
        tp = _tp_whose_activations_fit(mm, budget, step) if budget > 0 else None
        helps = ("nothing in the layout or the formats helps" if budget <= 0 else
                 f"a wider tensor-parallel layout shrinks them per chip ({named_as('tp', tp)} is the narrowest at "
                 f"which they fit), as do narrower {named('activations')}" if tp else
                 "no wider tensor-parallel layout fits them (the residual stream is held whole on every chip); "
                 f"narrower {named('activations')} shrink them")
        alone = _chunk_that_fits(mm, budget, step)
        if alone is not None:  # a smaller chunk bounds the step too (step_activation_bytes)
            helps += f", or a smaller prefill chunk at this tp ({named_as('chunk_tokens', f'{alone:,}')} or fewer)"
        what = (f"one {step:,.0f}-token prefill chunk" if step >= mm.chunk_tokens else
                f"its largest step, {step:,.0f} tokens (batch x prompt; the chunk is {mm.chunk_tokens:,})")
        lines.append(f"  - the activations of {what} at tp={mm.layout.tp} "
                     f"({act / per:,.1f} {unit}) alone exceed the {budget / per:,.1f} {unit} usable per chip: {helps}; "
                     "else a chip with more memory (check its memory.capacity and memory.capacity_unit)")
        lines.extend(chunk_line)
        return DoesNotFitError("\n".join(lines))
    lines.extend(chunk_line)
    ends = _end_stage_bytes(mm)
    if ends + act >= budget:  # the embedding / LM head stage: more stages of this tp cannot shrink it
        both = "embedding and LM head" if mm.layout.pp == 1 else "embedding or LM head"
        lines.append(f"  - the vocab-parallel {both} alone take {ends / 1e6:,.1f} MB a chip at tp={mm.layout.attn_tp} "
                     f"({mm.model.vocab_size:,} x {mm.model.hidden_size:,} x 2 B / {mm.layout.attn_tp}), with the "
                     f"activations more than the {budget / 1e6:,.1f} MB usable: no pipeline depth at this tp fits "
                     f"them; {_wider_tp_text(mm)}")
    chips = mm.layout.chips_per_replica
    # Weights and KV cache both split over a replica's chips; each chip keeps its activations.
    need_chips = math.ceil((need_w + kv) * chips / (budget - act)) if budget > act else 0
    if need_chips > chips and ends + act < budget:
        lines.append(f"  - more chips: about {need_chips} per replica; "
                     + _layout_for_chips(mm, max(1, chips_given // chips), input_tokens + output_tokens, batch, step))
    if need_w + act < budget and kv > 0:
        b_fit = int(max(0.0, (budget - need_w - act)) // float(mm.kv_bytes_per_seq(input_tokens + output_tokens)))
        if b_fit >= 1:
            lines.append(f"  - a smaller batch: at most {b_fit} sequences of {input_tokens + output_tokens:g} tokens")
        lines.append(f"  - a shorter context ({named('input_tokens')}/{named('output_tokens')}) or an fp8 KV cache "
                     f"({named_as('kv', 'fp8')})")
    if mm.formats.weights in ("bf16", "fp16", "fp32"):
        lines.append(f"  - narrower weights: {named_as('weights', 'fp8')} (half the bytes) or int4/fp4 (a quarter)")
    elif mm.formats.weights in ("fp8", "int8"):
        lines.append(f"  - narrower weights: {named_as('weights', 'fp4')} or int4 (half the bytes of fp8)")
    return DoesNotFitError("\n".join(lines))
