"""Server rows predicted with the serving simulator (validation/server.py) and the
`inferchip validate --server-model` flag."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from conftest import server_case, server_model
from inferchip.interfaces.cli import main
from inferchip.mapping.layout import Layout
from inferchip.sim import LinearStepModel
from inferchip.spec.calibration import Calibration, DatasetLengths
from inferchip.validation import server as vs
from inferchip.validation import stated_engine as se
from inferchip.validation.cases import read_cases
from inferchip.validation.plan import Plan, operating_point, plan_for
from inferchip.validation.validate import validate_cases

DATA = Path(__file__).parent / "data"
LAYOUT = Layout(replicas=2)


def _case(notes: str, **over: str):
    return server_case(notes, "s1", **over)


@pytest.fixture(scope="module")
def mm():
    return server_model()


def _run(mm, notes: str):
    c = _case(notes)
    plan = plan_for(c, DatasetLengths())
    analytic = operating_point(mm, plan, LAYOUT.replicas)
    return plan, analytic, vs.simulate_row(c, plan, LAYOUT, analytic, vs.ReplicaSim(mm))


# ------------------------------------------------------------------ facts from the notes
def test_stated_batch_and_requests_read_the_text():
    assert se.stated_batch("config gpu_batch_size 1024, tensor_parallelism 2 (closed/NVIDIA)") == (1024, None)
    assert se.stated_batch("max_num_seqs=512; max_num_batched_tokens: 16384") == (512, 16384)
    assert se.stated_batch("Intel static batch size 64") == (64, None)
    assert se.stated_batch("13,368 samples, no engine settings") == (None, None)
    assert vs.stated_requests("online serving benchmark, 500 requests, request rate 2") == 500
    assert vs.stated_requests("completed 13.33 samples/s") is None


def test_a_stated_batch_size_sets_the_scheduler_else_the_kv_cache_decides(mm):
    plan = plan_for(_case("x"), DatasetLengths())
    cfg, why = se.scheduler_config(_case("gpu_batch_size 8"), mm, plan, 100_000)
    assert cfg.max_num_seqs == 8 and "stated" in why
    assert cfg.max_num_batched_tokens == mm.chunk_tokens  # 8192, the engine's default budget
    # No batch size: what 100,000 KV tokens hold at the mean in-flight context of fixed lengths,
    # 300 + 200^2 / (2 x 200) = 400 tokens -> 250 sequences.
    cfg, why = se.scheduler_config(_case("nothing stated"), mm, plan, 100_000)
    assert cfg.max_num_seqs == 250 and "KV cache" in why
    cfg, _ = se.scheduler_config(_case("max_num_seqs 9000"), mm, plan, 100_000)
    assert cfg.max_num_batched_tokens == 9000  # the budget never goes below max_num_seqs


def test_beam_requests_cost_beams_decode_sequences_and_one_prefill():
    inner = LinearStepModel(per_token_s=1.0, per_decode_seq_s=10.0, per_kv_token_s=100.0, per_attn_pair_s=1000.0,
                            kv_capacity_tokens=1000, num_chips=2)
    beam = vs.BeamStepModel(inner, 4)
    # 2 decoding requests (8 beam sequences) + an 8-token prefill chunk: tokens 8 + 8 = 16, sequences 8,
    # KV 4 x 50 = 200, prefill pairs unchanged: 16 + 80 + 20,000 + 36,000.
    assert float(beam.step_time_s(10, 2, 50, 36)) == pytest.approx(56096.0)
    assert beam.kv_capacity_tokens == 250 and beam.num_chips == 2  # each request holds 4 sequences of KV


# ------------------------------------------------------------------ the search
def test_generous_limits_give_about_the_analytic_max_throughput(mm):
    """TTFT 500 ms / TPOT 30 ms are loose here (one sequence: TPOT ~8 ms; full memory: ~18 ms), so
    both models end near the memory-bound maximum. They differ by design: the analytic model
    reserves each sequence's final context, the paged cache holds the current one, and p99 is
    not a mean; 20% covers that."""
    plan, analytic, out = _run(mm, '"TTFT p99<=500 ms, TPOT p99<=30 ms"')
    assert out.kind == "max_rate" and out.feasible
    analytic_rate = analytic.tokens_per_s_replica / plan.outputs.mean
    assert out.rate_per_s == pytest.approx(analytic_rate, rel=0.2)
    assert out.p99_s[0] <= 0.5 and out.p99_s[1] <= 0.030  # the rate found meets the limits it was searched under
    assert out.tokens_per_s == pytest.approx(out.rate_per_s * 200.0)  # tokens/s = rate x mean output


def test_tight_limits_lower_the_rate(mm):
    """A TPOT limit of 9 ms against ~8.2 ms for a lone sequence allows only a small batch."""
    _, _, loose = _run(mm, '"TTFT p99<=500 ms, TPOT p99<=30 ms"')
    _, _, tight = _run(mm, '"TTFT p99<=500 ms, TPOT p99<=9 ms"')
    assert tight.feasible and tight.p99_s[1] <= 0.009
    assert tight.rate_per_s < 0.5 * loose.rate_per_s


def test_a_stated_batch_size_caps_the_simulated_batch(mm):
    """With at most 8 sequences a replica finishes at most 8 requests per 200 decode steps of at
    least the one-sequence step time: rate <= 8 / (200 x TPOT(1))."""
    plan, _, out = _run(mm, '"gpu_batch_size 8; TTFT p99<=500 ms, TPOT p99<=30 ms"')
    one = operating_point(mm, Plan("closed_loop", plan.inputs, plan.outputs, concurrency=2.0), 2)
    assert out.summary["running_seqs_mean"] <= 8.0
    assert 0 < out.rate_per_s <= 8.0 / (200.0 * one.tpot_s)
    assert "max_num_seqs 8 (batch size 8 stated)" in out.notes[0]


def test_the_row_search_is_the_simulators_search_with_the_validation_rules(mm):
    """One rate search in the project: the row's search is sim.runs.search.max_rate_under_slo, started at
    the analytic rate, stepping by about RATE_STEP on the anchored grid, bisected to REL_TOL, on the replica's shared
    step timer."""
    from inferchip.sim.runs.search import ServerSearchResult, grid_points_per_octave

    c = _case('"TTFT p99<=500 ms, TPOT p99<=30 ms"')
    plan = plan_for(c, Calibration())
    analytic = operating_point(mm, plan, LAYOUT.replicas)
    sim = vs.ReplicaSim(mm)
    out = vs.simulate_row(c, plan, LAYOUT, analytic, sim)
    (found,) = sim.searches.values()
    assert isinstance(found, ServerSearchResult) and found.slo_e2e_s is None
    assert (found.slo_ttft_s, found.slo_tpot_s, found.percentile) == (0.5, 0.030, vs.PERCENTILE)
    rates = [t.rate_per_s for t in found.trials]
    turn = next(i for i, t in enumerate(found.trials) if t.meets_slo != found.trials[0].meets_slo)
    per_octave = grid_points_per_octave(vs.REL_TOL)  # the rate grid 2**(k / per_octave), anchored at 1 request/s
    stride = round(per_octave * math.log2(vs.RATE_STEP))  # the bracket's step in grid points: about RATE_STEP
    k0 = math.log2(rates[0]) * per_octave / stride
    assert k0 == pytest.approx(round(k0), abs=1e-9)  # the first rate is a multiple of the stride on the grid
    step = 2.0 ** (stride / per_octave) if found.trials[0].meets_slo else 2.0 ** (-stride / per_octave)
    assert abs(math.log(2.0 ** (stride / per_octave) / vs.RATE_STEP)) <= math.log1p(vs.REL_TOL) / 2
    assert turn >= 1 and rates[: turn + 1] == pytest.approx([rates[0] * step**k for k in range(turn + 1)])
    failing = min(t.rate_per_s for t in found.trials if not t.meets_slo)
    assert found.bracketed and failing / out.rate_per_s - 1 <= vs.REL_TOL
    assert out.trials == len(found.trials) and out.rate_per_s == found.rate_per_s
    assert all(t.num_requests == vs.run_length(t.rate_per_s, vs.lifetime_s(vs.row_limits(c), plan, analytic))
               for t in found.trials)
    assert sim.timer.num_evaluations > 0  # every trial priced its steps through the replica's one cache


def test_the_simulation_is_deterministic(mm):
    _, _, a = _run(mm, '"TTFT p99<=500 ms, TPOT p99<=30 ms"')
    _, _, b = _run(mm, '"TTFT p99<=500 ms, TPOT p99<=30 ms"')
    assert a.rate_per_s == b.rate_per_s and a.summary == b.summary and a.trials == b.trials


def test_an_open_loop_row_is_simulated_at_its_stated_rate(mm):
    c = _case('"request rate (QPS column) 2, 500 requests"', metric="ttft_ms", unit="ms", value="50")
    plan = plan_for(c, DatasetLengths())
    out = vs.simulate_row(c, plan, LAYOUT, operating_point(mm, plan, 2), vs.ReplicaSim(mm))
    # 2 requests/s over 2 replicas: 1 per replica, 500 requests split in two; light load, so the mean
    # TTFT is about one prefill of 300 tokens, well under a decode of 200 tokens.
    assert out.kind == "open_loop" and out.rate_per_s == 1.0 and out.num_requests == 250 and out.feasible
    assert 0 < out.summary["ttft_s_mean"] < 200 * out.summary["tpot_s_mean"]
    assert vs.sim_metric_value(c, plan, out, LAYOUT) == pytest.approx(out.summary["ttft_s_mean"] * 1e3)


def test_a_stated_scheduling_interval_holds_new_requests_in_the_row_simulation(mm):
    """vLLM multi-step scheduling stated in the notes: the row's replica takes new requests every 8
    decode steps, so the same arrivals reach their first token later (and the notes say why)."""
    outs = []
    for extra in ("", ", num_scheduler_steps 8"):
        c = _case(f'"request rate (QPS column) 2, 500 requests{extra}"', metric="ttft_ms", unit="ms", value="50")
        plan = plan_for(c, DatasetLengths())
        outs.append(vs.simulate_row(c, plan, LAYOUT, operating_point(mm, plan, 2), vs.ReplicaSim(mm)))
    plain, polled = outs
    assert "every 8 decode steps" in polled.notes[0] and "decode steps" not in plain.notes[0]
    assert polled.summary["ttft_s_mean"] > plain.summary["ttft_s_mean"]


# ------------------------------------------------------------------ validate and the command
def test_parallel_workers_give_the_same_predictions():
    cases = read_cases(DATA / "validation_small.csv")
    cal = Calibration()
    one = validate_cases(cases, cal, workers=1)
    two = validate_cases(cases, cal, workers=2)
    assert [(r.case.case_id, r.predicted, r.by_model) for r in one] == [(r.case.case_id, r.predicted, r.by_model)
                                                                         for r in two]


@pytest.mark.parametrize("model, note", [("sim", "server model: simulator"), ("analytic", "server model: analytic")])
def test_the_server_model_flag_and_both_models_in_the_output(model, note, capsys):
    rc = main(["validate", str(DATA / "validation_small.csv"), "--format", "json", "--calibration", "none",
               "--server-model", model, "--workers", "1"])
    assert rc == 0
    out = json.loads(capsys.readouterr().out)
    assert out["server_model"] == model
    (row,) = [c for c in out["cases"] if c["scenario"] == "server"]
    assert row["server_model"] == model and any(n.startswith(note) for n in row["notes"])
    assert row["predicted"] == row["predicted_by_model"][model]
    other = "analytic" if model == "sim" else "sim"
    assert row["predicted_by_model"][other] > 0 and row["predicted_by_model"][other] != row["predicted"]
    cmp = out["summary"]["server_models"]["server rows"]
    assert cmp["sim"]["predicted"] == cmp["analytic"]["predicted"] == 1
    want = {m: abs(row["predicted_by_model"][m] / row["measured"] - 1) * 100 for m in ("sim", "analytic")}
    assert cmp["sim"]["median_ape"] == pytest.approx(want["sim"])
    assert cmp["analytic"]["median_ape"] == pytest.approx(want["analytic"])


def test_the_table_shows_both_server_models_and_a_bad_model_is_refused(capsys):
    rc = main(["validate", str(DATA / "validation_small.csv"), "--calibration", "none", "--workers", "1"])
    assert rc == 0
    text = capsys.readouterr().out
    assert "server rows under both server models" in text and "sim (used)" in text and "analytic" in text
    rc = main(["validate", str(DATA / "validation_small.csv"), "--server-model", "guess"])
    assert rc == 2
