"""tools/closed_loop_runs/kv_post_bound.py: descriptors a prompt, the posting cap and the binding time a descriptor
by hand, the sourced times, and the report on a synthetic validate JSON (prompt tokens/s a prefill GPU from
Little's law on the row's triples)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import load_tool


@pytest.fixture(scope="module")
def kpb():
    return load_tool("kv_post_bound")


def test_descriptors_cap_and_binding_by_hand(kpb):
    # a 922-token prompt (0.9 x 1024) fills ceil(922 / 64) = 15 pages: 61 x 15 = 915 descriptors
    assert kpb.descriptors(922.0) == 915
    assert kpb.descriptors(7372.8) == 61 * 116  # 8k/1k: 0.9 x 8192 tokens, 116 pages
    assert kpb.descriptors(64.0, layers=2, page_tokens=64) == 2
    # 40 us a descriptor: 64 / (61 x 40e-6) = 26,229.5 prompt tokens/s a rank
    assert kpb.posting_cap_tok_s(40e-6) == pytest.approx(64 / (61 * 40e-6))
    assert kpb.posting_cap_tok_s(40e-6) == pytest.approx(26229.5, rel=1e-5)
    # a rank held to 10,500 prompt tokens/s by posting alone: 64 / (61 x 10,500) = 99.9 us a descriptor
    assert kpb.binding_post_s(10500.0) == pytest.approx(99.92e-6, rel=1e-4)
    for bad in (lambda: kpb.descriptors(0.0), lambda: kpb.posting_cap_tok_s(0.0), lambda: kpb.binding_post_s(-1.0)):
        with pytest.raises(ValueError, match="must be positive"):
            bad()


def test_sourced_times_are_the_cited_figures(kpb):
    times = dict((name.split(",")[-1].strip(), s) for name, s in kpb.SOURCED_POST_S)
    assert times["openucx/ucx PR #8760"] == pytest.approx(4.0e-6)  # uct_cuda_ipc_estimate_perf overhead
    assert times["ai-dynamo/nixl issue #176"] == pytest.approx(0.6 / 15000)  # 0.6 s for ~15k segments
    assert times["vllm-project/vllm PR #25388"] == pytest.approx(5.69e-3 / 56, rel=0.01)  # 5.69 ms, 56 descriptors


@given(st.floats(1e-7, 1e-2), st.integers(1, 200), st.integers(1, 256))
def test_cap_and_binding_invert(kpb, post_s, layers, page):
    cap = kpb.posting_cap_tok_s(post_s, layers, page)
    assert kpb.binding_post_s(cap, layers, page) == pytest.approx(post_s, rel=1e-9)


def _case(base: str, metric: str, measured: float, sim: dict[str, float]) -> dict:
    suffix = {"output_tokens_per_s_total": "tput", "ttft_ms": "ttft", "tpot_ms": "tpot"}[metric]
    return {"case_id": f"{base}-{suffix}", "metric": metric, "measured": measured, "status": "ok",
            "sim": dict(sim, kind="closed_loop")}


def test_report_on_a_synthetic_run(kpb, tmp_path):
    base = "imax-dsr1-gb200-dynamo-sglang-fp4-disagg-p16x1e1dpa-d32x1e1dpa-1024-1024-c8192-r1"
    # 921.6 output tokens/s a request/s (mean output 0.9 x 1024): 150 and 200 requests/s; 16 prefill GPUs,
    # 921.6 prompt tokens a request: 150 x 921.6 / 16 = 8,640 and 200 x 921.6 / 16 = 11,520 tokens/s a GPU
    sim = {"output_tokens_per_s": 200 * 921.6, "ttft_ms": 1000.0, "tpot_ms": 30.0}
    cases = [_case(base, "output_tokens_per_s_total", 150 * 921.6, sim), _case(base, "ttft_ms", 2000.0, sim),
             _case(base, "tpot_ms", 40.0, sim),
             _case(base.replace("sglang-fp4", "trt-fp4"), "ttft_ms", 1.0, sim)]  # not matched
    path = tmp_path / "v.json"
    path.write_text(json.dumps({"cases": cases}))
    rates = kpb.prompt_rates(str(path), kpb.DEFAULT_MATCH)
    cfg = "imax-dsr1-gb200-dynamo-sglang-fp4-disagg-p16x1e1dpa-d32x1e1dpa-1024-1024"
    assert list(rates) == [cfg]
    (meas, simr), = rates[cfg][8192]
    assert meas == pytest.approx(8640.0)
    assert simr == pytest.approx(11520.0)
    text = "\n".join(kpb.report(str(path), kpb.DEFAULT_MATCH, 61, 64))
    # binding time at 8,640 tokens/s: 64 / (61 x 8,640) = 121 us; caps 262.3k, 26.2k, 10.3k: only 102 us lies
    # below the simulated 11,520
    assert "c8192:   8.6 /  11.5;   121 us; 102 (1 runs)" in text
    assert "26.2" in text and "262.3" in text
