"""predict places a model on the devices a package's runtime enumerates (the chip file's ``memory.runtime_devices``,
stop 48, branch catalog48): ROCm sees an MI250X as two 64 GiB GPUs, one per GCD, so a model that fits in 128 GiB but
not in 64 needs tp 2 across the GCDs, all-reducing over the four Infinity Fabric links between them (200 GB/s per
direction, ROCm's MI250 microarchitecture page). ``--count`` still counts packages; the layout, the memory fit, the
roofline, power and price are the devices'. The view is data: the same file without the field is one 128 GiB chip."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chip_yaml import catalogue_raw, write_chip
from cli_in_process import run_main
from inferchip.catalog.chips import get_chip_params
from inferchip.errors import DoesNotFitError
from inferchip.performance.predict import predict
from inferchip.performance.setting import resolve_setting
from inferchip.spec.params import runtime_device_view

GIB = 2**30
QWEN32 = "Qwen/Qwen3-32B"  # 32.8 B parameters: 65.5 GB of bf16 weights, over one 64 GiB GCD, under 128 GiB


def test_one_mi250x_is_two_gcds_of_64_gib_linked_in_the_package():
    pkg = get_chip_params("amd-mi250x")
    dev, devices, note = runtime_device_view(pkg, 1)
    assert devices == 2 and dev.runtime_devices == 1 and dev.devices_per_package == 2
    assert dev.memory_capacity_bytes == 64 * GIB
    assert dev.usable_memory_bytes == 64 * GIB - 2 * GIB  # the cdna2 family's runtime reserve, kept on each GCD
    assert dev.memory_bytes_per_s == pytest.approx(1.6e12)  # ROCm: 1.6 TB/s per GCD
    assert dev.peak_flop_per_s["bf16"] == pytest.approx(191.5e12)
    assert dev.tdp_w == pytest.approx(280.0)
    assert dev.link_bytes_per_s == pytest.approx(200e9)  # four xGMI links of 50 GB/s per direction
    assert dev.max_scaleup_domain == 8  # 4 OAMs, 8 GCDs a node
    assert "2 devices of 64 GiB" in note and "in-package link at 200 GB/s per direction" in note
    _, devices, note = runtime_device_view(pkg, 3)
    assert devices == 6 and "slower of the in-package link and the chip's scale-up link" in note


def test_a_chip_its_runtime_sees_whole_is_unchanged():
    h100 = get_chip_params("nvidia-h100-sxm-80gb")
    assert runtime_device_view(h100, 4) == (h100, 4, "")


@settings(max_examples=60, deadline=None)
@given(n=st.integers(2, 8), packages=st.integers(1, 16), inside=st.floats(1e9, 1e12), outside=st.floats(1e9, 1e12))
def test_the_devices_together_are_the_packages(n, packages, inside, outside):
    """Splitting conserves what the packages hold (peaks, bandwidth, capacity, SRAM, power); the usable memory
    loses one runtime reserve per extra device; a tp group never all-reduces faster than the slowest link it crosses."""
    pkg = replace(get_chip_params("amd-mi250x"), runtime_devices=n, package_link_bytes_per_s=inside,
                  link_bytes_per_s=outside)
    dev, devices, _ = runtime_device_view(pkg, packages)
    assert devices == n * packages
    for f, v in pkg.peak_flop_per_s.items():
        assert dev.peak_flop_per_s[f] * devices == pytest.approx(v * packages)
    for name in ("memory_bytes_per_s", "memory_capacity_bytes", "sram_bytes", "tdp_w", "idle_w"):
        assert getattr(dev, name) * devices == pytest.approx(getattr(pkg, name) * packages)
    reserve = pkg.memory_capacity_bytes - pkg.usable_memory_bytes
    assert dev.usable_memory_bytes == pytest.approx(max(pkg.memory_capacity_bytes / n - reserve, 0.0))
    assert dev.link_bytes_per_s == (inside if packages == 1 else min(inside, outside))


def test_predict_puts_a_model_over_64_gib_on_both_gcds():
    p = predict("amd-mi250x", QWEN32, weights="bf16", input_tokens=1024, output_tokens=1024)
    assert (p.num_chips, p.tp, p.runtime_devices_per_package) == (2, 2, 1 * 2)
    assert p.memory_capacity_per_chip_bytes == 64 * GIB
    assert p.memory_per_chip_bytes <= 62 * GIB
    assert any("runtime sees each package as 2 devices" in n for n in p.notes)


def test_the_view_is_data_not_the_id(tmp_path):
    """The same file without ``memory.runtime_devices`` (its id kept) is one 128 GiB chip: the model fits at tp 1."""
    raw = catalogue_raw("amd-mi250x")
    del raw["memory"]["runtime_devices"]
    path = write_chip(tmp_path, raw, "amd-mi250x")
    p = predict(path, QWEN32, weights="bf16", input_tokens=1024, output_tokens=1024)
    assert (p.num_chips, p.tp, p.runtime_devices_per_package) == (1, 1, 1)
    assert p.memory_capacity_per_chip_bytes == 128 * GIB


def test_a_package_price_is_shared_by_its_devices(tmp_path):
    raw = catalogue_raw("amd-mi250x")
    raw["price"] = {"usd": 10000.0, "note": "a test's list price"}
    path = write_chip(tmp_path, raw, "mi250x-priced")
    s = resolve_setting(path, QWEN32, weights="bf16")
    assert (s.count, s.chip.devices_per_package) == (2, 2)
    assert s.money.price_usd == pytest.approx(5000.0)


def test_the_fit_advice_counts_packages():
    with pytest.raises(DoesNotFitError) as got:  # 141 GB of bf16 weights: four GCDs, two packages
        predict("amd-mi250x", "meta-llama/Llama-3.1-70B", weights="bf16", input_tokens=1024,
                output_tokens=1024)
    assert "tp=4 count=2 (4 runtime devices, 2 a package)" in str(got.value)


def test_the_cli_says_so():
    code, out = run_main(["predict", "--chip", "amd-mi250x", "--model", QWEN32, "--weights", "bf16",
                          "--max-throughput"])
    assert code == 0, out[-300:]
    assert "on 1 x amd-mi250x (2 runtime devices)" in " ".join(out.split())
    code, out = run_main(["predict", "--chip", "amd-mi250x", "--model", QWEN32, "--weights", "bf16",
                          "--max-throughput", "--format", "json"])
    d = json.loads(out)
    assert (d["num_chips"], d["tp"], d["runtime_devices_per_package"]) == (2, 2, 2)
