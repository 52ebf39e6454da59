"""A replica's step as an engine runs it: decode batches padded to a CUDA-graph bucket, and
under MTP speculative decoding every decoding sequence verifying its draft tokens.

* **CUDA-graph padding** (vLLM, SGLang, TensorRT-LLM capture decode graphs for fixed batch
  sizes): a decode-only step of ``n`` sequences per rank runs the graph of the next captured
  size, 1, 2, 4 and then multiples of ``graph_batch_step`` up to ``graph_max_batch``; the
  padded rows cost GEMM and MoE work but hold no KV cache. Above the largest graph the batch
  runs unpadded. A step that also prefills pads its decode rows the same way (vLLM V1's
  piecewise graphs pad the token count; an eager step is no faster on the device), so a mixed step
  never costs less than its decodes alone. Where the engine masks the padded rows' expert routes
  (``padded_rows_routed`` False: SGLang with DeepEP sets the top-k ids of the rows beyond the batch's real
  tokens to -1, and an idle attention-DP rank dispatches none, so no padded row reaches an expert or the
  expert all-to-all), the step is priced at its real rows: the routed experts and the dispatch serve the real
  tokens. With at most one draft token per sequence (every shipped engine's ``mtp_draft_tokens``) the dense GEMMs'
  M tile and waves are the same at the real rows as at the captured size (a rank's captured size is at most the next
  power of two and the next multiple of 8 of its rows, :func:`padded_batch`), so only the padded rows' activation
  bytes and elementwise work go unpriced there; with more drafts the real rows can need fewer M tiles than the padded
  ones, which this pricing leaves out.
* **Prefill interference**: a mixed step's prefill tokens and decode rows go through the same
  GEMMs in one pass, plus the prefill's causal attention and the decodes' KV reads (the inner
  step model), so it lasts at least as long as either part would alone.
* **Eager steps** (``EngineSpec.eager_steps``): a step an engine runs without CUDA graphs (vLLM: more tokens on a
  rank than its largest capture size; SGLang: any prefill, or more decodes on a rank than its largest captured batch)
  launches each kernel from the host. CUDA launches are
  asynchronous (the host enqueues a kernel and returns before the device runs it: CUDA C++ Programming Guide,
  "Asynchronous Concurrent Execution"), so the host's launches overlap the device's work; the step takes the
  longer of the two, after the host time the graphed step also has (:func:`eager_step_time_s`). The host time
  of a launch is the record's ``kernel_host_s`` (an estimate, sources in ``catalog/engines.yaml``); the kernel
  count is the mapped model's (``ShardedModel.kernels_per_step``), the same on every TP rank, which launch in
  parallel, so a wide-TP step whose device time shrinks becomes host-bound.
* **MTP** (multi-token prediction as a draft model): each decoding sequence feeds ``1 + k``
  tokens through the model per step (its token and ``k`` drafts to verify) and keeps the
  accepted ones; the step costs ``k`` more tokens per decoding sequence. How many tokens a
  step emits is the caller's business (:func:`~inferchip.sim.engines.bench.mtp_output_steps`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from inferchip.sim.step.protocol import BoolArray, FloatArray, IntArray, StepInputs, StepModel
from inferchip.spec.engine.padding import PaddingLadder
from inferchip.spec.engine.workers import EagerSteps


def padded_batch(seqs: npt.ArrayLike, step: int, largest: int) -> IntArray:
    """Captured graph size for ``seqs`` decode sequences (vectorised): 1, 2, 4, then the next
    multiple of ``step`` up to ``largest``; unchanged above ``largest`` or at 0."""
    n = np.asarray(seqs, dtype=np.int64)
    up = -(-n // step) * step
    small = np.where(n <= 1, n, np.where(n <= 2, 2, 4))
    out = np.where(n <= 4, small, np.minimum(up, largest))
    padded: IntArray = np.where(n > largest, n, out)
    return padded


def eager_steps(num_tokens: npt.ArrayLike, num_decode_seqs: npt.ArrayLike, graph_max_tokens: int,
                graph_prefill: bool, rank_decodes: npt.ArrayLike | None = None, graph_max_batch: int = 0,
                rank_tokens: npt.ArrayLike | None = None) -> BoolArray:
    """Which steps run without CUDA graphs (vectorised): more than ``graph_max_tokens`` tokens on a rank
    (``rank_tokens``, else ``num_tokens``; 0: no cap), any prompt token (tokens beyond the decodes' own) where
    ``graph_prefill`` is False, or more than ``graph_max_batch`` decoding sequences on a rank (``rank_decodes``;
    0: no such cap)."""
    tokens = np.asarray(num_tokens, dtype=np.int64)
    capped = tokens if rank_tokens is None else np.asarray(rank_tokens, dtype=np.int64)
    over = (capped > graph_max_tokens) if graph_max_tokens > 0 else np.zeros(tokens.shape, dtype=bool)
    if graph_max_batch > 0 and rank_decodes is not None:
        over = over | (np.asarray(rank_decodes, dtype=np.int64) > graph_max_batch)
    return over if graph_prefill else over | (tokens > np.asarray(num_decode_seqs, dtype=np.int64))


def eager_step_time_s(graphed_s: npt.ArrayLike, step_host_s: float, kernels: int, kernel_host_s: float) -> FloatArray:
    """Time of a step run without graphs whose graphed form takes ``graphed_s`` (the engine's non-overlapped host
    time ``step_host_s`` plus the device's work): the host time, then the longer of the device's work after the
    first launch and the host's ``kernels`` launches of ``kernel_host_s`` each (asynchronous launch:
    see the module doc)."""
    device_s = np.maximum(np.asarray(graphed_s, dtype=float) - step_host_s, 0.0)
    return step_host_s + np.maximum(device_s + kernel_host_s, kernels * kernel_host_s)


@dataclass
class EngineStepModel:
    """Wraps a step model (:class:`~inferchip.sim.step.protocol.StepModel`) with the engine's padding
    and MTP verify tokens. ``ranks``: attention-DP ranks the decode batch is spread over (each
    pads its own share)."""

    inner: StepModel
    graph_batch_step: int = 8
    graph_max_batch: int = 512
    verify_tokens: int = 0  # MTP draft tokens per decoding sequence and step (0: no MTP)
    ranks: int = 1
    eager: EagerSteps | None = None  # steps run without graphs (None: every step priced as graphed)
    kernels: int = 0  # kernels a step launches per chip (ShardedModel.kernels_per_step x pp micro-batches)
    # the engine's host time per step in the inner step time (step_overhead_s x pp: an upper bound, a pipeline
    # replica paying one iteration per micro-batch, cost.rules.host_cost; no closed-loop row runs pp > 1)
    step_host_s: float = 0.0
    padded_rows_routed: bool = True  # False: padded rows reach no expert (the module doc); priced at the real rows
    # False: the back end captures no CUDA graphs; it pads to its compiled step sizes in the inner step model
    # (vLLM's TPU and Gaudi back ends: performance.mapped.MappedModel.padding), so no graph bucket is added here
    graphs: bool = True

    def _padded(self, n: npt.ArrayLike) -> IntArray:
        """Rows a step of ``n`` decodes prices: each rank's share padded to its captured graph
        (:func:`padded_batch`), or ``n`` where the padded rows reach no expert (``padded_rows_routed`` False)."""
        rows: IntArray = np.asarray(n, dtype=np.int64)
        if not self.padded_rows_routed or not self.graphs:
            return rows
        per_rank = -(-rows // self.ranks)
        padded: IntArray = np.maximum(padded_batch(per_rank, self.graph_batch_step, self.graph_max_batch) * self.ranks,
                                      rows)
        return padded

    def _eager(self, t: FloatArray, tokens: IntArray | int, n: IntArray | int,
               rank_tokens: IntArray | None = None) -> FloatArray:
        """``t`` with the steps of ``tokens`` tokens (decode tokens with their drafts) and ``n`` decodes that run
        without graphs priced by :func:`eager_step_time_s`. A rank's batch decides (each attention-DP rank captures
        its own graphs): ``rank_tokens`` on the busiest rank, else the step's tokens spread evenly."""
        e = self.eager
        if e is None:
            return t
        n = np.asarray(n, dtype=np.int64)
        ranked = -(-np.asarray(tokens, dtype=np.int64) // self.ranks) if rank_tokens is None else rank_tokens
        mask = eager_steps(tokens, n * (1 + self.verify_tokens), e.graph_max_tokens, e.graph_prefill,
                           -(-n // self.ranks), self.graph_max_batch if e.above_graph_batch else 0, ranked)
        return np.where(mask, eager_step_time_s(t, self.step_host_s, self.kernels, e.kernel_host_s), t)

    def step_time_s(self, num_tokens: StepInputs, num_decode_seqs: StepInputs, decode_kv_tokens: StepInputs,
                    prefill_attn_pairs: StepInputs) -> FloatArray:
        n = np.asarray(num_decode_seqs, dtype=np.int64)
        tokens = np.asarray(num_tokens, dtype=np.int64)
        padded = self._padded(n)
        extra = padded - n + self.verify_tokens * padded
        t = self.inner.step_time_s(tokens + extra, padded, decode_kv_tokens, prefill_attn_pairs)
        return self._eager(t, tokens + self.verify_tokens * n, n)

    def step_time_busiest_s(self, num_tokens: int, num_decode_seqs: int, decode_kv_tokens: int,
                            prefill_attn_pairs: int, prefill_chip: float) -> float | None:
        """One step with ``prefill_chip`` prefill tokens on its busiest rank (whole prompts on uneven
        ranks; :func:`~inferchip.sim.batching.scheduler.busiest_rank_prefill`), padded as :meth:`step_time_s`;
        None where the inner model cannot take the busiest rank apart from the step's total."""
        fn = getattr(self.inner, "step_time_busiest_s", None)
        if fn is None:
            return None
        n = int(num_decode_seqs)
        padded = int(self._padded(n))
        extra = padded - n + self.verify_tokens * padded
        t = fn(int(num_tokens) + extra, padded, decode_kv_tokens, prefill_attn_pairs, prefill_chip)
        rank_tokens = math.ceil(prefill_chip) + -(-n * (1 + self.verify_tokens) // self.ranks)
        return float(self._eager(np.asarray(t), int(num_tokens) + self.verify_tokens * n, n, np.asarray(rank_tokens)))

    @property
    def prompt_padding(self) -> PaddingLadder | None:
        """The inner step model's prompt buckets, which the replica prices per prompt (their drafts are no prompts)."""
        pad: PaddingLadder | None = getattr(self.inner, "prompt_padding", None)
        return pad

    @property
    def kv_capacity_tokens(self) -> int:
        return int(self.inner.kv_capacity_tokens)

    @property
    def num_chips(self) -> int:
        return int(self.inner.num_chips)
