"""Per-chip shapes of every operator of a layer under a parallel layout.

Counts are per chip of one pipeline stage; the operators are the typed records of
:mod:`inferchip.mapping.operators`, each naming its operator class. GEMM ``k`` and ``n`` are per chip after
tensor-parallel splitting (column-parallel splits ``n``, row-parallel splits ``k``).
KV heads are replicated when there are fewer of them than ``tp`` (as vLLM and
TensorRT-LLM do); MLA's compressed latent cache is replicated across the TP group.

Under attention data parallelism (:attr:`Layout.attn_dp`) attention, dense MLPs, shared
experts and the LM head keep their full width on every chip (``attn_tp = 1``) and each chip
runs them for its own ``1/dp_attention`` of the step's tokens and sequences; the routed
experts stay split ``ep`` ways (and ``moe_tp = tp / ep`` ways in width) and serve the tokens of every chip of
the stage: reached by an all-to-all where ``ep == tp``, by an all-gather and a reduce-scatter where ``ep < tp``
(:func:`gather_scatter`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from inferchip.mapping.layout import Layout
from inferchip.mapping.operators import (
    AllGather,
    AllReduce,
    AllToAll,
    Attention,
    Collective,
    Elementwise,
    Embedding,
    Gemm,
    GroupedGemm,
    HostStep,
    LmHead,
    Operator,
    PointToPoint,
    ReduceScatter,
    VectorGemm,
    WeightGemm,
)
from inferchip.spec.model import LayerGroup, ModelSpec

ELEMENTWISE_KERNELS_PER_LAYER = 4  # add+norm twice, rotary, KV-cache write (activation fused in the GEMM epilogue)
MLA_EXTRA_KERNELS = 3  # the two latent RMSNorms, the second absorbed up-projection (w_kc on q, w_vc on the output)
MOE_EXTRA_KERNELS = 3  # top-k over the router logits, sort/align of tokens by expert, combine of the k outputs


def layer_small_kernels(m: ModelSpec, group: LayerGroup) -> int:
    """Kernels of a layer beyond its GEMMs and attention kernel: the fixed-cost launches of a decode step.

    Every layer: two fused residual-add + RMSNorms, rotary, and the KV-cache write (vLLM's
    ``reshape_and_cache_flash``, SGLang's ``set_kv_buffer``: a launch of its own in both engines).
    MLA (DeepSeek-V2/V3 ``DeepseekV2AttentionMLA``): the ``q_a_layernorm`` (with a query LoRA rank) and
    ``kv_a_layernorm`` on the latents, and in decode the ``kv_b`` up-projection runs as two batched GEMMs
    absorbed into the query (``w_kc``) and the output (``w_vc``), one more kernel than the single ``kv_b``
    GEMM counted (SGLang ``forward_absorb_prepare``/``forward_absorb_core``; DeepSeek inference/model.py).
    MoE: routing is its own kernels, top-k selection over the router logits (vLLM ``topk_softmax``, SGLang
    ``biased_grouped_topk``), the sort of tokens by expert (``moe_align_block_size``, triton_kernels routing)
    and the sum of each token's ``k`` expert outputs (``moe_sum_reduce``, the finalize kernel).
    Not counted: dynamic activation quantisation and the unfused gated activation some engines launch
    (fused into norms or GEMM epilogues in others). Source of the per-kernel time: :mod:`inferchip.cost.rules`.
    """
    n = ELEMENTWISE_KERNELS_PER_LAYER
    if m.attention == "mla":
        n += MLA_EXTRA_KERNELS - (0 if m.q_lora_rank else 1)
    if group.moe:
        n += MOE_EXTRA_KERNELS
    return n


@dataclass(frozen=True)
class ShardedLayer:
    """One kind of layer on one chip: its operators, run ``count`` times per step."""

    count: int  # layers of this kind in ONE pipeline stage (fractional stages rounded up)
    gemms: tuple[WeightGemm, ...]
    attention: Attention
    elementwise: Elementwise
    collectives: tuple[Collective, ...]
    moe: bool

    def operators(self) -> tuple[Operator, ...]:
        """The layer's operators in the order a step runs them."""
        return (*self.gemms, self.attention, self.elementwise, *self.collectives)

    @property
    def window(self) -> int | None:
        return self.attention.window

    @property
    def kv_elements_per_token(self) -> int:
        """KV-cache elements per token on this chip for this layer."""
        return self.attention.kv_elements_per_token

    @property
    def elementwise_elements_per_token(self) -> float:
        """Activation elements read+written by norms, rope, activations."""
        return self.elementwise.elements_per_token


@dataclass(frozen=True)
class ShardedModel:
    layers: tuple[ShardedLayer, ...]
    lm_head: LmHead
    hidden: int
    layout: Layout
    experts_total: int
    experts_per_token: int
    dp_attention: int = 1  # chips the step's sequences are spread over (attention DP), else 1

    def local_share(self, x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """This chip's part of a stage-wide token or sequence count (``x / dp_attention``)."""
        return x / self.dp_attention if self.dp_attention > 1 else x

    @property
    def layers_per_stage(self) -> int:
        return sum(layer.count for layer in self.layers)

    def stage_operators(self) -> tuple[Operator, ...]:
        """Operators run once per step of the stage: embedding gather, LM head, the logits'
        gather over the TP group, the hand-off to the next pipeline stage, the host's share."""
        ops: list[Operator] = [Embedding(self.hidden), self.lm_head]
        if self.layout.attn_tp > 1:
            ops.append(AllToAll(float(self.lm_head.n), self.layout.attn_tp, "fp32_logits", rows="logit_rows"))
        if self.layout.pp > 1:
            ops.append(PointToPoint(float(self.hidden)))
        ops.append(HostStep(self.layout.pp))
        return tuple(ops)

    def kernels_per_step(self) -> int:
        """Kernels one step launches on a chip of the first stage: per layer its GEMMs, one attention kernel, its
        small kernels (:func:`layer_small_kernels`) and its collectives, then the stage's embedding, LM head and
        logit gather (the host's share launches none). A lower bound for an engine that launches the unfused
        kernels :func:`layer_small_kernels` leaves out."""
        per_layer = sum(lay.count * (len(lay.gemms) + 1 + lay.elementwise.kernels + len(lay.collectives))
                        for lay in self.layers)
        return per_layer + len(self.stage_operators()) - 1

    def operators(self) -> list[tuple[Operator, int]]:
        """Every operator of one step with how many times it runs (its layer count), in order."""
        out = [(op, layer.count) for layer in self.layers for op in layer.operators()]
        return out + [(op, 1) for op in self.stage_operators()]


def _attention_gemms(m: ModelSpec, tp: int) -> tuple[list[WeightGemm], int, int, int, int]:
    h = m.hidden_size
    if m.attention == "mla":
        d = m.mla_dims()
        qk = d.qk_nope_head_dim + d.qk_rope_head_dim
        heads = m.num_heads // tp
        g: list[WeightGemm] = []
        if m.q_lora_rank:
            g.append(Gemm("q_a", h, m.q_lora_rank, "attention_proj"))
            g.append(Gemm("q_b", m.q_lora_rank, heads * qk, "attention_proj"))
        else:
            g.append(Gemm("q", h, heads * qk, "attention_proj"))
        g.append(Gemm("kv_a", h, d.kv_lora_rank + d.qk_rope_head_dim, "attention_proj"))
        # Up-projection of the latent to per-head K (nope part) and V; applied to cached
        # tokens in prefill, absorbed into q and o in decode (DeepSeek inference/model.py).
        g.append(Gemm("kv_b", d.kv_lora_rank, heads * (d.qk_nope_head_dim + d.v_head_dim), "attention_proj"))
        g.append(Gemm("o", heads * d.v_head_dim, h, "attention_proj"))
        kv_elems = d.kv_lora_rank + d.qk_rope_head_dim
        return g, heads, qk, d.v_head_dim, kv_elems
    heads = m.num_heads // tp
    kv_heads = max(1, m.num_kv_heads // tp)
    hd = m.head_dim
    g = [Gemm("qkv", h, (heads + 2 * kv_heads) * hd, "attention_proj"), Gemm("o", heads * hd, h, "attention_proj")]
    return g, heads, hd, hd, 2 * kv_heads * hd


def _mlp_gemms(m: ModelSpec, group: LayerGroup, layout: Layout) -> list[WeightGemm]:
    h, tp = m.hidden_size, layout.attn_tp
    up_mats = 2 if m.mlp_gated else 1
    if not group.moe:
        f = math.ceil(m.intermediate_size / tp)
        return [Gemm("mlp_up", h, up_mats * f, "mlp"), Gemm("mlp_down", f, h, "mlp")]
    moe_tp = layout.moe_tp
    fe = math.ceil(m.expert_intermediate_size / moe_tp)
    local = -(-m.num_experts // layout.ep)  # ep need not divide them under attention DP (mapping.layout)
    frac = m.experts_per_token / m.num_experts
    e, ep = m.num_experts, layout.ep
    g: list[WeightGemm] = [
        VectorGemm("router", h, m.num_experts),
        GroupedGemm("experts_up", h, up_mats * fe, local, frac, e, ep),
        GroupedGemm("experts_down", fe, h, local, frac, e, ep),
    ]
    if m.shared_intermediate_size:
        fs = math.ceil(m.shared_intermediate_size / tp)
        g += [Gemm("shared_up", h, up_mats * fs, "mlp"), Gemm("shared_down", fs, h, "mlp")]
    return g


def destination_ranks(experts_per_token: int, ep: int) -> float:
    """Expected distinct expert-parallel ranks a token's ``k`` routed experts sit on, uniform routing over
    ``p`` ranks: ``p (1 - (1 - 1/p)^k)`` (3.6 of 4 ranks, 7.1 of 32 at k = 8; ``min(k, p)`` is its bound).
    The one-sided expert kernels send a token once per destination rank, not once per expert, and the
    receiving rank fans it out to its local experts: DeepEP ``get_dispatch_layout`` / ``is_token_in_rank``
    (deepseek-ai/DeepEP ``deep_ep/buffer.py``: dispatch sends each token to the ranks in its
    ``is_token_in_rank`` row; combine reduces each token's per-rank partial sums, one row per rank)."""
    if ep <= 1:
        return float(min(experts_per_token, 1))
    return ep * (1.0 - (1.0 - 1.0 / ep) ** experts_per_token)


def _dispatch_combine(m: ModelSpec, ep: int) -> list[Collective]:
    """Each routed copy of a token crosses to its expert's chip (dispatch, in the activation
    format) and its expert output comes back (combine, 16-bit); one-sided expert kernels send a token
    once to each rank that holds one of its experts and get each such rank's partial sum back
    (:func:`destination_ranks` rows per token, ``rank_elements_per_row``)."""
    k_h = float(m.experts_per_token * m.hidden_size)
    r_h = destination_ranks(m.experts_per_token, ep) * m.hidden_size
    return [AllToAll(k_h, ep, "activation", rank_elements_per_row=r_h), AllToAll(k_h, ep, rank_elements_per_row=r_h)]


ROUTING_BYTES_PER_EXPERT = 4 + 2
"""Bytes of one routed expert's id and weight that the gather carries with the token: TensorRT-LLM
``TRTLLMGenFusedMoE.forward_impl`` all-gathers ``token_selected_experts`` (int32) and ``token_final_scales``
(cast to bfloat16) beside the hidden state (NVIDIA/TensorRT-LLM ``tensorrt_llm/_torch/modules/fused_moe/
fused_moe_trtllm_gen.py``)."""


def gather_scatter(m: ModelSpec, group: int) -> list[Collective]:
    """The MoE communication under attention DP with expert parallelism below the group (``ep < tp``).

    Each rank holds a ``1/moe_tp`` tensor slice of its experts, so every rank needs every token, not only the
    tokens routed to it: the engine all-gathers each rank's (quantised) hidden states with their expert ids
    and weights over the group before the MoE, runs the experts on all the group's tokens, and reduce-scatters
    the 16-bit partial outputs after it, each rank keeping its own tokens' sums. TensorRT-LLM (PyTorch
    backend): ``TRTLLMGenFusedMoE`` / ``CutlassFusedMoE`` ``run_post_quant_allgather = use_dp and parallel_size
    > 1 and not enable_alltoall`` -> ``allgather([x, x_sf, token_selected_experts, token_final_scales],
    mapping)``, then ``reducescatter_or_allreduce`` -> ``reducescatter(..., mapping)``; the all-to-all is off
    for such a layout (``enable_alltoall`` needs ``moe_ep_size > experts_per_token`` in 1.1-1.2, and
    ``select_alltoall_method_type`` returns NotEnabled where ``moe_tp_size != 1`` in later versions)
    (NVIDIA/TensorRT-LLM ``tensorrt_llm/_torch/modules/fused_moe/fused_moe_trtllm_gen.py``,
    ``fused_moe_cutlass.py``; ``models/modeling_gpt_oss.py`` ``MLPBlock.forward_attn_dp``: "Let CutlassFusedMoE
    and TRTLLMGenFusedMoE handle allgather internally"); the submitters' harness sets it for EP 1 ("DISABLE All2All
    for MoE TP": ``TRTLLM_FORCE_ALLTOALL_METHOD=NotEnabled``, InferenceMAX/InferenceMAX
    ``benchmarks/gptoss_fp4_b200_trt_slurm.sh``).

    Elements per own token, group ``p``: the gather receives ``(p-1) h`` (and ``6 k`` bytes), the scatter sends
    ``(p-1) h``; the expert all-to-all sends ``(p-1)/p k h`` each way (``k`` routed copies of a token), or
    ``(p-1)/p r h`` with one-sided kernels (``r`` = :func:`destination_ranks`, 1.875 of 2 and 2.73 of 4 ranks at
    ``k = 4``): at ``p = 2`` the gather moves ``h`` against ``2h`` (``0.94h`` one-sided), at ``p = 4`` ``3h`` against
    ``3h`` (``2.05h``), with the same ``(p-1)`` link steps each way."""
    h = float(m.hidden_size)
    return [AllGather(h, group, "activation", routing_bytes_per_token=float(m.experts_per_token
                                                                            * ROUTING_BYTES_PER_EXPERT)),
            ReduceScatter(h, group, "hidden_state")]


def shard(m: ModelSpec, layout: Layout) -> ShardedModel:
    """Per-chip operators of one pipeline stage (the stage with the most layers).

    Collective sizes are activation elements per token of the tokens this chip runs its
    attention for: all of the step's under tensor parallelism, its own share under attention DP.
    """
    tp = layout.attn_tp
    attn, heads, qk, vd, kv_elems = _attention_gemms(m, tp)
    # GQA: KV heads split over TP (replicated below one per chip); MLA: the latent cache is
    # replicated over the TP group (vLLM/SGLang without data-parallel attention).
    kv_elems_chip = kv_elems
    h = m.hidden_size
    layers = []
    for group in m.layer_groups:
        count = math.ceil(group.count / layout.pp)
        colls: list[Collective] = []
        if tp > 1:
            colls.append(AllReduce(h, tp))  # after attention (row-parallel o)
        if layout.attn_dp:
            # Own tokens only: each routed copy goes to its expert's chip and comes back; the
            # dense MLP and shared experts are replicated, so they need no collective.
            if group.moe:
                colls += (_dispatch_combine(m, layout.ep) if layout.ep == layout.tp
                          else gather_scatter(m, layout.tp))
        elif tp > 1:
            # After the MLP (row-parallel down). Under tensor-parallel attention an expert-parallel
            # MoE layer needs no dispatch either: every chip of the group already holds every token
            # (the attention all-reduce replicated them), runs its own experts' share and the partial
            # outputs are summed by one all-reduce (vLLM FusedMoE: all-to-all kernels only with data
            # parallel > 1; TensorRT-LLM: MoE all-to-all only with enable_attention_dp).
            colls.append(AllReduce(h, tp))
        f = m.expert_intermediate_size * m.experts_per_token if group.moe else m.intermediate_size
        # Per token of this chip's attention share: routed experts see t k / ep tokens of
        # width f_e / moe_tp, i.e. f / tp per token of the step (f per own token under attention DP).
        f_chip = f / tp
        # Fused elementwise traffic per token: two norms (read+write h each), residual adds,
        # rotary on q and k, and the gated activation (read 2f, write f) unless fused.
        elementwise = 4 * h + 2 * h + (heads * qk * 2) + (3 if m.mlp_gated else 2) * f_chip
        attention = Attention(q_heads=heads, qk_dim=qk, v_dim=vd, kv_elements_per_token=kv_elems_chip,
                              window=group.window, mla=m.attention == "mla", latent_dim=m.kv_lora_rank or 0,
                              chunked=group.chunked)
        layers.append(
            ShardedLayer(
                count=count,
                gemms=tuple(attn + _mlp_gemms(m, group, layout)),
                attention=attention,
                elementwise=Elementwise(elementwise, layer_small_kernels(m, group)),
                collectives=tuple(colls),
                moe=group.moe,
            )
        )
    return ShardedModel(
        layers=tuple(layers),
        lm_head=LmHead(h, math.ceil(m.vocab_size / tp)),
        hidden=h,
        layout=layout,
        experts_total=m.num_experts,
        experts_per_token=m.experts_per_token,
        dp_attention=layout.attn_dp_ways,
    )


def _round_up(x: int, multiple: int) -> int:
    return -(-x // multiple) * multiple


def pad_experts(sm: ShardedModel, hidden_to: int, intermediate_to: int, gated: bool) -> ShardedModel:
    """``sm`` with each routed expert's hidden width rounded up to a multiple of ``hidden_to`` and its per-rank
    intermediate width to a multiple of ``intermediate_to`` (``experts_up``: k hidden, n the gated pair of
    intermediate widths; ``experts_down``: k intermediate, n hidden), as an expert kernel whose weight layout
    needs those multiples allocates and runs them: the zeros are multiplied and read like weights. vLLM
    ``Mxfp4MoEMethod.create_weights`` (vllm/model_executor/layers/quantization/mxfp4.py) for the Marlin
    backend: ``round_up(intermediate_size_per_partition, 128)``, ``round_up(hidden_size, 256)`` ("The moe
    marlin kernel requires that for each linear n % 256 == 0 and k % 128 == 0"). Multiples of 1: ``sm``."""
    if hidden_to < 1 or intermediate_to < 1:
        raise ValueError(f"pad_experts: multiples must be >= 1, got hidden_to={hidden_to}, "
                         f"intermediate_to={intermediate_to}")
    if hidden_to == 1 and intermediate_to == 1:
        return sm
    up_mats = 2 if gated else 1

    def padded(g: WeightGemm) -> WeightGemm:
        if not isinstance(g, GroupedGemm):
            return g
        if g.name == "experts_up":
            return replace(g, k=_round_up(g.k, hidden_to), n=up_mats * _round_up(g.n // up_mats, intermediate_to))
        if g.name == "experts_down":
            return replace(g, k=_round_up(g.k, intermediate_to), n=_round_up(g.n, hidden_to))
        raise ValueError(f"pad_experts: unknown grouped GEMM {g.name!r} (allowed: experts_up, experts_down)")

    return replace(sm, layers=tuple(replace(layer, gemms=tuple(padded(g) for g in layer.gemms))
                                    for layer in sm.layers))
