"""The scalar step (plain floats, one point on one chip) gives the array path's numbers.

``StepPlan.cost`` takes the scalar path (:mod:`inferchip.cost.scalar_step`) for one finite
point; ``StepPlan.evaluate`` over :func:`step_points` is the numpy path. Both are compared
field by field (time, every class's split, FLOP by format, DRAM and link bytes) on random
steps of models that exercise every rule: dense, MoE (grouped GEMMs, router, all-to-all),
sliding windows, pipeline stages and attention data parallelism (all-to-all, and all-gather with
reduce-scatter); GEMM waves shared out stream-K (the
NVIDIA chips) and data-parallel (MI300X).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from hypothesis import example, given, settings
from hypothesis import strategies as st

from inferchip.cost.step import OP_CLASSES, StepCost, StepPlan, compile_step, step_points
from inferchip.performance.setting import resolve_setting

SETTINGS = [
    ("nvidia-h100-sxm-80gb", "meta-llama/Llama-3.1-8B", dict(tp=1)),
    ("nvidia-h100-sxm-80gb", "mistralai/Mixtral-8x7B-v0.1", dict(count=8, tp=4, ep=2, pp=2)),
    ("nvidia-h100-sxm-80gb", "deepseek-ai/DeepSeek-V2-Lite", dict(count=8, tp=8, attn_dp=True)),
    ("nvidia-h100-sxm-80gb", "google/gemma-2-9b", dict(count=2, tp=2)),
    ("nvidia-h100-sxm-80gb", "openai/gpt-oss-120b", dict(count=8, tp=8, weights="mxfp4", activations="bf16")),
    ("nvidia-a100-sxm-80gb", "Qwen/Qwen3-30B-A3B", dict(count=2, tp=2)),
    # attention DP with EP 1: all-gather and reduce-scatter around the MoE (mapping/sharding.py gather_scatter)
    ("nvidia-b200-180gb", "openai/gpt-oss-120b", dict(count=2, tp=2, ep=1, attn_dp=True, weights="mxfp4")),
    ("amd-mi300x", "meta-llama/Llama-3.1-8B", dict(tp=1)),  # data-parallel waves (no stream-K)
]
_PLANS: dict[int, StepPlan] = {}


def _plan(k: int) -> StepPlan:
    if k not in _PLANS:
        chip, model, kw = SETTINGS[k]
        s = resolve_setting(chip, model, **kw)
        mm = s.mapped(s.layout)
        _PLANS[k] = compile_step(mm.sm, mm.chip, mm.formats, mm.cal)
    return _PLANS[k]


def _fields(c: StepCost) -> dict[str, np.ndarray]:
    out = {"time_s": c.time_s, "dram_bytes": c.dram_bytes, "link_bytes": c.link_bytes}
    out.update({f"flop/{f}": v for f, v in c.flop_by_format.items()})
    for name in OP_CLASSES:
        cc = c.classes[name]
        for f in ("time_s", "compute_bound_s", "memory_bound_s", "network_s", "overhead_s"):
            out[f"{name}/{f}"] = getattr(cc, f)
    return out


def test_every_plan_has_a_scalar_form():
    for k in range(len(SETTINGS)):
        assert _plan(k).scalar is not None, SETTINGS[k]


counts = st.floats(min_value=0.0, max_value=1e5, allow_nan=False)


@settings(max_examples=400, deadline=None)
@given(k=st.integers(0, len(SETTINGS) - 1), decode=st.floats(0.0, 512.0), prefill=counts,
       ctx=st.floats(0.0, 1e5), pairs=st.floats(0.0, 1e4), rows=st.one_of(st.none(), st.floats(0.0, 600.0)),
       shape=st.sampled_from([(), (1,), (1, 1)]))
@example(k=2, decode=2.220446049250313e-16, prefill=2.220446049250313e-16, ctx=0.0, pairs=0.0, rows=None, shape=())
def test_scalar_step_equals_array_step(k, decode, prefill, ctx, pairs, rows, shape):
    plan = _plan(k)
    args = [np.full(shape, v) for v in (decode + prefill, decode, decode * ctx, prefill * pairs)]
    lr = None if rows is None else np.full(shape, rows)
    fast = plan.cost(*args, lr)
    slow = plan.evaluate(step_points(plan.dp, *args, lr))
    a, b = _fields(fast), _fields(slow)
    assert a.keys() == b.keys()
    for name in a:
        assert np.shape(a[name]) == np.shape(b[name]), name
        np.testing.assert_allclose(a[name], b[name], rtol=1e-12, atol=0.0, err_msg=name)


def test_many_points_and_non_finite_points_take_the_array_path():
    plan = _plan(0)
    many = plan.cost(np.array([1.0, 2.0]), np.array([1.0, 2.0]), np.array([100.0, 200.0]), 0.0)
    assert np.shape(many.time_s) == (2,)
    nan = plan.cost(np.nan, 1.0, 100.0, 0.0)
    assert np.isnan(nan.time_s)


@settings(max_examples=100, deadline=None)
@given(k=st.integers(0, len(SETTINGS) - 1), i=st.floats(1.0, 2e5), o=st.floats(0.0, 1e4))
def test_one_point_memory_equals_array_memory(k, i, o):
    chip, model, kw = SETTINGS[k]
    s = resolve_setting(chip, model, **kw)
    mm = s.mapped(s.layout)
    np.testing.assert_allclose(mm.kv_bytes_per_seq(i), mm.kv_bytes_per_seq(np.array([i]))[0], rtol=1e-12)
    assert float(mm.max_batch(i, o)) == float(mm.max_batch(np.array([i]), np.array([o]))[0])


@settings(max_examples=100, deadline=None)
@given(k=st.integers(0, len(SETTINGS) - 1), b=st.integers(1, 256), i=st.integers(1, 40000), o=st.integers(1, 4000))
def test_one_point_static_batch_equals_array_static_batch(k, b, i, o):
    from inferchip.performance.phases import static_batch

    chip, model, kw = SETTINGS[k]
    s = resolve_setting(chip, model, **kw)
    mm = s.mapped(s.layout)
    one = static_batch(mm, np.array([float(b)]), float(i), float(o))  # one point: floats
    two = static_batch(mm, np.array([float(b), float(b)]), float(i), float(o))  # two points: numpy
    for name in ("ttft_s", "tpot_s", "e2e_s", "tokens_per_s_replica", "prefill_chunks", "prefill_step_s"):
        assert np.shape(getattr(one, name)) == (1,)
        np.testing.assert_allclose(getattr(one, name)[0], getattr(two, name)[0], rtol=1e-12, err_msg=name)
    for step in ("prefill", "decode"):
        a, c = _fields(getattr(one, step)), _fields(getattr(two, step))
        for name in a:
            np.testing.assert_allclose(np.ravel(a[name])[0], np.ravel(c[name])[0], rtol=1e-12, err_msg=name)


@settings(max_examples=100, deadline=None)
@given(k=st.integers(0, len(SETTINGS) - 1), b=st.floats(1.0, 512.0), i=st.integers(1, 40000), o=st.integers(1, 4000),
       beams=st.sampled_from([1, 2]), wait=st.booleans())
def test_one_point_steady_state_equals_array_steady_state(k, b, i, o, beams, wait):
    from dataclasses import replace

    from inferchip.performance.operating import Question, steady_state

    chip, model, kw = SETTINGS[k]
    s = resolve_setting(chip, model, **kw)
    mm = s.mapped(s.layout)
    q = replace(Question.fixed(i, o), beams=beams, queue_wait=wait)
    one = steady_state(mm, np.array([b]), q, True)  # one point: floats
    two = steady_state(mm, np.array([b, b]), q, True)  # two points: numpy
    for name in ("ttft_s", "tpot_s", "e2e_s", "tokens_per_s_replica", "prefill_chunks", "prefill_step_s"):
        assert np.shape(getattr(one, name))[1:] == np.shape(getattr(two, name))[1:], name
        np.testing.assert_allclose(np.ravel(getattr(one, name))[0], np.ravel(getattr(two, name))[0], rtol=1e-12,
                                   err_msg=name)
    for step in ("prefill", "decode"):
        a, c = _fields(getattr(one, step)), _fields(getattr(two, step))
        for name in a:
            np.testing.assert_allclose(np.ravel(a[name])[0], np.ravel(c[name])[0], rtol=1e-12, err_msg=name)


def test_a_plan_pickles_as_its_source_and_costs_the_same():
    """A plan travels to worker processes (calibrate's folds) inside the mapped model: it
    pickles as what it was compiled from, is compiled again on the other side, and still
    belongs to the unpickled mapped model's objects."""
    import pickle

    s = resolve_setting("nvidia-h100-sxm-80gb", "mistralai/Mixtral-8x7B-v0.1", count=8, tp=4, ep=2, pp=2)
    mm = s.mapped(s.layout)
    plan = compile_step(mm.sm, mm.chip, mm.formats, mm.cal)
    sm2, plan2 = pickle.loads(pickle.dumps((mm.sm, plan)))
    assert plan2.is_for(sm2, plan2.source[1], mm.formats, plan2.source[3])
    a = plan.cost(300.0, 40.0, 40_000.0, 5_000.0)
    b = plan2.cost(300.0, 40.0, 40_000.0, 5_000.0)
    assert b.time_s == a.time_s and b.dram_bytes == a.dram_bytes


@settings(max_examples=100, deadline=None)
@given(decode=st.floats(0.0, 512.0), prefill=counts, ctx=st.floats(0.0, 1e5), pairs=st.floats(0.0, 1e4))
def test_scalar_step_equals_array_step_with_the_low_latency_floor(decode, prefill, ctx, pairs):
    """The low-latency expert kernels' floor (cost/network.py all_to_all_latency_s) is the same on both paths."""
    s = resolve_setting("nvidia-b200-180gb", "deepseek-ai/DeepSeek-V2-Lite", count=8, tp=8, attn_dp=True)
    mm = s.mapped(s.layout)
    chip = replace(mm.chip, expert_a2a_decode_floor_s=23.5e-6, expert_a2a_decode_per_peer_s=0.099e-6)
    plan = compile_step(mm.sm, chip, mm.formats, mm.cal)
    args = [np.full((), v) for v in (decode + prefill, decode, decode * ctx, prefill * pairs)]
    a, b = _fields(plan.cost(*args, None)), _fields(plan.evaluate(step_points(plan.dp, *args, None)))
    for name in a:
        np.testing.assert_allclose(a[name], b[name], rtol=1e-12, atol=0.0, err_msg=name)
    # the (p - 1) link steps the family prices where it carries no floor (Blackwell carries it since stop 33)
    no_floor = replace(mm.chip, expert_a2a_decode_floor_s=0.0, expert_a2a_decode_per_peer_s=0.0)
    plain = compile_step(mm.sm, no_floor, mm.formats, mm.cal).cost(*args, None)
    if decode >= 1.0:  # 7 link steps of 3 us against the floor 23.5 + 7 x 0.099 us, per expert call
        assert float(plan.cost(*args, None).classes["communication"].network_s) > float(
            plain.classes["communication"].network_s)
