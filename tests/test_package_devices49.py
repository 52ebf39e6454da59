"""A package its runtime sees as several devices (an MI250X: two 64 GiB GCDs, each its own GPU to ROCm, the chip
file's ``memory.runtime_devices``) is those devices in the commands stop 48 left (mi250x49, stop 49): ``vision`` and
``drive`` split a call's frames over the devices as over chips (one graph never spans two GCDs) and count, title and
key them as predict does; ``serve``/``curve --mtp`` and ``--disagg`` count the devices their rows run on; a host slot
(the wall power's per-accelerator watts) is a package; ``review`` judges and ranks per package."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chip_yaml import catalogue_raw, write_chip
from cli_in_process import run_main
from test_package_devices_said import mi250x_review

RESNET = "resnet50-v1.5"
LLAMA8 = "meta-llama/Llama-3.1-8B"  # 16 GB of bf16 weights: a worker on one 64 GiB GCD
QWEN32 = "Qwen/Qwen3-32B"
PRICE_USD = 10_000.0  # a test's list price for the whole package
ROW = ["--input-tokens", "512", "--output-tokens", "64"]


def _json(args: list[str]) -> dict[str, Any]:
    code, out = run_main([*args, "--format", "json"])
    assert code == 0, out[-600:]
    got: dict[str, Any] = json.loads(out)
    return got


@pytest.fixture(scope="module")
def whole(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The MI250X's file without memory.runtime_devices: one chip of the package's summed figures (pre-stop-48)."""
    raw = catalogue_raw("amd-mi250x")
    raw["memory"].pop("runtime_devices")
    return write_chip(tmp_path_factory.mktemp("whole"), raw, "mi250x-whole")


@pytest.fixture(scope="module")
def priced(tmp_path_factory: pytest.TempPathFactory) -> str:
    raw = catalogue_raw("amd-mi250x")
    raw["price"] = {"usd": PRICE_USD, "note": "a test's list price"}
    return write_chip(tmp_path_factory.mktemp("priced"), raw, "mi250x-priced")


# --- vision and drive -------------------------------------------------------------------------------------------

def test_a_vision_call_runs_on_the_gcds_not_on_the_package_as_one_chip(whole):
    """Two frames on one MI250X are one frame on each GCD: the call takes as long as one frame on one GCD (main ran
    both frames through one graph over both dies' summed peaks: 0.875 ms against 0.796 ms for one frame); the idle
    GCD draws idle power, so one frame costs less power than on the package seen whole."""
    from inferchip.performance.vision import frame_cost

    f = frame_cost("amd-mi250x", RESNET, [1, 2, 3])
    assert f.runtime_devices_per_package == 2
    assert f.latency_s[1] == pytest.approx(f.latency_s[0], rel=1e-12)
    assert f.latency_s[2] > f.latency_s[1]  # three frames: two on one GCD
    assert f.usable_memory_bytes == pytest.approx(62 * 2**30)  # a GCD's 64 GiB less the runtime's reserve
    assert any("its runtime sees each package as 2 devices" in n for n in f.notes)
    w = frame_cost(whole, RESNET, [1, 2, 3])
    assert w.runtime_devices_per_package == 1 and w.latency_s[1] > w.latency_s[0]
    assert f.power_w[0] < w.power_w[0]


@settings(max_examples=25, deadline=None)
@given(frames=st.integers(1, 64), packages=st.integers(1, 4))
def test_frames_split_over_every_device_of_every_package(frames, packages):
    """A call's latency is that of its busiest device's share, ceil(frames / devices), whatever the package count."""
    from inferchip.performance.vision import frame_cost

    got = frame_cost("amd-mi250x", RESNET, [frames], count=packages)
    share = math.ceil(frames / (2 * packages))
    one = frame_cost("amd-mi250x", RESNET, [2 * share], count=1)  # the same share on each GCD of one package
    assert got.latency_s[0] == pytest.approx(one.latency_s[0], rel=1e-12)
    assert got.power_w[0] >= 0 and got.memory_per_chip_bytes is not None
    assert got.memory_per_chip_bytes[0] == pytest.approx(one.memory_per_chip_bytes[0])


def test_vision_titles_counts_and_keys_the_devices_as_predict():
    d = _json(["vision", "--chip", "amd-mi250x", "--model", RESNET, "--batch", "1,8", "--count", "2"])
    assert (d["num_chips"], d["runtime_devices_per_package"]) == (4, 2)
    for p in d["points"]:
        assert p["power_w_per_chip"] == pytest.approx(p["power_w"] / 4)
    code, text = run_main(["vision", "--chip", "amd-mi250x", "--model", RESNET])
    assert code == 0, text[-400:]
    flat = " ".join(text.split())
    assert "on 1 x amd-mi250x (2 runtime devices)" in flat and "all 2 devices" in flat
    assert _json(["vision", "--chip", "amd-mi300x", "--model", RESNET])["runtime_devices_per_package"] == 1


