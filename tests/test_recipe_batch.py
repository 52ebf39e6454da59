"""Launch-recipe running-batch caps of disaggregated workers (engine field ``recipe_batch``): which
entry a row gets, and what a generation-side cap does to a closed loop (a queue before the decode
pool, in TTFT, by Little's law)."""

from __future__ import annotations

import pytest

from inferchip.catalog.engines import get_engine
from inferchip.sim import LinearStepModel, SchedulerConfig
from inferchip.sim.engines.bench import closed_loop_disagg_run
from inferchip.sim.load.lengths import FixedLength
from inferchip.spec.engine import EngineSpec, RecipeBatch


def _engine(*entries: RecipeBatch) -> EngineSpec:
    return EngineSpec(id="x", name="x", match=("x",), step_overhead_s=0, request_overhead_s=0, max_num_seqs=64,
                      chunk_tokens=4096, recipe_batch=entries)


def test_entry_matching_by_role_software_model_length_and_layout():
    eng = _engine(RecipeBatch(role="prefill", software="trt", model="deepseek", input_tokens=1024, requests=4),
                  RecipeBatch(role="prefill", software="trt", requests=1),
                  RecipeBatch(role="decode", software="trt", mtp=True, decode_chips=16, requests=64),
                  RecipeBatch(role="decode", software="trt", prefill_workers=2, decode_chips=16, requests=256))
    key = dict(software="Dynamo + TRT", model="deepseek-ai/DeepSeek-R1", decode_chips=16)
    assert eng.batch_on("prefill", input_tokens=1024, **key).requests == 4
    assert eng.batch_on("prefill", input_tokens=8192, **key).requests == 1  # the first entry names 1024 only
    assert eng.batch_on("prefill", software="sglang", model="deepseek") is None  # no fragment: no cap
    assert eng.batch_on("decode", mtp=True, prefill_workers=2, **key).requests == 64  # first match wins
    assert eng.batch_on("decode", mtp=False, prefill_workers=2, **key).requests == 256
    assert eng.batch_on("decode", mtp=False, prefill_workers=1, **key) is None


def test_shipped_dynamo_recipes():
    dyn = get_engine("dynamo")
    trt, sgl, ds = "NVIDIA Dynamo + TensorRT-LLM, PD-disaggregated", "NVIDIA Dynamo + SGLang", "deepseek-ai/DeepSeek-R1"
    # InferenceMAX nvidia-master.yaml: 1k/1k context workers batch 4 / 4608 tokens, 8k/1k batch 1 / 8448 tokens
    assert (dyn.batch_on("prefill", trt, ds, 1024).requests, dyn.batch_on("prefill", trt, ds, 1024).tokens) == (4, 4608)
    assert (dyn.batch_on("prefill", trt, ds, 8192).requests, dyn.batch_on("prefill", trt, ds, 8192).tokens) == (1, 8448)
    # 1k/1k, 2 context workers, one DEP16 generation worker: DECODE_MAX_BATCH_SIZE 256 (4,096 sequences)
    assert dyn.batch_on("decode", trt, ds, 1024, False, 2, 16, 1).requests == 256
    assert dyn.batch_on("decode", trt, ds, 1024, True, 2, 16, 1).requests == 128
    # the 2-worker SGLang layout (FP8 DEP8 prefill, default.sh): a per-rank prefill budget only, no decode cap
    assert dyn.batch_on("decode", sgl, ds, 1024, False, 2, 16, 1) is None
    rb = dyn.batch_on("prefill", sgl, ds, 1024, False, 2, 16, 1, weights="fp8")
    assert (rb.requests, rb.tokens) == (3750, 16384)
    # the DEP8 budget is the FP8 scripts': an FP4 run of the same worker count and length does not take it
    assert dyn.batch_on("prefill", sgl, ds, 1024, False, 2, 16, 1, weights="fp4") is None
    assert dyn.batch_on("prefill", sgl, ds, 1024, False, 4, 16, 1, weights="fp8") is None  # the FP4 recipe's 4
    assert dyn.batch_on("prefill", sgl, ds, 1024, False, 4, 16, 1, weights="fp4").tokens == 16384
    assert get_engine("sglang").batch_on("decode", trt, ds, 1024, False, 2, 16, 1) is None


