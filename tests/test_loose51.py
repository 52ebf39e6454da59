"""Stop 51's loose ends (branch loose51): the statistic ``serve --find-count`` judges each count by, named in its
lines; ``ic.frame_cost``'s keywords as ``ic.predict``'s; predict's cache key and the sweep's rebuild of it."""

from __future__ import annotations

import pytest

from inferchip.errors import InvalidSettingError
from inferchip.interfaces.cli_options import fleet
from inferchip.sim.runs import slo


def _judged(meets_from: int):
    def judged(n: int) -> dict[str, object]:
        return {"meets": n >= meets_from, "layout": f"tp{n}", "saturated": False,
                "ttft_s_at_statistic": 0.5 / n, "tpot_s_at_statistic": 0.05 / n}
    return judged


def test_find_count_lines_name_the_statistic_the_search_judged_by():
    """Failed on main: "counts run: 1: missed (TTFT 500.0 ms, ...)" said not at which statistic (a p99 search and a
    mean one read alike); the sizing record now carries it and the line names it at every figure."""
    n, sizing = slo.smallest_count(lambda c: c, 1, _judged(3), option="--find-count", start_option="--count",
                                   statistic="p99")
    assert n == 3 and sizing["statistic"] == "p99"
    line = fleet.sizing_line(sizing)
    assert "1: missed (p99 TTFT 500.0 ms, p99 TPOT 50.0 ms)" in line
    assert "3: met (p99 TTFT 166.7 ms, p99 TPOT 16.7 ms)" in line


def test_find_count_refusal_names_the_statistic():
    """The refusal (no count meets it) lists the counts run with their figures at the statistic too."""
    with pytest.raises(InvalidSettingError, match=r"1: missed \(p90 TTFT 500\.0 ms"):
        slo.smallest_count(lambda c: c, 1, _judged(10**9), option="--find-count", start_option="--count",
                           statistic="p90")


def _predict_key_names() -> list[str]:
    """The names predict writes its cache key of, in order, read from its source (``key = (input_key(chip),
    input_key(model), count, weights, ...)``)."""
    import ast
    import inspect
    import textwrap

    from inferchip.performance import predict

    tree = ast.parse(textwrap.dedent(inspect.getsource(predict.predict)))
    keys = [n.value for n in ast.walk(tree) if isinstance(n, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == "key" for t in n.targets)]
    assert len(keys) == 1 and isinstance(keys[0], ast.Tuple), "predict writes one key tuple"
    return [ast.unparse(e) for e in keys[0].elts]


def test_predict_key_is_keyed_in_its_order():
    """predict's cache key and KEYED (which the sweep's fast path rebuilds it by: api.recent_fast_layout) name the same
    arguments in the same order. test_sweep_vector's check calls with tp and weights only, so it passed with two
    None-default entries swapped (activations, kv) or a new keyword left out of the key: the sweep then missed the
    setting (silently slow: every point on the scalar path), and a keyword missing from the key let predict answer
    one setting's question from another's."""
    from inferchip.performance.predict import KEYED

    assert _predict_key_names() == ["input_key(chip)", "input_key(model)", *KEYED]


def test_the_sweep_finds_predicts_setting_whatever_keyword_differs():
    """For each keyword of KEYED given a value of its own (kv, activations: both None by default, so a swap of the
    two passed the older check), the setting predict kept is the one recent_fast_layout's key finds."""
    import inferchip as ic
    from inferchip.interfaces.api import recent_fast_layout
    from inferchip.performance import fast_path

    chip, model = "nvidia-h100-sxm-80gb", "meta-llama/Llama-3.1-8B"
    for kw in ({"kv": "fp8"}, {"activations": "fp8", "weights": "fp8"}, {"pp": 1, "tp": 2, "count": 2}):
        for _ in range(fast_path.FAST_AFTER):
            ic.predict(chip, model, batch=4, input_tokens=256, output_tokens=16, **kw)
        got = recent_fast_layout(chip, model, **kw)
        assert got is not None, kw
        swapped = {("activations" if k == "kv" else "kv" if k == "activations" else k): v for k, v in kw.items()}
        if swapped != kw:
            assert recent_fast_layout(chip, model, **swapped) is None, kw


README = __import__("pathlib").Path(__file__).parents[1] / "README.md"


