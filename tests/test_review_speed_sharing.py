"""What the review's speed-ups share or defer gives the numbers computed without them.

* a model on a layout is sharded once (the same object for every chip: ``mapped.sharded``);
* a plan's shape (:mod:`inferchip.cost.plan.shape`) is kept per sharded model by value: a plan
  compiled with the kept shape equals one compiled from a freshly built shape, field by field,
  and different sharded models (other layouts, other models) never share a shape;
* a plan's scalar form is built on first use only (an array sweep does not build it);
* a sweep with TTFT reuses the decode steps of the same lengths' sweep without it (and back):
  the same arrays as a sweep computed alone;
* ``choose_layout`` evaluates the TTFT of the chosen layout only where the limits do not read
  it: the same layout and the same point as evaluating it on every candidate;
* each chip's charts drawn up apart and merged equal :func:`chart_data` of all chips at once.
"""

from __future__ import annotations

from dataclasses import fields, replace

import numpy as np
import pytest

from inferchip.cost.plan import shape as shape_mod
from inferchip.cost.step import StepPlan, compile_step, step_points
from inferchip.mapping.sharding import shard
from inferchip.performance.layout_choice import choose_layout
from inferchip.performance.mapped import sharded
from inferchip.performance.operating import Question, operating_point, steady_state
from inferchip.performance.setting import resolve_setting

H100 = "nvidia-h100-sxm-80gb"
MOE = "Qwen/Qwen3-30B-A3B"


def _setting(model: str = MOE, count: int = 8, **kw):
    return resolve_setting(H100, model, count=count, weights="fp8", **kw)


def _same_plan(a: StepPlan, b: StepPlan) -> None:
    assert a.class_names == b.class_names and a.flop_formats == b.flop_formats and a.dp == b.dp
    assert a.class_of == b.class_of and a.format_of == b.format_of
    np.testing.assert_array_equal(a.reps, b.reps)
    np.testing.assert_array_equal(a.class_starts, b.class_starts)
    for x, y in zip(a.flop_ops, b.flop_ops, strict=True):
        np.testing.assert_array_equal(x, y)
    assert len(a.groups) == len(b.groups)
    for g, h in zip(a.groups, b.groups, strict=True):
        assert (g.rule, g.start, g.stop, g.flop_format, g.segments) == (h.rule, h.start, h.stop, h.flop_format,
                                                                        h.segments)
        assert g.table.keys() == h.table.keys()
        for k in g.table:
            np.testing.assert_array_equal(g.table[k], h.table[k])


def _points(n: int = 7):
    b = np.linspace(1.0, 200.0, n)
    return step_points(1, b + 300.0, b, b * 2000.0, 300.0 * 150.0)


def _same_cost(a: StepPlan, b: StepPlan) -> None:
    x, y = a.evaluate(_points()), b.evaluate(_points())
    np.testing.assert_array_equal(x.time_s, y.time_s)
    np.testing.assert_array_equal(x.dram_bytes, y.dram_bytes)
    for name in x.classes:
        for f in fields(x.classes[name]):
            np.testing.assert_array_equal(getattr(x.classes[name], f.name), getattr(y.classes[name], f.name))


def test_a_kept_shape_compiles_the_plan_a_fresh_shape_compiles(monkeypatch):
    s = _setting()
    chips = [s.chip, replace(s.chip, memory_bytes_per_s=s.chip.memory_bytes_per_s * 1.7)]
    for lay in s.layouts:
        mm = s.mapped(lay)
        for chip in chips:
            kept = compile_step(mm.sm, chip, mm.formats, mm.cal)
            assert shape_mod.plan_shape(mm.sm) is shape_mod.plan_shape(mm.sm)  # found again
            with monkeypatch.context() as m:  # no cache: every plan from a shape built now
                m.setattr(shape_mod, "plan_shape", shape_mod.build_shape)
                import inferchip.cost.step as step_mod

                m.setattr(step_mod, "plan_shape", shape_mod.build_shape)
                fresh = compile_step(mm.sm, chip, mm.formats, mm.cal)
            _same_plan(kept, fresh)
            _same_cost(kept, fresh)


def test_shapes_are_kept_by_value_and_never_collide():
    s8, dense = _setting(), _setting("meta-llama/Llama-3.1-8B", count=8)
    sms = [s.mapped(lay).sm for s in (s8, dense) for lay in s.layouts]
    found = [shape_mod.plan_shape(sm) for sm in sms]
    for i, a in enumerate(sms):
        for j, b in enumerate(sms):
            assert (found[i] is found[j]) == (a == b)
            if a != b:  # another layout or model: its own operators
                assert found[i] != found[j] or found[i].ordered == found[j].ordered
    # An equal sharded model built again (sharded anew, not the kept object) finds the same shape.
    again = shard(s8.model, s8.layouts[0])
    assert again is not sms[0] and again == sms[0]
    assert shape_mod.plan_shape(again) is found[0]
    assert shape_mod.plan_shape(again) == shape_mod.build_shape(again)