def _loop(decode_cap: int, clients: int = 12):
    """Prefill of 100 tokens in 1 ms steps, decode steps of 10 ms whatever the batch, 101 output tokens:
    a decode lasts 100 steps = 1 s."""
    pre = LinearStepModel(fixed_s=0.001, per_token_s=0.0, per_kv_token_s=0.0, kv_capacity_tokens=10_000_000)
    dec = LinearStepModel(fixed_s=0.010, per_token_s=0.0, per_kv_token_s=0.0, kv_capacity_tokens=10_000_000)
    return closed_loop_disagg_run(pre, dec, clients, FixedLength(tokens=100), FixedLength(tokens=101),
                                  SchedulerConfig(max_num_seqs=64, max_num_batched_tokens=8192),
                                  SchedulerConfig(max_num_seqs=decode_cap, max_num_batched_tokens=8192),
                                  num_requests=30 * clients, seed=0, prefill_replicas=1, decode_replicas=1,
                                  kv_bytes_per_token=1.0, link_bytes_per_s=1e12, link_latency_s=0.0)


def test_decode_cap_queues_clients_by_littles_law():
    """By hand: 12 clients, 8 decode slots, each decode 1 s. The slots stay full, so 8 requests finish
    per second; the other 4 clients wait, each (12 - 8) / 8 = 0.5 s on average (Little's law), before
    their first token. Without a cap every client decodes at once and waits only its prefill."""
    free, capped = _loop(64), _loop(8)
    assert free.ttft_s < 0.02
    assert capped.ttft_s == pytest.approx(0.5, rel=0.2)
    assert capped.tpot_s == pytest.approx(free.tpot_s, rel=0.05)  # the cap queues, it does not slow a step
    assert capped.output_tokens_per_s == pytest.approx(8 * 101 / 1.0, rel=0.15)


