"""An engine's defaults depend on the back end it runs through (catalog/engine_hardware.yaml hardware ``defaults``):
vLLM's general rule reads the device memory its platform reports (>= 70 GiB and not an A100: 1,024 sequences and
8,192 tokens; else 256 and 2,048), and its TPU, Gaudi and Neuron platforms report none, so vLLM runs 256 / 2,048 on a
TPU v5p or a Gaudi 3, and 256 sequences on a Trainium2 (whose plugin prefills one whole prompt per step, a step the
simulator's chunk does not express: the general rule's chunk stays, said so). Until stop 49 the general rule ran there
from the chip's datasheet memory (1,024 / 8,192 on a v5p, Ironwood, Gaudi 2 / 3, Trainium2 / 3). A back end stating
none says that it takes the engine's general rule (branch tpu49)."""

from __future__ import annotations

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from cli_in_process import run_json, run_main
from engine_files import engines_with_hardware_change
from inferchip.catalog.chips import chip_ids, family_names, get_chip_params
from inferchip.catalog.engines import HARDWARE_FILE, engine_platform, get_engine, load_engines
from inferchip.errors import SpecError
from inferchip.sim.batching.scheduler import scheduler_caps
from inferchip.spec.engine import SchedulerCaps
from inferchip.spec.engine.hardware import EngineHardware, PlatformDefaults, platform_caps
from inferchip.units import GIB

L8B = "meta-llama/Llama-3.1-8B"
RAW = yaml.safe_load(HARDWARE_FILE.read_text(encoding="utf-8"))["hardware"]  # the data as written
STATED = [r for r in RAW if "defaults" in r]
PARAMS = {c: get_chip_params(c) for c in chip_ids()}


def _caps(chip: str, engine: str | None = None) -> SchedulerCaps:
    p = PARAMS[chip]
    return scheduler_caps(None if engine is None else get_engine(engine), p.id, p.memory_capacity_bytes, p.family,
                          p.runtime_devices)


def _general(chip: str, engine: str = "vllm") -> SchedulerCaps:
    p = PARAMS[chip]
    return get_engine(engine).caps_on(p.id, p.memory_capacity_bytes, p.family, p.runtime_devices)


def _chips_of(families: list[str]) -> list[str]:
    return [c for c, p in PARAMS.items() if p.family in families]


def test_the_back_ends_that_state_defaults_are_vllms_tpu_gaudi_and_neuron_plugins():
    assert sorted((r["engine"], r["backend"].split(" (")[0]) for r in STATED) == [
        ("vllm", "HPU"), ("vllm", "Neuron"), ("vllm", "TPU")]


@pytest.mark.parametrize("record", STATED, ids=lambda r: r["backend"].split(" (")[0])
def test_each_stated_default_is_read_from_the_data_with_its_source(record):
    want = record["defaults"]
    chips = _chips_of(record["families"])
    assert chips  # the catalogue holds chips of the back end's families
    for chip in chips:
        for engine in (None, record["engine"]):  # the default engine, and --engine naming it
            caps = _caps(chip, engine)
            chunk = want.get("chunk_tokens", _general(chip).chunk_tokens)  # none stated: the general rule's
            assert (caps.max_num_seqs, caps.chunk_tokens) == (want["max_num_seqs"], chunk), chip
            assert ("its step budget is the engine's general one" in caps.reason) == ("chunk_tokens" not in want)
            assert " ".join(want["source"].split()) in caps.reason  # the source, in the output's words
            assert record["backend"] in caps.reason and chip in caps.reason
            assert "not the engine record's general rule" in caps.reason


@pytest.mark.parametrize(("chip", "general", "own"), [
    ("google-tpu-v5p", (1024, 8192), (256, 2048)),  # 95 GiB: the general rule's 1,024 / 8,192 before
    ("google-tpu7x-ironwood", (1024, 8192), (256, 2048)),
    ("google-tpu-v6e-trillium", (256, 2048), (256, 2048)),  # 32 GiB: the same either way
    ("intel-gaudi2", (1024, 8192), (256, 2048)),
    ("intel-gaudi3", (1024, 8192), (256, 2048)),
    ("aws-trainium2", (1024, 8192), (256, 8192)),  # the plugin's whole-prompt step: the general chunk stays
    ("aws-inferentia2", (256, 2048), (256, 2048)),
])
def test_vllm_off_cuda_runs_its_back_ends_values_not_the_memory_rule(chip, general, own):
    g, c = _general(chip), _caps(chip, "vllm")
    assert (g.max_num_seqs, g.chunk_tokens) == general
    assert (c.max_num_seqs, c.chunk_tokens) == own


@pytest.mark.parametrize(("chip", "engine"), [
    ("nvidia-h100-sxm-80gb", "vllm"), ("nvidia-l40s", "vllm"), ("amd-mi300x", "vllm"), ("amd-mi250x", "vllm"),
    ("google-tpu-v6e-trillium", "sglang"), ("amd-mi355x", "atom"), ("nvidia-b200-180gb", "trtllm"),
    ("nvidia-h100-sxm-80gb", "sglang"),
])
def test_a_back_end_stating_no_default_says_it_uses_the_engines_general_one(chip, engine):
    p = PARAMS[chip]
    platform = engine_platform(get_engine(engine), p.family)
    assert platform is not None and platform.defaults is None
    g, c = _general(chip, engine), _caps(chip, engine)
    assert (c.max_num_seqs, c.chunk_tokens) == (g.max_num_seqs, g.chunk_tokens)
    assert c.reason.startswith(g.reason)
    assert f"{engine}'s {platform.backend} back end states no defaults of its own" in c.reason
    assert "the engine's general ones" in c.reason


