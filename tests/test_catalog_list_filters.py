"""``inferchip chips`` and ``inferchip models`` filters (stop 45, branch product45): each keeps exactly the rows whose
catalogue field meets it, read here from the catalogue on its own (not through the filter code), and a value the
catalogue does not hold is refused naming the option, the value, the closest allowed value and every allowed one."""

from __future__ import annotations

import json

import pytest

from cli_in_process import run_main
from inferchip.catalog.chips import all_chips, get_chip_params
from inferchip.catalog.models import load_model, model_ids
from inferchip.workload.params import total_params


def _ids(args: list[str]) -> list[str]:
    code, out = run_main([*args, "--format", "json"])
    assert code == 0, out
    return [r["id"] for r in json.loads(out)]


def test_unfiltered_lists_are_the_whole_catalogue():
    assert _ids(["chips"]) == [c.id for c in all_chips()]
    assert len(_ids(["models"])) > len(model_ids())  # the vision networks follow the language models


def test_vendor_any_case_and_without_its_parenthesis():
    intel = _ids(["chips", "--vendor", "INTEL"])
    assert "intel-gaudi3" in intel and "cpu:intel-xeon-6980p" in intel  # 'Intel (Habana)' answers to Intel
    assert intel == [c.id for c in all_chips() if c.vendor in ("Intel", "Intel (Habana)")]
    assert _ids(["chips", "--vendor", "intel (habana)"]) == ["intel-gaudi2", "intel-gaudi3"]


def test_number_format_is_a_published_dense_peak():
    fp4 = _ids(["chips", "--number-format", "FP4"])
    assert "nvidia-b200-180gb" in fp4 and "nvidia-h100-sxm-80gb" not in fp4
    assert "amd-mi355x" not in fp4  # its 4-bit peak is OCP MX
    assert "amd-mi355x" in _ids(["chips", "--number-format", "mxfp4"])
    assert fp4 == [c.id for c in all_chips() if "fp4" in get_chip_params(c.id).peak_flop_per_s]


def test_min_memory_gb_is_inclusive_at_the_tables_capacity():
    h100 = get_chip_params("nvidia-h100-sxm-80gb").memory_capacity_bytes  # 80 GiB = 85.9 GB
    at = _ids(["chips", "--min-memory-gb", repr(h100 / 1e9), "--vendor", "nvidia", "--name", "h100-sxm"])
    above = _ids(["chips", "--min-memory-gb", repr(h100 / 1e9 * 1.001), "--name", "h100-sxm"])
    assert at == ["nvidia-h100-sxm-80gb"] and above == []
    big = _ids(["chips", "--min-memory-gb", "300"])
    assert big == [c.id for c in all_chips() if get_chip_params(c.id).memory_capacity_bytes >= 300e9]
    assert "nvidia-b300-288gb" in big  # 288 GiB = 309 GB


def test_system_and_name():
    socs = _ids(["chips", "--system", "embedded_soc"])
    assert socs == [c.id for c in all_chips() if c.system == "embedded_soc"] and "tesla-fsd-hw3" in socs
    assert _ids(["chips", "--name", "Trainium"]) == ["aws-trainium2", "aws-trainium3"]  # the name, any case


@pytest.mark.parametrize("args, option, closest", [
    (["chips", "--vendor", "nvidai"], "--vendor", "NVIDIA"),
    (["chips", "--number-format", "fp44"], "--number-format", "fp4"),  # nvfp4 is fp4 (test_format_names46)
    (["chips", "--system", "embedded"], "--system", "embedded_soc"),
    (["models", "--model-type", "lama"], "--model-type", "llama"),
    (["models", "--attention", "mha"], "--attention", "mla"),
])
def test_an_unknown_value_names_option_value_and_closest(args, option, closest):
    code, out = run_main(args)
    assert code == 2
    assert option in out and repr(args[-1]) in out
    assert f"closest: {closest}" in out and "allowed:" in out


def test_models_moe_attention_and_params_in_billions():
    moe_big = _ids(["models", "--moe", "--min-params", "300"])
    expect = [m for m in model_ids() if load_model(m).num_experts > 0 and total_params(load_model(m)) >= 300e9]
    assert moe_big == expect and "deepseek-ai/DeepSeek-V3" in moe_big and "Qwen/Qwen3-235B-A22B" not in moe_big
    mla_small = _ids(["models", "--attention", "MLA", "--max-params", "100"])
    assert mla_small == ["deepseek-ai/DeepSeek-V2-Lite"]  # 15.7 B; the other MLA models are 671 B
    dense = _ids(["models", "--dense", "--name", "qwen3"])
    assert dense == sorted(dense, key=_ids(["models"]).index) and set(dense) == {"Qwen/Qwen3-8B", "Qwen/Qwen3-32B"}


def test_vision_networks_by_model_type_and_params():
    tiny = _ids(["models", "--model-type", "vision", "--max-params", "0.01"])  # under 10 M parameters
    assert tiny == ["yolov8n-640"]  # 3.2 M
    assert _ids(["models", "--attention", "gqa", "--name", "yolo"]) == []  # a language-only filter: no vision row


def test_min_params_above_max_params_is_refused():
    code, out = run_main(["models", "--min-params", "5", "--max-params", "2"])
    assert code == 2 and "--min-params" in out and "--max-params 2" in out


def test_an_empty_table_says_so():
    code, out = run_main(["models", "--min-params", "9000"])
    assert code == 0 and "no model meets the filters" in out


def test_a_chip_filter_that_keeps_nothing_says_so():
    """`chips --name zzz` once printed a '0 chips' table with no word on why; it now says so as `models` does."""
    code, out = run_main(["chips", "--name", "zzz-no-such-chip"])
    assert code == 0 and "no chip meets the filters" in out and "0 chips" not in out


@pytest.mark.parametrize("command", ["chips", "models"])
@pytest.mark.parametrize("text", ["", "   "])
def test_an_empty_name_is_refused_as_explore_refuses_an_empty_item(command, text):
    """`chips --name ''` and `models --name ''` once listed the whole catalogue (every id holds the empty text) while
    `explore` refuses an empty item: one `error:` line naming the option, exit status 2 (stop 47, capresolve47)."""
    code, out = run_main([command, "--name", text])
    lines = [ln for ln in out.splitlines() if ln.strip()]
    assert code == 2, out
    assert len(lines) == 1 and lines[0].startswith("error: --name") and "empty" in lines[0], out
