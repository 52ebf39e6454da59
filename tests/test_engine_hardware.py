"""Which engines run on which chips (catalog/engine_hardware.yaml ``hardware``, one record per engine and back end,
each from the engine's own platform list) and what a run without --engine assumes on a chip no catalogued engine runs
on (the ``vendor_stack`` record). Until stop 48 vLLM and SGLang had no record, so predict / serve / curve took vLLM's
scheduler on a Groq LPU or a Tesla AI5 and accepted ``--engine vllm`` there silently (branch engines48)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from cli_in_process import run_json, run_main
from inferchip.catalog.chips import chip_ids, get_chip_params
from inferchip.catalog.engines import (
    ENGINES_FILE,
    check_engine_runs_on,
    default_engine_on,
    engine_platform,
    get_engine,
    load_engines,
    row_engine,
)
from inferchip.errors import InvalidSettingError, SpecError

CATALOG = Path(ENGINES_FILE).parent
L8B = "meta-llama/Llama-3.1-8B"
H100 = "nvidia-h100-sxm-80gb"
AI5 = "tesla-ai5"  # family tesla: no catalogued engine runs there
TPU = "google-tpu-v6e-trillium"  # vLLM runs there through its TPU plugin, SGLang through SGLang-JAX
ENGINES = [e.id for e in load_engines().engines]
CHIPS = chip_ids()


def _families_of(engine: str) -> set[str]:
    return {f for h in load_engines().hardware if h.engine == engine for f in h.families}


# ------------------------------------------------------------------------------------------- the records as data

def test_every_engine_has_a_record_and_each_family_one_back_end():
    cat = load_engines()
    assert {h.engine for h in cat.hardware} == set(ENGINES)
    for e in ENGINES:
        listed = [f for h in cat.hardware if h.engine == e for f in h.families]
        assert len(listed) == len(set(listed)), e


@pytest.mark.parametrize(("family", "engines"), [
    ("nvidia-hopper", {"vllm", "sglang", "trtllm", "dynamo"}), ("amd-cdna3", {"vllm", "sglang", "atom"}),
    ("amd-cdna2", {"vllm", "atom"}), ("google-tpu", {"vllm"}), ("google-tpu-v6", {"vllm", "sglang"}),
    ("aws-neuron", {"vllm"}), ("intel-gaudi", {"vllm"}), ("x86-cpu", {"vllm", "sglang"}),
    ("groq", set()), ("cerebras", set()), ("sambanova", set()), ("tesla", set()), ("tesla-dojo", set()),
    ("qualcomm", set()), ("tenstorrent", set()), ("untether", set()),
])
def test_the_platform_lists_read_as_the_engines_publish_them(family, engines):
    assert {e for e in ENGINES if family in _families_of(e)} == engines
    assert (default_engine_on(family) is None) == ("vllm" not in engines)


def test_the_back_end_is_named_where_an_engine_runs_through_a_plugin():
    vllm = get_engine("vllm")
    got = {f: engine_platform(vllm, f) for f in ("nvidia-hopper", "google-tpu", "aws-neuron", "intel-gaudi")}
    assert {f: p.backend.split()[0] for f, p in got.items() if p is not None} == {
        "nvidia-hopper": "CUDA", "google-tpu": "TPU", "aws-neuron": "Neuron", "intel-gaudi": "HPU"}
    assert engine_platform(vllm, "groq") is None


@settings(max_examples=300, deadline=None)
@given(chip=st.sampled_from(CHIPS), engine=st.sampled_from(ENGINES))
def test_an_engine_is_refused_exactly_where_no_record_of_it_lists_the_chips_family(chip, engine):
    family = get_chip_params(chip).family
    spec = get_engine(engine)
    if family in _families_of(engine):
        check_engine_runs_on(spec, chip, family)
        return
    with pytest.raises(InvalidSettingError) as exc:
        check_engine_runs_on(spec, chip, family)
    msg = str(exc.value)
    assert msg.startswith(f"--engine {engine}: ") and chip in msg and f"(family {family})" in msg
    allowed = msg.split("allowed on this chip: ")[1]
    fits = [e for e in ENGINES if family in _families_of(e)]
    if fits:
        assert allowed.startswith(", ".join(fits) + " ")
    else:
        assert allowed.startswith("none of the catalogue") and "vendor-stack record" in allowed


@settings(max_examples=100, deadline=None)
@given(engine=st.sampled_from(ENGINES))
def test_a_users_generic_chip_takes_every_engine(engine):
    check_engine_runs_on(get_engine(engine), "mine", "generic")
    assert default_engine_on("generic") is not None


@pytest.mark.parametrize(("bad", "needle"), [
    ([{"engine": "vllm", "backend": "CUDA", "families": ["nvidia-hopper", "nvidia-hopper"], "source": "x"}],
     "family 'nvidia-hopper' is listed twice"),
    ([{"engine": "vllm", "backend": "CUDA", "families": ["nvidia-hopper"], "source": "x"},
      {"engine": "vllm", "backend": "ROCm", "families": ["amd-cdna3", "nvidia-hopper"], "source": "x"}],
     "family 'nvidia-hopper' is listed twice"),
    ([{"engine": "vllm", "families": ["nvidia-hopper"], "source": "x"}], "backend"),  # no back end named
])
def test_a_family_under_two_back_ends_or_a_record_without_its_back_end_is_refused(tmp_path, bad, needle):
    data = yaml.safe_load(ENGINES_FILE.read_text(encoding="utf-8"))
    path = tmp_path / "engines.yaml"
    path.write_text(yaml.safe_dump({**data, "hardware": bad}), encoding="utf-8")
    with pytest.raises(SpecError) as exc:
        load_engines(path)
    assert needle in str(exc.value)


@pytest.mark.parametrize("bad", [{"max_num_seqs": 0}, {"chunk_tokens": 10}, {"source": ""}])
def test_a_vendor_stack_record_out_of_bounds_is_refused_naming_the_field(tmp_path, bad):
    data = yaml.safe_load(ENGINES_FILE.read_text(encoding="utf-8"))
    data["vendor_stack"] = {**load_engines().vendor_stack.model_dump(), **bad}
    path = tmp_path / "engines.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(SpecError, match=rf"vendor_stack.*{next(iter(bad))}"):
        load_engines(path)


def test_the_shipped_engine_files_read_together():
    """engines.yaml holds the engines, engine_hardware.yaml which chips they run on (kept apart for the YAML size
    bound): the default catalogue has both, a test's engines file stating neither takes the shipped records."""
    assert "hardware" not in yaml.safe_load(ENGINES_FILE.read_text(encoding="utf-8"))
    assert {h.engine for h in load_engines().hardware} == set(ENGINES)


