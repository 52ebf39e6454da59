"""Decoder-LLM architecture, normalised from a Hugging Face ``config.json``.

One spec describes dense, GQA, MoE (routed + shared experts, dense first layers,
interleaved MoE layers) and MLA (DeepSeek) models, and sliding-window layers. Layers
that cost the same are grouped in :attr:`ModelSpec.layer_groups` so the cost model
evaluates each kind of layer once and multiplies by its count.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class LayerGroup(BaseModel):
    """``count`` identical decoder layers."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    count: int = Field(ge=1)
    window: int | None = Field(None, ge=1, description="Sliding-window length in tokens; None = full attention.")
    moe: bool = False


class ModelSpec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    model_type: str
    num_layers: int = Field(ge=1)
    hidden_size: int = Field(ge=1)
    vocab_size: int = Field(ge=1)
    num_heads: int = Field(ge=1)
    num_kv_heads: int = Field(ge=1)
    head_dim: int = Field(ge=1)
    max_position_embeddings: int | None = None

    attention: Literal["gqa", "mla"] = "gqa"
    # MLA (DeepSeek-V2/V3): per-head q/k width = qk_nope + qk_rope, value width v_head_dim.
    q_lora_rank: int | None = None
    kv_lora_rank: int | None = None
    qk_nope_head_dim: int | None = None
    qk_rope_head_dim: int | None = None
    v_head_dim: int | None = None

    mlp_gated: bool = Field(True, description="SwiGLU/GeGLU: gate, up and down matrices; else up and down.")
    intermediate_size: int = Field(ge=1, description="FFN width of dense layers.")

    num_experts: int = Field(0, ge=0, description="Routed experts per MoE layer (0 = dense model).")
    experts_per_token: int = Field(0, ge=0)
    expert_intermediate_size: int = Field(0, ge=0)
    shared_intermediate_size: int = Field(0, ge=0, description="Total width of the shared-expert MLP(s).")

    layer_groups: tuple[LayerGroup, ...]

    tie_word_embeddings: bool = False
    qkv_bias: bool = False
    o_bias: bool = False
    mlp_bias: bool = False
    lm_head_bias: bool = False
    norm_bias: bool = False
    norms_per_layer: int = Field(2, ge=0)
    qk_norm: bool = False
    parallel_attn_mlp: bool = Field(False, description="GPT-J/Falcon: attention and MLP read the same input.")

    total_params_reported: str | None = None
    active_params_reported: str | None = None
    source: str | None = None
    doubts: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _consistent(self) -> ModelSpec:
        if sum(g.count for g in self.layer_groups) != self.num_layers:
            raise ValueError("layer_groups counts must add up to num_layers")
        if self.num_heads % self.num_kv_heads:
            raise ValueError(f"num_attention_heads {self.num_heads} is not a multiple of kv heads {self.num_kv_heads}")
        if any(g.moe for g in self.layer_groups) and (self.num_experts < 1 or self.experts_per_token < 1):
            raise ValueError("MoE layers need num_experts and experts_per_token")
        if self.attention == "mla" and None in (self.kv_lora_rank, self.qk_nope_head_dim, self.qk_rope_head_dim, self.v_head_dim):
            raise ValueError("MLA needs kv_lora_rank, qk_nope_head_dim, qk_rope_head_dim and v_head_dim")
        return self

    @property
    def is_moe(self) -> bool:
        return any(g.moe for g in self.layer_groups)

    @property
    def num_moe_layers(self) -> int:
        return sum(g.count for g in self.layer_groups if g.moe)
