"""Closed-loop serving rows: engines as data (catalog/engines.yaml), the simulated benchmark
(sim/engines), the facts a row's id and notes state (validation/closed_loop_facts.py) and the validator's
predictions of the shipped InferenceMAX subset (tests/data/inferencemax_subset.csv)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inferchip.catalog.engines import engine_calibration, engine_for_software, get_engine, load_engines
from inferchip.errors import UnknownIdError
from inferchip.interfaces.cli import main
from inferchip.mapping.layout import Layout
from inferchip.sim import LinearStepModel, SchedulerConfig
from inferchip.sim.engines import EngineStepModel, closed_loop_run, mtp_output_steps, padded_batch, uniform_length
from inferchip.sim.engines.bench import missing_span_s, steady_weights
from inferchip.sim.step.steptime import StepTimer
from inferchip.spec.calibration import Calibration
from inferchip.validation.cases import COLUMNS, parse_cases, read_cases
from inferchip.validation.closed_loop import EngineRowError, check_span, num_requests, row_facts
from inferchip.validation.validate import validate_cases

DATA = Path(__file__).parent / "data"
SHIPPED = Path(__file__).parents[1] / "src" / "inferchip" / "catalog" / "inferencemax_cases.csv"


def _row(case_id: str = "imax-x-tp8ep1-1024-1024-c4-r1-tput", software: str = "vLLM; vllm/vllm-openai:v0.13.0",
         notes: str = "", **over: str):
    vals = {"case_id": case_id, "source_kind": "x", "source": "x", "accelerator": "nvidia-h100-sxm-80gb",
            "num_accelerators": "8", "software": software, "model": "openai/gpt-oss-120b", "weight_dtype": "mxfp4",
            "act_dtype": "", "kv_dtype": "", "tp": "8", "pp": "1", "ep": "1", "scenario": "server",
            "input_tokens": "1024", "output_tokens": "1024", "concurrency": "4",
            "metric": "output_tokens_per_s_total", "value": "1000", "unit": "tokens/s", "notes": notes}
    vals.update(over)
    return parse_cases(",".join(COLUMNS) + "\n" + ",".join(f'"{vals[c]}"' for c in COLUMNS) + "\n")[0]


# ------------------------------------------------------------------ engines as data
def test_every_engine_of_the_shipped_rows_is_in_the_catalogue():
    for case in read_cases(SHIPPED):
        assert engine_for_software(case.software) is not None, case.software


def test_engine_lookup_and_errors():
    assert engine_for_software("NVIDIA Dynamo + SGLang, PD-disaggregated").id == "dynamo"  # listed before sglang
    assert engine_for_software("SGLang; lmsysorg/sglang:v0.5.6").id == "sglang"
    assert engine_for_software("TensorRT-LLM (trtllm-serve)").id == "trtllm"
    assert engine_for_software("an engine nobody wrote") is None
    with pytest.raises(UnknownIdError, match="allowed: .*vllm"):
        get_engine("nope")


def test_engine_calibration_replaces_step_time_and_scales_kernels():
    cal = Calibration()
    eng = get_engine("vllm").model_copy(update={"step_overhead_s": 0.0007})
    eng = eng.model_copy(update={"kernel_efficiency": eng.kernel_efficiency.model_copy(update={"memory": 0.5})})
    out = engine_calibration(cal, eng)
    assert out.step_overhead_s == 0.0007
    assert out.memory_bandwidth_fraction == pytest.approx(cal.memory_bandwidth_fraction * 0.5)
    assert out.gemm_compute_fraction == cal.gemm_compute_fraction


def test_unknown_software_names_row_and_column():
    with pytest.raises(EngineRowError, match=r"line 2 .*column software"):
        row_facts(_row(software="MysteryServe 1.0"))


def test_padding_and_mtp_hand_values():
    # 1, 2, 4, then multiples of 8 up to the largest graph, unpadded above it
    assert padded_batch(np.array([0, 1, 2, 3, 5, 9, 511, 513]), 8, 512).tolist() == [0, 1, 2, 4, 8, 16, 512, 513]
    eng = get_engine("sglang")
    # one draft token accepted with probability 0.85: 1.85 tokens per step; two: 1 + 0.85 + 0.7225
    assert eng.mtp_tokens_per_step(1, 0.85) == pytest.approx(1.85)
    assert eng.mtp_tokens_per_step(2, 0.85) == pytest.approx(2.5725)


def test_lengths_uniform_in_range():
    u = uniform_length(1024)
    assert (u.mean_tokens - u.spread_tokens, u.mean_tokens + u.spread_tokens) == (820, 1024)
    m = mtp_output_steps(1024, 2.0)  # 1 + ceil((820-1)/2) = 411 .. 1 + ceil(1023/2) = 513
    assert (m.mean_tokens - m.spread_tokens, m.mean_tokens + m.spread_tokens) == (411, 513)


# ------------------------------------------------------------------ facts of a row
def test_dp_attention_tp1_ep8_is_one_worker_of_eight():
    f = row_facts(_row("imax-dsr1-x-tp1ep8-dpa-1024-1024-c4-r1-tput", tp="1", ep="8",
                       model="deepseek-ai/DeepSeek-R1", weight_dtype="fp8"))
    lay, _ = f.decode.layout()
    assert lay == Layout(tp=8, ep=8, attn_dp=True) and f.decode_workers == 1


def test_disaggregated_pools_and_mtp_from_notes():
    notes = ("MULTINODE PREFILL/DECODE-DISAGGREGATED: 4 prefill GPUs (1 worker(s), TP4/EP4, DP-attention false) + "
             "32 decode GPUs (4 worker(s), TP8/EP8, DP-attention false); speculative decoding: mtp")
    f = row_facts(_row("imax-d-mtp-disagg-p4x4e4-d32x8e8-1024-1024-c4-r1-tput", notes=notes, num_accelerators="36"))
    assert f.mtp and f.prefill is not None
    assert (f.prefill.chips, f.prefill_workers, f.decode.chips, f.decode_workers) == (4, 1, 8, 4)
    with pytest.raises(EngineRowError, match="column notes"):
        row_facts(_row("imax-d-disagg-p4-d32-1024-1024-c4-r1-tput", notes="no pools here"))


def test_tp_beyond_the_scaleup_domain_needs_a_spanning_layout():
    assert check_span(Layout(tp=8), 8, "c", "row") == []
    assert "spans 2" in check_span(Layout(tp=16, ep=16, attn_dp=True), 8, "c", "row")[0]
    with pytest.raises(EngineRowError, match="scale-up domain"):
        check_span(Layout(tp=16), 8, "c", "row")


def test_run_length_rounds():
    bench, n, notes = num_requests(100)
    assert bench == 1000 and 2 * 100 < n < bench and notes  # a steady middle between start and drain
    assert num_requests(1)[:2] == (10, 10)
    assert all(num_requests(c)[1] > 2 * c for c in (2, 4, 8, 100, 5000))


def test_steady_weights_hand_values():
    # 30 simulated requests of 5 clients for the benchmark's 50: start 5 and drain 5 as they are,
    # the 20 middle ones stand for the benchmark's 40 middle ones
    w = steady_weights(30, 5, 50)
    assert w[:5].tolist() == [1.0] * 5 and w[-5:].tolist() == [1.0] * 5
    assert np.allclose(w[5:25], 2.0) and math.isclose(w.sum(), 50.0)
    assert np.array_equal(steady_weights(50, 5, 50), np.ones(50))  # the whole benchmark: every request once
    with pytest.raises(ValueError, match="steady middle"):
        steady_weights(10, 5, 50)
    # 20 more requests of 4 clients whose loop lasts 2 s: 4 sends per 2 s, so 10 s more
    assert math.isclose(missing_span_s(20, np.array([1.5, 2.5]), 4), 10.0)


def test_rounds_stand_for_the_whole_benchmark():
    """A short run weighted as the benchmark agrees with the full-length run (same seed, same
    first requests): within a few percent on each figure of a queued loop."""
    step = _step(fixed_s=0.02, per_token_s=2e-5)
    cfg = SchedulerConfig(max_num_seqs=24)
    kw = dict(request_overhead_s=0.03, seed=3)
    full = closed_loop_run(step, 40, uniform_length(200), uniform_length(100), cfg, num_requests=400, **kw)
    short = closed_loop_run(step, 40, uniform_length(200), uniform_length(100), cfg, num_requests=160,
                            bench_requests=400, **kw)
    for a, b in ((short.output_tokens_per_s, full.output_tokens_per_s), (short.ttft_s, full.ttft_s),
                 (short.tpot_s, full.tpot_s)):
        assert abs(a / b - 1) < 0.05


# ------------------------------------------------------------------ the simulated benchmark
def _step(**over):
    base = dict(fixed_s=0.01, per_token_s=1e-5, per_kv_token_s=1e-8, kv_capacity_tokens=1_000_000)
    base.update(over)
    return LinearStepModel(**base)


def test_clients_above_the_kv_cache_are_queued_not_refused():
    step = _step(kv_capacity_tokens=3 * 300)  # three whole requests of <= 300 tokens fit
    fig = closed_loop_run(step, 12, uniform_length(100), uniform_length(200), SchedulerConfig(),
                          num_requests=48)
    # KV blocks are taken as sequences grow: at most capacity / shortest prompt (80) run at once
    assert fig.requests == 48 and fig.running_mean <= 900 / 80
    assert fig.queue_s > 0 and fig.ttft_s > fig.queue_s


def test_running_batch_cap_queues_the_rest_and_ttft_carries_it():
    cfg = SchedulerConfig(max_num_seqs=2, max_num_batched_tokens=8192)
    capped = closed_loop_run(_step(), 8, uniform_length(100), uniform_length(50), cfg, num_requests=64)
    free = closed_loop_run(_step(), 8, uniform_length(100), uniform_length(50), SchedulerConfig(), num_requests=64)
    assert capped.running_mean <= 2.0 + 1e-9
    # with 8 clients and 2 slots, a request waits about three lifetimes of the others
    assert capped.ttft_s > 2 * capped.e2e_s / 4 and capped.ttft_s > 5 * free.ttft_s


def test_littles_law_holds_in_the_simulated_benchmark():
    c = 16
    fig = closed_loop_run(_step(), c, uniform_length(200), uniform_length(300), SchedulerConfig(),
                          num_requests=10 * c)
    mean_out = (240 + 300) / 2
    assert fig.output_tokens_per_s == pytest.approx(c * mean_out / fig.e2e_s, rel=0.12)


def test_engine_step_pads_decode_batches_and_adds_verify_tokens():
    inner = _step(fixed_s=0.0, per_token_s=1.0)
    eng = EngineStepModel(inner, 8, 512, verify_tokens=1)
    t = eng.step_time_s(np.array([5]), np.array([5]), np.array([0]), np.array([0.0]))
    assert t[0] == pytest.approx(16.0)  # padded to 8 sequences, each verifying one draft token


# ------------------------------------------------------------------ roofline bound (property)
@settings(max_examples=15, deadline=None)
@given(c=st.integers(1, 48), inp=st.integers(16, 800), out=st.integers(2, 300),
       fixed=st.floats(1e-4, 5e-2), per_token=st.floats(0.0, 1e-4))
def test_no_prediction_beats_its_roofline(c, inp, out, fixed, per_token):
    """A step is never faster than its bound (here: the step model at batch 1 and no KV): TPOT at least
    that, throughput at most ``c`` sequences each emitting a token per such step."""
    step = _step(fixed_s=fixed, per_token_s=per_token)
    fig = closed_loop_run(step, c, uniform_length(inp), uniform_length(out), SchedulerConfig(),
                          num_requests=3 * c)
    bound = float(step.step_time_s(np.array([1]), np.array([1]), np.array([0]), np.array([0.0]))[0])
    assert fig.tpot_s >= bound * (1 - 1e-9)
    assert fig.output_tokens_per_s <= c / bound * (1 + 1e-9)
    assert fig.ttft_s >= bound * (1 - 1e-9)


def test_real_model_prediction_above_its_roofline():
    """The validator's gpt-oss row on H100: TPOT is at least the weights each step must read
    (the active expert and attention bytes of one token) over the chips' peak bandwidth."""
    from inferchip.catalog.chips import get_chip_params

    case = [c for c in read_cases(DATA / "inferencemax_subset.csv") if "h100" in c.case_id and
            c.metric == "tpot_ms"][0]
    res = validate_cases([case], Calibration())[0]
    assert res.status == "ok", res.reason
    chip = get_chip_params(case.accelerator, "central")
    active_bytes = 5.1e9 * 0.5  # gpt-oss-120b: 5.1 B active parameters, at least 4 bits each
    assert res.predicted / 1e3 >= active_bytes / (case.num_accelerators * chip.memory_bytes_per_s)


