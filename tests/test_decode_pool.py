"""The KV pool a disaggregated row's launch recipe sets on its decode workers (engine field ``decode_worker``,
``max_total_tokens`` per decode rank: SGLang ``--max-total-tokens``, one pool per attention-DP scheduler). By hand:
which entry a row gets, how many 8k prompts one FP4 8k/1k decode rank admits with the recipe's pool and
reservation, a closed loop whose decode pool binds: TPOT falls and TTFT carries the wait, SGLang's retraction of
a sequence the pool cannot grow (KV kept on the host, resumed before new arrivals), and a recipe pool too small
for the row refused by name. Property: a smaller decode pool never shortens TTFT (with retraction)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inferchip.catalog.engines import get_engine
from inferchip.errors import InvalidSettingError
from inferchip.sim import LinearStepModel, SchedulerConfig
from inferchip.sim.engines.bench import closed_loop_disagg_run
from inferchip.sim.engines.polling import DeliveringDecodeReplica
from inferchip.sim.load.lengths import FixedLength
from inferchip.sim.results.request import RequestTable
from inferchip.sim.step.steptime import StepTimer
from inferchip.spec.engine.workers import DecodeWorker, decode_worker_for
from inferchip.validation.results import least_pool_per_rank

SGL = "NVIDIA Dynamo + SGLang, PD-disaggregated; lmsysorg/sglang:v0.5.5.post2"


def test_entry_matching_by_weights_input_length_and_decode_workers():
    fp4_8k = DecodeWorker(software="sglang", weights="fp4", input_tokens=8192, decode_workers=1, reserve_tokens=112,
                          max_total_tokens=524288)
    rest = DecodeWorker(software="sglang", reserve_tokens=512)
    entries = (fp4_8k, rest)
    assert decode_worker_for(entries, SGL, "fp4", 8192, 1) == fp4_8k
    assert decode_worker_for(entries, SGL, "FP4", 8192, 1) == fp4_8k  # the format is matched in lower case
    assert decode_worker_for(entries, SGL, "fp4", 1024, 1) == rest  # another input length
    assert decode_worker_for(entries, SGL, "fp4", 8192, 4) == rest  # the 4-worker low-latency layout
    assert decode_worker_for(entries, SGL, "fp8", 8192, 1) == rest
    assert decode_worker_for(entries, SGL) == rest  # a caller that gives no format
    none = decode_worker_for(entries, "TensorRT-LLM", "fp4", 8192, 1)
    assert (none.reserve_tokens, none.max_total_tokens, none.recv_interval_steps) == (0, 0, 1)
    with pytest.raises(ValueError):
        DecodeWorker(software="sglang", max_total_tokens=-1)


def test_shipped_dynamo_fp4_recipes():
    """NVIDIA/srt-slurm recipes/gb200-fp4: 1k/1k max-tpt and mid-curve 3,122,380 tokens per decode rank, 8k/1k
    524,288; both --num-reserved-decode-tokens 112; the FP8 and low-latency layouts keep the default 512 and the
    memory fit's pool."""
    dyn = get_engine("dynamo")
    one = dyn.decode_worker_on(SGL, "fp4", 1024, 1)
    eight = dyn.decode_worker_on(SGL, "fp4", 8192, 1)
    assert (one.max_total_tokens, one.reserve_tokens) == (3_122_380, 112)
    assert (eight.max_total_tokens, eight.reserve_tokens) == (524_288, 112)
    for args in (("fp8", 8192, 1, 1), ("fp4", 8192, 4, 1), ("fp4", 1024, 2, 1)):
        w = dyn.decode_worker_on(SGL, *args)
        assert (w.max_total_tokens, w.reserve_tokens, w.recv_interval_steps) == (0, 512, 10)


def test_fp4_8k_rank_admits_63_prompts_by_hand():
    """One decode rank of the FP4 8k/1k recipe: 524,288 tokens (32,768 blocks of 16), nothing running; each
    8,192-token prompt takes 8,192 + 112 = 8,304 tokens, so floor(524,288 / 8,304) = 63 are admitted (63 x 8,304 =
    523,152; a 64th needs 531,456). At the memory fit's 4.4 M tokens per rank the same 100 arrivals all fit."""
    def admitted(capacity: int) -> int:
        model = LinearStepModel(fixed_s=0.01, per_token_s=0.0, per_kv_token_s=0.0, kv_capacity_tokens=capacity)
        cfg = SchedulerConfig(max_num_seqs=1024, max_num_batched_tokens=8192, block_size_tokens=16)
        rep = DeliveringDecodeReplica(0, StepTimer(model), cfg, capacity, RequestTable(), reserve_tokens=112)
        for _ in range(100):
            rid = rep.table.add(0.0, 8192, 1024)
            rep.enqueue_prefilled(rid, 8192, 1024, 0.0, 0.0)
        return rep.reserve_admissible()
    assert admitted(524_288) == 63
    assert admitted(4_400_000) == 100


