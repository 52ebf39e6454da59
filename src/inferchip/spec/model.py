"""Decoder-LLM architecture, normalised from a Hugging Face ``config.json``.

One spec describes dense, GQA, MoE (routed + shared experts, dense first layers,
interleaved MoE layers) and MLA (DeepSeek) models, and sliding-window layers. Layers
that cost the same are grouped in :attr:`ModelSpec.layer_groups` so the cost model
evaluates each kind of layer once and multiplies by its count.

Every size has a finite bound (:mod:`inferchip.spec.bounds`). The largest catalogued model
has 126 layers, width 16,384, 262,144 vocabulary rows and a 10,485,760-token context; the
bounds sit about two orders of magnitude above, where no memory could hold the model any
more (one layer of width 1e6 has 12e12 weights, 24 TB in bf16; 1e7 vocabulary rows at that
width another 20 TB).
"""

from __future__ import annotations

from typing import Annotated, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from inferchip.errors import InvalidSettingError, SpecError
from inferchip.spec.bounds import Bound, cross_field_error

LAYERS = Bound(1, 10_000, "layers", low_inclusive=True, integer=True)
WIDTH = Bound(1, 1_000_000, "elements", low_inclusive=True, integer=True)
FFN_WIDTH = Bound(1, 10_000_000, "elements", low_inclusive=True, integer=True)
FFN_WIDTH_OR_ZERO = Bound(0, 10_000_000, "elements", low_inclusive=True, integer=True)
VOCAB = Bound(1, 10_000_000, "tokens", low_inclusive=True, integer=True)
HEADS = Bound(1, 65_536, "heads", low_inclusive=True, integer=True)
HEAD_DIM = Bound(1, 65_536, "elements", low_inclusive=True, integer=True)
EXPERTS = Bound(0, 100_000, "experts", low_inclusive=True, integer=True)
CONTEXT = Bound(1, 1_000_000_000, "tokens", low_inclusive=True, integer=True)
NORMS = Bound(0, 100, "norms per layer", low_inclusive=True, integer=True)