# ------------------------------------------------------------------ the validator on the shipped subset
@pytest.fixture(scope="module")
def subset_results():
    cases = read_cases(DATA / "inferencemax_subset.csv")
    return cases, validate_cases(cases, Calibration(), compare=False)


def test_every_row_is_predicted_or_says_why(subset_results):
    cases, results = subset_results
    assert len(results) == len(cases)
    for r in results:
        assert r.status == "ok" or r.reason, r.case.case_id
        if r.status == "ok":
            assert r.server_model == "sim" and r.sim["kind"] == "closed_loop"
            assert math.isfinite(r.predicted) and r.predicted > 0


def test_one_run_gives_its_three_rows(subset_results):
    _, results = subset_results
    runs: dict = {}
    for r in results:
        if r.status == "ok":
            runs.setdefault(r.case.case_id.rsplit("-", 1)[0], []).append(r)
    for rows in runs.values():
        assert len({(x.sim["ttft_ms"], x.sim["tpot_ms"]) for x in rows}) == 1


def test_step_timer_cache_is_bounded():
    from inferchip.sim.step.steptime import PREFETCH_BUCKETS, PREFETCH_KV_AHEAD, PREFETCH_KV_BEHIND

    bounded, free = StepTimer(_step(), max_cached=50), StepTimer(_step())
    fill = (2 * PREFETCH_BUCKETS + 1) * (PREFETCH_KV_BEHIND + PREFETCH_KV_AHEAD + 1)  # the most one miss stores
    for n in range(1, 400):
        for t in (bounded, free):
            t.time_s(n, 1, 100 * n, n * n)
    assert len(bounded._cache) + len(bounded._spare) <= 50 + fill < len(free._cache) + len(free._spare)
    assert bounded.time_s(7, 1, 700, 49) == free.time_s(7, 1, 700, 49)  # the same values after a restart


