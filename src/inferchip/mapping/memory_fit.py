"""Memory per chip: weights + KV cache + activations + runtime reserve, and the fit check.

Weights are counted from the per-chip GEMM shapes (so what is stored is what is read),
plus the embedding and LM head. The embedding and LM head are kept in 16-bit (quantisation
tools such as NVIDIA ModelOpt and AutoAWQ leave them unquantised by default).

Under attention data parallelism every chip holds the full attention, dense-MLP,
shared-expert, embedding and LM-head weights, its ``1/ep`` of the routed experts, and the KV
cache of its own sequences only (Ray Serve LLM guide "Data parallel attention",
docs.ray.io: MLA's cache cannot be sharded by heads; data-parallel attention adds KV capacity).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from inferchip.mapping.sharding import ShardedModel
from inferchip.spec.formats import BYTES_PER_ELEMENT
from inferchip.spec.model import ModelSpec

EMBEDDING_FORMAT = "bf16"
FloatArray = npt.NDArray[np.float64]
ATTENTION_OUT = "o"  # the attention output projection's GEMM name (mapping.sharding)
ATTENTION_Q_B = "q_b"  # MLA's query up-projection (mapping.sharding), the one SGLang's PR #11805 may run in FP8


@dataclass(frozen=True)
class Formats:
    """Number formats of a setting. ``attention_weights``: the format of the attention projections'
    weights where a checkpoint quantises only some layers (NVFP4/MXFP4 checkpoints quantise the
    experts and keep attention, router and embeddings wider); None = ``weights`` (every layer).
    ``attention_out_weights``: the output projection's (``o``) format where the checkpoint quantises it but not
    the other attention projections (NVIDIA's DeepSeek-R1-0528 FP4 v2); None = as the other attention projections.
    ``attention_q_b_weights``: MLA's query up-projection's (``q_b``) format where the engine runs it apart from the
    others (SGLang requantising a bf16 q_b to FP8 under SGLANG_NVFP4_CKPT_FP8_GEMM_IN_ATTN); None = as the others.
    ``all_reduce``: the codec an engine's launch recipe reduces large tensor-parallel messages with
    (AMD QuickReduce ``int4``/``int6``/``int8``/``fp``, cost/network.py); "" = the 16-bit hidden states
    as they are."""

    weights: str = "bf16"
    activations: str = "bf16"
    kv: str = "bf16"
    attention_weights: str | None = None
    all_reduce: str = ""
    attention_out_weights: str | None = None
    attention_q_b_weights: str | None = None

    @property
    def weight_bytes(self) -> float:
        return BYTES_PER_ELEMENT[self.weights]

    @property
    def attention_weight_bytes(self) -> float:
        """Bytes per weight element of the attention projections (the per-layer map, else ``weights``)."""
        return BYTES_PER_ELEMENT[self.attention_weights or self.weights]

    @property
    def attention_out_weight_bytes(self) -> float:
        """Bytes per weight element of the attention output projection (``attention_out_weights``, else as the
        other attention projections)."""
        return BYTES_PER_ELEMENT[self.attention_out_weights or self.attention_weights or self.weights]

    @property
    def attention_q_b_weight_bytes(self) -> float:
        """Bytes per weight element of MLA's ``q_b`` (``attention_q_b_weights``, else as the other projections)."""
        return BYTES_PER_ELEMENT[self.attention_q_b_weights or self.attention_weights or self.weights]

    @property
    def act_bytes(self) -> float:
        return BYTES_PER_ELEMENT[self.activations]

    @property
    def kv_bytes(self) -> float:
        return BYTES_PER_ELEMENT[self.kv]


def layer_weight_bytes(gemm: object, fmt: Formats) -> float:
    """Bytes per weight element of one weight GEMM under the per-layer format map: attention
    projections in ``fmt.attention_weights`` where it is given (the output projection ``o`` in
    ``fmt.attention_out_weights``, MLA's ``q_b`` in ``fmt.attention_q_b_weights`` where those are), every other GEMM
    in ``fmt.weights``."""
    if getattr(gemm, "op_class", None) != "attention_proj":
        return fmt.weight_bytes
    name = getattr(gemm, "name", "")
    return (fmt.attention_out_weight_bytes if name == ATTENTION_OUT else fmt.attention_q_b_weight_bytes
            if name == ATTENTION_Q_B else fmt.attention_weight_bytes)


def stage_layer_counts(num_layers: int, pp: int) -> tuple[int, ...]:
    """Decoder layers on each of ``pp`` pipeline stages, first to last, as vLLM partitions them
    (``get_pp_indices``, vllm/distributed/utils.py): ``num_layers // pp`` each, and the remaining
    ``num_layers % pp`` one each on the stages just before the last (stage ``pp - 2``, then ``pp - 3``, ...):
    the first stage holds the input embedding and the last the LM head, so the extra layers go elsewhere
    "to reduce maximum memory consumption across partitions" (its docstring)."""
    if pp < 1 or num_layers < pp:
        raise ValueError(f"stage_layer_counts: pp must be 1..num_layers ({num_layers}), got {pp}")
    counts = [num_layers // pp] * pp
    for i in range(2, num_layers % pp + 2):
        counts[-i] += 1
    return tuple(counts)


def stage_weight_bytes(model: ModelSpec, sm: ShardedModel, fmt: Formats) -> tuple[float, ...]:
    """Weight bytes held by one chip of each pipeline stage, first to last, split as vLLM splits the layers
    (:func:`stage_layer_counts`).

    Stage ``s`` holds its layers; the first stage also holds the input embedding and the last the LM head (vLLM:
    ``VocabParallelEmbedding`` only on the first PP rank, ``ParallelLMHead`` only on the last, ``PPMissingLayer``
    elsewhere; Megatron-LM's ``pre_process`` / ``post_process`` stages alike), both vocab-parallel over the
    stage's tensor-parallel group (``vocab / tp`` rows a chip). A tied LM head is a copy of the embedding on the
    last stage when ``pp > 1`` (vLLM loads the embedding's weight into the last rank's ``lm_head``).

    A stage's layers are priced as ``min(the largest stage's per-group bound, its layers x the widest group's
    bytes a layer)``: exact for a model of one layer group (or of groups of equal bytes a layer), an upper bound
    where groups differ, since where their layers fall is not modelled."""
    per_group = [sum(g.weight_elements * layer_weight_bytes(g, fmt) for g in layer.gemms) for layer in sm.layers]
    largest = 0.0
    for layer, per_layer in zip(sm.layers, per_group, strict=True):
        largest += layer.count * per_layer
    widest = max(per_group)
    pp = sm.layout.pp
    embed, head = vocab_bytes_per_chip(model, sm)
    if pp == 1:
        return (largest + embed + (0.0 if model.tie_word_embeddings else head),)
    out = []
    for s, n in enumerate(stage_layer_counts(model.num_layers, pp)):
        total = min(largest, n * widest)
        if s == 0:
            total += embed
        if s == pp - 1:
            total += head
        out.append(total)
    return tuple(out)


def vocab_bytes_per_chip(model: ModelSpec, sm: ShardedModel) -> tuple[float, float]:
    """(input embedding, LM head) bytes one chip of the stage holding each keeps: ``EMBEDDING_FORMAT``, vocab-parallel
    over the attention tp group; the head counted as a matrix of its own (whether a tied head is stored again is the
    caller's rule)."""
    embed = model.vocab_size * model.hidden_size / sm.layout.attn_tp * BYTES_PER_ELEMENT[EMBEDDING_FORMAT]
    return embed, sm.lm_head.k * sm.lm_head.n * BYTES_PER_ELEMENT[EMBEDDING_FORMAT]


def weight_bytes_per_chip(model: ModelSpec, sm: ShardedModel, fmt: Formats, balanced: bool = False) -> float:
    """Weight bytes held by one chip of the pipeline stage that holds the most.

    ``balanced`` (a family whose compiler places a model's layers over chips to fit its SRAM,
    ``ChipParams.layer_pipeline``): the largest of :func:`stage_weight_bytes`, vLLM's split, which keeps the extra
    layers off the stages holding the embedding and the LM head. Otherwise, as GPU engines are priced: the
    largest stage's ``ceil(L / pp)`` layers plus the larger of the embedding and the LM head. That is TensorRT-LLM's
    split (``Mapping.pp_layers``, tensorrt_llm/mapping.py: ``torch.tensor_split``, the ``L % pp`` extra layers on
    the first ranks, the first holding the embedding) and SGLang's (the extra layers on the last ranks, the last
    holding the LM head); for vLLM an upper bound."""
    if balanced:
        return max(stage_weight_bytes(model, sm, fmt))
    total = 0.0
    for layer in sm.layers:
        per_layer = sum(g.weight_elements * layer_weight_bytes(g, fmt) for g in layer.gemms)
        total += layer.count * per_layer
    embed, head = vocab_bytes_per_chip(model, sm)
    lm = 0.0 if model.tie_word_embeddings else head
    total += (embed + lm) if sm.layout.pp == 1 else max(embed, lm)
    return total


def kv_bytes_per_sequence(sm: ShardedModel, fmt: Formats, context_tokens: FloatArray | float) -> FloatArray:
    """KV-cache bytes one sequence of ``context_tokens`` holds on one chip (sliding windows capped; a chunked layer
    holds at most one attention chunk: vLLM ChunkedLocalAttentionManager frees the finished chunks).

    Under attention DP a sequence lives on one chip of the ``dp_attention`` chips of its stage:
    the value is the average per chip (full bytes / dp_attention), so ``batch x`` it is the
    cache one chip holds when the batch is spread evenly; :func:`kv_bytes_per_sequence_on_its_chip`
    gives the full bytes.
    """
    return sm.local_share(kv_bytes_per_sequence_on_its_chip(sm, fmt, context_tokens))


def kv_bytes_per_sequence_on_its_chip(sm: ShardedModel, fmt: Formats, context_tokens: FloatArray | float) -> FloatArray:
    """KV-cache bytes of one sequence on a chip that holds it (each chip of the TP group under
    tensor parallelism; its one chip under attention DP)."""
    ctx = np.asarray(context_tokens, dtype=float)
    out = np.zeros_like(ctx)
    for layer in sm.layers:
        held = ctx if layer.window is None else np.minimum(ctx, layer.window)
        out = out + layer.count * layer.kv_elements_per_token * held * fmt.kv_bytes
    return out


def activation_bytes_per_chip(model: ModelSpec, sm: ShardedModel, fmt: Formats,
                              step_tokens: FloatArray | float) -> FloatArray:
    """Peak transient activations of one step of ``step_tokens`` tokens on one chip (the tokens
    it runs attention for: the engine's per-chip token budget): the widest layer's inputs and
    outputs (residual, QKV, MLP intermediate) plus fp32 logits of the LM head."""
    t = np.asarray(step_tokens, dtype=float)
    widest = max(max(g.n for g in layer.gemms) for layer in sm.layers)
    per_token = (4 * sm.hidden + 2 * widest) * fmt.act_bytes
    logits = sm.lm_head.n * 4.0
    out: FloatArray = t * per_token + np.minimum(t, 4096.0) * logits
    return out


@dataclass(frozen=True)
class MemoryUse:
    weights_bytes: float
    kv_cache_bytes: FloatArray
    activations_bytes: FloatArray
    reserve_bytes: float
    capacity_bytes: float

    @property
    def total_bytes(self) -> FloatArray:
        total: FloatArray = np.asarray(self.weights_bytes + self.kv_cache_bytes + self.activations_bytes
                                       + self.reserve_bytes)
        return total

    @property
    def fits(self) -> npt.NDArray[np.bool_]:
        return self.total_bytes <= self.capacity_bytes
