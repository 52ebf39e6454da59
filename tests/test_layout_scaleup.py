"""Tensor parallelism beyond one scale-up domain (issue 12): refused with what would fit, unless the layout says
how it spans domains (attention DP with the experts over all chips); a chip without scale-up fabric runs tp over
its host's PCIe cards. Through the library and the commands that take a layout (predict, serve, curve)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cli_in_process import run_main
from inferchip.errors import InvalidSettingError
from inferchip.mapping.layout import HOST_PCIE_CARDS, Layout, check_scaleup, tp_domain

R1 = "deepseek-ai/DeepSeek-R1-0528"
L8 = "meta-llama/Llama-3.1-8B-Instruct"
H100 = "nvidia-h100-sxm-80gb"


@given(domain=st.integers(1, 256), tp_exp=st.integers(0, 10), attn_dp=st.booleans())
def test_span_rule(domain, tp_exp, attn_dp):
    tp = 2**tp_exp
    lay = Layout(tp=tp, ep=tp if attn_dp else 1, attn_dp=attn_dp and tp > 1)
    limit = domain if domain > 1 else HOST_PCIE_CARDS
    assert tp_domain(domain) == limit
    if tp <= limit:
        assert check_scaleup(lay, domain, "c") == []
    elif lay.attn_dp:
        (note,) = check_scaleup(lay, domain, "c")
        assert f"span {-(-tp // limit)} scale-up domains" in note
    else:
        want = rf"tp={tp} exceeds the .* of {limit} .* use tp=\d+ with pp="  # a layer called from Python: keywords
        with pytest.raises(InvalidSettingError, match=want):
            check_scaleup(lay, domain, "c")


def test_dense_model_is_not_offered_attention_dp():
    with pytest.raises(InvalidSettingError) as e:
        check_scaleup(Layout(tp=16), 8, "c", moe=False)
    assert "attn_dp" not in str(e.value) and "tp=8 with pp=2" in str(e.value)


@pytest.mark.parametrize("cmd", [
    ["predict", "--batch", "8"], ["serve", "--concurrency", "8", "--requests", "20"], ["curve"]])
def test_commands_refuse_tp_beyond_the_domain(cmd):
    code, text = run_main([*cmd, "--chip", H100, "--model", R1, "--weights", "fp8", "--count", "16", "--tp", "16"])
    assert code == 2 and "exceeds the scale-up domain of 8 chips" in text and "Traceback" not in text, text


def test_attention_dp_over_two_domains_is_predicted_with_a_note():
    code, text = run_main(["predict", "--batch", "8", "--chip", H100, "--model", R1, "--weights", "fp8",
                           "--count", "16", "--tp", "16", "--attn-dp", "--format", "json"])
    assert code == 0, text
    assert "span 2 scale-up domains of 8" in text


def test_pcie_cards_keep_tp_within_a_host():
    ok, text = run_main(["predict", "--batch", "8", "--chip", "nvidia-l40s", "--model", L8, "--count", "4",
                         "--tp", "4"])
    assert ok == 0, text
    code, text = run_main(["predict", "--batch", "8", "--chip", "nvidia-l40s", "--model", L8, "--count", "16",
                           "--tp", "16"])
    assert code == 2 and "PCIe host of 8 cards" in text and "--attn-dp" not in text, text
