"""tools/mlperf_rows/mlperf_row_steps.py: Little's law, the two-point line and the KV price ratio by hand, a step log's
stretch means by hand, bad input refused, the FP8 MLA price ratio of B200, and the DeepSeek-R1 B200 Server TPOT row
read end to end (its measured running batch from the run's own TTFT and TPOT rows)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import load_tool


@pytest.fixture(scope="module")
def rs():
    return load_tool("mlperf_row_steps")


def test_littles_law_by_hand(rs):
    # DeepSeek-R1 B200 Server: 4.96 requests/s, 3,748.4-token answers, TTFT 726.2 ms, TPOT 66.5 ms
    assert rs.littles_batch(4.96, 3748.4, 0.7262, 0.0665) == pytest.approx(4.96 * (0.7262 + 3747.4 * 0.0665))
    assert rs.littles_batch(4.96, 3748.4, 0.7262, 0.0665) == pytest.approx(1239.6, abs=0.1)


def test_two_point_line_and_price_ratio_by_hand(rs):
    # 66.5 ms at 1,240 and 122.7 ms at 4,096: 19.65 us a sequence, 42.1 ms at no batch
    a, k = rs.two_point_line(1240.0, 0.0665, 4096.0, 0.1227)
    assert k == pytest.approx(0.0562 / 2856.0)
    assert a == pytest.approx(0.0665 - k * 1240.0)
    # model slope 34.1 us of which attention 31.4: the measured 19.7 asks (19.7 - 2.7) / 31.4 of the attention price
    assert rs.kv_price_ratio(19.7e-6, 34.1e-6, 31.4e-6) == pytest.approx(17.0 / 31.4)


@pytest.mark.parametrize(("fn", "args"), [("littles_batch", (0.0, 100.0, 0.1, 0.05)),
                                          ("littles_batch", (1.0, 100.0, 0.1, 0.0)),
                                          ("littles_batch", (1.0, 0.5, 0.1, 0.05)),
                                          ("littles_batch", (1.0, 100.0, -0.1, 0.05)),
                                          ("two_point_line", (8.0, 1.0, 8.0, 2.0)),
                                          ("kv_price_ratio", (1.0, 1.0, 0.0))])
def test_bad_input_refused(rs, fn, args):
    with pytest.raises(ValueError):
        getattr(rs, fn)(*args)


@given(b1=st.floats(1.0, 1e4), b2=st.floats(1.0, 1e4), a=st.floats(0.0, 1.0), k=st.floats(0.0, 1e-3))
def test_the_line_through_two_points_of_a_line_is_that_line(rs, b1, b2, a, k):
    if abs(b1 - b2) < 1.0:
        return
    a2, k2 = rs.two_point_line(b1, a + k * b1, b2, a + k * b2)
    assert k2 == pytest.approx(k, rel=1e-6, abs=1e-12)
    assert a2 == pytest.approx(a, rel=1e-6, abs=1e-9)


def _log(**cols):
    return {k: np.asarray(v, dtype=float if k.endswith("_s") else np.int64) for k, v in cols.items()}


def test_stretch_means_by_hand(rs):
    # four steps of 0.1 s; the first ends at 0.1 (outside (0.1, 0.4]), the last three inside: batches 10, 20, 30,
    # 6,000 KV tokens read over 60 sequences (100 each), one step with 500 prompt tokens, 60 tokens emitted
    steps = _log(start_s=[0.0, 0.1, 0.2, 0.3], duration_s=[0.1, 0.1, 0.1, 0.1], num_decode_seqs=[5, 10, 20, 30],
                 decode_kv_tokens=[500, 1000, 2000, 3000], prefill_tokens=[0, 0, 500, 0],
                 emitted_tokens=[5, 10, 20, 30])
    s = rs.stretch(steps, 0.1, 0.4)
    assert s.steps == 3
    assert s.decode_seqs == pytest.approx(20.0)
    assert s.kv_per_seq == pytest.approx(100.0)
    assert s.prefill_tokens == pytest.approx(500.0 / 3)
    assert s.prefill_share == pytest.approx(1 / 3)
    assert s.step_s == pytest.approx(0.1)
    assert s.token_step_s == pytest.approx(0.3 / (60 / 20))  # 0.3 s over 3 tokens a mean sequence
    assert s.tokens_per_s == pytest.approx(60 / 0.3)
    with pytest.raises(ValueError, match="no decode step"):
        rs.stretch(steps, 5.0, 6.0)


def test_the_notes_rate(rs):
    assert rs.measured_rate_per_s("Server, result VALID; completed 4.96 samples/s (scheduled 5.02)") == 4.96
    assert rs.measured_rate_per_s("measured at the load above (4.96 completed samples/s)") == 4.96
    assert rs.measured_rate_per_s("Offline, 8.93431 samples/s; output") == pytest.approx(8.93431)
    assert rs.measured_rate_per_s("no rate here") is None


def test_the_deepseek_r1_b200_server_row_end_to_end(rs):
    from inferchip.catalog.calibration_file import load_calibration, load_dataset_lengths
    from inferchip.validation.cases import read_cases
    from inferchip.validation.validate import Validator

    cases = read_cases("src/inferchip/catalog/validation_cases.csv")
    case = next(c for c in cases if c.case_id == "mlp51-deepseek-r1-server-b200x8-nvidia-tpot")
    facts = {c.metric: c.value for c in cases if c.source == case.source and c.metric in ("tpot_ms", "ttft_ms")}
    assert facts == {"tpot_ms": 66.5, "ttft_ms": 726.2}
    v = Validator(load_calibration(None), lengths=load_dataset_lengths(None), server_model="auto")
    lines, row = rs.row_report(v, case, facts, set(facts), rs.COUNTED_INPUT_TOKENS)
    assert row is not None and not row.offline
    assert row.batch == pytest.approx(rs.littles_batch(4.96, case.output_tokens, 0.7262, 0.0665))
    assert row.step_s == pytest.approx(0.0665)
    text = "\n".join(lines)
    assert "Little's law at TTFT 726.2 ms, TPOT 66.5 ms" in text
    assert "| measured batch | 1,240 |" in text and "| simulated batch |" in text
    # the FP8 MLA decode step is the shipped one less half its attention class (B200: bf16 2.25 / fp8 4.5 PFLOP/s)
    assert rs.fp8_attention_scale(row.mm) == pytest.approx(0.5)
    t, cls = rs.decode_step(row.mm, row.batch, 4979.0)
    assert cls["attention"] > 0 and t > cls["attention"]
