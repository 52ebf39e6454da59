"""Per-chip shapes of every operator of a layer under a parallel layout.

Counts are per chip of one pipeline stage. GEMM ``k`` and ``n`` are per chip after
tensor-parallel splitting (column-parallel splits ``n``, row-parallel splits ``k``).
KV heads are replicated when there are fewer of them than ``tp`` (as vLLM and
TensorRT-LLM do); MLA's compressed latent cache is replicated across the TP group.

Under attention data parallelism (:attr:`Layout.attn_dp`) attention, dense MLPs, shared
experts and the LM head keep their full width on every chip (``attn_tp = 1``) and each chip
runs them for its own ``1/dp_attention`` of the step's tokens and sequences; the routed
experts stay split ``ep`` ways and serve the tokens of every chip of the stage.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from inferchip.mapping.layout import Layout
from inferchip.spec.model import LayerGroup, ModelSpec


@dataclass(frozen=True)
class GemmShape:
    """A weight GEMM: ``tokens x k`` times ``k x n`` (per chip).

    ``experts`` > 0 marks a grouped MoE GEMM: ``experts`` local experts each receive on
    average ``tokens * routed_fraction`` tokens.
    """

    name: str
    k: int
    n: int
    experts: int = 0
    routed_fraction: float = 1.0
    weight_copies: int = 1  # weights stored once per chip (1) for every shape here
    vector_only: bool = False  # tiny GEMMs that run on vector units (routers)


@dataclass(frozen=True)
class Collective:
    kind: str  # "all_reduce" | "all_to_all" | "all_gather"
    bytes_per_token_elements: float  # activation elements per token moved (times bytes/element later)
    group: int
    # True: GEMM-input activations in the activation format (MoE dispatch, which engines may
    # quantise); False: 16-bit hidden states or partial sums (all-reduce, MoE combine).
    quantised: bool = False


@dataclass(frozen=True)
class ShardedLayer:
    count: int  # layers of this kind in ONE pipeline stage (fractional stages rounded up)
    window: int | None
    gemms: tuple[GemmShape, ...]
    q_heads: int  # attention heads on this chip
    qk_dim: int  # per-head width of q and k in the attention math
    v_dim: int  # per-head width of v
    kv_elements_per_token: int  # KV-cache elements per token on this chip for this layer
    mla: bool
    latent_dim: int  # MLA kv_lora_rank (0 for GQA)
    collectives: tuple[Collective, ...]
    moe: bool
    elementwise_elements_per_token: float  # activation elements read+written by norms, rope, activations


@dataclass(frozen=True)
class ShardedModel:
    layers: tuple[ShardedLayer, ...]
    lm_head: GemmShape
    hidden: int
    layout: Layout
    experts_total: int
    experts_per_token: int
    dp_attention: int = 1  # chips the step's sequences are spread over (attention DP), else 1

    def local_share(self, x):
        """This chip's part of a stage-wide token or sequence count (``x / dp_attention``)."""
        return x / self.dp_attention if self.dp_attention > 1 else x

    @property
    def layers_per_stage(self) -> int:
        return sum(layer.count for layer in self.layers)


