"""A user's MoE config.json with a shared-expert key its family's code does not read (newuser42).

transformers builds a shared expert from ``n_shared_experts`` only in DeepSeek-V2/V3 (of the families inferchip
reads); a ``qwen3_moe``, ``mixtral``, ``gpt_oss`` or ``llama4`` config carrying ``shared_expert_intermediate_size``
(Qwen2-MoE's key) or ``n_shared_experts`` gets none. On main the key was dropped without a word: the model was
priced without the shared expert the user wrote. Now a note names the key, the value and the family, and predict
shows it with the file (as it shows every convention the parser supplied for a user's config)."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from inferchip.catalog.hf_config import SHARED_EXPERT_KEYS, model_spec_from_config
from inferchip.interfaces.cli import app

REF = Path(__file__).resolve().parents[1] / "src" / "inferchip" / "catalog" / "models"
FAMILIES = {  # a bundled config of each MoE family whose code reads no shared-expert key
    "qwen3_moe": "Qwen__Qwen3-30B-A3B.json",
    "mixtral": "mistralai__Mixtral-8x7B-v0.1.json",
    "gpt_oss": "openai__gpt-oss-20b.json",
}


def _config(name: str) -> dict:
    return json.loads((REF / name).read_text(encoding="utf-8"))


@settings(max_examples=40, deadline=None)
@given(family=st.sampled_from(sorted(FAMILIES)), key=st.sampled_from(SHARED_EXPERT_KEYS),
       value=st.integers(min_value=1, max_value=65_536))
def test_unread_shared_expert_key_is_noted(family: str, key: str, value: int) -> None:
    cfg = _config(FAMILIES[family]) | {key: value}
    plain = model_spec_from_config(_config(FAMILIES[family]), "m", "cfg.json")
    spec = model_spec_from_config(cfg, "m", "cfg.json")
    assert spec.shared_intermediate_size == plain.shared_intermediate_size == 0  # what transformers builds
    noted = [d for d in spec.doubts if key in d]
    assert len(noted) == 1 and f"{value!r}" in noted[0] and family in noted[0] and "no shared expert" in noted[0]


@given(value=st.sampled_from([0, None, False]))
def test_absent_or_zero_shared_key_is_not_noted(value: object) -> None:
    cfg = _config(FAMILIES["qwen3_moe"]) | {"shared_expert_intermediate_size": value}
    assert not [d for d in model_spec_from_config(cfg, "m", "c").doubts if "is not read" in d]


def test_deepseek_reads_n_shared_experts_without_a_note() -> None:
    cfg = _config("deepseek-ai__DeepSeek-V3.json")
    spec = model_spec_from_config(cfg, "m", "c")
    assert spec.shared_intermediate_size == cfg["n_shared_experts"] * cfg["moe_intermediate_size"]
    assert not [d for d in spec.doubts if "n_shared_experts" in d]
    other = model_spec_from_config(cfg | {"shared_expert_intermediate_size": 4096}, "m", "c")
    assert [d for d in other.doubts if "shared_expert_intermediate_size = 4096" in d]


@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=st.integers(min_value=1, max_value=8192))
def test_predict_shows_the_note_with_the_file(tmp_path: Path, value: int) -> None:
    path = tmp_path / "moe.json"
    path.write_text(json.dumps(_config(FAMILIES["qwen3_moe"]) | {"shared_expert_intermediate_size": value}))
    res = CliRunner().invoke(app, ["predict", "--chip", "nvidia-h100-sxm-80gb", "--model", str(path), "--batch", "1",
                                   "--format", "json"])
    assert res.exit_code == 0, res.output
    notes = json.loads(res.stdout)["notes"]
    assert any(str(path) in n and f"shared_expert_intermediate_size = {value}" in n for n in notes), notes
    text = CliRunner().invoke(app, ["predict", "--chip", "nvidia-h100-sxm-80gb", "--model", str(path), "--batch",
                                    "1"])
    assert "shared_expert_intermediate_size" in text.output


def test_serve_and_curve_show_the_note(tmp_path: Path) -> None:
    path = tmp_path / "moe.json"
    path.write_text(json.dumps(_config(FAMILIES["qwen3_moe"]) | {"n_shared_experts": 2}))
    base = ["--chip", "nvidia-h100-sxm-80gb", "--model", str(path), "--input-tokens", "64", "--output-tokens", "8"]
    for args in (["serve", *base, "--rate", "2", "--requests", "5"], ["curve", *base]):
        res = CliRunner().invoke(app, args)
        assert res.exit_code == 0, res.output
        assert "n_shared_experts = 2 is not read" in " ".join(res.output.split()), (args[0], res.output)
