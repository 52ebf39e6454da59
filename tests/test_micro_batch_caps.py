"""A pipeline-parallel TensorRT-LLM replica caps each of its ``pp`` micro-batches, not the replica's step
(``EngineSpec.micro_batch_caps``, validation/stated_engine.py ``scheduler_config`` and ``micro_batches``), and a
stated step token budget below the batch size caps the running batch (a decoding sequence is one token of
the step: TensorRT-LLM's ``MicroBatchScheduler``)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import make_chip, server_case, server_model, tiny_dense
from inferchip.catalog.engines import get_engine
from inferchip.mapping.layout import Layout
from inferchip.mapping.memory_fit import Formats
from inferchip.performance.mapped import map_model
from inferchip.spec.calibration import Calibration, DatasetLengths
from inferchip.validation import server as vs
from inferchip.validation import stated_engine as se
from inferchip.validation.plan import operating_point, plan_for

TRT = "TensorRT-LLM-based NVIDIA MLPerf harness; TensorRT 10.8"


@pytest.fixture(scope="module")
def mm():
    return server_model()


def _plan():
    return plan_for(server_case("x"), DatasetLengths())


def test_only_tensorrt_llm_caps_each_micro_batch():
    assert get_engine("trtllm").micro_batch_caps
    assert not any(get_engine(e).micro_batch_caps for e in ("vllm", "sglang", "atom", "dynamo"))


def test_micro_batches_are_the_layouts_pp_on_an_engine_that_caps_each():
    trt = server_case("x", software=TRT, pp="2")
    assert se.micro_batches(trt, Layout(pp=2, replicas=4)) == 2
    assert se.micro_batches(trt, Layout(pp=1, replicas=8)) == 1  # one stage: one batch per step
    assert se.micro_batches(server_case("x", software="vLLM 0.9.0", pp="2"), Layout(pp=2)) == 1
    assert se.micro_batches(server_case("x", software="", pp="2"), Layout(pp=2)) == 1  # blank: the default, vLLM


def test_stated_caps_by_hand(mm):
    plan = _plan()
    # gpu_batch_size 1024 on tp 1 x pp 2 (the DGX H100 v5.0 Server run): 1024 per micro-batch, 2048 in flight;
    # no budget stated: the engine's 8192 per micro-batch, 16384 over the replica step's two micro-batches.
    cfg, why = se.scheduler_config(server_case("gpu_batch_size 1024"), mm, plan, 10**6, 1, 2)
    assert (cfg.max_num_seqs, cfg.max_num_batched_tokens) == (2048, 16384)
    assert "per micro-batch, x2 micro-batches" in why
    # The Nebius H200 v5.1 Server config: gpu_batch_size 2048, max_num_tokens 1536, pp 1: a step carries at most
    # 1536 tokens, one per decoding sequence, so at most 1536 sequences run.
    cfg, why = se.scheduler_config(server_case('"gpu_batch_size 2048, max_num_tokens 1536"'), mm, plan, 10**6)
    assert (cfg.max_num_seqs, cfg.max_num_batched_tokens) == (1536, 1536) and "capped at 1536" in why
    # Both: 2 ranks x 2 micro-batches of 2048 sequences and 1536 tokens: min(8192, 6144) = 6144.
    cfg, _ = se.scheduler_config(server_case('"gpu_batch_size 2048, max_num_tokens 1536"'), mm, plan, 10**6, 2, 2)
    assert (cfg.max_num_seqs, cfg.max_num_batched_tokens) == (6144, 6144)
    # A budget above the batch leaves it (the B200 v5.1 Llama-2-70B row: 2048 and 3584).
    cfg, _ = se.scheduler_config(server_case('"gpu_batch_size 2048, max_num_tokens 3584"'), mm, plan, 10**6)
    assert (cfg.max_num_seqs, cfg.max_num_batched_tokens) == (2048, 3584)
    # No batch stated: the KV rule is the replica's (100,000 tokens / 400-token contexts), micro-batches or not.
    assert se.scheduler_config(server_case("nothing stated"), mm, plan, 100_000, 1, 2)[0].max_num_seqs == 250


@settings(max_examples=80, deadline=None)
@given(seqs=st.integers(1, 4096), tokens=st.one_of(st.none(), st.integers(1, 16384)), dp=st.integers(1, 8),
       micro=st.integers(1, 4))
def test_caps_scale_with_ranks_and_micro_batches_and_a_step_holds_its_batch(mm, seqs, tokens, dp, micro):
    notes = f"gpu_batch_size {seqs}" + ("" if tokens is None else f", max_num_tokens {tokens}")
    cfg, _ = se.scheduler_config(server_case(f'"{notes}"'), mm, _plan(), 10**6, dp, micro)
    k = dp * micro
    assert cfg.max_num_seqs == k * (seqs if tokens is None else min(seqs, tokens))
    assert cfg.max_num_batched_tokens == max(k * (tokens or mm.chunk_tokens), cfg.max_num_seqs)
    assert cfg.max_num_seqs <= cfg.max_num_batched_tokens  # every running sequence decodes in each step


def test_a_pp2_tensorrt_llm_replica_runs_more_than_one_micro_batchs_cap():
    """gpu_batch_size 8 on a 2-stage replica: TensorRT-LLM holds 8 per micro-batch, 16 in flight. Under loose limits
    the rate search fills the replica past 8 sequences (the cap of the replica step before), never past 16."""
    layout = Layout(pp=2, replicas=1)
    mm2 = map_model(tiny_dense(layers=32, hidden=4096, heads=32, kv_heads=8, ffn=14336),
                    make_chip(usable_memory_bytes=30 * 2**30), layout, Formats(), Calibration())
    c = server_case('"gpu_batch_size 8; TTFT p99<=2000 ms, TPOT p99<=200 ms"', software=TRT, pp="2")
    plan = plan_for(c, DatasetLengths())
    out = vs.simulate_row(c, plan, layout, operating_point(mm2, plan, 1), vs.ReplicaSim(mm2))
    assert "max_num_seqs 16" in out.notes[0]
    assert 8.0 < out.summary["running_seqs_mean"] <= 16.0


def test_a_micro_batch_flag_that_is_not_a_boolean_is_refused(tmp_path):
    """engines.yaml micro_batch_caps is a yes/no engine fact: a count there is refused naming the file, the field
    and the value (no number of micro-batches is read from it: they are the layout's pp)."""
    from pathlib import Path

    import yaml

    from inferchip.catalog.engines import load_engines
    from inferchip.errors import SpecError
    src = Path(__file__).resolve().parents[1] / "src" / "inferchip" / "catalog" / "engines.yaml"
    data = yaml.safe_load(src.read_text())
    next(e for e in data["engines"] if e["id"] == "trtllm")["micro_batch_caps"] = 2
    bad = tmp_path / "engines.yaml"
    bad.write_text(yaml.safe_dump(data))
    with pytest.raises(SpecError, match=r"engines\.yaml: engines\.\d+\.micro_batch_caps = 2: .*boolean"):
        load_engines(bad)


@pytest.mark.parametrize("notes", ["gpu_batch_size 0, max_num_tokens 1024", "gpu_batch_size 1024, max_num_tokens=0"])
def test_a_stated_batch_or_budget_of_zero_is_refused_naming_the_row(mm, notes):
    """A micro-batch cap of 0 stated in the notes was read as not stated (the KV rule or the engine's chunk instead):
    it is refused naming the row, the column and the setting, through the scheduler and the validator alike."""
    from inferchip.errors import InvalidSettingError
    setting = notes.split(", ")[0] if "size 0" in notes else notes.split(", ")[1]
    with pytest.raises(InvalidSettingError, match=rf"case r9, column notes: '{setting}'.*allowed: a whole number"):
        se.stated_batch(notes, "r9")
    with pytest.raises(InvalidSettingError, match=rf"case s1, column notes: '{setting}'"):
        se.scheduler_config(server_case(f'"{notes}"'), mm, _plan(), 10**6, 1, 2)
    assert se.stated_batch("gpu_batch_size 10, max_num_tokens 2048", "r9") == (10, 2048)