@pytest.mark.parametrize(("chip", "dynamic_only"), [("nvidia-drive-agx-thor", True), ("nvidia-l4", False)])
def test_vision_and_drive_say_when_power_is_the_networks_dynamic_energy_alone(chip, dynamic_only):
    """Failed on main: the README promised null energy for a chip with no TDP, while vision and drive gave the
    networks' dynamic energy (idle 0 W) with a note a JSON reader does not see. The figures stay (the automotive
    modules drive is for publish no TDP) and say so in a key; the README states the rule."""
    import json
    import math

    import inferchip as ic
    from cli_in_process import run_main

    code, out = run_main(["vision", "--chip", chip, "--model", "yolov8n-640", "--batch", "1", "--format", "json"])
    assert code == 0, out[-300:]
    answer = json.loads(out)
    assert answer["power_dynamic_only"] is dynamic_only and math.isfinite(answer["points"][0]["power_w"])
    assert ic.frame_cost(chip, "yolov8n-640", [1]).power_dynamic_only is dynamic_only
    rig = ic.drive(chip, cameras=2, fps=10, models=["yolov8n-640@camera"], duration_s=1.0)
    assert rig["power_dynamic_only"] is dynamic_only and rig["average_power_w"] > 0
    assert any("publishes no TDP" in n for n in rig["notes"]) is dynamic_only
    text = " ".join(README.read_text(encoding="utf-8").split())
    assert "`vision` and `drive` are the exception" in text and "`power_dynamic_only`" in text


def test_frame_cost_takes_predicts_names_and_the_old_ones_with_a_warning():
    """Failed on main: ic.frame_cost took precision= and chips= where ic.predict and ic.drive take weights= and
    count= (one concept, two names). The new names give the old names' figures; an old name still works, warning
    with the new one's name (scripts of stops <= 50 keep running, as the CLI's old spellings do)."""
    import warnings

    import numpy as np

    import inferchip as ic

    new = ic.frame_cost("nvidia-l4", "resnet50-v1.5", [1, 16], weights="fp16", count=2)
    with pytest.warns(DeprecationWarning, match=r"precision= is deprecated, use weights="):
        old = ic.frame_cost("nvidia-l4", "resnet50-v1.5", [1, 16], precision="fp16", count=2)
    with pytest.warns(DeprecationWarning) as record:
        both_old = ic.frame_cost("nvidia-l4", "resnet50-v1.5", [1, 16], precision="fp16", chips=2)
    said = " ".join(str(w.message) for w in record)
    assert "precision= is deprecated, use weights=" in said and "chips= is deprecated, use count=" in said
    for f in (old, both_old):
        assert np.array_equal(f.latency_s, new.latency_s) and np.array_equal(f.energy_j, new.energy_j)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the new names warn nothing
        ic.frame_cost("nvidia-l4", "resnet50-v1.5", [1], weights="int8", count=1)


@pytest.mark.parametrize(("kw", "message"), [
    ({"precision": "fp16", "weights": "fp8"}, r"precision= and weights= given together"),
    ({"chips": 2, "count": 3}, r"chips= and count= given together"),
    ({"weight": "fp8"}, r"unexpected keyword argument 'weight' \(did you mean 'weights'\?\)"),
    ({"precison": "fp8"}, r"unexpected keyword argument 'precison' \(did you mean 'weights'\?\)"),
    ({"cout": 2}, r"unexpected keyword argument 'cout' \(did you mean 'count'\?\)"),
])
def test_frame_cost_refuses_a_name_twice_and_names_the_closest_keyword(kw, message):
    import inferchip as ic

    with pytest.raises(TypeError, match=message):
        ic.frame_cost("nvidia-l4", "resnet50-v1.5", [1], **kw)


@pytest.mark.parametrize(("kw", "message"), [({"count": 0}, r"^count: must be a whole number"),
                                             ({"weights": "int3"}, r"^weights: unknown number format 'int3'")])
def test_frame_cost_names_a_bad_value_by_its_keyword(kw, message):
    import inferchip as ic

    with pytest.raises(InvalidSettingError, match=message):
        ic.frame_cost("nvidia-l4", "resnet50-v1.5", [1], **kw)


def test_the_public_functions_name_one_concept_one_way():
    """No function of the public API names the number format precision= or a number of chips chips=
    (ic.review's chips= is a list of chip ids, a concept of its own: README 'review --chips stays')."""
    import inspect

    import inferchip as ic

    for name in ic.__all__:
        f = getattr(ic, name)
        if not callable(f) or isinstance(f, type):
            continue
        params = inspect.signature(f).parameters
        assert "precision" not in params, name
        assert "chips" not in params or name == "review", name


def test_a_sweep_refuses_a_length_of_none_by_name_after_predict_made_its_fast_layout():
    """Failed on main (found by test_pyapi50's fuzz test in this branch's run): once predict had made the setting's
    fast layout, ic.sweep(..., input_tokens=None) primed the point as float(None), a bare TypeError, where a fresh
    process refused it by name (None passed the sweep's check as a batch's 'most throughput' does)."""
    import inferchip as ic
    from inferchip.performance import fast_path

    chip, model = "nvidia-h100-sxm-80gb", "meta-llama/Llama-3.2-1B"
    for _ in range(fast_path.FAST_AFTER + 1):
        ic.predict(chip, model, batch=1, input_tokens=64, output_tokens=8)
    for kw in ({"input_tokens": None}, {"output_tokens": [8, None]}):
        with pytest.raises(InvalidSettingError, match=rf"{next(iter(kw))}= must be a number, got None"):
            ic.sweep(chip, model, batch=1, **{"input_tokens": 64, "output_tokens": 8, **kw})
