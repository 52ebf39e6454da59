"""The engine scheduling a server row's notes state, and the simulator running the row as that engine."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inferchip.errors import InvalidSettingError
from inferchip.sim import EmpiricalLength, LinearStepModel, PoissonArrivals, SchedulerConfig, simulate
from inferchip.sim.engines.polling import PollingReplica
from inferchip.sim.engines.scheduling import AdpBalancedReplica
from inferchip.sim.runs.search import max_rate_under_slo
from inferchip.validation.stated_engine import StatedScheduling, replica_factory, stated_scheduling


def test_the_notes_name_multi_step_scheduling_or_an_attention_dp_balance():
    assert stated_scheduling("r", "vLLM, num_scheduler_steps 10, chunked prefill off").recv_interval_steps == 10
    s = stated_scheduling("r", "adp_balancing_batching_wait_iters 3, adp_balancing_timeout_iters 9")
    assert (s.adp_batching_wait_iters, s.adp_timeout_iters, s.adp_balance) == (3, 9, True)
    # Only one count stated: TensorRT-LLM's default for the other (timeout 50, batching wait 10).
    assert stated_scheduling("r", "adp_balancing_timeout_iters 7").adp_batching_wait_iters == 10
    assert stated_scheduling("r", "adp_balancing_batching_wait_iters 2").adp_timeout_iters == 50
    assert stated_scheduling("r", "gpu_batch_size 1024, max_num_tokens 1536") == StatedScheduling()


def test_both_kinds_stated_is_an_error_naming_the_row():
    with pytest.raises(InvalidSettingError, match="case r7, column notes"):
        stated_scheduling("r7", "num_scheduler_steps 4; adp_balancing_timeout_iters 9")
    with pytest.raises(InvalidSettingError, match="num_scheduler_steps 0"):
        stated_scheduling("r7", "num_scheduler_steps 0")


def test_the_replica_class_follows_the_stated_scheduling_and_the_layout():
    f, note = replica_factory(StatedScheduling(), 8)
    assert f is None and note == ""
    f, note = replica_factory(StatedScheduling(recv_interval_steps=10), 1)
    assert f.func is PollingReplica and f.keywords == {"recv_interval_steps": 10} and "every 10" in note
    adp = StatedScheduling(adp_batching_wait_iters=3, adp_timeout_iters=9)
    f, note = replica_factory(adp, 8)
    assert f.func is AdpBalancedReplica and f.keywords == {"ranks": 8, "timeout_iters": 9, "batching_wait_iters": 3,
                                                           "async_scheduling": False}
    f, note = replica_factory(adp, 1)  # no attention DP in the layout: nothing to balance, and said so
    assert f is None and "ignored" in note


_STEP = LinearStepModel(fixed_s=0.02, per_token_s=2e-5, per_kv_token_s=1e-8, kv_capacity_tokens=400_000)
_IN, _OUT = EmpiricalLength(samples_tokens=(200, 400)), EmpiricalLength(samples_tokens=(50, 150))


def _mean_ttft(factory, rate: float, seed: int = 0) -> float:
    res = simulate(_STEP, PoissonArrivals(rate_per_s=rate, input_tokens=_IN, output_tokens=_OUT), num_requests=300,
                   seed=seed, scheduler_config=SchedulerConfig(max_num_seqs=256), replica_factory=factory)
    return float(res.summary()["ttft_s_mean"])


@settings(max_examples=6, deadline=None)
@given(steps=st.integers(2, 12), rate=st.floats(2.0, 20.0), seed=st.integers(0, 3))
def test_a_scheduler_that_polls_every_n_steps_never_shortens_ttft(steps, rate, seed):
    """A request held until the next scheduling round cannot reach its first token earlier: the same
    arrivals (same seed) give a mean TTFT at least the plain engine's, and about half an interval of
    ~20 ms decode steps more at a light load."""
    plain = _mean_ttft(None, rate, seed)
    polled = _mean_ttft(replica_factory(StatedScheduling(recv_interval_steps=steps), 1)[0], rate, seed)
    assert polled >= plain - 1e-9
    if rate <= 5.0:
        assert polled - plain > 0.25 * (steps - 1) * 0.02


def test_the_rate_search_runs_every_trial_on_the_engines_replica():
    """The highest rate meeting a TTFT limit falls when the engine holds new requests for 10 steps."""
    kw = dict(num_requests=300, scheduler_config=SchedulerConfig(max_num_seqs=256), start_rate_per_s=10.0,
              max_simulations=None, rel_tol=0.05)
    plain = max_rate_under_slo(_STEP, _IN, _OUT, slo_ttft_s=0.25, **kw)
    polled = max_rate_under_slo(_STEP, _IN, _OUT, slo_ttft_s=0.25,
                                replica_factory=replica_factory(StatedScheduling(recv_interval_steps=10), 1)[0], **kw)
    assert polled.rate_per_s < plain.rate_per_s


def test_the_notes_state_tensorrt_llms_overlap_scheduler():
    """``disable_overlap_scheduler False`` turns planning ahead on; ``True`` or nothing stated leaves it off."""
    assert stated_scheduling("r", "PyTorch backend, disable_overlap_scheduler False").async_scheduling
    assert stated_scheduling("r", "disable_overlap_scheduler: false; adp_balancing_timeout_iters 9").async_scheduling
    assert not stated_scheduling("r", "disable_overlap_scheduler True").async_scheduling
    assert not stated_scheduling("r", "TensorRT-LLM harness, gpu_batch_size 512").async_scheduling
    with pytest.raises(InvalidSettingError, match="case r3, column notes: both num_scheduler_steps"):
        stated_scheduling("r3", "num_scheduler_steps 4, disable_overlap_scheduler False")


def test_the_overlap_scheduler_runs_with_the_balance_or_on_the_plain_replica():
    both = StatedScheduling(adp_batching_wait_iters=3, adp_timeout_iters=9, async_scheduling=True)
    f, note = replica_factory(both, 8)
    assert f.func is AdpBalancedReplica and f.keywords["async_scheduling"] is True and "overlap scheduler" in note
    f, note = replica_factory(StatedScheduling(async_scheduling=True), 4)
    assert f.func is PollingReplica and f.keywords == {"recv_interval_steps": 1, "async_scheduling": True}
    assert "overlap scheduler" in note
    f, note = replica_factory(both, 1)  # no attention DP: the balance is dropped (said), planning ahead stays
    assert f.func is PollingReplica and "ignored" in note and "overlap scheduler" in note


_FLAT = LinearStepModel(fixed_s=0.02, per_token_s=1e-7, per_kv_token_s=0.0, kv_capacity_tokens=400_000)


def _flat_ttft(factory, seed: int) -> float:
    res = simulate(_FLAT, PoissonArrivals(rate_per_s=40.0, input_tokens=_IN, output_tokens=_OUT), num_requests=400,
                   seed=seed, scheduler_config=SchedulerConfig(max_num_seqs=256), replica_factory=factory)
    return float(res.summary()["ttft_s_mean"])


@pytest.mark.parametrize("seed", [0, 1])
def test_the_overlap_scheduler_adds_one_step_before_the_first_token(seed):
    """Hand calculation on a flat 20 ms step that always has decodes running (40 requests/s, ~100
    output tokens: ~200 in flight): a request arriving in step k waits the rest of it (half a step on
    average) and is prefilled in step k + 1, first token at its end: 1.5 steps = 30 ms (plus the
    microseconds of per-token time). Planned ahead, step k + 1 is fixed when it arrives: prefilled in
    step k + 2, 2.5 steps = 50 ms. The difference is one step, 20 ms."""
    plain = _flat_ttft(None, seed)
    ahead = _flat_ttft(replica_factory(StatedScheduling(async_scheduling=True), 1)[0], seed)
    assert plain == pytest.approx(0.030, abs=0.004)
    assert ahead == pytest.approx(0.050, abs=0.004)
    assert ahead - plain == pytest.approx(0.020, abs=0.003)
