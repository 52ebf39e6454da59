"""tools/closed_loop/first_wave_sim.py: the first wave's extra wait per run, P (mean - median), by hand and on
planted rows (a run whose first C of P C requests wait W reads W; stalled runs and other engines left out)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.conftest import load_tool

fws = load_tool("first_wave_sim")


def test_excess_by_hand():
    assert fws.first_wave_excess_s(0.6, 0.5, 10) == pytest.approx(1.0)
    assert fws.first_wave_excess_s(0.94, 0.5, 50) == pytest.approx(22.0)


@given(c=st.integers(1, 64), p=st.integers(3, 60), base=st.floats(0.01, 2.0), wait=st.floats(0.0, 30.0))
def test_planted_first_wave_recovered(c, p, base, wait):
    ttfts = [base + wait] * c + [base] * ((p - 1) * c)
    mean = sum(ttfts) / len(ttfts)
    assert fws.first_wave_excess_s(mean, base, p) == pytest.approx(wait, abs=1e-9)


def test_prompts_per_client_from_notes():
    assert fws.prompts_per_client("x; benchmark prompts per client: 50)") == 50
    assert fws.prompts_per_client("--num-prompts 40 (10x conc)") == fws.DEFAULT_PROMPTS_PER_CLIENT


def _row(cid, measured_ms, sim_median_ms, predicted_ms, engine="sglang"):
    return {"case_id": cid, "metric": "ttft_ms", "status": "ok", "accelerator": "nvidia-b200-180gb",
            "measured": measured_ms, "predicted": predicted_ms,
            "sim": {"engine": engine, "ttft_median_ms": sim_median_ms}}


def _case(notes):
    return {"notes": notes, "weight_dtype": "fp8", "software": "SGLang; x", "input_tokens": "1024",
            "output_tokens": "1024", "concurrency": "32.0"}


def test_groups_read_planted_rows_and_skip_stalls_and_other_engines():
    cases = {"a": _case("TTFT spread of the run: median 400.0 ms, p99 3400.0 ms"),
             "b": _case("TTFT spread of the run: median 400.0 ms, p99 60400.0 ms"),  # stalled: left out
             "c": _case("TTFT spread of the run: median 400.0 ms, p99 3400.0 ms")}
    res = [_row("a", 700.0, 600.0, 620.0), _row("b", 7000.0, 600.0, 620.0), _row("c", 700.0, 600.0, 620.0, "vllm")]
    g = fws.groups(res, cases, "sglang", "b200")
    assert list(g) == [("nvidia-b200-180gb", "fp8", "agg", "1024/1024", 32)]
    ((mm, me, sm, se),) = g[("nvidia-b200-180gb", "fp8", "agg", "1024/1024", 32)]
    assert (mm, me, sm, se) == pytest.approx((0.4, 3.0, 0.6, 0.2))
    assert any("| 400 / 600 | 3.00 / 0.20 |" in line for line in fws.table(g))
