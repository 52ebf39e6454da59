"""Which ``--scheduler-recv-interval`` each Dynamo + SGLang decode worker runs (engine field ``decode_worker``,
``recv_interval_steps``). The launch recipes of the one-worker attention-DP decode layouts set none, so SGLang's
default 1 applies (and v0.5.5.post2's ``SchedulerRecvSkipper`` asserts no attention DP above 1); the low-latency
scripts set 10 (sources in ``catalog/engines.yaml``). By hand: every shipped layout's entry; a worker matched by its
prefill workers; in a closed loop the decode poll every 10 steps holds requests before their first token."""

from __future__ import annotations

import pytest

from inferchip.catalog.engines import get_engine
from inferchip.sim import LinearStepModel, SchedulerConfig
from inferchip.sim.engines.bench import closed_loop_disagg_run
from inferchip.sim.load.lengths import FixedLength
from inferchip.spec.engine.workers import DecodeWorker, decode_worker_for

SGL = "NVIDIA Dynamo + SGLang, PD-disaggregated; lmsysorg/sglang:v0.5.5.post2"


def test_entry_matched_by_prefill_workers():
    five = DecodeWorker(software="sglang", weights="fp8", input_tokens=8192, decode_workers=1, prefill_workers=5)
    rest = DecodeWorker(software="sglang", recv_interval_steps=10)
    assert decode_worker_for((five, rest), SGL, "fp8", 8192, 1, 5) == five
    assert decode_worker_for((five, rest), SGL, "fp8", 8192, 1, 1) == rest  # one prefill worker: the low-latency one
    assert decode_worker_for((five, rest), SGL, "fp8", 8192, 1) == rest  # a caller that gives no prefill workers
    with pytest.raises(ValueError):
        DecodeWorker(software="sglang", prefill_workers=-1)


# (weights, input tokens, decode workers, prefill workers) of every Dynamo + SGLang layout in the InferenceMAX
# cases, and the recipe's decode recv interval: none set (1) on the max-throughput / mid-curve layouts of one
# attention-DP decode worker; 10 on the low-latency scripts (and FP8 1p_4d.sh, d16 over 4 workers).
SHIPPED = [
    (("fp4", 1024, 1, 4), 1),   # srt-slurm 1k1k/max-tpt.yaml (d48), mid-curve.yaml (d32)
    (("fp4", 8192, 1, 6), 1),   # srt-slurm 8k1k/mid-curve.yaml (p24-d48)
    (("fp4", 8192, 1, 10), 1),  # srt-slurm 8k1k/max-tpt.yaml (p40-d32)
    (("fp8", 1024, 1, 2), 1),   # dynamo gb200-fp8/disagg/default.sh (p16-d32)
    (("fp8", 1024, 1, 3), 1),   # default.sh (p24-d48)
    (("fp8", 8192, 1, 5), 1),   # 8k1k-max-tpt.sh (p40-d32)
    (("fp4", 1024, 2, 1), 10),  # srt-slurm 1k1k/low-latency.yaml, TP4
    (("fp4", 8192, 4, 1), 10),  # srt-slurm 8k1k/low-latency.yaml, TP4
    (("fp8", 8192, 1, 1), 10),  # dynamo 8k1k-low-latency.sh, TP4 (--data-parallel-size 1)
    (("fp8", 1024, 4, 1), 10),  # dynamo 1p_4d.sh
]


@pytest.mark.parametrize(("layout", "interval"), SHIPPED)
def test_shipped_recv_interval_per_layout(layout: tuple[str, int, int, int], interval: int):
    w = get_engine("dynamo").decode_worker_on(SGL, *layout)
    assert w.recv_interval_steps == interval
    assert w.reserve_tokens == (112 if layout[0] == "fp4" and layout[2] == 1 else 512)


def test_sglang_pd_record_keeps_polling_every_step():
    """The SGLang MI355X PD rows (``sglang`` record): their launcher's interval is not read; 1 (SGLang's default)."""
    assert get_engine("sglang").decode_worker_on("SGLang; PD-disaggregated").recv_interval_steps == 1


def _ttft(recv: int) -> float:
    """A fast prefill worker and one decode worker whose step is 10 ms, 32 clients of 1,000-token prompts and
    200-token outputs: a worker polling every ``recv`` steps holds each KV it is sent until its next poll."""
    pre = LinearStepModel(fixed_s=0.002, per_token_s=0.0, per_kv_token_s=0.0, kv_capacity_tokens=10_000_000)
    dec = LinearStepModel(fixed_s=0.010, per_token_s=0.0, per_kv_token_s=0.0, kv_capacity_tokens=10_000_000)
    fig = closed_loop_disagg_run(pre, dec, 32, FixedLength(tokens=1000), FixedLength(tokens=200),
                                 SchedulerConfig(max_num_seqs=64, max_num_batched_tokens=8192),
                                 SchedulerConfig(max_num_seqs=256, max_num_batched_tokens=8192),
                                 num_requests=128, seed=1, prefill_replicas=1, decode_replicas=1,
                                 kv_bytes_per_token=1.0, link_bytes_per_s=1e12, link_latency_s=0.0,
                                 decode_recv_interval_steps=recv)
    return fig.ttft_s


def test_poll_every_ten_steps_holds_the_first_token():
    """With a 10 ms decode step a poll every 10 steps holds an arrival up to 100 ms before its first token, at
    interval 1 at most one step (10 ms): the difference lies between one step and ten. (Not half the interval: in
    a closed loop with fixed lengths the arrivals are phased with the steps that finish requests.)"""
    one, ten = _ttft(1), _ttft(10)
    assert 0.010 < ten - one < 0.100