# ----------------------------------------------------------------------------------- validated rows: unaffected

def test_every_shipped_case_row_runs_on_a_chip_its_engine_supports():
    """Each row of the shipped case files that names an engine (blank software: the default) ran on a chip of a
    family that engine's records list: no validated prediction takes an engine where it does not run."""
    checked = 0
    for f in sorted(CATALOG.glob("*cases.csv")):
        with f.open(encoding="utf-8", newline="") as fh:
            rows = list(csv.DictReader(fh))
        if not rows or "software" not in rows[0]:
            continue
        for i, row in enumerate(rows, start=2):
            engine = row_engine(row["software"], f"{f.name} line {i}")
            if engine is None:  # software the catalogue lists as no serving engine: the analytic model
                continue
            check_engine_runs_on(engine, row["accelerator"], get_chip_params(row["accelerator"]).family,
                                 f"{f.name} line {i}")
            checked += 1
    assert checked > 4000


# ------------------------------------------------------------------------------ the commands, GPU and elsewhere



PREDICT = ["predict", "--model", L8B, "--batch", "4", "--input-tokens", "512", "--output-tokens", "64"]
SERVE = ["serve", "--model", L8B, "--concurrency", "4", "--requests", "12", "--tp", "1", "--input-tokens", "256",
         "--output-tokens", "32"]
CURVE = ["curve", "--model", L8B, "--tp", "1", "--input-tokens", "256", "--output-tokens", "16"]


