"""Defects stop 45's new-user tour (newuser45) left undone, each with the test that failed before its fix."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from inferchip.errors import InvalidSettingError, SpecError

MODELS = Path(__file__).resolve().parents[1] / "src" / "inferchip" / "catalog" / "models"


def _config(name: str, **changes: object) -> dict[str, object]:
    config = json.loads((MODELS / name).read_text())
    config.pop("_source", None)
    return {**config, **changes}


# ------------------------------------------------------------------ 1. MLA never reads num_key_value_heads
def test_an_mla_config_whose_kv_heads_do_not_divide_its_heads_is_read_with_a_note():
    """DeepSeek-V2-Lite (16 heads, MLA) with num_key_value_heads 5: MLA caches one latent per token, so the field sizes
    nothing; it was refused as 'expected a divisor of num_attention_heads 16'."""
    from inferchip.catalog.hf_config import model_spec_from_config

    stated = model_spec_from_config(_config("deepseek-ai__DeepSeek-V2-Lite.json"), "lite", "lite.json")
    odd = model_spec_from_config(_config("deepseek-ai__DeepSeek-V2-Lite.json", num_key_value_heads=5), "o", "o.json")
    assert odd.attention == "mla" and odd.num_kv_heads == 16  # read as the query heads (DeepseekV3Config's fill-in)
    assert any("num_key_value_heads = 5 is not read" in d for d in odd.doubts)
    assert not any("num_key_value_heads" in d for d in stated.doubts)  # the stated 16 = heads: nothing to say
    assert odd.model_dump(exclude={"id", "doubts"}) == stated.model_dump(exclude={"id", "doubts"})


def test_a_gqa_config_whose_kv_heads_do_not_divide_its_heads_is_still_refused():
    from inferchip.catalog.hf_config import model_spec_from_config

    with pytest.raises(SpecError, match=r"num_key_value_heads = 5: expected a divisor of num_attention_heads 32"):
        model_spec_from_config(_config("meta-llama__Llama-3.1-8B.json", num_key_value_heads=5), "x", "x.json")


# ------------------------------------------------------------------ 2. one JSON key name per concept
def test_vision_json_names_chip_model_weights_and_count_as_predict_does(capsys):
    """`vision --format json` said precision/chips (and chip/model) where `predict --format json` says
    weights/num_chips (and chip_id/model_id)."""
    from inferchip.interfaces.cli import main

    main(["predict", "--chip", "nvidia-h100-sxm-80gb", "--model", "meta-llama/Llama-3.1-8B", "--batch", "1",
          "--format", "json"])
    predicted = json.loads(capsys.readouterr().out)
    main(["vision", "--chip", "nvidia-h100-sxm-80gb", "--model", "resnet50-v1.5", "--count", "2", "--format", "json"])
    vision = json.loads(capsys.readouterr().out)
    shared = {"chip_id", "model_id", "weights", "num_chips"}
    assert shared <= set(predicted) and shared <= set(vision)
    assert (vision["chip_id"], vision["num_chips"]) == ("nvidia-h100-sxm-80gb", 2)
    assert not {"chip", "model", "precision", "chips"} & set(vision)


# ------------------------------------------------------------------ 4. curve stops at the running-batch cap
def test_the_curve_stops_at_the_running_batch_cap_times_the_replicas_with_a_note():
    """Llama-3.1-8B fp8 on one H100 at 128/128 tokens: memory holds thousands of sequences, the scheduler runs 256
    (vLLM's max_num_seqs); the sweep went on to the memory limit, where points add only queueing."""
    from inferchip.interfaces.cli_options.options import read_model
    from inferchip.interfaces.serve_system import system
    from inferchip.sim import throughput_interactivity_curve
    from inferchip.sim.batching.scheduler import rank_scheduler

    step, replicas, _ = system("nvidia-h100-sxm-80gb", read_model("meta-llama/Llama-3.1-8B"), 2, 1, 1, None, "fp8",
                               None, None, None, None, None, 128, 128, running_cap=1024)
    assert replicas == 2
    cur = throughput_interactivity_curve(step, 128, 128, replicas=replicas, requests_per_user=1,
                                         scheduler_config=rank_scheduler(1, max_num_seqs=16))
    assert cur.memory_limit_concurrency > 32
    assert cur.running_cap_concurrency == 32  # 16 a replica x 2 replicas
    assert max(p["concurrency"] for p in cur.points) == 32
    note = cur.cap_note()
    assert note is not None and "32 clients" in note and f"{cur.memory_limit_concurrency:,}" in note
    given = throughput_interactivity_curve(step, 128, 128, replicas=replicas, requests_per_user=1,
                                           scheduler_config=rank_scheduler(1, max_num_seqs=16), concurrencies=[64])
    assert given.cap_note() is None and given.points[0]["concurrency"] == 64  # concurrencies asked: run as asked


# ------------------------------------------------------------------ 3. serve --rate: the layout for that rate
def test_serve_at_a_rate_without_an_slo_takes_the_lowest_latency_layout_that_carries_it():
    """Llama-3.1-70B (bf16) on 8 H100 at 2 requests/s, 1,024/256 tokens: the most-throughput layout (tp 2 pp 2 x 2)
    ran p99 TPOT 40.6 ms and median E2E 9.9 s, where tp 8 runs 18.6 ms and 4.0 s (serve --format json, by hand at
    main 70404962 and on this branch)."""
    from inferchip.interfaces.cli_options.options import read_model
    from inferchip.interfaces.serve_system import system

    args = ("nvidia-h100-sxm-80gb", read_model("meta-llama/Llama-3.1-70B"), 8, None, None, None, None, None, None,
            None, None, None, 1024, 256)
    most, _, free_fields = system(*args, running_cap=1024)
    low, replicas, fields = system(*args, running_cap=1024, rate_per_s=2.0)
    # tp 1 pp 4 x 2 since stop 46 (decodestep46: the bf16 GEMMs split K on Hopper as the default engine's cuBLASLt
    # does; with the vLLM engine record's cap of 1,024 a replica, cost46)
    assert most.mm.layout.pp == 4 and "layout_rule" not in free_fields
    assert (low.mm.layout.tp, low.mm.layout.pp, replicas) == (8, 1, 1)
    assert "lowest mean end-to-end latency at 2 requests/s" in fields["layout_rule"]
    over, _, over_fields = system(*args, running_cap=1024, rate_per_s=1e4)  # no layout carries it: the most tokens/s
    assert over.mm.layout == most.mm.layout and "no layout carries" in over_fields["layout_rule"]


def test_lowest_latency_ranks_the_layouts_that_carry_the_rate_by_their_mean_e2e():
    from dataclasses import replace

    import inferchip as ic
    from inferchip.performance.layout_choice import lowest_latency
    from inferchip.performance.operating import operating_point
    from inferchip.performance.predict import ask

    s = ic.resolve_setting("nvidia-h100-sxm-80gb", "meta-llama/Llama-3.1-8B", count=4, weights="fp8")
    q = replace(ask(512, 128), mode="open_loop", rate_per_s=1.0)
    best = lowest_latency(s, q)
    assert best is not None
    for lay in s.layouts:  # no layout that carries the rate is faster (hand check of the rule over every candidate)
        pt = operating_point(s.mapped(lay), q, lay.replicas)
        assert pt.saturated or pt.e2e_s >= best.point.e2e_s
    assert lowest_latency(s, replace(q, rate_per_s=1e7)) is None  # none carries ten million requests/s
    with pytest.raises(InvalidSettingError, match="open-loop"):
        lowest_latency(s, ask(512, 128))


def test_drive_json_names_chip_count_and_weights_as_predict_does(capsys):
    from inferchip.interfaces.cli import main

    main(["drive", "--chip", "nvidia-drive-agx-thor", "--cameras", "2", "--fps", "10", "--duration", "1", "--count",
          "2", "--format", "json"])
    got = json.loads(capsys.readouterr().out)
    assert (got["chip_id"], got["num_chips"], got["weights"]) == ("nvidia-drive-agx-thor", 2, "int8")
    assert not {"chip", "chips", "precision"} & set(got)
