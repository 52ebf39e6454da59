"""tools/vision/vision_cpu_efficiency.py: time per sample by scenario, the achieved share of the peak by hand, and the
listing of the shipped fp32 CPU rows (every share physical: above 0, at most the peak)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import load_tool

ROOT = Path(__file__).resolve().parents[1]
CASES = ROOT / "src" / "inferchip" / "catalog" / "vision" / "vision_cases.csv"


@pytest.fixture(scope="module")
def tool():
    return load_tool("vision_cpu_efficiency")


def test_seconds_per_sample_by_hand(tool) -> None:
    assert tool.seconds_per_sample("single_stream", "latency_p90_ms", 7.63, 1.0) == pytest.approx(7.63e-3)
    assert tool.seconds_per_sample("multi_stream", "latency_p99_ms", 37.77, 1.0) == pytest.approx(37.77e-3 / 8)
    assert tool.seconds_per_sample("offline", "samples_per_s", 228.7, 1.0) == pytest.approx(1 / 228.7)
    assert tool.seconds_per_sample("offline", "samples_per_s", 228.7, 2.0) == pytest.approx(2 / 228.7)
    assert tool.seconds_per_sample("offline", "system_power_avg_w", 300.0, 1.0) is None


def test_peak_share_by_hand(tool) -> None:
    assert tool.peak_share(8.18e9, 4.72e-3, 2.56e12) == pytest.approx(8.18e9 / 4.72e-3 / 2.56e12)
    assert tool.peak_share(8.18e9, 4.72e-3, 2.56e12) == pytest.approx(0.677, abs=1e-3)


@given(st.floats(1e6, 1e13), st.floats(1e-5, 10.0), st.floats(1e9, 1e15), st.floats(1.01, 10.0))
def test_share_falls_as_time_grows(flop: float, s: float, peak: float, k: float) -> None:
    tool = load_tool("vision_cpu_efficiency")
    assert tool.peak_share(flop, s * k, peak) < tool.peak_share(flop, s, peak)


def test_runtime_first_word(tool) -> None:
    assert tool.runtime("onnxruntime v1.22.1; Python: 3.10") == "onnxruntime"
    assert tool.runtime("tf v2.19.0, Python") == "tf"
    assert tool.runtime("") == ""


def test_shipped_fp32_cpu_rows(tool) -> None:
    with open(CASES, encoding="utf-8", newline="") as fh:
        cases = list(csv.DictReader(fh))
    rows = tool.fp32_cpu_rows(cases, {})
    expected = [c for c in cases if c["accelerator"].startswith("cpu:") and c["precision"] == "fp32"]
    assert len(rows) == len(expected) > 0
    assert all(0.0 < r["share"] <= 1.0 for r in rows)
    assert all(r["loao_pct"] is None for r in rows)
    table = tool.markdown(rows)
    assert table.count("\n") == len(rows) + 1


def test_batch_split_by_hand(tool) -> None:
    fixed, marginal = tool.batch_split(7.724e-3, 37.77e-3)
    assert marginal == pytest.approx((37.77e-3 - 7.724e-3) / 7.0)
    assert marginal == pytest.approx(4.292e-3, abs=1e-6)
    assert fixed == pytest.approx(3.432e-3, abs=1e-6)


@given(st.floats(1e-5, 1.0), st.floats(1e-5, 1.0), st.floats(2.0, 64.0))
def test_batch_split_passes_through_both_calls(fixed: float, marginal: float, batch: float) -> None:
    tool = load_tool("vision_cpu_efficiency")
    f, m = tool.batch_split(fixed + marginal, fixed + batch * marginal, batch)
    assert f == pytest.approx(fixed, rel=1e-6, abs=1e-12)
    assert m == pytest.approx(marginal, rel=1e-6, abs=1e-12)
    assert f + m == pytest.approx(fixed + marginal, rel=1e-9)


def test_version_key(tool) -> None:
    assert tool.version_key("onnxruntime v1.22.1; Python: 3.10.12, LLVM-15.0.6") == "onnxruntime v1.22.1"
    assert tool.version_key("onnxruntime; Python: 3.10.12, GCC-11.4.0") == "onnxruntime"
    assert tool.version_key("TF v2.19.0") == "tf v2.19.0"


def _case(scenario: str, software: str, value: float, metric: str = "latency_p90_ms",
          accelerator: str = "cpu:amd-ryzen-9-7950x") -> dict[str, str]:
    return {"accelerator": accelerator, "model": "resnet50-v1.5", "precision": "fp32", "scenario": scenario,
            "metric": metric, "software": software, "value": str(value), "num_accelerators": "1"}


def test_batch_pairs_match_the_runtime_version(tool) -> None:
    cases = [_case("single_stream", "onnxruntime; Python", 7.0),  # another harness: no MultiStream twin
             _case("single_stream", "onnxruntime v1.22.1; Python", 8.0),
             _case("multi_stream", "onnxruntime v1.22.1; Python", 40.0, "latency_p99_ms"),
             _case("multi_stream", "tf v2.19.0; Python", 44.0, "latency_p99_ms"),  # no batch-1 twin
             _case("single_stream", "onnxruntime v1.22.1; Python", 9.0, accelerator="nvidia-l4")]  # not a CPU
    pairs = tool.batch_pairs(cases)
    assert len(pairs) == 1
    p = pairs[0]
    assert (p["t1_ms"], p["t8_ms"]) == (pytest.approx(8.0), pytest.approx(40.0))
    assert p["marginal_ms"] == pytest.approx(32.0 / 7.0)
    assert p["fixed_ms"] + 8.0 * p["marginal_ms"] == pytest.approx(40.0)
    assert 0.0 < p["marginal_share"] <= 1.0


def test_shipped_batch_pairs(tool) -> None:
    with open(CASES, encoding="utf-8", newline="") as fh:
        cases = list(csv.DictReader(fh))
    pairs = tool.batch_pairs(cases)
    assert pairs, "the shipped cases hold at least one CPU SingleStream / MultiStream pair"
    for p in pairs:
        assert p["t8_ms"] > p["t1_ms"] > 0.0
        assert p["marginal_ms"] > 0.0
        assert 0.0 < p["marginal_share"] <= 1.0
    assert tool.split_markdown(pairs).count("\n") == len(pairs) + 1


def test_offline_excess_by_hand(tool) -> None:
    assert tool.offline_excess(13.31e-3, 1.0, 1 / 215.6) == pytest.approx(13.31e-3 - 4.638e-3, rel=1e-3)
    assert tool.offline_excess(44.48e-3, 8.0, 1 / 228.7) == pytest.approx(44.48e-3 - 8 * 4.3725e-3, rel=1e-3)


@given(st.floats(0.0, 1.0), st.floats(1e-4, 1.0), st.sampled_from([1.0, 8.0]))
def test_offline_excess_recovers_a_fixed_cost(fixed: float, per_sample: float, batch: float) -> None:
    tool = load_tool("vision_cpu_efficiency")
    assert tool.offline_excess(fixed + batch * per_sample, batch, per_sample) == pytest.approx(fixed, abs=1e-9)


def test_offline_pairs_match_the_runtime_version(tool) -> None:
    cases = [_case("single_stream", "tf v2.19.0; Python", 13.0, accelerator="cpu:intel-core-i9-13900k"),
             _case("offline", "tf v2.19.0; Python", 200.0, "samples_per_s", accelerator="cpu:intel-core-i9-13900k"),
             _case("multi_stream", "tf v2.19.0; Python", 44.0, "latency_p99_ms"),  # no Offline twin on this chip
             _case("offline", "onnxruntime v1.22.1; Python", 250.0, "samples_per_s"),  # another runtime
             _case("single_stream", "tf v2.19.0; Python", 9.0, accelerator="nvidia-l4")]  # not a CPU
    pairs = tool.offline_pairs(cases)
    assert len(pairs) == 1
    p = pairs[0]
    assert (p["batch"], p["t_ms"], p["offline_ms"]) == (1.0, pytest.approx(13.0), pytest.approx(5.0))
    assert p["excess_ms"] == pytest.approx(8.0)
    assert 0.0 < p["offline_share"] <= 1.0
    assert tool.offline_markdown(pairs).count("\n") == 2


def test_shipped_offline_pairs(tool) -> None:
    with open(CASES, encoding="utf-8", newline="") as fh:
        cases = list(csv.DictReader(fh))
    pairs = tool.offline_pairs(cases)
    assert {p["batch"] for p in pairs} >= {1.0, 8.0}, "the TF rows give a batch-1 and a batch-8 pair"
    for p in pairs:
        assert p["t_ms"] > 0.0 and p["offline_ms"] > 0.0
        assert 0.0 < p["offline_share"] <= 1.0