def test_a_model_on_a_layout_is_sharded_once_for_every_chip(monkeypatch):
    # A keep and a settings cache of its own: the keep is cleared when full (SHARDED_KEPT), so a setting mapped
    # by earlier tests before such a clear would hold objects the keep no longer has.
    import inferchip.performance.mapped.model as mapped_mod
    import inferchip.performance.setting.resolve as setting_mod

    monkeypatch.setattr(mapped_mod, "_SHARDED", {})
    monkeypatch.setattr(setting_mod, "_SETTINGS", type(setting_mod._SETTINGS)())  # settings mapped from here on
    s = _setting()
    other = resolve_setting("nvidia-a100-sxm-80gb", MOE, count=8, weights="fp8")  # another chip, same model object
    assert other.model is s.model
    for lay in s.layouts:
        sm = s.mapped(lay).sm
        assert sharded(s.model, lay) is sm  # kept: the same object
        assert sm == shard(s.model, lay)  # what sharding it now gives
        if lay in other.layouts:
            assert other.mapped(lay).sm is sm
    a, b = s.layouts[0], s.layouts[-1]
    assert a != b and sharded(s.model, a) != sharded(s.model, b)  # layouts never collide
    assert sharded(s.model, replace(a, replicas=a.replicas + 1)) is not sharded(s.model, a)


def test_the_scalar_form_is_built_on_first_single_point_only():
    s = _setting("meta-llama/Llama-3.1-8B", count=1)
    mm = s.mapped(s.layout)
    plan = compile_step(mm.sm, mm.chip, mm.formats, mm.cal)
    plan.cost(np.array([10.0, 20.0]), np.array([10.0, 20.0]), np.array([1e4, 2e4]), 0.0)
    assert "scalar" not in plan.__dict__  # an array sweep leaves it unbuilt
    one = plan.cost(10.0, 10.0, 1e4, 0.0)
    assert plan.__dict__.get("scalar") is not None
    ref = plan.evaluate(step_points(plan.dp, 10.0, 10.0, 1e4, 0.0))
    np.testing.assert_allclose(one.time_s, ref.time_s, rtol=1e-12)
    # A plan still travels to a worker (pickled as what it was compiled from).
    import pickle

    back = pickle.loads(pickle.dumps(plan))
    assert back.scalar is not None and back.class_of == plan.class_of


def _question(ttft: float | None) -> Question:
    return Question.fixed(1024.0, 1024.0, None, ttft, 0.05)


@pytest.mark.parametrize("first", [True, False])
def test_sweeps_with_and_without_ttft_share_the_decode_steps(first):
    s = _setting()
    mm = s.mapped(s.layouts[-1])
    sweeps: dict = {}
    qs = [_question(2.0), _question(None)]  # TTFT limit (read) / none (not read)
    order = qs if first else qs[::-1]
    pts = [operating_point(mm, q, mm.layout.replicas, sweeps=sweeps) for q in order]
    for q, pt in zip(order, pts, strict=True):
        alone = operating_point(mm, q, mm.layout.replicas)  # no cache: each sweep computed on its own
        assert (pt.batch, pt.ttft_s, pt.tpot_s, pt.tokens_per_s_replica, pt.limits_met) == (
            alone.batch, alone.ttft_s, alone.tpot_s, alone.tokens_per_s_replica, alone.limits_met)
    a, b = (sweeps[k][mm.layout] for k in list(sweeps))
    assert a.decode is b.decode  # one decode evaluation between them
    grid = np.array([1.0, 4.0, 16.0, 64.0])
    full = steady_state(mm, grid, qs[0], True)
    shared = steady_state(mm, grid, qs[0], True, (full.tpot_s, full.decode))
    np.testing.assert_array_equal(full.ttft_s, shared.ttft_s)
    np.testing.assert_array_equal(full.e2e_s, shared.e2e_s)


@pytest.mark.parametrize("model", [MOE, "meta-llama/Llama-3.1-8B"])
def test_the_chosen_layouts_ttft_alone_gives_the_same_choice(model):
    s = _setting(model)
    q = _question(None)  # TPOT limit only: the TTFT is reported, not read
    assert len(s.layouts) > 1 and not q.needs_ttft
    lazy = choose_layout(s, q, sweeps={})
    every = choose_layout(s, q)  # no cache: every candidate's point with its TTFT
    assert lazy.layout == every.layout
    a, b = lazy.point, every.point
    assert (a.batch, a.ttft_s, a.tpot_s, a.e2e_s, a.tokens_per_s_replica, a.limits_met) == (
        b.batch, b.ttft_s, b.tpot_s, b.e2e_s, b.tokens_per_s_replica, b.limits_met)


def test_each_chips_charts_merge_into_the_charts_of_all():
    from inferchip.review.chart_data import chart_data, chip_charts, merge_chip_charts
    from inferchip.review.review import ReviewConfig, evaluate_chip, resolve

    cfg = ReviewConfig(chips=["nvidia-h100-sxm-80gb", "nvidia-a100-sxm-80gb"], models=["meta-llama/Llama-3.1-8B"],
                       claim=None, sensitivity=False, judge=False, jobs=1)
    inputs = resolve(cfg)
    chips, models, so = inputs.chips, inputs.models, inputs.claim_doc.scale_out
    rows, kept = [], {}
    for c in chips:
        r, k = evaluate_chip(c, models, cfg, so)
        rows.extend(r)
        kept[c.id] = k
    whole = chart_data(chips, models, rows, kept, cfg, so)
    apart = merge_chip_charts(chips, models, [chip_charts(c, models, rows, kept[c.id], cfg, so) for c in chips])
    assert repr(apart) == repr(whole)
    assert [list(v) for v in apart[0].values()] == [list(v) for v in whole[0].values()]  # chips' order kept
