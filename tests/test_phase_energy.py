"""Energy reads the very steps TTFT and TPOT came from (PhaseMetrics carries them).

The bug this guards against: with attention data parallelism a replica's prefill step carries
``tp x`` the per-chip token budget (``MappedModel.replica_chunk_tokens``), and TTFT counted
those chunks, but the static-batch energy re-chunked the prefill with the per-chip budget:
8 times the chunks, each squeezed into an eighth of the time, so the power hit TDP, the steps
"throttled" and both TTFT and energy per token came out several times too high.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inferchip.cost.economics import step_power
from inferchip.performance.operating import operating_point
from inferchip.performance.predict import ask, predict, predict_setting
from inferchip.performance.setting import resolve_setting

H100 = "nvidia-h100-sxm-80gb"
V2_LITE = "deepseek-ai/DeepSeek-V2-Lite"


def _setting(attn_dp: bool):
    return resolve_setting(H100, V2_LITE, count=8, tp=8, ep=8, attn_dp=attn_dp)


@pytest.mark.parametrize("attn_dp", [True, False])
def test_ttft_is_made_of_the_replicas_prefill_chunks(attn_dp):
    s = _setting(attn_dp)
    mm = s.mapped(s.layout)
    batch, inp = 64, 2048
    pt = operating_point(mm, ask(inp, 2, batch), s.layout.replicas)
    met = pt.metrics
    # The replica's token budget is the per-chip budget on every chip that runs its own sequences.
    assert mm.replica_chunk_tokens == mm.chunk_tokens * (8 if attn_dp else 1)
    assert float(met.prefill_chunks[0]) == math.ceil(batch * inp / mm.replica_chunk_tokens)
    assert pt.ttft_s == pytest.approx(float(met.prefill_chunks[0]) * float(met.prefill_step_s[0]), rel=1e-12)


@pytest.mark.parametrize("attn_dp", [True, False])
def test_static_energy_is_the_sum_over_the_chunks_ttft_came_from(attn_dp):
    """One output token: the whole request is its prefill, so energy per chip = chunks x one chunk's energy."""
    s = _setting(attn_dp)
    q = ask(2048, 1, 64)
    p = predict_setting(s, q)
    mm = s.mapped(s.layout)
    met = operating_point(mm, q, s.layout.replicas).metrics
    n = float(met.prefill_chunks[0])
    spec = s.chip_spec
    one = step_power(met.prefill, met.prefill_step_s, mm.layout.pp, spec, spec.memory.type, s.chip.tdp_w, s.chip.idle_w,
                     s.assumptions)
    energy_per_chip = p.extra["power_w_per_chip"] * p.e2e_latency_s
    assert energy_per_chip == pytest.approx(n * float(one.energy_j[0]), rel=1e-9)
    assert p.ttft_s == pytest.approx(n * float(one.time_s[0]), rel=1e-9)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batch=st.integers(8, 64), inp=st.sampled_from([512, 1024, 2048, 4096]), out=st.integers(1, 4))
def test_at_equal_work_the_faster_layout_is_not_several_times_costlier(batch, inp, out):
    """Attention DP and plain TP run the same FLOPs on the same chips; the faster of the two
    spends less static energy, so its energy per output token cannot be several times higher."""
    runs = {dp: predict(H100, V2_LITE, count=8, tp=8, ep=8, attn_dp=dp, batch=batch, input_tokens=inp,
                        output_tokens=out) for dp in (True, False)}
    fast, slow = sorted(runs.values(), key=lambda p: p.e2e_latency_s)
    assert fast.extra["j_per_output_token"] <= 1.5 * slow.extra["j_per_output_token"]
    for p in runs.values():
        assert p.extra["power_w_per_chip"] <= 700.0 * (1 + 1e-9)  # the H100 SXM's TDP


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(model=st.sampled_from(["meta-llama/Llama-3.1-8B", V2_LITE, "Qwen/Qwen3-30B-A3B"]),
       count=st.sampled_from([1, 2, 8]), batch=st.one_of(st.none(), st.integers(1, 256)),
       inp=st.integers(16, 8192), out=st.integers(1, 2048))
def test_power_never_exceeds_tdp_nor_falls_below_idle(model, count, batch, inp, out):
    from inferchip.errors import DoesNotFitError

    try:
        p = predict(H100, model, count=count, weights="fp8", batch=batch, input_tokens=inp, output_tokens=out)
    except DoesNotFitError:
        return
    cp = resolve_setting(H100, model, count=count, weights="fp8").chip
    w = p.extra["power_w_per_chip"]
    assert np.isfinite(w)
    assert w <= cp.tdp_w * (1 + 1e-9)
    assert w >= min(cp.idle_w, cp.tdp_w) * (1 - 1e-9)
