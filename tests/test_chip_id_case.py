"""Chip ids and number-format names in any case, everywhere they are read (stop 44, cli44).

Before: ``--chip NVIDIA-H100-SXM-80GB`` was "unknown chip" (and its "Closest" list, matched case-sensitively, led
with nvidia-l40s), ``--weights FP8`` was "unknown number format", and a cases CSV or claim file with an upper-case
accelerator or dtype was refused, while ``--model META-LLAMA/LLAMA-3.1-8B`` was taken. One resolver per kind now:
``catalog.chips.resolve_chip_id`` and ``spec.formats.canonical_format``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from chip_yaml import catalogue_raw, write_chip
from inferchip.catalog.chips import chip_ids, load_chip, resolve_chip_id
from inferchip.errors import InferchipError, UnknownIdError, closest
from inferchip.interfaces.cli import app, main
from inferchip.review import claim_file
from inferchip.review.claim_file import load_claim
from inferchip.spec.formats import ALL_FORMATS, canonical_format, check_format
from inferchip.validation.cases import CaseFileError, parse_cases

H100 = "nvidia-h100-sxm-80gb"
CLAIM = Path(claim_file.__file__).with_name("claim.yaml")
HEADER = ("case_id,source_kind,source,accelerator,num_accelerators,software,model,weight_dtype,act_dtype,kv_dtype,"
          "tp,pp,ep,scenario,input_tokens,output_tokens,concurrency,metric,value,unit,notes\n")


@st.composite
def recased(draw, ids):
    cid = draw(st.sampled_from(ids))
    flips = draw(st.lists(st.booleans(), min_size=len(cid), max_size=len(cid)))
    return cid, "".join(c.upper() if f else c for c, f in zip(cid, flips, strict=True))


@settings(max_examples=60, deadline=None)
@given(recased(chip_ids()), st.sampled_from(["", " ", "\t"]))
def test_every_catalogue_id_in_any_case_resolves_to_it(pair, pad):
    cid, typed = pair
    assert resolve_chip_id(pad + typed + pad) == cid
    assert load_chip(typed).id == cid


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(ALL_FORMATS), st.lists(st.booleans(), min_size=5, max_size=5))
def test_every_format_in_any_case_is_the_catalogue_spelling(fmt, flips):
    typed = "".join(c.upper() if f else c for c, f in zip(fmt, flips * 2, strict=False))
    assert canonical_format(typed) == fmt and check_format(typed, "--weights") == fmt


@pytest.mark.parametrize("bad", ["fp9", "FP 8", "bfloat16x", "", "ｆｐ８"])
def test_a_name_that_is_no_format_is_refused_naming_the_field(bad):
    with pytest.raises(InferchipError, match="--kv: unknown number format"):
        check_format(bad, "--kv")


def test_a_path_and_an_unknown_id_are_left_as_given():
    assert resolve_chip_id("chips/MY-CHIP.yaml") == "chips/MY-CHIP.yaml"
    assert resolve_chip_id("NVIDIA-H100") == "NVIDIA-H100"


@pytest.mark.parametrize("typed, expected", [
    ("NVIDIA-H100", ["nvidia-h100-nvl-94gb", "nvidia-h100-pcie-80gb", "nvidia-h100-sxm-80gb"]),
    ("H100", ["nvidia-h100-nvl-94gb", "nvidia-h100-pcie-80gb", "nvidia-h100-sxm-80gb"]),
    ("AMD-MI300", ["amd-mi300x"]),
])
def test_an_unknown_id_lists_the_close_ids_whatever_the_case(typed, expected):
    with pytest.raises(UnknownIdError) as err:
        load_chip(typed)
    assert err.value.closest[:len(expected)] == expected
    assert closest(typed, chip_ids())[:len(expected)] == expected


def _predict(*args: str) -> dict:
    res = CliRunner().invoke(app, ["predict", "--model", "meta-llama/Llama-3.1-8B", "--batch", "8", "--format",
                                   "json", *args])
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def test_cli_chip_and_formats_in_upper_case_give_the_lower_case_answer():
    lower = _predict("--chip", H100, "--weights", "fp8", "--kv", "fp8")
    upper = _predict("--chip", H100.upper(), "--weights", "FP8", "--kv", "Fp8")
    assert upper == lower


def test_cli_unknown_chip_names_close_ids(capsys):
    code = main(["predict", "--chip", "NVIDIA-H100", "--model", "meta-llama/Llama-3.1-8B", "--batch", "8"])
    err = capsys.readouterr().err
    assert code == 2 and "Closest: nvidia-h100-nvl-94gb, nvidia-h100-pcie-80gb, nvidia-h100-sxm-80gb" in err


def test_cases_csv_upper_case_accelerator_and_dtypes_parse_to_catalogue_spelling():
    row = (f"c1,x,y,{H100.upper()},8,vLLM,meta-llama/Llama-3.1-8B,FP8,Fp8,,8,1,,fixed_length,128,128,,"
           "output_tokens_per_s_total,100,tokens/s,\n")
    case = parse_cases(HEADER + row, known_ids=True)[0]
    assert (case.accelerator, case.weight_dtype, case.act_dtype) == (H100, "fp8", "fp8")
    with pytest.raises(CaseFileError, match="weight_dtype"):
        parse_cases(HEADER + row.replace("FP8", "FP9"), known_ids=True)
    with pytest.raises(CaseFileError, match="nvidia-h100-sxm-80gb"):  # an unknown id names the close ones
        parse_cases(HEADER + row.replace(H100.upper(), "NVIDIA-H100-SXM"), known_ids=True)


def test_claim_file_chip_and_weights_in_upper_case(tmp_path):
    from inferchip.review.claim_file import check_claim_chip

    raw = yaml.safe_load((CLAIM).read_text())
    raw["chip"], raw["deployment"]["weights"] = "TESLA-AI5", "FP4"
    path = tmp_path / "claim.yaml"
    path.write_text(yaml.safe_dump(raw))
    claim = load_claim(path)
    assert (claim.chip, claim.deployment.weights) == ("tesla-ai5", "fp4")
    check_claim_chip(claim, None, str(path))  # a catalogue chip: not refused


def test_chip_yaml_formats_in_upper_case_and_twice_refused(tmp_path):
    raw = catalogue_raw(H100)
    raw["compute"]["dense_tflops"] = {k.upper(): v for k, v in raw["compute"]["dense_tflops"].items()}
    spec = load_chip(write_chip(tmp_path, raw, "upper"))
    assert set(spec.compute.dense_tflops) == set(load_chip(H100).compute.dense_tflops)
    raw["compute"]["dense_tflops"]["fp8"] = raw["compute"]["dense_tflops"]["FP8"]
    with pytest.raises(InferchipError, match="given twice"):
        load_chip(write_chip(tmp_path, raw, "twice"))