def _loop(decode_kv_tokens: int, clients: int = 48, output_tokens: int = 100, retract: bool = True):
    """A fast prefill worker feeding one decode worker whose step grows with its batch (1 ms + 0.2 ms per
    sequence) and whose memory fit holds every client: 1,000-token prompts, ``output_tokens`` outputs (above the
    112-token reservation admitted sequences outgrow the pool and are retracted, SGLang's rule, with ``retract``)."""
    pre = LinearStepModel(fixed_s=0.002, per_token_s=0.0, per_kv_token_s=0.0, kv_capacity_tokens=10_000_000)
    dec = LinearStepModel(fixed_s=0.001, per_token_s=0.0002, per_kv_token_s=0.0, kv_capacity_tokens=10_000_000)
    return closed_loop_disagg_run(pre, dec, clients, FixedLength(tokens=1000), FixedLength(tokens=output_tokens),
                                  SchedulerConfig(max_num_seqs=64, max_num_batched_tokens=8192),
                                  SchedulerConfig(max_num_seqs=256, max_num_batched_tokens=8192),
                                  num_requests=4 * clients, seed=1, prefill_replicas=1, decode_replicas=1,
                                  kv_bytes_per_token=1.0, link_bytes_per_s=1e12, link_latency_s=0.0,
                                  decode_reserve_tokens=112, decode_kv_tokens=decode_kv_tokens, decode_retract=retract)


def test_recipe_pool_moves_the_wait_from_decode_to_ttft():
    """A 12,000-token pool admits floor(12,000 / (1,000 + 112)) = 10 prompts while nothing runs (of 48 clients):
    a smaller decode batch (TPOT falls) and the rest wait before their first token (TTFT rises)."""
    free, capped = _loop(0), _loop(12_000)
    assert capped.tpot_s < free.tpot_s
    assert capped.ttft_s > free.ttft_s


def _replica_run(retract: bool) -> DeliveringDecodeReplica:
    cap = 2400
    model = LinearStepModel(fixed_s=0.01, per_token_s=0.0, per_kv_token_s=0.0, kv_capacity_tokens=cap)
    cfg = SchedulerConfig(max_num_seqs=16, max_num_batched_tokens=8192, block_size_tokens=16)
    rep = DeliveringDecodeReplica(0, StepTimer(model), cfg, cap, RequestTable(), reserve_tokens=112,
                                  retract_to_host=retract)
    for _ in range(3):
        rid = rep.table.add(0.0, 1000, 300)
        rep.enqueue_prefilled(rid, 1000, 300, 0.0, 0.0)
    assert len(rep.run_until(1e9)) == 3
    return rep


def test_retraction_keeps_the_kv_and_resumes_before_new_arrivals_by_hand():
    """A 2,400-token pool (150 blocks of 16), 10 ms steps, three arrived 1,000-token prompts with 300 outputs,
    112 reserved: #1 and #2 are admitted (1,112 each; 176 left), #3 waits. At 1,201 tokens each (step ~201) two
    sequences need 2 x 76 > 150 blocks: #2 is retracted to host with its 1,201 tokens; #1 ends at step 299 (2.99 s),
    #2 resumes first (1,201 + 112 fits; #3 behind it is held by the reservation) and ends 99 steps later (3.98 s),
    #3 runs its 300 steps after it (6.97 s). No prompt is prefilled again on the decode worker. With the
    replica's recompute instead, #2's 1,201 tokens (and more) are prefilled again and #3 overtakes it."""
    rep = _replica_run(retract=True)
    assert rep.num_preemptions == 1
    assert sum(rep.log["prefill_tokens"]) == 0
    assert [round(t, 2) for t in rep.table.finish_s] == [2.99, 3.98, 6.97]
    old = _replica_run(retract=False)
    assert sum(old.log["prefill_tokens"]) > 1201
    assert old.table.finish_s[2] < old.table.finish_s[1]


@settings(max_examples=12, deadline=None)
@given(st.integers(min_value=6_000, max_value=60_000), st.integers(min_value=1_000, max_value=30_000),
       st.sampled_from([100, 200, 400, 800]))
def test_smaller_decode_pool_never_shortens_ttft(pool: int, less: int, output_tokens: int):
    """With SGLang's retraction (a retracted sequence keeps its KV on the host and comes back before new
    arrivals), also where admitted sequences outgrow the pool (outputs above the 112 reserved). With the
    replica's recompute a smaller pool could shorten TTFT (10,016 vs 11,016 tokens, 200-token outputs: the
    recomputed sequences, past their first token, queued behind the arrivals)."""
    big, small = _loop(pool + less, 24, output_tokens), _loop(pool, 24, output_tokens)
    assert small.ttft_s >= big.ttft_s * (1 - 1e-9)


