"""The softmax-exponential cap on prefill attention (cost.kernels.attention.prefill_exp_cap_flop_per_s), by hand."""

from __future__ import annotations

import numpy as np
import pytest

from inferchip.cost.constants import MMA_FLOP_PER_EXP_16BIT
from inferchip.cost.kernels.attention import PREFILL_SMALL_HEAD_RATE, attention_columns, prefill_exp_cap_flop_per_s
from inferchip.mapping.operators import Attention
from inferchip.spec.chip import ARCHITECTURES

GPT_OSS = Attention(q_heads=8, qk_dim=64, v_dim=64, kv_elements_per_token=128)
HEAD_128 = Attention(q_heads=8, qk_dim=128, v_dim=128, kv_elements_per_token=256)
B200_BF16, B200_FP8, H100_BF16 = 2.25e15, 4.5e15, 989.4e12


def test_architecture_ratios_by_hand():
    # 4,096 and 8,192 dense 16-bit FLOP per clock and SM over 16 exponentials per clock and SM; Blackwell Ultra 32
    assert MMA_FLOP_PER_EXP_16BIT == {"hopper": 256.0, "blackwell": 512.0, "blackwell-ultra": 256.0}
    assert set(MMA_FLOP_PER_EXP_16BIT) <= set(ARCHITECTURES)


def test_the_catalogue_tells_the_generations_apart():
    """B200 and B300 share the catalogue family nvidia-blackwell; their files' architecture tells them apart (the
    ten chips the table was keyed by id before keep their ratio; Rubin and other vendors name none)."""
    from inferchip.catalog.chips import get_chip_params

    want = {**dict.fromkeys(("nvidia-h100-sxm-80gb", "nvidia-h100-pcie-80gb", "nvidia-h100-nvl-94gb",
                             "nvidia-h200-sxm-141gb", "nvidia-gh200-96gb", "nvidia-gh200-144gb"), "hopper"),
            **dict.fromkeys(("nvidia-b200-180gb", "nvidia-gb200-186gb"), "blackwell"),
            **dict.fromkeys(("nvidia-b300-288gb", "nvidia-gb300-288gb"), "blackwell-ultra"),
            **dict.fromkeys(("nvidia-rubin-288gb", "amd-mi300x", "nvidia-a100-sxm-80gb"), "")}
    for chip, arch in want.items():
        p = get_chip_params(chip)
        assert p.architecture == arch, chip
    assert get_chip_params("nvidia-b300-288gb").family == get_chip_params("nvidia-b200-180gb").family


def _user_chip(tmp_path, architecture: str | None) -> str:
    """A user's own Blackwell-class chip file: the B200's figures under another id, with or without architecture."""
    import yaml

    from inferchip.catalog.chips import load_chip

    data = load_chip("nvidia-b200-180gb").model_dump(mode="json", exclude_none=True)
    data["id"] = "my-blackwell-part"
    data.pop("architecture")
    if architecture is not None:
        data["architecture"] = architecture
    path = tmp_path / "my-blackwell-part.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return str(path)


def test_a_user_chip_that_states_its_architecture_gets_the_cap(tmp_path):
    from inferchip.catalog.chips import get_chip_params
    from inferchip.cost.context import cost_context
    from inferchip.mapping.memory_fit import Formats
    from inferchip.spec.calibration import Calibration

    fmt, cal = Formats(weights="bf16", activations="bf16", kv="bf16"), Calibration()
    stated = get_chip_params(_user_chip(tmp_path, "blackwell"))
    assert cost_context(stated, fmt, cal).mma_flop_per_exp_16bit == 512.0
    silent = get_chip_params(_user_chip(tmp_path, None))
    assert cost_context(silent, fmt, cal).mma_flop_per_exp_16bit == float("inf")


def test_an_unknown_architecture_is_refused(tmp_path):
    from inferchip.catalog.chips import load_chip
    from inferchip.errors import SpecError

    with pytest.raises(SpecError, match=r"architecture.*'blackwel': not a known architecture; allowed: ampere, ada, "
                                        r"hopper, blackwell, blackwell-ultra, rubin"):
        load_chip(_user_chip(tmp_path, "blackwel"))


