"""Number-format names users of NVIDIA / OCP formats type (catalog46): NVFP4 is the catalogue's fp4 (E2M1 + one FP8
E4M3 scale per 16: 4.5 bits an element), MXFP4 its own format (E2M1 + one E8M0 scale per 32: 4.25 bits), e4m3 / e5m2
are fp8 and the torch dtype names are the 16-/32-bit formats; MXFP8 (8.25 bits) is refused with its reason. One
resolver (``spec.formats.canonical_format``) reads every name, before the checkpoint's per-layer map compares it."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from inferchip.errors import InvalidSettingError
from inferchip.spec.formats import ALL_FORMATS, BYTES_PER_ELEMENT, canonical_format, check_format

B200 = "nvidia-b200-180gb"
LLAMA = "meta-llama/Llama-3.1-8B"


@pytest.mark.parametrize(("typed", "format_"), [
    ("nvfp4", "fp4"), ("NVFP4", "fp4"), ("NvFp4", "fp4"), ("e4m3", "fp8"), ("E5M2", "fp8"), ("fp8_e4m3", "fp8"),
    ("FP8-E5M2", "fp8"), ("float8_e4m3fn", "fp8"), ("bfloat16", "bf16"), ("float16", "fp16"), ("half", "fp16"),
    ("float32", "fp32"), ("MXFP4", "mxfp4"), ("fp4", "fp4")])
def test_the_names_users_type_read_as_the_catalogues_format(typed: str, format_: str) -> None:
    assert canonical_format(typed) == format_
    assert check_format(typed, "--weights") == format_


def test_nvfp4_and_mxfp4_carry_their_own_block_scale_bytes_by_hand() -> None:
    # NVFP4: 4 bits + an 8-bit scale per 16 = 4.5 bits; MXFP4: 4 bits + an 8-bit scale per 32 = 4.25 bits
    assert BYTES_PER_ELEMENT[canonical_format("nvfp4")] == pytest.approx(4.5 / 8)
    assert BYTES_PER_ELEMENT[canonical_format("mxfp4")] == pytest.approx(4.25 / 8)


@pytest.mark.parametrize(("typed", "words"), [("mxfp8", "8.25 bits"), ("MXFP6", "6.25 bits"), ("fp6", "FP6")])
def test_block_scaled_formats_that_are_not_modelled_are_refused_with_the_reason(typed: str, words: str) -> None:
    with pytest.raises(InvalidSettingError, match=words):
        check_format(typed, "--weights")


@settings(max_examples=60, deadline=None)
@given(st.sampled_from([*ALL_FORMATS, "nvfp4", "e4m3", "bfloat16"]), st.lists(st.booleans(), min_size=12,
                                                                                max_size=12))
def test_any_case_of_a_known_name_reads_the_same(name: str, upper: list[bool]) -> None:
    typed = "".join(c.upper() if u else c for c, u in zip(name, upper, strict=False)) + name[len(upper):]
    assert canonical_format(typed) == canonical_format(name)
    assert canonical_format(typed) in ALL_FORMATS


def test_predict_prices_nvfp4_as_fp4_and_mxfp4_with_fewer_weight_bytes() -> None:
    from inferchip.performance.setting import resolve_setting

    nv, fp4 = (resolve_setting(B200, LLAMA, weights=w) for w in ("NVFP4", "fp4"))
    mx = resolve_setting(B200, LLAMA, weights="MXFP4")
    assert nv.formats.weights == "fp4" and nv.formats == fp4.formats
    assert mx.formats.weights == "mxfp4"
    assert mx.formats.weight_bytes / nv.formats.weight_bytes == pytest.approx(4.25 / 4.5)


def test_the_checkpoints_per_layer_map_reads_the_weights_by_the_same_resolver() -> None:
    """gpt-oss ships MXFP4 with its attention left 16-bit (modules_to_not_convert); asked for as 'MXFP4' (the Python
    API takes the name as typed) the map still applies: the name is resolved before the map compares it."""
    from inferchip.performance.setting import resolve_setting

    s = resolve_setting("nvidia-b200-180gb", "openai/gpt-oss-120b", weights="MXFP4")
    assert s.formats.weights == "mxfp4" and s.formats.attention_weights == "bf16"


def test_a_modelopt_nvfp4_checkpoint_reads_as_fp4_through_the_one_resolver(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import json

    from inferchip.catalog.checkpoints import checkpoint_weights

    cfg = json.loads((__import__("inferchip.catalog.models", fromlist=["x"])._file_for(LLAMA)).read_text())
    cfg["quantization_config"] = {"quant_method": "modelopt", "quant_algo": "NVFP4"}
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    assert checkpoint_weights(str(tmp_path / "config.json")).format == "fp4"


def test_a_chip_yaml_may_name_its_fp4_peak_nvfp4_once() -> None:
    from pydantic import ValidationError

    from inferchip.spec.chip_sections import ComputeSpec

    assert set(ComputeSpec(dense_tflops={"NVFP4": 9000, "fp8": 4500}).dense_tflops) == {"fp4", "fp8"}
    with pytest.raises(ValidationError, match="under another name"):
        ComputeSpec(dense_tflops={"nvfp4": 9000, "fp4": 9000})


def test_the_cli_takes_nvfp4_and_refuses_mxfp8_with_the_reason() -> None:
    from inferchip.interfaces.cli import app

    runner = CliRunner()
    nv = runner.invoke(app, ["chips", "--number-format", "nvfp4", "--format", "json"])
    fp4 = runner.invoke(app, ["chips", "--number-format", "fp4", "--format", "json"])
    assert nv.exit_code == 0 and nv.output == fp4.output
    bad = runner.invoke(app, ["chips", "--number-format", "mxfp8"])
    assert bad.exit_code == 2 and "8.25 bits" in bad.output
    w = runner.invoke(app, ["predict", "--chip", B200, "--model", LLAMA, "--weights", "nvfp4", "--batch", "1",
                            "--format", "json"])
    assert w.exit_code == 0, w.output
    assert '"weights": "fp4"' in w.output
