"""tools/closed_loop/chip_pairs.py: speed-ups of paired runs, the bandwidth share, the excess and its summaries."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.conftest import load_tool

cp = load_tool("chip_pairs")


def test_speedup_of_a_rate_and_of_a_time() -> None:
    assert cp.speedup("output_tokens_per_s_total", 100.0, 125.0) == pytest.approx(1.25)  # 125 / 100
    assert cp.speedup("tpot_ms", 10.0, 8.0) == pytest.approx(1.25)  # 10 / 8
    with pytest.raises(ValueError, match="positive"):
        cp.speedup("tpot_ms", 0.0, 1.0)


def test_bandwidth_share_by_hand() -> None:
    # H100 step 10 ms, 4 ms of it bytes: on a 1.409x faster stream 4 / 1.409 + 6 = 8.839 ms, speed-up 1.1313
    s = 10.0 / (4.0 / 1.409 + 6.0)
    assert cp.bandwidth_share(s, 1.409) == pytest.approx(0.4)
    assert cp.bandwidth_share(1.409, 1.409) == pytest.approx(1.0)
    assert cp.bandwidth_share(1.0, 1.409) == pytest.approx(0.0)
    with pytest.raises(ValueError, match="above 1"):
        cp.bandwidth_share(1.1, 1.0)


@given(x=st.floats(0.0, 1.0), y=st.floats(0.01, 1.0), ratio=st.floats(1.01, 4.0))
def test_share_recovers_the_bandwidth_part(x: float, y: float, ratio: float) -> None:
    s = (x + y) / (x / ratio + y)
    assert cp.bandwidth_share(s, ratio) == pytest.approx(x / (x + y), abs=1e-9)


def _rows() -> list[dict[str, str]]:
    base = {"model": "org/m", "software": "vLLM; img:v1", "tp": "2", "ep": "1", "input_tokens": "1024",
            "output_tokens": "1024", "concurrency": "4"}
    return [
        {**base, "case_id": "s1", "accelerator": "slow", "metric": "tpot_ms", "value": "10"},
        {**base, "case_id": "s2", "accelerator": "slow", "metric": "tpot_ms", "value": "12"},  # median 11
        {**base, "case_id": "f1", "accelerator": "fast", "metric": "tpot_ms", "value": "10"},
        {**base, "case_id": "s3", "accelerator": "slow", "metric": "output_tokens_per_s_total", "value": "100"},
        {**base, "case_id": "f3", "accelerator": "fast", "metric": "output_tokens_per_s_total", "value": "110"},
        {**base, "case_id": "s4", "accelerator": "slow", "metric": "tpot_ms", "value": "9", "concurrency": "8"},
        {**base, "case_id": "x1", "accelerator": "other", "metric": "tpot_ms", "value": "5"},
    ]


def test_pairs_and_excess() -> None:
    predicted = {"s1": 11.0, "s2": 13.0, "f1": 10.0, "s3": 100.0}  # f3 unpredicted
    table = {r["metric"]: r for r in cp.pair_table(_rows(), predicted, "slow", "fast")}
    assert set(table) == {"tpot_ms", "output_tokens_per_s_total"}  # the c8 run has no partner
    tpot = table["tpot_ms"]
    assert tpot["measured"] == pytest.approx(1.1)  # 11 / 10
    assert tpot["predicted"] == pytest.approx(1.2)  # 12 / 10
    assert tpot["excess_pct"] == pytest.approx(100.0 * (1.2 / 1.1 - 1.0))
    assert table["output_tokens_per_s_total"]["measured"] == pytest.approx(1.1)
    assert table["output_tokens_per_s_total"]["predicted"] is None


def test_summary_by_dimension() -> None:
    rows = _rows() + [{**r, "case_id": r["case_id"] + "b", "tp": "4"} for r in _rows()]
    predicted = {r["case_id"]: float(r["value"]) for r in rows}
    by_tp = cp.summarise(cp.pair_table(rows, predicted, "slow", "fast"), "tp")
    assert [(m, lv, n) for m, lv, n, *_ in by_tp] == [("throughput", "2", 1), ("throughput", "4", 1),
                                                      ("TPOT", "2", 1), ("TPOT", "4", 1)]
    assert all(exc == pytest.approx(0.0) for *_, exc in by_tp)  # predicted = measured
