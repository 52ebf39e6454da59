"""User ``config.json`` files: parsed like bundled ones, malformed ones named by file, field and value."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from inferchip.catalog.hf_config import SUPPORTED_MODEL_TYPES, model_spec_from_config
from inferchip.catalog.models import load_model
from inferchip.errors import SpecError
from inferchip.workload.params import total_params

MODELS_DIR = Path(__file__).parents[1] / "src" / "inferchip" / "catalog" / "models"


def windows(spec) -> dict[int | None, int]:
    out: dict[int | None, int] = {}
    for g in spec.layer_groups:
        out[g.window] = out.get(g.window, 0) + g.count
    return out


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
