"""A model mapped onto a system for one layout: its sharded shapes, the memory one chip holds (weights, KV cache,
a chunk's activations) and its step times; the error that says by how much it does not fit is
:mod:`.does_not_fit`. The phases of serving it (static and continuous batches) are :mod:`inferchip.performance.phases`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import cast

import numpy as np
import numpy.typing as npt

from inferchip.cost.roofline import ArrayLike as Numbers
from inferchip.cost.step import StepCost, StepPlan, cached_step_plan
from inferchip.mapping.layout import Layout
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
from inferchip.spec.engine.padding import PaddingLadder
from inferchip.spec.model import ModelSpec

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