def test_no_gpu_caps_move():
    """The CUDA and ROCm back ends state none: every GPU keeps the caps of the engine record's general rule."""
    gpu = [r for r in RAW if r["backend"] in ("CUDA", "ROCm")]
    for r in gpu:
        assert "defaults" not in r
        for chip in _chips_of(r["families"]):
            c, g = _caps(chip, r["engine"]), _general(chip, r["engine"])
            assert (c.max_num_seqs, c.chunk_tokens) == (g.max_num_seqs, g.chunk_tokens), (r["engine"], chip)


@settings(max_examples=200, deadline=None)
@given(gib=st.floats(0.001, 10_000), family=st.sampled_from(family_names()),
       engine=st.sampled_from([e.id for e in load_engines().engines]))
def test_the_back_ends_values_replace_the_rule_exactly_where_it_states_them(gib, family, engine):
    spec = get_engine(engine)
    general = spec.caps_on("x", gib * GIB, family)
    caps = scheduler_caps(spec, "x", gib * GIB, family)
    platform = engine_platform(spec, family)
    d = None if platform is None else platform.defaults
    want = ((general.max_num_seqs, general.chunk_tokens) if d is None
            else (d.max_num_seqs, general.chunk_tokens if d.chunk_tokens is None else d.chunk_tokens))
    assert (caps.max_num_seqs, caps.chunk_tokens) == want
    assert caps.reason  # always says why


@settings(max_examples=100, deadline=None)
@given(seqs=st.integers(1, 65536), tokens=st.none() | st.integers(64, 1_048_576), stated=st.booleans())
def test_platform_caps_takes_the_stated_values_else_the_general_ones(seqs, tokens, stated):
    general = SchedulerCaps(7, 700, "general reason")
    d = PlatformDefaults(max_num_seqs=seqs, chunk_tokens=tokens, source="src") if stated else None
    hw = EngineHardware(engine="e", backend="B", families=("f",), source="s", defaults=d)
    got = platform_caps(hw, general, "chip", "f")
    want_chunk = 700 if not stated or tokens is None else tokens
    assert (got.max_num_seqs, got.chunk_tokens) == ((seqs if stated else 7), want_chunk)
    assert ("src" in got.reason) == stated and got.reason.startswith("general reason") != stated
    assert ("general reason" in got.reason) == (not stated or tokens is None)  # the chunk's reason where it stays
    assert platform_caps(None, general, "chip", "f") == general  # no platform record: the general rule as is


@pytest.mark.parametrize("bad", [{"max_num_seqs": 0}, {"chunk_tokens": 10}, {"source": ""}, {"other": 1}])
def test_a_back_end_default_out_of_bounds_is_refused_naming_the_field(tmp_path, bad):
    with pytest.raises(SpecError, match=rf"hardware.*defaults.*{next(iter(bad))}"):
        load_engines(engines_with_hardware_change(tmp_path, "defaults", bad))


# ------------------------------------------------------------------------------------------------ the output says it



@pytest.mark.parametrize(("chip", "engine"), [("google-tpu-v5p", None), ("google-tpu-v6e-trillium", "vllm"),
                                              ("intel-gaudi3", None), ("aws-trainium2", "vllm")])
def test_serve_and_curve_run_and_state_the_back_ends_defaults(chip, engine):
    want = _caps(chip, engine)
    extra = [] if engine is None else ["--engine", engine]
    for args in (["serve", "--concurrency", "4", "--requests", "12", "--input-tokens", "256", "--output-tokens", "32"],
                 ["curve", "--input-tokens", "256", "--output-tokens", "16"]):
        js = run_json([*args, "--chip", chip, "--model", L8B, "--tp", "1", *extra])
        assert (js["running_batch_cap"], js["prefill_chunk_tokens"]) == (want.max_num_seqs, want.chunk_tokens)
        assert "back end's own defaults on " + chip in js["running_batch_cap_source"]
    code, text = run_main(["curve", "--chip", chip, "--model", L8B, "--tp", "1", "--input-tokens", "256",
                       "--output-tokens", "16", *extra])
    flat = " ".join(text.split())
    assert code == 0 and f"step budget of {want.chunk_tokens:,} tokens" in flat and "back end's own defaults" in flat


def test_predict_states_where_its_chunk_came_from_on_a_tpu():
    js = run_json(["predict", "--chip", "google-tpu-v5p", "--model", L8B, "--batch", "4", "--input-tokens", "512",
                "--output-tokens", "64"])
    act = js["memory_activations"]
    assert act["chunk_tokens"] == 2048  # the general rule gave this 95 GiB chip 8,192
    assert "TPU (tpu-inference plugin" in act["chunk_source"] and "get_device_total_memory" in act["chunk_source"]


def test_the_help_reads_the_back_ends_defaults_from_the_data():
    code, text = run_main(["serve", "--help"])
    flat = " ".join(text.replace("│", " ").split())
    assert code == 0
    for r in STATED:
        d = r["defaults"]
        chunk = f"{d['chunk_tokens']:,}" if "chunk_tokens" in d else "the general one"
        assert f"{r['backend'].split(' (')[0]} {d['max_num_seqs']:,} / {chunk}" in flat
