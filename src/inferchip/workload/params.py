"""Exact weight-parameter counts of a decoder LLM from its :class:`ModelSpec`.

Counts are numbers of scalars (no unit; multiply by bytes per weight for memory). What is
counted, per decoder layer unless said otherwise:

* attention, GQA: q = hidden x heads*head_dim, k and v = hidden x kv_heads*head_dim each,
  o = heads*head_dim x hidden; biases heads*head_dim + 2*kv_heads*head_dim (``qkv_bias``) and
  hidden (``o_bias``).
* attention, MLA (DeepSeek-V2/V3, ``modeling_deepseek.py``): q_a = hidden x q_lora_rank and
  q_b = q_lora_rank x heads*(qk_nope+qk_rope), or a direct q = hidden x heads*(qk_nope+qk_rope)
  when ``q_lora_rank`` is None; kv_a_proj_with_mqa = hidden x (kv_lora_rank+qk_rope);
  kv_b = kv_lora_rank x heads*(qk_nope+v); o = heads*v x hidden. Its q_a and kv_a norms are
  counted under ``norms``.
* MLP: gated (SwiGLU/GeGLU) 3 x hidden x width, plain 2 x hidden x width; biases
  2*width + hidden (gated) or width + hidden (plain) when ``mlp_bias``. Routed experts and
  the shared expert(s) are MLPs of ``expert_intermediate_size`` / ``shared_intermediate_size``.
* router: hidden x num_experts per MoE layer (+ num_experts biases where the family has them).
* norms: ``norms_per_layer`` per layer plus one final norm, each ``hidden`` weights (RMSNorm)
  or weights and biases (LayerNorm, ``norm_bias``); q/k norms (``qk_norm``) head_dim each.
* embedding vocab x hidden; lm_head vocab x hidden unless tied (the matrix is counted once,
  under ``embedding``), plus vocab biases with ``lm_head_bias``.

Two small per-family extras have no :class:`ModelSpec` field, so they are keyed on
``model_type`` here: router biases (gpt-oss ``GptOssTopKRouter``; DeepSeek-V3's
``e_score_correction_bias`` of its noaux_tc routing) and gpt-oss's learned attention-sink
logit per head (OpenAI ``gpt_oss/torch/model.py``). Not counted: DeepSeek-V3's multi-token
prediction module (outside the 671B its README reports), vision towers, rotary tables.

Active parameters per token (:func:`active_params_per_token`) are the total minus the
routed experts a token does not use: top-k of the routed experts, plus shared experts,
attention, router, norms, and by default the embedding and LM head. That default matches
the vendors' figures for Mixtral (12.9B of 46.7B, Mixtral paper) and Llama 3.2's model card;
OpenAI's gpt-oss "active" figures (5.1B, 3.6B) leave out the input embedding (a table
look-up, no multiply): pass ``include_input_embedding=False`` to count that way. With a
tied embedding the matrix still works as the LM head, so it stays in either way.
"""

from __future__ import annotations

from inferchip.spec.model import ModelSpec

_ROUTER_BIAS_TYPES = frozenset({"gpt_oss", "deepseek_v3"})
_ATTENTION_SINK_TYPES = frozenset({"gpt_oss"})

BREAKDOWN_KEYS = (
    "embedding",
    "lm_head",
    "attention",
    "mlp_dense",
    "experts_routed",
    "experts_shared",
    "router",
    "norms",
)


def mlp_params(hidden_size: int, width: int, gated: bool, bias: bool) -> int:
    """Weights (and biases) of one FFN of ``width``: gate+up+down when gated, else up+down."""
    matrices = 3 if gated else 2
    biases = ((2 if gated else 1) * width + hidden_size) if bias else 0
    return matrices * hidden_size * width + biases


