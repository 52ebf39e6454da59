"""serve / curve without --engine: one running-batch cap, the vLLM engine record's (catalog/engines.yaml), read from
that record and stated in the help and output (stop 46: the scheduler's own 256 stood beside the record's 1,024)."""

from __future__ import annotations

import json

from typer.testing import CliRunner

import inferchip.interfaces.cli  # noqa: F401  (registers the commands)
from inferchip.catalog.engines import get_engine
from inferchip.interfaces.app import app
from inferchip.performance.mapped import DEFAULT_CHUNK_TOKENS
from inferchip.sim.batching.scheduler import SchedulerConfig, default_engine_id, rank_scheduler


def test_the_default_scheduler_is_the_vllm_engine_records():
    rec = get_engine(default_engine_id())
    assert default_engine_id() == get_engine(None).id == "vllm"  # the catalogue's default: one engine for both
    # predict's chunk (performance.mapped) and the scheduler's are the same record's figure
    assert DEFAULT_CHUNK_TOKENS == rec.chunk_tokens
    cfg = SchedulerConfig()
    assert (cfg.max_num_seqs, cfg.max_num_batched_tokens) == (rec.max_num_seqs, rec.chunk_tokens)
    assert rank_scheduler(4).max_num_seqs == 4 * rec.max_num_seqs


def test_the_default_follows_the_record_it_reads(monkeypatch):
    """Read from the record at construction, not copied: a record saying 512 gives a cap of 512."""
    import inferchip.catalog.engines as engines

    rec = get_engine("vllm")
    monkeypatch.setattr(engines, "get_engine", lambda _id: rec.model_copy(update={"max_num_seqs": 512}))
    assert SchedulerConfig().max_num_seqs == 512


def test_serve_states_the_cap_it_runs_in_its_help_and_output():
    cap = get_engine("vllm").max_num_seqs
    runner = CliRunner()
    help_text = " ".join(runner.invoke(app, ["serve", "--help"], terminal_width=400).output.split())
    assert f"max_num_seqs {cap:,}" in help_text
    res = runner.invoke(app, ["serve", "--chip", "nvidia-h100-sxm-80gb", "--model", "meta-llama/Llama-3.2-1B",
                              "--rate", "1", "--requests", "20"], terminal_width=400)
    assert res.exit_code == 0, res.output
    assert f"max_num_seqs {cap:,}" in " ".join(res.output.split())
    js = runner.invoke(app, ["serve", "--chip", "nvidia-h100-sxm-80gb", "--model", "meta-llama/Llama-3.2-1B",
                             "--rate", "1", "--requests", "20", "--format", "json"])
    assert js.exit_code == 0, js.output
    assert json.loads(js.output)["engine"] is None  # no engine's host time: only the scheduler is the record's