def test_cap_by_hand():
    # B200, head dimension 64: 2.25e15 / 512 = 4.395e12 exponentials/s x 256 FLOP each = 1.125e15 FLOP/s
    assert float(prefill_exp_cap_flop_per_s(128.0, B200_BF16, 512.0)) == pytest.approx(1.125e15)
    # head dimension 128 on B200: 512 FLOP per exponential, the 16-bit peak itself
    assert float(prefill_exp_cap_flop_per_s(256.0, B200_BF16, 512.0)) == pytest.approx(B200_BF16)
    # H100, head dimension 64: 256 FLOP per exponential, the 16-bit peak itself
    assert float(prefill_exp_cap_flop_per_s(128.0, H100_BF16, 256.0)) == pytest.approx(H100_BF16)
    with pytest.raises(ValueError, match="mma_flop_per_exp_16bit 0"):
        prefill_exp_cap_flop_per_s(128.0, B200_BF16, 0.0)


def test_blackwell_fp8_gpt_oss_prefill_at_the_cap():
    # FP8 prefill (peak 4.5e15) of 64-dim heads, fraction 0.55: min(4.5e15 x 0.55 x 475/616 = 1.908e15, 1.125e15);
    # the 128-dim head: min(4.5e15 x 0.55 = 2.475e15, 2.25e15); decode keeps the FP8 peak x its fraction (0.15)
    t = attention_columns([GPT_OSS, HEAD_128], B200_FP8, 0.15, 0.55, 1.0, 1.0,
                          peak_16bit_flop_per_s=B200_BF16, mma_flop_per_exp_16bit=512.0)
    assert np.allclose(t["prefill_attainable_flop_per_s"], [1.125e15, B200_BF16])
    assert np.allclose(t["decode_attainable_flop_per_s"], [B200_FP8 * 0.15] * 2)


def test_blackwell_bf16_below_the_cap_hopper_unchanged():
    # bf16 64-dim heads on B200: 2.25e15 x 0.55 x 475/616 = 0.954e15, below the 1.125e15 cap: unchanged; a lower
    # fraction is never raised by the cap
    bw = attention_columns([GPT_OSS, HEAD_128], B200_BF16, 0.15, 0.55, 2.0, 2.0,
                           peak_16bit_flop_per_s=B200_BF16, mma_flop_per_exp_16bit=512.0)
    assert np.allclose(bw["prefill_attainable_flop_per_s"],
                       [B200_BF16 * 0.55 * PREFILL_SMALL_HEAD_RATE, B200_BF16 * 0.55])
    hop = attention_columns([GPT_OSS, HEAD_128], H100_BF16, 0.15, 0.55, 2.0, 2.0,
                            peak_16bit_flop_per_s=H100_BF16, mma_flop_per_exp_16bit=256.0)
    free = attention_columns([GPT_OSS, HEAD_128], H100_BF16, 0.15, 0.55, 2.0, 2.0)
    assert np.allclose(hop["prefill_attainable_flop_per_s"], free["prefill_attainable_flop_per_s"])


def test_no_entry_no_cap():
    capped = attention_columns([GPT_OSS], B200_FP8, 0.15, 0.55, 1.0, 1.0, peak_16bit_flop_per_s=B200_BF16)
    free = attention_columns([GPT_OSS], B200_FP8, 0.15, 0.55, 1.0, 1.0)
    assert np.allclose(capped["prefill_attainable_flop_per_s"], free["prefill_attainable_flop_per_s"])


def test_cost_context_reads_the_family():
    from inferchip.catalog.chips import get_chip_params
    from inferchip.cost.context import cost_context
    from inferchip.mapping.memory_fit import Formats
    from inferchip.spec.calibration import Calibration

    fmt = Formats(weights="bf16", activations="bf16", kv="bf16")
    cal = Calibration()
    assert cost_context(get_chip_params("nvidia-b200-180gb"), fmt, cal).mma_flop_per_exp_16bit == 512.0
    assert cost_context(get_chip_params("nvidia-h100-sxm-80gb"), fmt, cal).mma_flop_per_exp_16bit == 256.0
    assert cost_context(get_chip_params("amd-mi300x"), fmt, cal).mma_flop_per_exp_16bit == float("inf")
