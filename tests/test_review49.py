"""A second reader's mends of stop 49 (branch review49): each test fails on main c74994b.

1. The Python API's ``ic.serve`` ran the default engine record's 1,024 sequences and 8,192-token steps on every chip,
   while ``inferchip serve`` (without ``--engine``) runs the chip's: vLLM's device rule (256 / 2,048 below 70 GiB, on
   an A100 and on one MI250X GCD), the TPU / Gaudi / Neuron back ends' own defaults (stop 49, tpu49) and the vendor
   stack's where no catalogued engine runs. A Gaudi 3 at 512 clients ran ~457 sequences a step in Python and 238 on the
   command line; nor did it pad the TPU / Gaudi steps to their compiled sizes (pad49). Now one resolution
   (``sim.batching.scheduler.run_caps`` and ``run_padding``) serves both, and the summary says it.
2. ``make fuzz SEED=n`` ran the fixed draws of ``make test`` whatever the seed (tests/conftest.py loaded its
   derandomized profile again when imported a second time).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import inferchip as ic
from cli_in_process import run_main
from inferchip.catalog.chips import chip_ids, get_chip_params
from inferchip.errors import InvalidSettingError
from inferchip.sim.batching.scheduler import run_caps
from inferchip.spec.params import runtime_device_view

Q8 = "Qwen/Qwen3-8B"
TESTS = Path(__file__).parent
LOAD = {"concurrency": 300, "input_tokens": 64, "output_tokens": 8, "num_requests": 400}


@pytest.mark.parametrize("chip", ["intel-gaudi3", "google-tpu-v6e-trillium", "nvidia-l4", "amd-mi250x",
                                  "qualcomm-cloud-ai-100-ultra", "nvidia-h100-sxm-80gb"])
def test_python_serve_runs_the_scheduler_the_command_line_runs_on_the_chip(chip):
    """``ic.serve`` and ``inferchip serve --format json`` on the same load: the same running-batch cap, step budget
    and source, and the same TTFT / TPOT (on main the API ran 1,024 / 8,192 on a Gaudi 3 and said nothing)."""
    rc, out = run_main(["serve", "--chip", chip, "--model", Q8, "--tp", "1", "--concurrency", str(LOAD["concurrency"]),
                        "--input-tokens", str(LOAD["input_tokens"]), "--output-tokens", str(LOAD["output_tokens"]),
                        "--requests", str(LOAD["num_requests"]), "--format", "json"])
    assert rc == 0, out
    cli = json.loads(out)
    api = ic.serve(chip, Q8, tp=1, **LOAD)
    for key in ("running_batch_cap", "running_batch_cap_source", "prefill_chunk_tokens"):
        assert api[key] == cli[key], key
    for key in ("ttft_s_mean", "tpot_s_mean", "running_seqs_mean"):
        assert api[key] == pytest.approx(cli[key], rel=1e-9), key
    # vLLM's TPU and Gaudi back ends pad each step to a compiled size (pad49): priced and said in both
    assert (api["step_padding"] is not None) == (chip in ("intel-gaudi3", "google-tpu-v6e-trillium"))
    assert api["step_padding"] is None or api["step_padding"] in cli["notes"]


def test_python_serve_on_gaudi3_admits_at_most_the_plugins_256_sequences():
    """vLLM's Gaudi plugin reports no device memory to the general rule: 256 sequences and 2,048 tokens a step
    (catalog/engine_hardware.yaml); 512 clients keep the batch at the cap, never above it."""
    run = ic.serve("intel-gaudi3", Q8, tp=1, concurrency=512, input_tokens=64, output_tokens=16, num_requests=600)
    assert run["running_batch_cap"] == 256 and run["prefill_chunk_tokens"] == 2048
    assert "HPU" in run["running_batch_cap_source"]
    assert run["running_seqs_mean"] <= 256


def test_python_serve_takes_a_chunk_and_runs_a_setting_at_it():
    """``chunk_tokens`` sets the step budget (the memory fit's too); a resolved Setting is run at the chip's budget
    unless one is given, as a chip id is."""
    s = ic.resolve_setting("nvidia-l4", Q8, tp=1)
    run = ic.serve(s, concurrency=4, input_tokens=64, output_tokens=8, num_requests=8)
    assert run["prefill_chunk_tokens"] == 2048 and run["running_batch_cap"] == 256
    run = ic.serve(s, concurrency=4, input_tokens=64, output_tokens=8, num_requests=8, chunk_tokens=512)
    assert run["prefill_chunk_tokens"] == 512
    with pytest.raises(InvalidSettingError, match="chunk"):
        ic.serve(s, concurrency=4, num_requests=8, chunk_tokens=0)


@settings(max_examples=25, deadline=None)
@given(chip=st.sampled_from(sorted(chip_ids())), packages=st.integers(1, 4))
def test_run_caps_read_a_package_and_its_device_view_alike(chip, packages):
    """A package's parameters (memory, runtime_devices n) and one runtime device's view of it (a device's memory,
    devices_per_package n) are the same device to a scheduler rule: the same caps and reason."""
    p = get_chip_params(chip)
    device = runtime_device_view(p, packages)[0]
    assert run_caps(None, device) == run_caps(None, p)


# ------------------------------------------------------------------ 2. `make fuzz` draws fresh examples
FUZZ_PROBE = "INFERCHIP_R49_EXPECT_PROFILE"


def test_the_hypothesis_profile_of_this_session():
    """Run only by the test below (in its own pytest): the profile the session runs Hypothesis under."""
    want = os.environ.get(FUZZ_PROBE)
    if want is None:
        pytest.skip("a probe for test_make_fuzz_runs_the_fuzz_profile_with_the_seed_given")
    assert settings.get_current_profile_name() == want
    assert settings.default.derandomize == (want == "inferchip")


@pytest.mark.parametrize(("options", "profile", "ci"),
                         [(["--hypothesis-profile=fuzz", "--hypothesis-seed=3"], "fuzz", None),
                          ([], "inferchip", None), ([], "inferchip", "1"),
                          (["--hypothesis-profile=fuzz"], "fuzz", "1")])
def test_make_fuzz_runs_the_fuzz_profile_with_the_seed_given(options, profile, ci):
    """``make fuzz SEED=n`` (pytest --hypothesis-profile=fuzz --hypothesis-seed=n) ran derandomized, the same draws
    as ``make test`` whatever the seed: conftest.py runs a second time when a test module imports its helpers
    (``from tests.conftest import ...``: a second module), after the plugin loaded the fuzz profile, and loaded
    "inferchip" again. A session over this file and one that imports conftest so keeps the profile asked for.
    With ``CI`` set (as our CI sets it) Hypothesis selects its built-in "ci" profile by itself; ``make test`` there
    still runs "inferchip" (stop 49's submission failed in CI on that alone)."""
    helper_user = next(p for p in sorted(TESTS.glob("test_*.py")) if "from tests.conftest import" in p.read_text())
    env = {k: v for k, v in os.environ.items() if k != "CI"} | {FUZZ_PROBE: profile} | ({"CI": ci} if ci else {})
    done = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *options,
                           str(TESTS / "test_review49.py"), str(helper_user), "-k", "the_hypothesis_profile_of"],
                          capture_output=True, text=True, env=env, cwd=TESTS.parent, timeout=600)
    assert done.returncode == 0 and "1 passed" in done.stdout, done.stdout[-2000:] + done.stderr[-2000:]


