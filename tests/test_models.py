"""LLM catalogue: config parsing, aliases, error messages and exact parameter counts.

Expected values are derived here from the layer shapes (with the reason beside them) or
are the vendors' published figures as recorded in each bundled file.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inferchip.catalog.hf_config import SUPPORTED_MODEL_TYPES, model_spec_from_config
from inferchip.catalog.models import load_model, model_ids, parse_param_count
from inferchip.errors import SpecError
from inferchip.workload.params import active_params_per_token, total_params, weight_param_breakdown

MODELS_DIR = Path(__file__).parents[1] / "src" / "inferchip" / "catalog" / "models"
BUNDLED = sorted(p.stem.replace("__", "/", 1) for p in MODELS_DIR.glob("*.json"))


def rel_err(computed: float, expected: float) -> float:
    return abs(computed - expected) / expected


def windows(spec) -> dict[int | None, int]:
    out: dict[int | None, int] = {}
    for g in spec.layer_groups:
        out[g.window] = out.get(g.window, 0) + g.count
    return out


# ----------------------------------------------------------------------------- the bundle
def test_bundle_has_every_reference_model():
    assert len(BUNDLED) == 39
    assert set(BUNDLED) <= set(model_ids())


def test_bundled_files_are_unchanged_copies_of_the_reference():
    """Every bundled config (and aliases.csv) hashes as the research reference did when it was copied."""
    manifest = (Path(__file__).parent / "data/reference/models.sha256").read_text(encoding="utf-8").split("\n")
    expected = dict(reversed(line.split("  ", 1)) for line in manifest if line)
    assert len(expected) == 40
    for name, digest in expected.items():
        path = MODELS_DIR.parent / name if name == "aliases.csv" else MODELS_DIR / name
        assert hashlib.sha256(path.read_bytes()).hexdigest() == digest, name


@pytest.mark.parametrize("model_id", model_ids())
def test_every_catalogue_id_loads(model_id):
    spec = load_model(model_id)
    assert spec.id == model_id
    assert sum(g.count for g in spec.layer_groups) == spec.num_layers
    # one group per distinct (window, moe) kind: grouping must not leave duplicates
    kinds = [(g.window, g.moe) for g in spec.layer_groups]
    assert len(kinds) == len(set(kinds))
    parts = weight_param_breakdown(spec)
    assert all(v >= 0 for v in parts.values())
    assert 0 < active_params_per_token(spec) <= total_params(spec) == sum(parts.values())


# ----------------------------------------------------------------------- reported counts
@pytest.mark.parametrize(
    ("text", "params", "exact", "nominal", "active"),
    [
        ("7B", 7e9, False, False, None),
        ("1B (1.23B)", 1.23e9, True, False, None),
        ("47B / 13B active", 47e9, False, False, 13e9),
        ("6,053,381,344", 6_053_381_344, True, False, None),
        ("6053381344", 6_053_381_344, True, False, None),
        ("2.4B", 2.4e9, False, False, None),
        ("14B (nominal, from the model name)", 14e9, False, True, None),
        ("22B (nominal, from the -A22B suffix)", 22e9, False, True, None),
    ],
)
def test_parse_param_count(text, params, exact, nominal, active):
    got = parse_param_count(text)
    assert got.params == pytest.approx(params)
    assert (got.exact, got.nominal) == (exact, nominal)
    assert got.active_params == (None if active is None else pytest.approx(active))


def test_parse_param_count_rejects_text_without_a_figure():
    with pytest.raises(SpecError, match="not read"):
        parse_param_count("not read")


def tolerance(text: str) -> float:
    """Relative tolerance for comparing with a reported figure.

    Exact figures (a plain integer or a parenthesised precise one): 0.5%. Other figures:
    10%. A size that is only the model's name is rounded to its last digit, so it may be off
    by half a unit of that digit (Qwen3-30B-A3B uses 3.35B per token: "3B" +12%).
    """
    count = parse_param_count(text)
    if count.exact:
        return 0.005
    if count.nominal:
        number = re.search(r"\d[\d.]*", text).group(0)
        unit = 10.0 ** -len(number.split(".")[1]) if "." in number else 1.0
        return max(0.10, 0.5 * unit / float(number))
    return 0.10


WITH_TOTAL = [m for m in BUNDLED if load_model(m).total_params_reported]
WITH_ACTIVE = [m for m in BUNDLED if load_model(m).active_params_reported]
# DeepSeek and OpenAI count active parameters without the input embedding (a look-up):
# DeepSeek-V2-Lite 2.45B vs "2.4B" that way, 2.66B with it; gpt-oss-120b 5.13B vs "5.1B",
# 5.71B with it. Mistral (Mixtral 12.9B), Meta (Llama 4 17.2B) and Qwen count it.
ACTIVE_WITHOUT_INPUT_EMBEDDING = ("deepseek-ai/", "openai/")


@pytest.mark.parametrize("model_id", WITH_TOTAL)
def test_total_params_match_reported(model_id):
    spec = load_model(model_id)
    reported = spec.total_params_reported
    assert rel_err(total_params(spec), parse_param_count(reported).params) <= tolerance(reported)


@pytest.mark.parametrize("model_id", WITH_ACTIVE)
def test_active_params_match_reported(model_id):
    spec = load_model(model_id)
    reported = spec.active_params_reported
    with_embedding = not model_id.startswith(ACTIVE_WITHOUT_INPUT_EMBEDDING)
    active = active_params_per_token(spec, include_input_embedding=with_embedding)
    assert rel_err(active, parse_param_count(reported).params) <= tolerance(reported)


def test_exact_figures_are_held_to_half_a_percent():
    assert parse_param_count(load_model("EleutherAI/gpt-j-6b").total_params_reported).exact
    assert rel_err(total_params(load_model("EleutherAI/gpt-j-6b")), 6_053_381_344) <= 0.005
    assert rel_err(total_params(load_model("meta-llama/Llama-3.2-1B")), 1.23e9) <= 0.005
    assert rel_err(total_params(load_model("meta-llama/Llama-3.2-3B")), 3.21e9) <= 0.005


# ------------------------------------------------------------------ hand derivations
def test_llama2_7b_exact_count():
    h, ffn, vocab, layers = 4096, 11008, 32000, 32
    embed_and_head = vocab * h * 2  # untied
    per_layer = 4 * h * h + 3 * h * ffn + 2 * h  # q,k,v,o (32 KV heads = MHA); SwiGLU; 2 RMSNorms
    expected = embed_and_head + layers * per_layer + h  # + final norm
    assert expected == 6_738_415_616
    assert total_params(load_model("meta-llama/Llama-2-7b-hf")) == expected


def test_mixtral_8x7b_total_and_active():
    h, ffn, vocab, layers, experts, top_k, kv = 4096, 14336, 32000, 32, 8, 2, 8
    attention = 2 * h * h + 2 * h * kv * 128  # q and o full width; k and v for 8 KV heads of 128
    expert = 3 * h * ffn
    shared = attention + h * experts + 2 * h  # attention, router, 2 norms per layer
    total = 2 * vocab * h + layers * (shared + experts * expert) + h
    active = 2 * vocab * h + layers * (shared + top_k * expert) + h
    spec = load_model("mistralai/Mixtral-8x7B-v0.1")
    assert (total_params(spec), active_params_per_token(spec)) == (total, active)
    assert rel_err(total, 46.7e9) < 0.005 and rel_err(active, 12.9e9) < 0.005  # Mistral's 46.7B / 12.9B


def test_gptj_exact_count():
    h, layers, vocab = 4096, 28, 50400
    attention = 4 * h * h  # q, k, v, out without biases (transformers GPTJAttention)
    mlp = 2 * h * 4 * h + 4 * h + h  # fc_in, fc_out with biases, width 4*n_embd
    expected = vocab * h + (vocab * h + vocab) + layers * (attention + mlp + 2 * h) + 2 * h  # ln_1 and ln_f with bias
    assert total_params(load_model("EleutherAI/gpt-j-6b")) == expected
    # 2,498,560 short of the model card's figure (0.04%).
    assert 6_053_381_344 - expected == 2_498_560


def test_deepseek_v3_mla_attention_and_layout():
    spec = load_model("deepseek-ai/DeepSeek-V3")
    h, heads = 7168, 128
    q = h * 1536 + 1536 * heads * (128 + 64)  # q_a, q_b
    kv = h * (512 + 64) + 512 * heads * (128 + 128)  # kv_a_proj_with_mqa, kv_b
    o = heads * 128 * h
    parts = weight_param_breakdown(spec)
    assert parts["attention"] == 61 * (q + kv + o)
    assert parts["norms"] == 61 * (2 * h + 1536 + 512) + h  # 2 RMSNorms + q_a / kv_a norms; final norm
    assert parts["router"] == 58 * (256 * h + 256)  # gate + e_score_correction_bias
    assert parts["experts_shared"] == 58 * 3 * h * 2048
    assert [(g.count, g.moe) for g in spec.layer_groups] == [(3, False), (58, True)]
    assert (spec.attention, spec.head_dim, spec.q_lora_rank) == ("mla", 192, 1536)


def test_deepseek_v2_lite_direct_query_projection():
    spec = load_model("deepseek-ai/DeepSeek-V2-Lite")
    h, heads = 2048, 16
    q = h * heads * 192  # q_lora_rank null: one hidden x heads*(nope+rope) matrix
    kv = h * (512 + 64) + 512 * heads * (128 + 128)
    assert spec.q_lora_rank is None
    assert weight_param_breakdown(spec)["attention"] == 27 * (q + kv + heads * 128 * h)
    assert spec.shared_intermediate_size == 2 * 1408
    assert [(g.count, g.moe) for g in spec.layer_groups] == [(1, False), (26, True)]


def test_gpt_oss_biases_sinks_and_openai_active_convention():
    spec = load_model("openai/gpt-oss-120b")
    h, q_width, kv_width = 2880, 64 * 64, 8 * 64
    attention = 2 * h * q_width + 2 * h * kv_width + q_width + 2 * kv_width + h + 64  # biases, 64 sinks
    expert = 3 * h * 2880 + 2 * 2880 + h
    assert weight_param_breakdown(spec)["attention"] == 36 * attention
    assert weight_param_breakdown(spec)["experts_routed"] == 36 * 128 * expert
    without_embedding = active_params_per_token(spec, include_input_embedding=False)
    assert active_params_per_token(spec) - without_embedding == 201088 * h
    assert rel_err(without_embedding, 5.13e9) < 0.005  # OpenAI model card: 5.13B active


def test_tied_embedding_counted_once():
    spec = load_model("meta-llama/Llama-3.2-1B")
    parts = weight_param_breakdown(spec)
    assert spec.tie_word_embeddings and parts["lm_head"] == 0 and parts["embedding"] == 128256 * 2048
    # a tied matrix is also the LM head, so it stays in the active count either way
    assert active_params_per_token(spec, include_input_embedding=False) == total_params(spec)


# ------------------------------------------------------------------- user config files
LLAMA_TINY = {
    "model_type": "llama",
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "num_hidden_layers": 3,
    "vocab_size": 100,
}


def write_config(tmp_path: Path, config: dict) -> Path:
    path = tmp_path / "my-model" / "config.json"
    path.parent.mkdir()
    path.write_text(json.dumps(config))
    return path


def test_user_config_by_path(tmp_path):
    path = write_config(tmp_path, LLAMA_TINY)
    spec = load_model(path)
    assert (spec.id, spec.head_dim, spec.num_kv_heads) == ("my-model", 16, 2)
    assert load_model(str(path)) == spec
    # 3 layers of q,o (64x64) + k,v (64x32) + SwiGLU 3*64*128 + 2 norms; embed + head; final norm
    assert total_params(spec) == 3 * (2 * 64 * 64 + 2 * 64 * 32 + 3 * 64 * 128 + 2 * 64) + 2 * 100 * 64 + 64


@pytest.mark.parametrize(
    ("change", "field", "shown"),
    [
        ({"hidden_size": None}, "hidden_size", "missing"),
        ({"hidden_size": "64x"}, "hidden_size", "'64x'"),
        ({"hidden_size": 64.5}, "hidden_size", "64.5"),
        ({"num_hidden_layers": -3}, "num_hidden_layers", "-3"),
        ({"vocab_size": True}, "vocab_size", "True"),
        ({"num_key_value_heads": 3}, "num_key_value_heads", "divisor of num_attention_heads 4"),
    ],
)
def test_malformed_user_config_names_file_field_and_value(tmp_path, change, field, shown):
    config = {k: v for k, v in (LLAMA_TINY | change).items() if v is not None}
    path = write_config(tmp_path, config)
    with pytest.raises(SpecError) as err:
        load_model(path)
    message = str(err.value)
    assert str(path) in message and field in message and shown in message


def test_missing_user_file_is_a_spec_error(tmp_path):
    path = tmp_path / "absent" / "config.json"
    with pytest.raises(SpecError, match="cannot read file") as err:
        load_model(str(path))
    assert str(path) in str(err.value)


def test_unknown_model_type_lists_supported(tmp_path):
    path = write_config(tmp_path, LLAMA_TINY | {"model_type": "rwkv"})
    with pytest.raises(SpecError, match="'rwkv'") as err:
        load_model(path)
    assert all(t in str(err.value) for t in SUPPORTED_MODEL_TYPES)


def test_deepseek_config_must_state_q_lora_rank():
    config = json.loads((MODELS_DIR / "deepseek-ai__DeepSeek-V2-Lite.json").read_text())
    del config["q_lora_rank"]
    with pytest.raises(SpecError, match="q_lora_rank"):
        model_spec_from_config(config, "x", "x.json")


def test_qwen_sliding_window_applies_from_max_window_layers():
    config = LLAMA_TINY | {
        "model_type": "qwen2",
        "num_hidden_layers": 6,
        "use_sliding_window": True,
        "sliding_window": 512,
        "max_window_layers": 4,
    }
    spec = model_spec_from_config(config, "q", "q.json")
    assert windows(spec) == {None: 4, 512: 2}
    assert spec.qkv_bias and not spec.o_bias


# ------------------------------------------------------------------------- invariants
@settings(max_examples=50, deadline=None)
@given(
    layers=st.integers(1, 8),
    kv_heads=st.integers(1, 4),
    group=st.integers(1, 4),
    head_dim=st.sampled_from([8, 16, 64]),
    ffn=st.integers(1, 512),
    vocab=st.integers(1, 1000),
    experts=st.integers(1, 16),
    data=st.data(),
)
def test_moe_active_is_total_less_unused_experts(layers, kv_heads, group, head_dim, ffn, vocab, experts, data):
    top_k = data.draw(st.integers(1, experts))
    heads = kv_heads * group
    hidden = heads * head_dim
    config = {
        "model_type": "mixtral",
        "hidden_size": hidden,
        "intermediate_size": ffn,
        "num_attention_heads": heads,
        "num_key_value_heads": kv_heads,
        "num_hidden_layers": layers,
        "vocab_size": vocab,
        "num_local_experts": experts,
        "num_experts_per_tok": top_k,
    }
    spec = model_spec_from_config(config, "m", "m.json")
    unused = layers * (experts - top_k) * 3 * hidden * ffn
    assert total_params(spec) - active_params_per_token(spec) == unused
    attention = 2 * hidden * hidden + 2 * hidden * kv_heads * head_dim
    assert weight_param_breakdown(spec)["attention"] == layers * attention
