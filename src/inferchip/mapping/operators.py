"""The operators of one step on one chip, as typed records.

Sharding (:mod:`inferchip.mapping.sharding`) turns a model and a layout into these records;
the cost model (:mod:`inferchip.cost.rules`) has one rule per record type. Every record
names its operator class (``op_class``: what the step's time breakdown files it under)
explicitly, so nothing downstream dispatches on operator names.

Shapes are per chip (after tensor/expert-parallel splitting). Token counts are not part of
an operator: each rule reads the step's counts (tokens, decoding sequences, KV tokens read,
prefill query-key pairs, logit rows) from the step it costs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

OpClass = Literal["attention_proj", "mlp", "experts", "attention", "elementwise", "lm_head", "communication", "host"]
OP_CLASSES: tuple[OpClass, ...] = (
    "attention_proj", "mlp", "experts", "attention", "elementwise", "lm_head", "communication", "host",
)
# What a collective moves: GEMM-input activations in the activation format (MoE dispatch, which
# engines may quantise), 16-bit hidden states or partial sums (all-reduce, MoE combine, pipeline
# hand-off), or fp32 logits (the LM head's gather over the TP group).
Payload = Literal["activation", "hidden_state", "fp32_logits"]


@dataclass(frozen=True)
class Gemm:
    """A weight GEMM ``(tokens x k) @ (k x n)`` on the matrix units, rows = this chip's tokens."""

    name: str
    k: int
    n: int
    op_class: OpClass

    @property
    def weight_elements(self) -> int:
        return self.k * self.n


@dataclass(frozen=True)
class GroupedGemm:
    """MoE routed experts: ``experts`` local experts of shape ``k x n``, each receiving on
    average ``tokens x routed_fraction x experts_total / ep / experts`` of the stage's tokens."""

    name: str
    k: int
    n: int
    experts: int
    routed_fraction: float
    experts_total: int
    ep: int
    op_class: OpClass = "experts"

    @property
    def weight_elements(self) -> int:
        return self.k * self.n * self.experts


@dataclass(frozen=True)
class VectorGemm:
    """A tiny GEMM run on the vector units in fp32 (the MoE router), rows = this chip's tokens."""

    name: str
    k: int
    n: int
    op_class: OpClass = "experts"

    @property
    def weight_elements(self) -> int:
        return self.k * self.n


@dataclass(frozen=True)
class LmHead:
    """The LM head GEMM ``(logit rows x k) @ (k x n)`` with 16-bit weights."""

    k: int
    n: int
    op_class: OpClass = "lm_head"

    @property
    def weight_elements(self) -> int:
        return self.k * self.n


@dataclass(frozen=True)
class Attention:
    """Attention of one layer: decode streams the KV cache, prefill is a fused causal kernel.

    ``window``: sliding-window length (None: full attention); with ``chunked`` the attention chunk instead (a
    token at position p attends to positions floor(p / window) * window to p). ``mla``: absorbed multi-head
    latent attention (scores over latent + rope key, ``latent_dim`` = kv_lora_rank).
    """

    q_heads: int
    qk_dim: int
    v_dim: int
    kv_elements_per_token: int
    window: int | None = None
    mla: bool = False
    latent_dim: int = 0
    op_class: OpClass = "attention"
    chunked: bool = False


@dataclass(frozen=True)
class Elementwise:
    """Memory-bound elementwise kernels (norms, residual adds, rotary, activation)."""

    elements_per_token: float
    kernels: int
    op_class: OpClass = "elementwise"


@dataclass(frozen=True)
class Embedding:
    """Gather of ``hidden`` 16-bit elements per token from the embedding table."""

    hidden: int
    op_class: OpClass = "lm_head"


@dataclass(frozen=True)
class AllReduce:
    """All-reduce of ``elements_per_token`` per token of this chip over ``group`` chips."""

    elements_per_token: float
    group: int
    payload: Payload = "hidden_state"
    op_class: OpClass = "communication"


@dataclass(frozen=True)
class AllToAll:
    """All-to-all where each chip sends ``elements_per_row`` per row over ``group`` chips; rows
    are this chip's tokens, or its logit rows (``rows="logit_rows"``, the LM head's gather). An expert
    dispatch or combine also gives ``rank_elements_per_row``, what one-sided expert kernels send per token (once
    per destination rank, :func:`~inferchip.mapping.sharding.destination_ranks`; 0: not an expert all-to-all)."""

    elements_per_row: float
    group: int
    payload: Payload = "hidden_state"
    rows: Literal["tokens", "logit_rows"] = "tokens"
    op_class: OpClass = "communication"
    rank_elements_per_row: float = 0.0


@dataclass(frozen=True)
class AllGather:
    """All-gather of ``elements_per_token`` per token of this chip over ``group`` chips: each chip ends with
    every chip's rows, ``group`` times its own (the MoE input under attention DP with ``ep < tp``,
    :func:`~inferchip.mapping.sharding.gather_scatter`); ``routing_bytes_per_token`` rides along (the
    token's expert ids and weights)."""

    elements_per_token: float
    group: int
    payload: Payload = "activation"
    op_class: OpClass = "communication"
    routing_bytes_per_token: float = 0.0


@dataclass(frozen=True)
class ReduceScatter:
    """Reduce-scatter of a buffer of ``group`` times this chip's tokens, ``elements_per_token`` each, over
    ``group`` chips: each chip keeps the sum of its own rows (the MoE output under attention DP with ``ep < tp``)."""

    elements_per_token: float
    group: int
    payload: Payload = "hidden_state"
    op_class: OpClass = "communication"


@dataclass(frozen=True)
class PointToPoint:
    """Hand-off of ``elements_per_token`` hidden-state elements per token to the next pipeline stage."""

    elements_per_token: float
    payload: Payload = "hidden_state"
    op_class: OpClass = "communication"


@dataclass(frozen=True)
class HostStep:
    """Host time per engine iteration that the device does not hide, on one of ``stages`` pipeline stages.

    An engine's host work (its scheduler, input preparation, sampling and output) runs once per iteration, and an
    iteration is one micro-batch: with pipeline parallelism a stage's share of the replica's host time is
    ``min(1, max(1 / stages, sequences on the stage))`` of one iteration (``cost.rules.host_cost``), so a
    replica whose ``b`` sequences fill ``min(b, stages)`` micro-batches pays ``min(b, stages)`` iterations per
    token, not ``stages``. Sources: vLLM v1 ``Scheduler.schedule`` skips a request already in an in-flight
    micro-batch (``scheduled_req_ids``), so one sequence is one micro-batch scheduled once per token
    (``EngineCore.step_with_batch_queue``); each stage's worker receives the previous stage's hidden states and
    launches its own forward (``vllm/v1/worker/gpu_worker.py`` ``Worker.execute_model``: ``recv_tensor_dict``,
    ``execute_model``, ``send_tensor_dict``), its host work overlapping the earlier stages' device time; TensorRT-LLM's
    ``PyExecutor._executor_loop_pp`` runs one ``_schedule()`` per micro-batch on every pipeline rank, the hand-off an
    NCCL point-to-point inside the forward."""

    stages: int = 1
    op_class: OpClass = "host"


WeightGemm = Gemm | GroupedGemm | VectorGemm
Collective = AllReduce | AllToAll | AllGather | ReduceScatter
Operator = (Gemm | GroupedGemm | VectorGemm | LmHead | Attention | Elementwise | Embedding | AllReduce | AllToAll
            | AllGather | ReduceScatter | PointToPoint | HostStep)