def _attention_gemms(m: ModelSpec, tp: int) -> tuple[list[GemmShape], int, int, int, int]:
    h = m.hidden_size
    if m.attention == "mla":
        assert m.kv_lora_rank and m.qk_nope_head_dim is not None and m.qk_rope_head_dim is not None and m.v_head_dim
        qk = m.qk_nope_head_dim + m.qk_rope_head_dim
        heads = m.num_heads // tp
        g = []
        if m.q_lora_rank:
            g.append(GemmShape("q_a", h, m.q_lora_rank))
            g.append(GemmShape("q_b", m.q_lora_rank, heads * qk))
        else:
            g.append(GemmShape("q", h, heads * qk))
        g.append(GemmShape("kv_a", h, m.kv_lora_rank + m.qk_rope_head_dim))
        # Up-projection of the latent to per-head K (nope part) and V; applied to cached
        # tokens in prefill, absorbed into q and o in decode (DeepSeek inference/model.py).
        g.append(GemmShape("kv_b", m.kv_lora_rank, heads * (m.qk_nope_head_dim + m.v_head_dim)))
        g.append(GemmShape("o", heads * m.v_head_dim, h))
        kv_elems = m.kv_lora_rank + m.qk_rope_head_dim
        return g, heads, qk, m.v_head_dim, kv_elems
    heads = m.num_heads // tp
    kv_heads = max(1, m.num_kv_heads // tp)
    hd = m.head_dim
    g = [GemmShape("qkv", h, (heads + 2 * kv_heads) * hd), GemmShape("o", heads * hd, h)]
    return g, heads, hd, hd, 2 * kv_heads * hd


def _mlp_gemms(m: ModelSpec, group: LayerGroup, layout: Layout) -> list[GemmShape]:
    h, tp = m.hidden_size, layout.attn_tp
    up_mats = 2 if m.mlp_gated else 1
    if not group.moe:
        f = math.ceil(m.intermediate_size / tp)
        return [GemmShape("mlp_up", h, up_mats * f), GemmShape("mlp_down", f, h)]
    moe_tp = layout.moe_tp
    fe = math.ceil(m.expert_intermediate_size / moe_tp)
    local = m.num_experts // layout.ep
    frac = m.experts_per_token / m.num_experts
    g = [
        GemmShape("router", h, m.num_experts, vector_only=True),
        GemmShape("experts_up", h, up_mats * fe, experts=local, routed_fraction=frac),
        GemmShape("experts_down", fe, h, experts=local, routed_fraction=frac),
    ]
    if m.shared_intermediate_size:
        fs = math.ceil(m.shared_intermediate_size / tp)
        g += [GemmShape("shared_up", h, up_mats * fs), GemmShape("shared_down", fs, h)]
    return g


def _dispatch_combine(m: ModelSpec, ep: int) -> list[Collective]:
    """Each routed copy of a token crosses to its expert's chip (dispatch, in the activation
    format) and its expert output comes back (combine, 16-bit)."""
    k_h = float(m.experts_per_token * m.hidden_size)
    return [Collective("all_to_all", k_h, ep, quantised=True), Collective("all_to_all", k_h, ep)]


def shard(m: ModelSpec, layout: Layout) -> ShardedModel:
    """Per-chip operator shapes of one pipeline stage (the stage with the most layers).

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
            colls.append(Collective("all_reduce", h, tp))  # after attention (row-parallel o)
        if layout.attn_dp:
            # Own tokens only: each routed copy goes to its expert's chip and comes back; the
            # dense MLP and shared experts are replicated, so they need no collective.
            if group.moe:
                colls += _dispatch_combine(m, layout.ep)
        elif group.moe and layout.ep > 1:
            colls += _dispatch_combine(m, layout.ep)
            if layout.moe_tp > 1:
                colls.append(Collective("all_reduce", h, layout.moe_tp))
        elif tp > 1:
            colls.append(Collective("all_reduce", h, tp))  # after the MLP (row-parallel down)
        f = m.expert_intermediate_size * m.experts_per_token if group.moe else m.intermediate_size
        # Per token of this chip's attention share: routed experts see t k / ep tokens of
        # width f_e / moe_tp, i.e. f / tp per token of the step (f per own token under attention DP).
        f_chip = f / tp
        # Fused elementwise traffic per token: two norms (read+write h each), residual adds,
        # rotary on q and k, and the gated activation (read 2f, write f) unless fused.
        elementwise = 4 * h + 2 * h + (heads * qk * 2) + (3 if m.mlp_gated else 2) * f_chip
        layers.append(
            ShardedLayer(
                count=count,
                window=group.window,
                gemms=tuple(attn + _mlp_gemms(m, group, layout)),
                q_heads=heads,
                qk_dim=qk,
                v_dim=vd,
                kv_elements_per_token=kv_elems_chip,
                mla=m.attention == "mla",
                latent_dim=m.kv_lora_rank or 0,
                collectives=tuple(colls),
                moe=group.moe,
                elementwise_elements_per_token=elementwise,
            )
        )
    lm_head = GemmShape("lm_head", h, math.ceil(m.vocab_size / tp))
    return ShardedModel(
        layers=tuple(layers),
        lm_head=lm_head,
        hidden=h,
        layout=layout,
        experts_total=m.num_experts,
        experts_per_token=m.experts_per_token,
        dp_attention=layout.attn_dp_ways,
    )
