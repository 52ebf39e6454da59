"""Whole-number step arguments of a network YAML beyond any network (found by tools/fuzz/fuzz_commands.py, stop 45):
``c2f`` with ``n: 10**40`` repeats made ``inferchip vision --model mine.yaml`` loop for ever, and ``out: 10**40``
channels was traced and costed. Step arguments now stop at ``MAX_STEP_INT`` (10,000,000, over 65 times the largest a
bundled network states) and a graph at ``MAX_TRACED_LAYERS`` layers (20,000, over 40 times the largest bundled
network); each refusal names the file, the step and the value, within seconds."""

from __future__ import annotations

import copy
import random

import pytest

from cli_in_process import run_main
from hang_guard import time_limit
from inferchip.catalog.vision_networks import load_network_spec, vision_network_ids
from inferchip.errors import SpecError
from inferchip.spec.vision import VisionNetworkSpec
from inferchip.workload.vision.network import MAX_STEP_INT, build_network
from inferchip.workload.vision.tracer import MAX_TRACED_LAYERS


def _yolo_with(step: int, arg: str, value: object) -> VisionNetworkSpec:
    doc = load_network_spec("yolov8n-640").model_dump()
    doc = copy.deepcopy(doc)
    doc["graph"][step][arg] = value
    return VisionNetworkSpec.model_validate(doc)


def _steps(op: str) -> list[int]:
    return [i for i, s in enumerate(load_network_spec("yolov8n-640").graph) if s["op"] == op]


def test_the_bounds_hold_every_bundled_network():
    for net_id in vision_network_ids():
        net = build_network(load_network_spec(net_id))
        assert len(net.layers) * 40 <= MAX_TRACED_LAYERS
        for step in load_network_spec(net_id).graph:
            for v in step.values():
                for x in v if isinstance(v, list) else [v]:
                    assert not isinstance(x, int) or isinstance(x, bool) or x * 65 <= MAX_STEP_INT


@pytest.mark.parametrize("n", [10**40, MAX_STEP_INT + 1])
def test_a_huge_count_is_refused_by_its_bound(n):
    step = _steps("c2f")[0]
    with time_limit(20), pytest.raises(SpecError, match=rf"x\.yaml: graph\[{step}\] \(op c2f\): n = {n}; allowed: a "
                                                     "whole number from 1 to 10,000,000$"):
        build_network(_yolo_with(step, "n", n), "x.yaml")


def test_seeded_repeat_counts_under_the_bound_stop_at_the_layer_bound_fast():
    rng = random.Random(45)
    for step in rng.sample(_steps("c2f"), 3):
        n = rng.randint(MAX_TRACED_LAYERS, MAX_STEP_INT)
        with time_limit(20), pytest.raises(SpecError, match=r"x\.yaml: the graph traces more than 20,000 layers"):
            build_network(_yolo_with(step, "n", n), "x.yaml")


@pytest.mark.parametrize(("op", "arg"), [("conv", "out"), ("conv", "k"), ("conv", "stride"), ("c2f", "out"),
                                         ("upsample", "factor")])
def test_a_huge_width_kernel_or_factor_is_refused(op, arg):
    step = _steps(op)[0]
    with pytest.raises(SpecError, match=rf"graph\[{step}\] \(op {op}\): {arg} = 1{'0' * 40}; allowed: a whole "
                                        "number from 1 to 10,000,000"):
        build_network(_yolo_with(step, arg, 10**40), "x.yaml")


def test_cli_names_the_file(tmp_path):
    import yaml

    doc = load_network_spec("yolov8n-640").model_dump(mode="json", exclude_none=True)
    doc["graph"][_steps("c2f")[0]]["n"] = 10**40
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    with time_limit(30):
        code, out = run_main(["vision", "--chip", "nvidia-h100-sxm-80gb", "--model", str(path), "--batch", "1"])
    assert code == 2 and "Traceback" not in out and "mine.yaml: graph[" in out and "10,000,000" in out, out