@pytest.mark.parametrize("chip", [H100, TPU])
def test_predict_where_the_default_engine_runs_says_nothing_new(chip):
    js = run_json([*PREDICT, "--chip", chip])
    assert js["engine"] is None and not any("vendor" in n for n in js["notes"])
    assert "arg_utils.py" in js["memory_activations"]["chunk_source"]  # vLLM's own device rule, as before
    code, text = run_main([*PREDICT, "--chip", chip])
    assert code == 0 and "engine: none (the calibration's host time per step; --engine chooses one)" in text


def test_predict_on_a_chip_no_engine_runs_on_says_it_assumes_the_vendor_stack():
    js = run_json([*PREDICT, "--chip", AI5])
    assert js["engine"] is None
    note = js["notes"][0]
    assert note.startswith("no --engine: vllm (the default) and no other catalogued engine runs on tesla-ai5")
    assert "Tesla in-house compiler" in note and "vendor_stack" in note
    assert js["memory_activations"]["chunk_tokens"] == load_engines().vendor_stack.chunk_tokens
    assert "vendor-stack record" in js["memory_activations"]["chunk_source"]
    code, text = run_main([*PREDICT, "--chip", AI5])
    assert code == 0 and "engine: none: no catalogued engine runs on tesla-ai5" in text


@pytest.mark.parametrize(("chip", "vendor"), [(H100, False), (AI5, True), (TPU, False)])
def test_serve_and_curve_state_the_scheduler_they_assume(chip, vendor):
    stack = load_engines().vendor_stack
    for args in (SERVE, CURVE):
        js = run_json([*args, "--chip", chip])
        assert ("vendor-stack record" in js["running_batch_cap_source"]) == vendor
        assert any("vendor_stack" in n for n in js["notes"]) == vendor
        if vendor:
            assert (js["running_batch_cap"], js["prefill_chunk_tokens"]) == (stack.max_num_seqs, stack.chunk_tokens)
    code, text = run_main([*SERVE, "--chip", chip])
    assert code == 0 and ("engine: none: no catalogued engine runs on" in text) == vendor


@pytest.mark.parametrize(("chip", "engine"), [(AI5, "vllm"), ("groq-lpu-v1", "vllm"), ("groq-lpu-v1", "sglang"),
                                              ("google-tpu-v5e", "sglang"), ("cerebras-wse-3", "trtllm")])
def test_an_engine_on_a_chip_it_does_not_run_on_is_one_clear_error(chip, engine):
    for args in (PREDICT, SERVE, CURVE):
        code, text = run_main([*args, "--chip", chip, "--engine", engine])
        assert code == 2 and len(text.strip().splitlines()) == 1, text
        assert text.startswith(f"error: --engine {engine}: ") and f"not on {chip} (family " in text
        assert "allowed on this chip: " in text


def test_engines_that_do_run_there_are_accepted_through_their_plugins():
    for engine in ("vllm", "sglang"):
        js = run_json([*PREDICT, "--chip", TPU, "--engine", engine])
        assert js["engine"]["id"] == engine


def test_serve_mtp_without_engine_on_a_vendor_chip_is_refused_naming_why():
    code, text = run_main(["serve", "--model", L8B, "--concurrency", "4", "--tp", "1", "--chip", AI5, "--mtp", "1"])
    assert code == 2 and text.startswith("error: --mtp/--disagg (an engine's benchmark") and "tesla-ai5" in text


def test_a_custom_chip_of_a_known_family_behaves_as_the_catalogues(tmp_path):
    for chip, vendor in ((AI5, True), (H100, False)):
        src = CATALOG / "chips" / f"{chip}.yaml"
        data = yaml.safe_load(src.read_text(encoding="utf-8"))
        data["id"] = f"my-{chip}"
        path = tmp_path / f"my-{chip}.yaml"
        path.write_text(yaml.safe_dump(data), encoding="utf-8")
        js = run_json([*PREDICT, "--chip", str(path)])
        assert any("vendor_stack" in n for n in js["notes"]) == vendor
        code, text = run_main([*PREDICT, "--chip", str(path), "--engine", "vllm"])
        assert (code == 2) == vendor, text
