"""Defects stop 45's new-user tour (newuser45) left undone, each with the test that failed before its fix."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from inferchip.errors import SpecError

MODELS = Path(__file__).resolve().parents[1] / "src" / "inferchip" / "catalog" / "models"


def _config(name: str, **changes: object) -> dict[str, object]:
    config = json.loads((MODELS / name).read_text())
    config.pop("_source", None)
    return {**config, **changes}


# ------------------------------------------------------------------ 1. MLA never reads num_key_value_heads
def test_an_mla_config_whose_kv_heads_do_not_divide_its_heads_is_read_with_a_note():
    """DeepSeek-V2-Lite (16 heads, MLA) with num_key_value_heads 5: MLA caches one latent per token, so the field sizes
    nothing; it was refused as 'expected a divisor of num_attention_heads 16'."""
    from inferchip.catalog.hf_config import model_spec_from_config

    stated = model_spec_from_config(_config("deepseek-ai__DeepSeek-V2-Lite.json"), "lite", "lite.json")
    odd = model_spec_from_config(_config("deepseek-ai__DeepSeek-V2-Lite.json", num_key_value_heads=5), "o", "o.json")
    assert odd.attention == "mla" and odd.num_kv_heads == 16  # read as the query heads (DeepseekV3Config's fill-in)
    assert any("num_key_value_heads = 5 is not read" in d for d in odd.doubts)
    assert not any("num_key_value_heads" in d for d in stated.doubts)  # the stated 16 = heads: nothing to say
    assert odd.model_dump(exclude={"id", "doubts"}) == stated.model_dump(exclude={"id", "doubts"})


def test_a_gqa_config_whose_kv_heads_do_not_divide_its_heads_is_still_refused():
    from inferchip.catalog.hf_config import model_spec_from_config

    with pytest.raises(SpecError, match=r"num_key_value_heads = 5: expected a divisor of num_attention_heads 32"):
        model_spec_from_config(_config("meta-llama__Llama-3.1-8B.json", num_key_value_heads=5), "x", "x.json")


# ------------------------------------------------------------------ 2. one JSON key name per concept
def test_vision_json_names_chip_model_weights_and_count_as_predict_does(capsys):
    """`vision --format json` said precision/chips (and chip/model) where `predict --format json` says
    weights/num_chips (and chip_id/model_id)."""
    from inferchip.interfaces.cli import main

    main(["predict", "--chip", "nvidia-h100-sxm-80gb", "--model", "meta-llama/Llama-3.1-8B", "--batch", "1",
          "--format", "json"])
    predicted = json.loads(capsys.readouterr().out)
    main(["vision", "--chip", "nvidia-h100-sxm-80gb", "--model", "resnet50-v1.5", "--count", "2", "--format", "json"])
    vision = json.loads(capsys.readouterr().out)
    shared = {"chip_id", "model_id", "weights", "num_chips"}
    assert shared <= set(predicted) and shared <= set(vision)
    assert (vision["chip_id"], vision["num_chips"]) == ("nvidia-h100-sxm-80gb", 2)
    assert not {"chip", "model", "precision", "chips"} & set(vision)
