"""tools/calibration/row_pairs.py (paired chips in the MLPerf-style rows) and tools/calibration/fold_swap.py's choice
of parameters to swap."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.conftest import load_tool

rp = load_tool("row_pairs")
fs = load_tool("fold_swap")


def _row(case_id: str, acc: str, n: int, measured: float, predicted: float, metric: str = "output_tokens_per_s_total",
         input_tokens: str = "", tp: str = "1") -> dict:
    return {"case_id": case_id, "accelerator": acc, "num_accelerators": n, "source_kind": "mlperf", "model": "m",
            "scenario": "offline", "metric": metric, "measured": measured, "predicted": predicted,
            "input_tokens": input_tokens, "output_tokens": "290.3" if not input_tokens else "1000", "tp": tp}


def test_speedup_and_per_accelerator() -> None:
    assert rp.speedup("output_tokens_per_s_total", 100.0, 125.0) == pytest.approx(1.25)
    assert rp.speedup("tpot_ms", 10.0, 8.0) == pytest.approx(1.25)
    with pytest.raises(ValueError, match="positive"):
        rp.speedup("tpot_ms", 0.0, 1.0)
    assert rp.per_accelerator(_row("a", "x", 8, 1.0, 1.0)) == 8.0
    assert rp.per_accelerator(_row("a", "x", 8, 1.0, 1.0, metric="tpot_ms")) == 1.0
    assert rp.per_accelerator(_row("a", "x", 2, 1.0, 1.0, metric="output_tokens_per_s_per_accelerator")) == 1.0


def test_pair_table_by_hand() -> None:
    # slow: 4 chips, 400 tokens/s measured (100 per chip), predicted 440 (110); fast: 8 chips, 1000 measured
    # (125 per chip), predicted 1200 (150). Measured speed-up 1.25, predicted 150 / 110 = 1.3636: excess +9.09 %.
    # Held out: slow 400 (100), fast 960 (120): 1.2, excess -4 %.
    ins = [_row("s", "slow", 4, 400.0, 440.0), _row("f", "fast", 8, 1000.0, 1200.0)]
    held = [dict(ins[0], predicted=400.0), dict(ins[1], predicted=960.0)]
    (t,) = rp.pair_table(ins, held, "slow", "fast")
    assert t["measured"] == pytest.approx(1.25)
    assert t["in_sample"] == pytest.approx(150.0 / 110.0)
    assert t["excess_in_sample_pct"] == pytest.approx(100.0 * (150.0 / 110.0 / 1.25 - 1.0))
    assert t["excess_held_out_pct"] == pytest.approx(-4.0)
    assert (t["slow"], t["fast"]) == (["s"], ["f"])


def test_fixed_length_rows_pair_only_on_the_same_lengths_and_tp() -> None:
    ins = [_row("s", "slow", 2, 100.0, 100.0, input_tokens="1000", tp="2"),
           _row("f", "fast", 1, 100.0, 100.0, input_tokens="1000", tp="1")]
    assert rp.pair_table(ins, ins, "slow", "fast") == []
    ins[1] = dict(ins[1], tp="2")
    assert len(rp.pair_table(ins, ins, "slow", "fast")) == 1
    # an MLPerf data-set row pairs whatever the run's measured mean output (the output_tokens column)
    ds = [_row("s", "slow", 8, 100.0, 100.0), dict(_row("f", "fast", 8, 120.0, 100.0), output_tokens="291.3")]
    assert len(rp.pair_table(ds, ds, "slow", "fast")) == 1


def test_unpaired_or_unpredicted_rows_are_left_out() -> None:
    ins = [_row("s", "slow", 8, 100.0, 100.0), _row("f", "fast", 8, 120.0, None)]  # type: ignore[arg-type]
    assert rp.pair_table(ins, ins, "slow", "fast") == []
    assert rp.pair_table([_row("s", "slow", 8, 100.0, 100.0)], [_row("s", "slow", 8, 100.0, 100.0)],
                         "slow", "fast") == []


@given(m_slow=st.floats(1.0, 1e4), m_fast=st.floats(1.0, 1e4), k=st.floats(0.2, 5.0))
def test_a_prediction_that_scales_both_chips_alike_has_no_excess(m_slow: float, m_fast: float, k: float) -> None:
    """Predicting both chips off by the same factor leaves the predicted speed-up the measured one."""
    ins = [_row("s", "slow", 8, m_slow, k * m_slow), _row("f", "fast", 8, m_fast, k * m_fast)]
    (t,) = rp.pair_table(ins, ins, "slow", "fast")
    assert t["excess_in_sample_pct"] == pytest.approx(0.0, abs=1e-9)
    assert t["excess_held_out_pct"] == pytest.approx(0.0, abs=1e-9)


def test_fold_swap_keeps_the_physical_parameters_and_the_accelerators_data_sets() -> None:
    names = ["gemm_compute_fraction", "moe_imbalance", "mlperf_mean_input_tokens:llama2-70b",
             "mlperf_mean_input_tokens:gptj"]
    assert fs.swaps(names, {"llama2-70b"}) == names[:3]
    assert fs.swaps(names, set()) == names[:2]