class LayerGroup(BaseModel):
    """``count`` identical decoder layers."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    count: Annotated[int, LAYERS]
    window: Annotated[int, CONTEXT] | None = Field(
        None, description="Sliding-window length in tokens (with ``chunked``: the attention chunk); None = full "
        "attention."
    )
    moe: bool = False
    chunked: bool = Field(
        False, description="Chunked local attention (Llama 4 attention_chunk_size): a token at position p attends to "
        "positions floor(p / window) * window to p, not the window before it; the KV cache holds at most one chunk."
    )

    @model_validator(mode="after")
    def _chunk_has_length(self) -> LayerGroup:
        if self.chunked and self.window is None:
            raise cross_field_error("chunked", self.chunked, "needs window = the attention chunk length in tokens")
        return self


class MlaDims(NamedTuple):
    """Widths of multi-head latent attention (DeepSeek-V2/V3 config.json names)."""

    kv_lora_rank: int
    qk_nope_head_dim: int
    qk_rope_head_dim: int
    v_head_dim: int


class ModelSpec(BaseModel):
    """An LLM's architecture as its Hugging Face config states it (``ic.load_model``: an id, a config.json or its
    dict); widths and counts as the config names them. Frozen: a variant is ``spec.model_copy(update={...})``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    model_type: str = Field(min_length=1)
    num_layers: Annotated[int, LAYERS]
    hidden_size: Annotated[int, WIDTH]
    vocab_size: Annotated[int, VOCAB]
    num_heads: Annotated[int, HEADS]
    num_kv_heads: Annotated[int, HEADS]
    head_dim: Annotated[int, HEAD_DIM]
    max_position_embeddings: Annotated[int, CONTEXT] | None = Field(
        None, description="Longest context the model supports, tokens (config max_position_embeddings, scaled by "
        "its rope_scaling as vLLM derives max_model_len: catalog/hf_reader.rope_context)."
    )
    context_source: str | None = Field(
        None, description="How the window was derived where its rope_scaling scaled it; None: max_position_embeddings "
        "as the config gives it.")

    attention: Literal["gqa", "mla"] = "gqa"
    # MLA (DeepSeek-V2/V3): per-head q/k width = qk_nope + qk_rope, value width v_head_dim.
    q_lora_rank: Annotated[int, WIDTH] | None = None
    kv_lora_rank: Annotated[int, WIDTH] | None = None
    qk_nope_head_dim: Annotated[int, HEAD_DIM] | None = None
    qk_rope_head_dim: Annotated[int, HEAD_DIM] | None = None
    v_head_dim: Annotated[int, HEAD_DIM] | None = None

    mlp_gated: bool = Field(True, description="SwiGLU/GeGLU: gate, up and down matrices; else up and down.")
    intermediate_size: Annotated[int, FFN_WIDTH] = Field(description="FFN width of dense layers.")

    num_experts: Annotated[int, EXPERTS] = Field(0, description="Routed experts per MoE layer (0 = dense model).")
    experts_per_token: Annotated[int, EXPERTS] = 0
    expert_intermediate_size: Annotated[int, FFN_WIDTH_OR_ZERO] = 0
    shared_intermediate_size: Annotated[int, FFN_WIDTH_OR_ZERO] = Field(
        0, description="Total width of the shared-expert MLP(s)."
    )

    layer_groups: tuple[LayerGroup, ...]

    tie_word_embeddings: bool = False
    qkv_bias: bool = False
    o_bias: bool = False
    mlp_bias: bool = False
    lm_head_bias: bool = False
    norm_bias: bool = False
    norms_per_layer: Annotated[int, NORMS] = 2
    qk_norm: bool = False
    parallel_attn_mlp: bool = Field(False, description="GPT-J/Falcon: attention and MLP read the same input.")

    total_params_reported: str | None = None
    active_params_reported: str | None = None
    source: str | None = None
    doubts: tuple[str, ...] = ()

    @field_validator("id")
    @classmethod
    def _id(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("must not be empty")
        if len(v.encode("utf-8")) > 4096 or "\0" in v:
            raise ValueError("must be at most 4,096 bytes (a path) with no NUL character")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> ModelSpec:
        if sum(g.count for g in self.layer_groups) != self.num_layers:
            raise ValueError("layer_groups counts must add up to num_layers")
        if self.num_heads % self.num_kv_heads:
            raise ValueError(f"num_attention_heads {self.num_heads} is not a multiple of kv heads {self.num_kv_heads}")
        if any(g.moe for g in self.layer_groups) and (self.num_experts < 1 or self.experts_per_token < 1):
            raise ValueError("MoE layers need num_experts and experts_per_token")
        if self.attention == "mla" and None in (self.kv_lora_rank, self.qk_nope_head_dim, self.qk_rope_head_dim,
                                                self.v_head_dim):
            raise ValueError("MLA needs kv_lora_rank, qk_nope_head_dim, qk_rope_head_dim and v_head_dim")
        if self.experts_per_token > self.num_experts:
            raise cross_field_error("experts_per_token", self.experts_per_token,
                                    f"must not exceed the {self.num_experts} routed experts")
        ctx = self.max_position_embeddings
        for g in self.layer_groups:
            if ctx is not None and g.window is not None and g.window > ctx:
                raise cross_field_error("attention_chunk_size" if g.chunked else "sliding_window", g.window,
                                        f"must not exceed the context window max_position_embeddings = {ctx:,} tokens")
        return self

    @property
    def max_context_tokens(self) -> int | None:
        """Longest input + output the model supports (max_position_embeddings); None when the config omits it."""
        return self.max_position_embeddings

    def check_context(self, tokens: int, what: str = "input + output tokens") -> None:
        """Raise InvalidSettingError when ``tokens`` exceeds the model's context window (when it is known)."""
        ctx = self.max_position_embeddings
        if ctx is not None and tokens > ctx:
            raise InvalidSettingError(
                f"{what} = {tokens:,} is beyond the context window of {self.id}: at most {ctx:,} tokens "
                f"({self.context_source or 'max_position_embeddings in its config'})"
            )

    def mla_dims(self) -> MlaDims:
        """The four MLA widths; SpecError when the spec is not MLA or lacks one (a spec built without validation)."""
        dims = (self.kv_lora_rank, self.qk_nope_head_dim, self.qk_rope_head_dim, self.v_head_dim)
        if self.attention != "mla" or any(d is None for d in dims):
            raise SpecError(f"model {self.id}: attention = {self.attention!r} with kv_lora_rank, qk_nope_head_dim, "
                            f"qk_rope_head_dim, v_head_dim = {dims}: MLA needs all four set")
        k, n, r, v = (int(d) for d in dims if d is not None)
        return MlaDims(k, n, r, v)

    @property
    def is_moe(self) -> bool:
        return any(g.moe for g in self.layer_groups)

    @property
    def num_moe_layers(self) -> int:
        return sum(g.count for g in self.layer_groups if g.moe)

    def __repr__(self) -> str:  # pydantic's printed every field: ~1,000 characters, a notebook's screen of them
        experts = f", {self.num_experts} experts ({self.experts_per_token} per token)" if self.num_experts else ""
        ctx = "-" if self.max_position_embeddings is None else f"{self.max_position_embeddings:,}"
        return (f"<ModelSpec {self.id}: {self.model_type}, {self.num_layers} layers, width {self.hidden_size:,}, "
                f"{self.attention} {self.num_heads}/{self.num_kv_heads} heads{experts}, context {ctx} tokens; "
                "every field: .model_dump()>")