def test_recompute_let_a_smaller_pool_shorten_ttft():
    """The case above, with the replica's recompute: the smaller pool's TTFT is the shorter (the artefact the
    retraction removes); with retraction it is not."""
    assert _loop(10_016, 24, 200, retract=False).ttft_s < _loop(11_016, 24, 200, retract=False).ttft_s
    assert _loop(10_016, 24, 200).ttft_s >= _loop(11_016, 24, 200).ttft_s


def test_least_pool_per_rank_by_hand():
    """9,216 tokens (an 8,192-token prompt + 1,024 outputs) in blocks of 16 over 32 ranks: 576 blocks, 288 tokens
    per rank; 1,000 tokens in blocks of 16 on one rank: 63 blocks = 1,008."""
    assert least_pool_per_rank(9216, 32, 16) == 288
    assert least_pool_per_rank(1000, 1, 16) == 1008
    assert least_pool_per_rank(1000, 0, 16) == 1008  # no ranks given: one


def test_a_decode_pool_too_small_for_the_rows_requests_names_the_engine_field(monkeypatch):
    """A decode ``max_total_tokens`` whose pool (x the attention-DP ranks) cannot hold the row's longest request is
    refused naming the catalogue file, the engine field and its value: an FP4 8k/1k Dynamo + SGLang row (32 decode
    ranks) under 280 tokens per rank (8,960 against 8,192 + 1,024). Without the check the simulator refused it
    without naming the field, and a pool between prompt + output and prompt + reservation (a reservation above the
    output) stopped with an empty step ('scheduler bug'): SGLang would never admit such a request."""
    from pathlib import Path

    from inferchip.catalog.calibration_file import load_calibration
    from inferchip.spec.engine import EngineSpec
    from inferchip.validation.cases import read_cases
    from inferchip.validation.validate import Validator

    cases = Path(__file__).resolve().parents[1] / "src" / "inferchip" / "catalog" / "inferencemax_cases.csv"
    cid = "imax-dsr1-gb200-dynamo-sglang-fp4-disagg-p40x1e1dpa-d32x1e1dpa-8192-1024-c1024-r20321908209-ttft"
    case = next(c for c in read_cases(str(cases)) if c.case_id == cid)
    small = DecodeWorker(software="sglang", reserve_tokens=112, max_total_tokens=280)
    monkeypatch.setattr(EngineSpec, "decode_worker_on", lambda self, *a: small)
    res = Validator(load_calibration(), server_model="sim").predict_case(case)
    assert res.status == "invalid_setting"
    for part in ("catalog/engines.yaml", "decode_worker", "max_total_tokens = 280", "9216", "at least 288"):
        assert part in res.reason, res.reason


def test_a_pool_between_request_and_reservation_is_refused_not_crashed():
    """The simulator's own view of the same gap (a 1,104-token decode pool, 1,000-token prompts, 100-token
    outputs, 112 reserved): every request fits the pool but none passes the reservation, even with the pool
    empty; the decode replica refuses it by name (it stopped with an empty step, 'scheduler bug', before)."""
    with pytest.raises(InvalidSettingError, match="1000 cached tokens plus the 112 tokens reserved"):
        _loop(1104, 4)
    assert _loop(1120, 4).ttft_s > 0  # 70 whole blocks of 16 hold 1,000 + 112 (1,112 would be 69: 1,104 usable)


def test_a_shadowed_decode_worker_entry_is_refused(tmp_path):
    """The generic Dynamo SGLang entry put before the FP4 recipe entries would match every row they do (first match
    wins): the catalogue is refused naming the file, the engine, the field and both entries, as run_length is."""
    from pathlib import Path

    import yaml

    from inferchip.catalog.engines import load_engines
    from inferchip.errors import SpecError
    src = Path(__file__).resolve().parents[1] / "src" / "inferchip" / "catalog" / "engines.yaml"
    data = yaml.safe_load(src.read_text())
    dyn = next(e for e in data["engines"] if e["id"] == "dynamo")
    dyn["decode_worker"] = list(reversed(dyn["decode_worker"]))
    bad = tmp_path / "engines.yaml"
    bad.write_text(yaml.safe_dump(data))
    with pytest.raises(SpecError, match=r"engine dynamo: decode_worker entry 1 .* never reached: entry 0"):
        load_engines(bad)
    load_engines(src)  # the shipped order: narrower first


def test_decode_worker_covers_by_hand():
    generic = DecodeWorker(software="sglang", reserve_tokens=512)
    fp4 = DecodeWorker(software="sglang", weights="fp4", input_tokens=8192, decode_workers=1, reserve_tokens=112)
    assert generic.covers(fp4) and not fp4.covers(generic)
    assert not DecodeWorker(software="sglang", weights="fp8").covers(fp4)
    assert not DecodeWorker(software="sglang", input_tokens=1024).covers(fp4)
    assert not DecodeWorker(software="sglang", decode_workers=4).covers(fp4)
