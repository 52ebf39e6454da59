"""A config's ``rope_scaling`` sets its context window as vLLM derives ``max_model_len`` (newuser41).

vLLM (vllm/config.py ``_get_and_verify_max_len``, vllm-project/vllm): a RoPE type other than su, longrope and
llama3 multiplies the window by its factor; YaRN multiplies ``original_max_position_embeddings``; Gemma 3 is left
as it is (its ``max_position_embeddings`` is already scaled). Qwen's model cards extend Qwen3-8B (40,960 tokens) to
131,072 with ``{"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 32768}``: 32,768 x 4 =
131,072. Before, such a config was refused at 100,000 + 1,000 tokens ("at most 40,960") and a rope_scaling of any
shape ("yes", a factor of -2) was read without a word.
"""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cli_in_process import run_main
from inferchip.catalog import models as models_mod
from inferchip.catalog.hf_config import model_spec_from_config
from inferchip.catalog.models import load_model
from inferchip.errors import InvalidSettingError, SpecError

MODELS = Path(models_mod.__file__).parent / "models"
QWEN3 = json.loads((MODELS / "Qwen__Qwen3-8B.json").read_text())
YARN = {"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 32768}


def _spec(rope: Any, base: dict[str, Any] = QWEN3) -> Any:
    cfg = copy.deepcopy(base)
    cfg["rope_scaling"] = rope
    return model_spec_from_config(cfg, "q", "q.json")


def test_qwen3_yarn_extends_the_window_to_131072():
    spec = _spec(YARN)
    assert spec.max_position_embeddings == 131_072  # 32,768 x 4
    assert "original_max_position_embeddings 32,768 x rope_scaling.factor 4 (yarn)" in (spec.context_source or "")
    spec.check_context(101_000)
    with pytest.raises(InvalidSettingError, match=r"at most 131,072 tokens \(original_max_position_embeddings"):
        spec.check_context(131_073)


def test_the_cli_takes_a_yarn_config_beyond_max_position_embeddings(tmp_path: Path):
    cfg = copy.deepcopy(QWEN3)
    cfg["rope_scaling"] = YARN
    path = tmp_path / "config.json"
    path.write_text(json.dumps(cfg))
    args = ["predict", "--chip", "nvidia-h200-sxm-141gb", "--model", str(path), "--batch", "1",
            "--output-tokens", "1000", "--format", "json"]
    code, text = run_main([*args, "--input-tokens", "100000"])
    assert code == 0, text
    code, text = run_main([*args, "--input-tokens", "131000"])
    assert code == 2 and "at most 131,072 tokens" in text


@pytest.mark.parametrize(("rope", "window"), [
    ({"type": "linear", "factor": 2.0}, 81_920),  # the old key name, max_position_embeddings x factor
    ({"rope_type": "dynamic", "factor": 3}, 122_880),
    ({"rope_type": "yarn", "factor": 2.0}, 81_920),  # YaRN without original_max_position_embeddings: transformers'
    ({"rope_type": "llama3", "factor": 8.0, "original_max_position_embeddings": 8192}, 40_960),  # already scaled
    ({"rope_type": "longrope", "factor": 4.0}, 40_960),
    ({"rope_type": "default"}, 40_960),
    (None, 40_960),
])
def test_each_rope_type_as_vllm_reads_it(rope: Any, window: int):
    assert _spec(rope).max_position_embeddings == window


def test_gemma3_is_not_scaled_again():
    gemma = json.loads((MODELS / "google__gemma-3-27b-it.json").read_text())
    assert gemma["text_config"]["rope_scaling"]["factor"] == 8.0
    assert load_model("google/gemma-3-27b-it").max_position_embeddings == 131_072


def test_no_catalogue_window_changes():
    """Every bundled config's window is what it states: YaRN's products equal it (DeepSeek 4,096 x 40 = 163,840,
    gpt-oss 4,096 x 32 = 131,072), llama3 and Gemma 3 are left as they are."""
    for path in sorted(MODELS.glob("*.json")):
        cfg = json.loads(path.read_text())
        stated = cfg.get("max_position_embeddings") or (cfg.get("text_config") or {}).get("max_position_embeddings")
        spec = model_spec_from_config(cfg, path.stem, str(path))
        assert stated is None or spec.max_position_embeddings == stated, path.name  # GPT-J: n_positions
        assert spec.context_source is None, path.name


_BAD_FACTORS = st.one_of(st.sampled_from([0, -2, -0.5, math.inf, -math.inf, math.nan, True, False, "4", None, [4]]),
                         st.floats(max_value=0.0, allow_nan=False), st.text(max_size=4))


@settings(max_examples=60, deadline=None)
@given(factor=_BAD_FACTORS, kind=st.sampled_from(["linear", "dynamic", "yarn"]))
def test_a_bad_factor_is_refused_naming_the_field(factor: Any, kind: str):
    with pytest.raises(SpecError, match=r"q\.json: rope_scaling\.factor = .*expected a finite number above 0"):
        _spec({"rope_type": kind, "factor": factor})


@settings(max_examples=40, deadline=None)
@given(rope=st.one_of(st.text(max_size=8), st.integers(), st.lists(st.integers(), max_size=3), st.booleans(),
                      st.fixed_dictionaries({"factor": st.just(2.0)}),
                      st.fixed_dictionaries({"rope_type": st.integers(), "factor": st.just(2.0)})))
def test_a_rope_scaling_of_another_shape_is_refused(rope: Any):
    with pytest.raises(SpecError, match=r"q\.json: rope_scaling"):
        _spec(rope)


@settings(max_examples=40, deadline=None)
@given(factor=st.floats(min_value=1e5, max_value=1e300))
def test_a_window_beyond_the_bound_is_refused(factor: float):
    with pytest.raises(SpecError, match="within 1 to"):
        _spec({"rope_type": "linear", "factor": factor})


@pytest.mark.parametrize("rope", [{"rope_type": "linear", "factor": 1e308},
                                  {"rope_type": "yarn", "factor": 1.7e308, "original_max_position_embeddings": 32768}])
def test_a_factor_whose_window_overflows_a_float_is_refused(rope: Any):
    """A finite factor whose product with the window is no finite number (1e308 x 40,960) gets the same error."""
    with pytest.raises(SpecError, match="within 1 to"):
        _spec(rope)


@settings(max_examples=60, deadline=None)
@given(factor=st.floats(min_value=1.01, max_value=64.0), original=st.integers(min_value=512, max_value=65_536))
def test_yarn_is_original_times_factor(factor: float, original: int):
    spec = _spec({"rope_type": "yarn", "factor": factor, "original_max_position_embeddings": original})
    assert spec.max_position_embeddings == int(original * factor)