# ------------------------------------------------------------------ 3. vision's memory refusals name the devices
UNET = "3d-unet-kits19"  # a 3-D volume: a few thousand frames exceed any device


def test_vision_refusals_on_a_multi_device_package_count_devices_not_chips():
    """The title says "2 x amd-mi250x (4 runtime devices)" and the figures are a GCD's, but the refusal said
    "GB per chip" and "at most 1,320 frames per call on 4 chips" (4 GCDs, 2 chips)."""
    code, text = run_main(["vision", "--chip", "amd-mi250x", "--model", UNET, "--batch", "1,4096", "--count", "2"])
    flat = " ".join(text.split())
    assert code == 2 and "(4 runtime devices)" in flat, flat[-600:]
    assert "GB per device at least" in flat and "frames per call on 4 devices" in flat and "chips" not in flat
    code, text = run_main(["vision", "--chip", "amd-mi250x", "--model", UNET, "--batch", "4096"])
    flat = " ".join(text.split())
    assert code == 2 and "GB per device" in flat and "frames per device fit" in flat and "per chip" not in flat
    note = next(n for n in ic.frame_cost("amd-mi250x", UNET, [1, 4096], count=2).notes if "usable memory" in n)
    assert "per device" in note and "on 4 devices" in note and "chip" not in note.split(":", 1)[1]


def test_vision_refusals_on_a_one_device_chip_still_say_chips():
    code, text = run_main(["vision", "--chip", "nvidia-l4", "--model", UNET, "--batch", "1,4096"])
    flat = " ".join(text.split())
    assert code == 2 and "GB per chip at least" in flat and "frames per call on 1 chip" in flat


# ------------------------------------------------------------------ 4. the page's command runs as a shell reads it
def test_a_pages_generated_by_command_quotes_paths_a_shell_would_split(tmp_path):
    """docs49: the "Generated by" line "runs as written", its files space-separated; a folder with a space in its
    name ("My Cases/") gave a command whose shell words name two files that do not exist."""
    import shutil

    from test_docs_commands import generated_by

    folder = tmp_path / "My Cases"
    folder.mkdir()
    cases = folder / "vision subset.csv"
    shutil.copy(TESTS / "data" / "vision_cases_subset.csv", cases)
    page = folder / "out page.md"
    assert run_main(["validate", str(cases), "--page", str(page)])[0] == 0
    assert generated_by(page.read_text()) == ["inferchip", "validate", str(cases), "--page", str(page)]


# ------------------------------------------------------------------ 5. serve --mtp / --disagg rows run the chip's caps
@pytest.mark.parametrize("chip", ["google-tpu-v6e-trillium", "intel-gaudi3", "nvidia-l4", "amd-mi250x",
                                  "nvidia-h100-sxm-80gb"])
def test_serve_mtp_rows_run_the_engines_caps_on_the_chip(chip):
    """``serve --mtp`` (and ``--disagg``) run validate's closed-loop row model, whose workers took the engine
    record's 1,024 sequences and 8,192-token steps on every chip: a TPU v6e, a Gaudi 3 (back ends reporting no memory:
    256 / 2,048, tpu49), an L4 and an MI250X GCD (below 70 GiB: 256 / 2,048) ran 1,024 / 8,192 there while plain
    ``serve`` ran 256 / 2,048. The rows now take the same caps (a launch recipe's budget still wins where one
    matches; every validated row's GPU keeps 1,024 / 8,192)."""
    base = ["serve", "--chip", chip, "--model", Q8, "--concurrency", "8", "--input-tokens", "512",
            "--output-tokens", "64", "--format", "json"]
    code, out = run_main([*base, "--requests", "16", "--tp", "1"])
    assert code == 0, out[-400:]
    plain = json.loads(out)
    code, out = run_main([*base, "--mtp", "1"])
    assert code == 0, out[-400:]
    said = [n for n in json.loads(out)["notes"] if "max_num_seqs" in n]
    want = f"max_num_seqs {plain['running_batch_cap']}, chunk {plain['prefill_chunk_tokens']} tokens"
    assert said and want in said[0], (said, want)