def test_cli_engine_option_refuses_an_unknown_engine(capsys):
    code = main(["validate", str(DATA / "inferencemax_subset.csv"), "--engine", "nope"])
    assert code == 2
    assert "unknown engine" in capsys.readouterr().err


def test_catalogue_bounds_documented():
    for e in load_engines().engines:
        assert 0 <= e.step_overhead_s <= 0.005 and 0 <= e.request_overhead_s <= 1.0


# ------------------------------------------------------------------ per-layer formats
def test_checkpoint_map_keeps_gpt_oss_attention_16_bit():
    from inferchip.catalog.checkpoints import attention_weight_format

    assert attention_weight_format("openai/gpt-oss-120b", "mxfp4") == "bf16"  # modules_to_not_convert: self_attn
    assert attention_weight_format("openai/gpt-oss-120b", "fp8") is None  # another quantisation than the checkpoint's
    assert attention_weight_format("deepseek-ai/DeepSeek-R1", "fp8") is None  # block FP8 of every linear layer


def test_per_layer_weight_bytes_hand_value():
    """Weights held per chip move by exactly the attention projections' elements x the byte difference."""
    from inferchip.catalog.models import load_model
    from inferchip.mapping.memory_fit import Formats, weight_bytes_per_chip
    from inferchip.mapping.sharding import shard
    from inferchip.spec.formats import BYTES_PER_ELEMENT

    ms = load_model("openai/gpt-oss-120b")
    sm = shard(ms, Layout(tp=2))
    flat, mapped = Formats("mxfp4", "bf16", "bf16"), Formats("mxfp4", "bf16", "bf16", attention_weights="bf16")
    attn = sum(layer.count * g.weight_elements for layer in sm.layers for g in layer.gemms
               if g.op_class == "attention_proj")
    assert attn > 0
    diff = weight_bytes_per_chip(ms, sm, mapped) - weight_bytes_per_chip(ms, sm, flat)
    assert diff == pytest.approx(attn * (BYTES_PER_ELEMENT["bf16"] - BYTES_PER_ELEMENT["mxfp4"]))


def test_per_layer_map_slows_a_memory_bound_decode_step():
    from inferchip.catalog.chips import get_chip_params
    from inferchip.catalog.models import load_model
    from inferchip.performance.setting import resolve_setting

    cp, ms = get_chip_params("nvidia-h100-sxm-80gb", "central"), load_model("openai/gpt-oss-120b")
    t = []
    for att in ("mxfp4", "bf16"):  # every layer 4-bit, then the checkpoint's map
        s = resolve_setting(cp, ms, count=2, weights="mxfp4", tp=2, calibration=Calibration(), attention_weights=att)
        t.append(float(s.mapped(s.layout).replica_step_s(np.array([1.0]), np.array([1.0]), np.array([1000.0]),
                                                          np.array([0.0]))[0][0]))
    assert t[1] > t[0]
