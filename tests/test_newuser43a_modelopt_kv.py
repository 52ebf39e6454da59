"""A ModelOpt checkpoint's ``kv_cache_quant_algo: FP8`` sets the KV default (stop 42, newuser43a).

Before: the KV cache of a setting priced with its checkpoint's weights was the model dtype whatever the checkpoint
said, so a ModelOpt FP8 checkpoint stating ``kv_cache_quant_algo: FP8`` (in config.json's ``quantization_config`` or
in the ``hf_quant_config.json`` beside it) was priced with a bf16 cache, twice the bytes vLLM's ``--kv-cache-dtype
auto`` (vllm/utils/torch_utils.py resolve_kv_cache_dtype_string, PR #29980) and TensorRT-LLM
(llm_utils.ModelLoader._update_from_hf_quant_config) keep. Rows state their formats and never read it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import inferchip as ic
from inferchip.catalog.checkpoints import checkpoint_weights
from inferchip.catalog.models import model_ids
from inferchip.errors import SpecError
from inferchip.performance.setting import resolve_setting

MODELS = Path(__file__).parent.parent / "src/inferchip/catalog/models"
B200 = "nvidia-b200-180gb"
FP8_Q = {"quant_method": "modelopt", "quant_algo": "FP8"}


def _user_config(folder: Path, **changes: object) -> Path:
    cfg = json.loads((MODELS / "meta-llama__Llama-3.2-1B.json").read_text(encoding="utf-8"))
    cfg.update(changes)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "config.json"
    path.write_text(json.dumps(cfg), encoding="utf-8")
    return path


@pytest.mark.parametrize(("stated", "kv"), [
    ({"kv_cache_quant_algo": "FP8"}, "fp8"),
    ({"kv_cache_quant_algo": "fp8"}, "fp8"),
    ({}, "bf16"),  # none stated: the model dtype
    ({"kv_cache_quant_algo": None}, "bf16"),
    ({"kv_cache_quant_algo": "NVFP4"}, "bf16"),  # vLLM maps fp8 only and falls back to "auto" (the model dtype)
    ({"kv_cache_scheme": {"num_bits": 8, "type": "float", "dynamic": False}}, "fp8"),
    ({"kv_cache_scheme": {"num_bits": 8, "type": "float", "dynamic": True}}, "bf16"),
    ({"quantization": {"kv_cache_quant_algo": "FP8"}}, "fp8"),  # the hf_quant_config.json shape nested
])
def test_the_kv_default_follows_the_modelopt_statement(tmp_path, stated, kv):
    path = _user_config(tmp_path, quantization_config={**FP8_Q, **stated})
    s = resolve_setting(B200, str(path), tp=1)
    assert (s.formats.weights, s.formats.kv) == ("fp8", kv)
    if kv == "fp8":
        assert s.kv_source.startswith("checkpoint kv_cache_quant_algo FP8 (ModelOpt)"), s.kv_source
    else:
        assert s.kv_source.startswith("checkpoint model dtype bf16"), s.kv_source


def test_a_given_kv_or_weights_wins_over_the_statement(tmp_path):
    path = _user_config(tmp_path, quantization_config={**FP8_Q, "kv_cache_quant_algo": "FP8"})
    assert resolve_setting(B200, str(path), tp=1, kv="bf16").formats.kv == "bf16"
    # --weights given: that format's default (fp8 weights: fp8 activations and KV), the checkpoint not read
    given = resolve_setting(B200, str(path), tp=1, weights="bf16")
    assert (given.formats.kv, given.kv_source) == ("bf16", "the default of the weights given, bf16")


def test_an_fp8_cache_halves_the_kv_bytes_of_the_prediction(tmp_path):
    stated = _user_config(tmp_path / "a", quantization_config={**FP8_Q, "kv_cache_quant_algo": "FP8"})
    silent = _user_config(tmp_path / "b", quantization_config=FP8_Q)
    a = ic.predict(B200, str(stated), tp=1, batch=8, input_tokens=4096, output_tokens=256)
    b = ic.predict(B200, str(silent), tp=1, batch=8, input_tokens=4096, output_tokens=256)
    assert (a.kv, b.kv) == ("fp8", "bf16")
    kv_a = next(v for k, v in a.memory_breakdown_bytes.items() if "kv" in k.lower())
    kv_b = next(v for k, v in b.memory_breakdown_bytes.items() if "kv" in k.lower())
    assert kv_a == pytest.approx(kv_b / 2, rel=0.01)


def test_the_hf_quant_config_sidecar_is_read_where_config_json_states_none(tmp_path):
    path = _user_config(tmp_path)
    side = tmp_path / "hf_quant_config.json"
    side.write_text(json.dumps({"producer": {"name": "modelopt", "version": "0.23.0"},
                                "quantization": {"quant_algo": "FP8", "kv_cache_quant_algo": "FP8",
                                                 "exclude_modules": ["lm_head"]}}), encoding="utf-8")
    got = checkpoint_weights(str(tmp_path))
    assert (got.format, got.kv) == ("fp8", "fp8")
    assert str(side) in got.source and "quant_method modelopt, quant_algo FP8" in got.source
    s = resolve_setting(B200, str(path), tp=1)
    assert (s.formats.weights, s.formats.kv) == ("fp8", "fp8")
    side.write_text(json.dumps({"producer": {"name": "modelopt"}, "quantization": "FP8"}), encoding="utf-8")
    with pytest.raises(SpecError) as err:
        checkpoint_weights(str(path))
    assert str(side) in str(err.value) and "quantization: value 'FP8' is not allowed; expected a mapping" in str(
        err.value)


@pytest.mark.parametrize("bad", [8, ["FP8"], True])
def test_a_bad_statement_names_file_field_value_and_allowed(tmp_path, bad):
    path = _user_config(tmp_path, quantization_config={**FP8_Q, "kv_cache_quant_algo": bad})
    with pytest.raises(SpecError) as err:
        resolve_setting(B200, str(path), tp=1)
    msg = str(err.value)
    assert msg.startswith(f"{path}: quantization_config.kv_cache_quant_algo: value {bad!r} is not allowed"), msg
    assert "expected a string (FP8 for an fp8 KV cache)" in msg and "--kv" in msg and "kv= in the Python API" in msg


def test_no_bundled_config_states_a_kv_cache_format():
    """The shipped configs (catalog/models) state none: the catalogue's predictions and every case row (rows state
    their weight format, so never read the checkpoint) keep their KV."""
    for m in model_ids():
        assert checkpoint_weights(m).kv is None, m
