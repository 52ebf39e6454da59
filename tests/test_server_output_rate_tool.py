"""tools/closed_loop_runs/server_output_rate.py: tokens/s a server by hand, the capped counterfactual by hand
(throughput capped, TTFT kept, the cycle's stretch on TPOT), a run under the cap untouched, and bad input named."""

from __future__ import annotations

import pytest

from conftest import load_tool

RUN = "imax-x-mi355x-amd_0-sglang-disagg-fp8-disagg-p8x1e8dpa-d16x1e16dpa-1024-1024-c2048-r1"


@pytest.fixture(scope="module")
def sor():
    return load_tool("server_output_rate")


def run(base: str, replicas: int, x_sim: float, engine: str = "sglang") -> list[dict]:
    sim = {"engine": engine, "output_tokens_per_s": x_sim, "e2e_ms": 10_000.0, "tpot_ms": 10.0, "ttft_ms": 500.0}
    rows = [("tput", "output_tokens_per_s_total", x_sim, 30_000.0), ("tpot", "tpot_ms", 10.0, 20.0),
            ("ttft", "ttft_ms", 500.0, 400.0)]
    return [{"case_id": f"{base}-{s}", "metric": m, "status": "ok", "replicas": replicas, "accelerator": "amd-mi355x",
             "predicted": p, "measured": meas, "signed_error_pct": (p - meas) / meas * 100,
             "ape": abs(p - meas) / meas * 100,
             "sim": dict(sim)} for s, m, p, meas in rows]


def test_group_maxima_per_server(sor):
    cases = run(RUN, 1, 40_000.0) + run(RUN.replace("-r1", "-r2"), 2, 40_000.0)
    (n, best, pred, which), = sor.group_maxima(cases).values()
    assert (n, best, pred, which) == (2, 30_000.0, 40_000.0, RUN)  # 30,000 on 1 server beats 15,000 on each of 2


def test_cap_by_hand(sor):
    doc, changed = sor.apply_cap({"cases": run(RUN, 1, 40_000.0)}, 20_000.0)
    assert changed == 1
    got = {c["metric"]: c for c in doc["cases"]}
    assert got["output_tokens_per_s_total"]["predicted"] == 20_000.0
    # e2e 10 s -> 20 s at half the rate; the extra 10 s over 0.9 x 1024 - 1 = 920.6 decode steps
    assert got["tpot_ms"]["predicted"] == pytest.approx(10.0 + 10_000.0 / 920.6)
    assert got["tpot_ms"]["signed_error_pct"] == pytest.approx((10.0 + 10_000.0 / 920.6 - 20.0) / 20.0 * 100)
    assert got["ttft_ms"]["predicted"] == 500.0
    assert got["output_tokens_per_s_total"]["sim"]["e2e_ms"] == pytest.approx(20_000.0)


def test_under_cap_and_other_engines_untouched(sor):
    two = run(RUN, 2, 40_000.0)  # 20,000 a server: at the cap
    other = run(RUN.replace("-r1", "-r3"), 1, 40_000.0, engine="dynamo")
    doc, changed = sor.apply_cap({"cases": two + other}, 20_000.0)
    assert changed == 0
    assert [c["predicted"] for c in doc["cases"]] == [c["predicted"] for c in two + other]


def test_bad_input_named(sor):
    with pytest.raises(ValueError, match="allowed: > 0"):
        sor.apply_cap({"cases": run(RUN, 1, 40_000.0)}, 0.0)
    bad = run(RUN, 0, 40_000.0)
    with pytest.raises(ValueError, match="replicas 0; allowed: >= 1"):
        sor.group_maxima(bad)
