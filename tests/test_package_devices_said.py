"""A package its runtime sees as several devices (an MI250X: two 64 GiB GCDs to ROCm, ``memory.runtime_devices``)
is the same system in every command: the per-chip figures are a runtime device's, its price included (the
package's shared among its devices), and each command says so (review48, stop 48: predict did; serve and curve
priced a device's tokens at the whole package's price and titled the run in packages with no word of devices)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chip_yaml import catalogue_raw, write_chip
from cli_in_process import run_main
from inferchip.catalog.assumptions import load_assumptions

QWEN32 = "Qwen/Qwen3-32B"  # 65.5 GB of bf16 weights: over one 64 GiB GCD, so tp 2 over the package's two
PRICE_USD = 10_000.0  # a test's list price for the whole package
COMMON = ["--model", QWEN32, "--weights", "bf16", "--input-tokens", "512", "--output-tokens", "64"]


@pytest.fixture(scope="module")
def priced(tmp_path_factory: pytest.TempPathFactory) -> str:
    raw = catalogue_raw("amd-mi250x")
    raw["price"] = {"usd": PRICE_USD, "note": "a test's list price"}
    return write_chip(tmp_path_factory.mktemp("mi250x"), raw, "mi250x-priced")


def _json(args: list[str]) -> dict[str, Any]:
    code, out = run_main([*args, "--format", "json"])
    assert code == 0, out[-400:]
    got: dict[str, Any] = json.loads(out)
    return got


def _per_device_money(d: dict[str, Any]) -> None:
    """The price a device's figures are set against is half the package's, and the money follows from it (per $ of
    the capex: half the package's price with its server share, as the TCO counts it)."""
    assert d["chip_price_usd"] == pytest.approx(PRICE_USD / 2)
    per_chip = d["output_tokens_per_s_per_chip"]
    server = load_assumptions().tco.system_overhead_fraction.value
    assert d["output_tokens_per_s_per_usd_capex"] == pytest.approx(per_chip / (PRICE_USD / 2 * (1 + server)))


def test_predict_serve_and_curve_price_a_device_at_its_share_of_the_package(priced):
    p = _json(["predict", "--chip", priced, *COMMON, "--max-throughput"])
    assert (p["num_chips"], p["runtime_devices_per_package"]) == (2, 2)
    _per_device_money(p)
    s = _json(["serve", "--chip", priced, *COMMON, "--concurrency", "8", "--requests", "24"])
    assert s["num_chips"] == 2
    _per_device_money(s)
    c = _json(["curve", "--chip", priced, *COMMON])
    for point in c["points"]:
        _per_device_money(point)


def test_serve_and_curve_say_the_runtime_devices_as_predict_does():
    """The title names the packages and the devices they are; the JSON has predict's key; a note says what a
    per-chip figure is."""
    chip = ["--chip", "amd-mi250x", *COMMON]
    code, text = run_main(["serve", *chip, "--concurrency", "8", "--requests", "24"])
    assert code == 0, text[-400:]
    flat = " ".join(text.split())
    assert "on 1 x amd-mi250x (2 runtime devices) (tp=2" in flat
    assert "every per-chip figure (tokens/s, power, memory, price, TCO) is one device's" in flat
    s = _json(["serve", *chip, "--concurrency", "8", "--requests", "24"])
    assert (s["num_chips"], s["runtime_devices_per_package"]) == (2, 2)
    assert any("its runtime sees each package as 2 devices" in n for n in s["notes"])
    code, text = run_main(["curve", *chip])
    assert code == 0, text[-400:]
    flat = " ".join(text.split())  # the title names the devices, then the layout (newuser48), then what it plots
    assert "on 1 x amd-mi250x (2 runtime devices) (tp=" in flat and "): throughput vs interactivity" in flat
    c = _json(["curve", *chip])
    assert c["runtime_devices_per_package"] == 2
    assert any("its runtime sees each package as 2 devices" in n for n in c["notes"])


def test_a_chip_seen_whole_says_nothing_of_devices():
    s = _json(["serve", "--chip", "amd-mi300x", *COMMON, "--concurrency", "8", "--requests", "24"])
    assert s["runtime_devices_per_package"] == 1
    assert not any("runtime sees each package" in n for n in s["notes"])


def test_review_judges_a_package_in_devices_its_price_shared_and_its_system_counted_in_devices(tmp_path,
                                                                                            monkeypatch):
    """review's rows are per device (predict's): their price is the device's share, and the claim's per-system
    figure is a device's tokens/s x the devices of the deployment (4 MI250X in the domain: 8 GCDs), not x 4."""
    mi250x, mi300x = mi250x_review(tmp_path, monkeypatch, PRICE_USD)
    assert (mi250x["deployment_chips"], mi250x["num_chips"], mi250x["runtime_devices_per_package"]) == ("4", "8", "2")
    assert float(mi250x["chip_price_usd"]) == pytest.approx(PRICE_USD / 2)
    tput = float(mi250x["output_tokens_per_s_per_chip"])
    server = load_assumptions().tco.system_overhead_fraction.value  # per $ of capex: the price and its server
    assert float(mi250x["output_tokens_per_s_per_usd_capex"]) == pytest.approx(tput / (PRICE_USD / 2 * (1 + server)))
    parts = {p["part"]: p for p in json.loads((tmp_path / "results.json").read_text())["claim_parts"]}
    rival = float(mi300x["output_tokens_per_s_per_chip"]) * float(mi300x["num_chips"])
    assert parts["per_system"]["central"]["ratio"] == pytest.approx(tput * 8 / rival)


def test_serve_table_shows_the_devices_a_package_is_among_the_run_figures():
    code, text = run_main(["serve", "--chip", "amd-mi250x", *COMMON, "--concurrency", "8", "--requests", "24"])
    assert code == 0, text[-400:]
    assert "runtime devices per package (chips: devices)" in text and "other" not in text


def mi250x_review(tmp_path, monkeypatch, price_usd: float) -> tuple[dict[str, str], dict[str, str]]:
    """(the MI250X's, the MI300X's) domain rows of a review of Qwen3-32B at batch on the two, the MI250X at a test's
    package price ``price_usd``, with the MI250X as the claim (its results in ``tmp_path``)."""
    import csv

    import inferchip.catalog.prices as prices

    table = dict(prices.load_prices())  # the one price rule's table (catalog.prices.usable_price, claim53b)
    table["amd-mi250x"] = prices.PriceQuote(chip_id="amd-mi250x", basis="street", covers="accelerator",
                                            price_usd=price_usd, low_usd=min(8_000.0, price_usd),
                                            high_usd=max(12_000.0, price_usd), source="a test's price", date="2026")
    monkeypatch.setattr(prices, "load_prices", lambda: table)
    code, out = run_main(["review", "--chips", "amd-mi250x,amd-mi300x", "--claim", "amd-mi250x", "--models", QWEN32,
                          "--slo", "batch", "--no-sensitivity", "--samples", "1000", "--workers", "1",
                          "--out", str(tmp_path)])
    assert code == 0, out[-400:]
    rows = {(r["chip_id"], r["setting"]): r for r in csv.DictReader((tmp_path / "results.csv").open())}
    return rows[("amd-mi250x", "domain")], rows[("amd-mi300x", "domain")]
