"""tools/closed_loop_runs/trigger_wait.py: the first-wave trigger (a wave that splits a prompt across prefill
steps), the mean a first-use wait adds, the what-if errors, and the triggered runs of the shipped case file
(stop 26's 92 B200 SGLang runs, 63 of them flagged)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import load_tool
from inferchip.validation.cases import Case

tw = load_tool("trigger_wait")


def _case(c: int, isl: int, notes: str = "--random-range-ratio 0.8 --num-prompts 40") -> Case:
    return Case(case_id="x-ttft", source_kind="inferencemax-agg-bmk", source="s", accelerator="nvidia-b200-180gb",
                num_accelerators=8, software="SGLang", model="m", weight_dtype="fp4", act_dtype="fp4", kv_dtype=None,
                tp=4, pp=None, ep=None, scenario="server", input_tokens=isl, output_tokens=1024, concurrency=c,
                metric="ttft_ms", value=1.0, unit="ms", notes=notes, line=1)


def test_trigger_by_hand():
    # 16 x 1,024 x 0.9 = 14,745.6 tokens fit a 16,384-token step; 32 clients (29,491 tokens) split a prompt
    assert not tw.triggered(_case(16, 1024), 16384)
    assert tw.triggered(_case(32, 1024), 16384)
    # without a stated range ratio the prompts are the nominal length: 16 x 1,024 = 16,384 still fits exactly
    assert not tw.triggered(_case(16, 1024, "--num-prompts 160"), 16384)
    assert tw.triggered(_case(17, 1024, "--num-prompts 170"), 16384)
    with pytest.raises(ValueError, match="step of 0 tokens"):
        tw.triggered(_case(4, 1024), 0)


def test_added_mean_by_hand():
    # a 72 s wait reaching the whole first wave of 32 clients in 320 prompts: 72,000 x 32 / 320 = 7,200 ms
    assert tw.added_mean_ms(72.0, 1.0, 32, 320) == pytest.approx(7200.0)
    assert tw.added_mean_ms(72.0, 0.5, 32, 320) == pytest.approx(3600.0)
    assert tw.added_mean_ms(0.0, 1.0, 32, 320) == 0.0
    for bad in ((-1.0, 1.0, 4, 40), (1.0, 1.5, 4, 40), (1.0, 1.0, 0, 40), (1.0, 1.0, 8, 4)):
        with pytest.raises(ValueError, match="need wait >= 0"):
            tw.added_mean_ms(*bad)


def test_what_if_moves_only_triggered_rows():
    loao = [("a", -90.0, 700.0, 7000.0), ("b", 10.0, 550.0, 500.0)]
    trig = {"a": (32, 320, True)}
    # a: (700 + 7,200 - 7,000) / 7,000 = +12.86 %; b untouched
    got = tw.what_if(loao, trig, 72.0, 1.0)
    assert got[0] == pytest.approx(100.0 * 900.0 / 7000.0)
    assert got[1] == 10.0
    assert tw.what_if(loao, trig, 0.0, 1.0) == [-90.0, 10.0]


def test_summary_by_hand():
    med, p90, sgn, n = tw.summary([-50.0, -10.0, 0.0, 20.0, 40.0], 35.0)
    assert (med, sgn, n) == (20.0, 0.0, 2)
    assert p90 == pytest.approx(46.0)  # numpy's linear percentile of |e| = 0, 10, 20, 40, 50


@settings(max_examples=200, deadline=None)
@given(w=st.floats(0.0, 200.0), s=st.floats(0.0, 1.0), c=st.integers(1, 512), k=st.integers(1, 50))
def test_added_mean_is_linear_and_bounded(w, s, c, k):
    """The added mean is W s C / N: never more than the wait itself (C <= N), and a wave reaching no request, or
    a wait of 0, adds nothing."""
    n = c * k
    v = tw.added_mean_ms(w, s, c, n)
    assert 0.0 <= v <= w * 1e3 + 1e-9
    assert v == pytest.approx(w * 1e3 * s / k)


def test_shipped_triggered_runs():
    from inferchip.validation.cases import read_cases

    trig = tw.trigger_runs(read_cases(tw.SHIPPED), "sglang", "b200")
    # stop 26 (`sglang-jit`): 92 B200 SGLang runs whose first wave splits a prompt, 63 of them stalled
    assert len(trig) == 92
    assert sum(s for _, _, s in trig.values()) == 63
    assert all(n == 10 * c for c, n, _ in trig.values())
