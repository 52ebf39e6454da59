"""serve / curve (and predict's cap hint) run the engine's running-batch cap and step budget of the chip they
simulate: vLLM's API server defaults max_num_seqs 1,024 and max_num_batched_tokens 8,192 only on a device of >= 70 GiB
that is not an A100, 256 and 2,048 elsewhere (vllm/engine/arg_utils.py, the vllm record's ``device_batch`` rule in
catalog/engines.yaml). Until stop 47 every chip ran 1,024 / 8,192 without --engine."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import inferchip.interfaces.cli  # noqa: F401  (registers the commands)
from inferchip.catalog.chips import family_names, get_chip_params
from inferchip.catalog.engines import ENGINES_FILE, get_engine, load_engines, row_engine
from inferchip.errors import SpecError
from inferchip.interfaces.app import app
from inferchip.units import GIB as GIB_BYTES

REPO = Path(__file__).resolve().parents[1]
L1B = "meta-llama/Llama-3.2-1B"


def _caps(chip: str, engine: str | None = None) -> tuple[int, int]:
    p = get_chip_params(chip)
    c = get_engine(engine).caps_on(p.id, p.memory_capacity_bytes, p.family)
    return c.max_num_seqs, c.chunk_tokens


@pytest.mark.parametrize(("chip", "want"), [
    ("nvidia-h100-sxm-80gb", (1024, 8192)), ("nvidia-h200-sxm-141gb", (1024, 8192)), ("amd-mi300x", (1024, 8192)),
    ("nvidia-l40s", (256, 2048)), ("nvidia-geforce-rtx-4090", (256, 2048)), ("nvidia-rtx-4000-ada-20gb", (256, 2048)),
    ("nvidia-a100-sxm-80gb", (256, 2048)),  # 80 GiB, but an A100
    ("sambanova-sn40l", (256, 2048)),  # 64 GiB: a 64 GB part below the threshold
])
def test_the_default_engine_gives_each_chip_vllms_own_default(chip, want):
    assert _caps(chip) == want
    assert _caps(chip, "vllm") == want  # --engine vllm is the same record


def test_engines_without_a_device_rule_keep_their_record_on_every_chip():
    for e in load_engines().engines:
        if e.device_batch is None:
            assert _caps("nvidia-l40s", e.id) == (e.max_num_seqs, e.chunk_tokens)


@settings(max_examples=200, deadline=None)
@given(gib=st.floats(0.001, 10_000), family=st.sampled_from(family_names()))
def test_the_rule_is_the_threshold_and_the_exclusion(gib, family):
    rec = get_engine("vllm")
    rule = rec.device_batch
    assert rule is not None
    caps = rec.caps_on("x", gib * GIB_BYTES, family)
    big = gib >= rule.min_memory_gib and family not in rule.excluded_families
    assert (caps.max_num_seqs, caps.chunk_tokens) == ((rec.max_num_seqs, rec.chunk_tokens) if big
                                                      else (rule.max_num_seqs, rule.chunk_tokens))
    assert "arg_utils.py" in caps.reason  # the output says why, with the source


def test_the_threshold_is_in_gib_as_the_source_means_it():
    rec = get_engine("vllm")
    at = rec.caps_on("x", 70 * GIB_BYTES, "nvidia-hopper")
    below = rec.caps_on("x", 70 * GIB_BYTES - 1, "nvidia-hopper")
    assert at.max_num_seqs == 1024 and below.max_num_seqs == 256
    assert rec.caps_on("x", 72e9, "nvidia-hopper").max_num_seqs == 256  # 72 GB is 67 GiB


def _json(args: list[str]) -> dict:
    res = CliRunner().invoke(app, args, terminal_width=400)
    assert res.exit_code == 0, res.output
    return json.loads(res.output)


@pytest.mark.parametrize(("chip", "cap", "chunk"), [("nvidia-l40s", 256, 2048), ("nvidia-h100-sxm-80gb", 1024, 8192)])
def test_serve_runs_and_states_the_chips_cap(chip, cap, chunk):
    js = _json(["serve", "--chip", chip, "--model", L1B, "--rate", "1", "--requests", "20", "--format", "json"])
    assert (js["running_batch_cap"], js["prefill_chunk_tokens"]) == (cap, chunk)
    assert "arg_utils.py" in js["running_batch_cap_source"] and chip in js["running_batch_cap_source"]


def test_serve_with_engine_vllm_on_a_small_gpu_runs_256():
    js = _json(["serve", "--chip", "nvidia-l40s", "--model", L1B, "--rate", "1", "--requests", "20", "--engine", "vllm",
                "--format", "json"])
    assert js["engine"]["max_num_seqs"] == 256 and js["engine"]["chunk_tokens"] == 2048
    assert js["running_batch_cap"] == 256


def test_chunk_tokens_given_overrides_the_rule_but_not_the_cap():
    js = _json(["serve", "--chip", "nvidia-l40s", "--model", L1B, "--rate", "1", "--requests", "20",
                "--chunk-tokens", "4096", "--format", "json"])
    assert (js["running_batch_cap"], js["prefill_chunk_tokens"], js["prefill_chunk_source"]) == (
        256, 4096, "--chunk-tokens")


def test_curve_states_the_chips_cap_in_its_json_and_text():
    args = ["curve", "--chip", "nvidia-l40s", "--model", L1B, "--input-tokens", "128", "--output-tokens", "16"]
    js = _json([*args, "--format", "json"])
    assert js["running_batch_cap"] == 256 and js["prefill_chunk_tokens"] == 2048
    text = " ".join(CliRunner().invoke(app, args, terminal_width=400).output.split())
    assert "running batch: <= 256 sequences and a step budget of 2,048 tokens" in text
    assert not re.search(r"\bother\b", text)  # the table's unknown-figure row


def test_serve_help_states_the_rule():
    boxed = CliRunner().invoke(app, ["serve", "--help"], terminal_width=400).output
    text = " ".join(re.sub("[\u2500-\u257f]", " ", boxed).split())  # rich's box drawing out
    assert "max_num_seqs 1,024 and chunk 8,192 on a chip of >= 70 GiB not of nvidia-ampere" in text
    assert "256 and 2,048 elsewhere" in text


def test_predicts_cap_hint_reads_the_chips_cap():
    res = CliRunner().invoke(app, ["predict", "--chip", "nvidia-l40s", "--model", "meta-llama/Llama-3.1-8B-Instruct",
                                   "--max-throughput", "--input-tokens", "512", "--output-tokens", "128"],
                             terminal_width=400)
    assert res.exit_code == 0, res.output
    assert "(max_num_seqs 256, as an engine admits them)" in " ".join(res.output.split())


def test_every_validated_vllm_row_runs_on_a_chip_the_rule_gives_the_records_values():
    """validate's closed loop reads the record's flat max_num_seqs and chunk_tokens: that is the rule's answer on
    every chip a vLLM (or blank-software) row of the shipped case files ran on, so no validated figure moves."""
    rec = get_engine("vllm")
    seen = set()
    for f in sorted((REPO / "src" / "inferchip" / "catalog").glob("*cases.csv")):
        with f.open(encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                if "software" not in row or "accelerator" not in row:
                    break
                try:
                    eng = row_engine(row["software"], f.name)
                except Exception:  # noqa: BLE001  (a row the validator refuses is not this test's)
                    continue
                if eng is not None and eng.id == "vllm":
                    seen.add(row["accelerator"])
    assert seen  # the rows exist
    for chip in seen:
        assert _caps(chip) == (rec.max_num_seqs, rec.chunk_tokens), chip


def test_an_excluded_family_that_is_no_family_is_refused(tmp_path):
    data = yaml.safe_load(ENGINES_FILE.read_text(encoding="utf-8"))
    vllm = next(e for e in data["engines"] if e["id"] == "vllm")
    vllm["device_batch"]["excluded_families"] = ["nvidia-amper"]
    bad = tmp_path / "engines.yaml"
    bad.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(SpecError, match=r"device_batch excluded_families entry 'nvidia-amper': not a chip family"):
        load_engines(bad)


@pytest.mark.parametrize(("gib", "said"), [(69.99, "has 69.99 GiB < 70 GiB"), (69.9999, "has 69.9999 GiB < 70 GiB"),
                                           (70.0, "has 70 GiB >= 70 GiB"), (80.0, "has 80 GiB >= 70 GiB")])
def test_the_reason_prints_the_memory_on_the_side_of_the_threshold_it_is(gib, said):
    """A chip just under 70 GiB read "has 70 GiB < 70 GiB" (its memory rounded to 3 figures) in the cap's reason."""
    assert said in get_engine("vllm").caps_on("x", gib * GIB_BYTES, "nvidia-hopper").reason