def attention_params(spec: ModelSpec) -> int:
    """Projection weights and biases of one attention block (norms excluded)."""
    h, heads = spec.hidden_size, spec.num_heads
    if spec.attention == "mla":
        d = spec.mla_dims()
        qk = d.qk_nope_head_dim + d.qk_rope_head_dim
        q_in = spec.q_lora_rank or h
        q = (h * spec.q_lora_rank if spec.q_lora_rank else 0) + q_in * heads * qk
        kv = h * (d.kv_lora_rank + d.qk_rope_head_dim) + d.kv_lora_rank * heads * (d.qk_nope_head_dim + d.v_head_dim)
        o = heads * d.v_head_dim * h
        # attention_bias in DeepSeek code adds biases to q_a (or q), kv_a and o.
        q_bias = (spec.q_lora_rank or heads * qk) if spec.qkv_bias else 0
        kv_bias = (d.kv_lora_rank + d.qk_rope_head_dim) if spec.qkv_bias else 0
        weights, biases = q + kv + o, q_bias + kv_bias + (h if spec.o_bias else 0)
    else:
        q_width, kv_width = heads * spec.head_dim, spec.num_kv_heads * spec.head_dim
        weights = 2 * h * q_width + 2 * h * kv_width
        biases = (q_width + 2 * kv_width if spec.qkv_bias else 0) + (h if spec.o_bias else 0)
    sinks = heads if spec.model_type in _ATTENTION_SINK_TYPES else 0
    return weights + biases + sinks


def _norm_params_per_layer(spec: ModelSpec) -> int:
    per_norm = spec.hidden_size * (2 if spec.norm_bias else 1)
    qk = 2 * spec.head_dim if spec.qk_norm else 0
    mla = (spec.q_lora_rank or 0) + (spec.kv_lora_rank or 0) if spec.attention == "mla" else 0
    return spec.norms_per_layer * per_norm + qk + mla


def weight_param_breakdown(spec: ModelSpec) -> dict[str, int]:
    """Parameter count by part of the model; the values add up to :func:`total_params`."""
    h = spec.hidden_size
    embedding = spec.vocab_size * h
    lm_head = (0 if spec.tie_word_embeddings else spec.vocab_size * h) + (spec.vocab_size if spec.lm_head_bias else 0)
    expert = mlp_params(h, spec.expert_intermediate_size, spec.mlp_gated, spec.mlp_bias)
    shared = (
        mlp_params(h, spec.shared_intermediate_size, spec.mlp_gated, spec.mlp_bias)
        if spec.shared_intermediate_size
        else 0
    )
    router = h * spec.num_experts + (spec.num_experts if spec.model_type in _ROUTER_BIAS_TYPES else 0)
    moe, dense = spec.num_moe_layers, spec.num_layers - spec.num_moe_layers
    return {
        "embedding": embedding,
        "lm_head": lm_head,
        "attention": spec.num_layers * attention_params(spec),
        "mlp_dense": dense * mlp_params(h, spec.intermediate_size, spec.mlp_gated, spec.mlp_bias),
        "experts_routed": moe * spec.num_experts * expert,
        "experts_shared": moe * shared,
        "router": moe * router,
        "norms": spec.num_layers * _norm_params_per_layer(spec) + h * (2 if spec.norm_bias else 1),
    }


def total_params(spec: ModelSpec) -> int:
    """Every weight of the text model, a tied embedding counted once."""
    return sum(weight_param_breakdown(spec).values())


def active_params_per_token(spec: ModelSpec, *, include_input_embedding: bool = True) -> int:
    """Weights one token uses: the total less the routed experts it is not sent to.

    ``include_input_embedding=False`` also leaves out an untied input embedding (OpenAI's
    convention for gpt-oss); see the module docstring.
    """
    parts = weight_param_breakdown(spec)
    active = sum(parts.values())
    if spec.num_experts:
        unused = spec.num_experts - spec.experts_per_token
        active -= parts["experts_routed"] * unused // spec.num_experts
    if not include_input_embedding and not spec.tie_word_embeddings:
        active -= parts["embedding"]
    return active