def test_drive_runs_its_cameras_on_the_devices_and_says_so():
    from inferchip.performance.vision import frame_cost
    from inferchip.performance.vision_drive import drive, setup

    s = setup("amd-mi250x", [RESNET], max_cameras=8)
    # eight camera frames a tick: four on each GCD, the cost model's 8-frame call on one package
    assert s.stages[0].latency_s[8] == pytest.approx(float(frame_cost("amd-mi250x", RESNET, [8]).latency_s[0]))
    r = drive("amd-mi250x", 8, 30.0, [RESNET], duration_s=2.0)
    assert (r["chips"], r["runtime_devices_per_package"]) == (2, 2)
    d = _json(["drive", "--chip", "amd-mi250x", "--cameras", "8", "--fps", "30", "--model", RESNET,
               "--duration", "2"])
    assert (d["num_chips"], d["runtime_devices_per_package"]) == (2, 2)
    code, text = run_main(["drive", "--chip", "amd-mi250x", "--cameras", "8", "--fps", "30", "--model", RESNET,
                           "--duration", "2"])
    assert code == 0, text[-400:]
    flat = " ".join(text.split())
    assert "on 1 x amd-mi250x (2 runtime devices)" in flat and "average power (all 2 devices)" in flat


# --- serve / curve --mtp and --disagg ---------------------------------------------------------------------------

def test_serve_mtp_runs_on_the_gcds_of_one_package():
    """main refused it: the layout searched on the GCDs (2 devices) against a row of 1 chip ('not a whole number
    of workers of 2 chips')."""
    d = _json(["serve", "--chip", "amd-mi250x", "--model", QWEN32, "--concurrency", "8", "--mtp", "1", *ROW])
    assert (d["num_chips"], d["runtime_devices_per_package"]) == (2, 2)
    assert any("its runtime sees each package as 2 devices" in n for n in d["notes"])
    code, text = run_main(["serve", "--chip", "amd-mi250x", "--model", QWEN32, "--concurrency", "8", "--mtp", "1",
                           *ROW])
    assert code == 0, text[-400:]
    assert "on 1 x amd-mi250x (2 runtime devices)" in " ".join(text.split())


def test_disagg_pools_count_devices_and_the_title_packages():
    """One prefill GCD and one decode GCD are one package (main titled them '2 x amd-mi250x')."""
    args = ["--chip", "amd-mi250x", "--model", LLAMA8, "--disagg", "1xtp1:1xtp1", *ROW]
    code, text = run_main(["serve", *args, "--concurrency", "8"])
    assert code == 0, text[-400:]
    assert "on 1 x amd-mi250x (2 runtime devices)" in " ".join(text.split())
    c = _json(["curve", *args])
    assert all((p["num_chips"], p["runtime_devices_per_package"]) == (2, 2) for p in c["points"])
    assert _json(["serve", *args, "--concurrency", "8", "--count", "1"])["num_chips"] == 2
    code, text = run_main(["serve", *args, "--concurrency", "8", "--count", "2"])
    assert code == 2 and "--count 2 with --disagg" in text and "allowed: --count 1" in text
    code, text = run_main(["serve", "--chip", "amd-mi250x", "--model", LLAMA8, "--disagg", "1xtp1:2xtp1", *ROW,
                           "--concurrency", "8"])
    assert code == 2 and "a multiple of 2 devices" in " ".join(text.split())


# --- wall power: a host slot a package --------------------------------------------------------------------------

def test_a_gcd_carries_half_a_host_slot(priced):
    """The host's per-accelerator watts (a NIC, switches, retimers) are one a package, the fixed host shared by a
    server of 8 packages (16 GCDs): main charged each GCD a whole slot, 488 W wall for a 265 W GCD in the review."""
    from inferchip.catalog.assumptions import load_assumptions

    a = load_assumptions()
    overhead = (1 + a.number("host.fan_power_fraction")) / a.number("host.psu_efficiency")
    p = _json(["predict", "--chip", priced, "--model", QWEN32, *ROW, "--max-throughput"])
    host_w = p["wall_power_w_per_chip"] / overhead - p["power_w_per_chip"]
    per_package = a.number("host.host_idle_w") / 8 + a.number("host.host_per_accelerator_w")
    assert host_w == pytest.approx(per_package / 2)
    s = _json(["serve", "--chip", priced, "--model", QWEN32, *ROW, "--concurrency", "8", "--requests", "24"])
    assert s["wall_power_w_per_chip"] / overhead - s["power_w_per_chip"] == pytest.approx(per_package / 2)


# --- review: ranked per package ---------------------------------------------------------------------------------

def test_review_ranks_a_package_per_package(tmp_path, monkeypatch):
    """The per-chip part sets a whole MI250X (its two GCDs' tokens/s) against a whole MI300X (main: one GCD's,
    half); the rows stay per device."""
    mi250x, mi300x = mi250x_review(tmp_path, monkeypatch, PRICE_USD)
    assert mi250x["runtime_devices_per_package"] == "2"
    gcd, rival = float(mi250x["output_tokens_per_s_per_chip"]), float(mi300x["output_tokens_per_s_per_chip"])
    parts = {p["part"]: p for p in json.loads((tmp_path / "results.json").read_text())["claim_parts"]}
    assert parts["per_chip"]["central"]["ratio"] == pytest.approx(2 * gcd / rival)
    assert parts["per_system"]["central"]["ratio"] == pytest.approx(gcd * 8 / (rival * float(mi300x["num_chips"])))