def test_shipped_sglang_fp4_1k_prefill_budget():
    """srt-slurm gb200-fp4 1k1k max-tpt / mid-curve (4 prefill workers, dp 4): chunked-prefill-size 65,536, which
    SGLang divides by dp under attention DP, below max-prefill-tokens 32,768: 65,536 // 4 = 16,384 tokens a rank;
    max-running-requests 30,000 // 4 = 7,500. Other SGLang layouts keep the engine's budget."""
    dyn = get_engine("dynamo")
    sgl, ds = "NVIDIA Dynamo + SGLang, PD-disaggregated; lmsysorg/sglang:v0.5.5.post2", "deepseek-ai/DeepSeek-R1"
    rb = dyn.batch_on("prefill", sgl, ds, 1024, False, 4, 48, 1, weights="fp4")
    assert (rb.requests, rb.tokens) == (30_000 // 4, min(65_536 // 4, 32_768))
    assert dyn.batch_on("prefill", sgl, ds, 1024, False, 4, 32, 1, weights="fp4") == rb  # mid-curve (d32)
    for workers in (1, 2, 3):  # low-latency (1), FP8 1k/1k p16 (2) and p24 (3): not this recipe
        assert dyn.batch_on("prefill", sgl, ds, 1024, False, workers, 48, 1, weights="fp4") != rb
    assert dyn.batch_on("prefill", sgl, ds, 8192, False, 4, 16, 1, weights="fp4") is None  # 8k/1k: others
    assert dyn.batch_on("decode", sgl, ds, 1024, False, 4, 48, 1, weights="fp4") is None  # prefill only


def test_shipped_sglang_fp8_prefill_budgets():
    """ai-dynamo/dynamo gb200-fp8 launch scripts, per attention-DP rank (flag // dp; max-prefill-tokens unset, so
    SGLang's 16,384 default): default.sh (1k/1k, DEP8, 2 or 3 workers) and 8k1k-max-tpt.sh (8k/1k, 5 DEP8 workers)
    131,072 // 8 = 16,384 (= the 16,384 default, the smaller of the two), 30,000 // 8 = 3,750."""
    dyn = get_engine("dynamo")
    sgl, ds = "NVIDIA Dynamo + SGLang, PD-disaggregated; lmsysorg/sglang:v0.5.5.post2", "deepseek-ai/DeepSeek-R1"
    assert dyn.batch_on("prefill", sgl, ds, 1024, False, 1, 4, 2, weights="fp8") is None  # low latency: not these
    for workers, isl in ((2, 1024), (3, 1024), (5, 8192)):
        rb = dyn.batch_on("prefill", sgl, ds, isl, False, workers, 32, 1, weights="fp8")
        assert (rb.requests, rb.tokens) == (30000 // 8, min(131072 // 8, 16384))
    assert dyn.batch_on("prefill", sgl, ds, 8192, False, 1, 4, 1, weights="fp8") is None  # FP8 8k/1k low latency
    assert dyn.batch_on("prefill", sgl, ds, 8192, False, 10, 32, 1, weights="fp4") is None  # FP4 8k/1k (10 TP4 workers)
    trt = "NVIDIA Dynamo + TensorRT-LLM, PD-disaggregated"
    assert dyn.batch_on("prefill", trt, ds, 1024, False, 1, 4, 4).tokens == 4608  # TensorRT-LLM rows keep theirs


@pytest.mark.parametrize(("field", "fmt"), [("recipe_batch", "nvfp4"), ("recv_interval", "fp6")])
def test_an_entry_weight_format_that_names_no_format_is_refused(tmp_path, field, fmt):
    """An entry matches a row's weight format by equality: a typo ('nvfp4' for fp4) would match no row, silently;
    the catalogue refuses it naming the file, engine, field, entry and the formats allowed (review37b)."""
    from pathlib import Path

    import yaml

    from inferchip.catalog.engines import load_engines
    from inferchip.errors import SpecError

    src = Path(__file__).resolve().parents[1] / "src" / "inferchip" / "catalog" / "engines.yaml"
    data = yaml.safe_load(src.read_text())
    eng = next(e for e in data["engines"] if e.get(field) and any("weights" in x for x in e[field]))
    j = next(i for i, x in enumerate(eng[field]) if "weights" in x)
    eng[field][j]["weights"] = fmt
    bad = tmp_path / "engines.yaml"
    bad.write_text(yaml.safe_dump(data))
    with pytest.raises(SpecError, match=rf"engines.yaml: engine {eng['id']}: {field} entry {j}: weights '{fmt}': "
                                        r"not a number format; allowed: .*fp4.*mxfp4"):
        load_engines(bad)


def test_an_entry_a_wider_earlier_entry_shadows_is_refused(tmp_path):
    """First match wins: a blank-weights copy of the FP4 prefill entry placed before it would take every row the FP4
    entry names, which then never applies; the catalogue refuses that order naming both entries (review37b)."""
    from pathlib import Path

    import yaml

    from inferchip.catalog.engines import load_engines
    from inferchip.errors import SpecError
    from inferchip.spec.engine.workers import RecipeBatch

    src = Path(__file__).resolve().parents[1] / "src" / "inferchip" / "catalog" / "engines.yaml"
    data = yaml.safe_load(src.read_text())
    eng = next(e for e in data["engines"] if any(x.get("weights") == "fp4" for x in e.get("recipe_batch", ())))
    j = next(i for i, x in enumerate(eng["recipe_batch"]) if x.get("weights") == "fp4")
    wide = {k: v for k, v in eng["recipe_batch"][j].items() if k != "weights"}
    eng["recipe_batch"].insert(j, wide)
    bad = tmp_path / "engines.yaml"
    bad.write_text(yaml.safe_dump(data))
    with pytest.raises(SpecError, match=rf"engine {eng['id']}: recipe_batch entry {j + 1} .* is never reached: "
                                        rf"entry {j} matches every row it does"):
        load_engines(bad)
    fp4, fp8 = RecipeBatch(**eng["recipe_batch"][j + 1]), RecipeBatch(**{**wide, "weights": "fp8"})
    assert RecipeBatch(**wide).covers(fp4) and not fp8.covers(fp4) and not fp4.covers(RecipeBatch(**wide))
