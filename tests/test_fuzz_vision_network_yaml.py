"""A user's own vision network YAML with bad step arguments (stop 38, newuser38).

Each bundled network's YAML is copied and one argument of one graph step is replaced by a value its builder cannot
take: 0 or a negative count, a fraction, NaN, a string, a bool where a number goes, a string where a bool goes.
Before: some of these were silent (``c2f n: -1`` built a network with no bottleneck; ``shortcut: "false"`` is
truthy), others ended in a raw ``integer division or modulo by zero`` or a multi-line pydantic dump naming an
internal layer (``conv.1 ... m=102400``) and the network's id instead of the file. Now each is one ``SpecError``
naming the file, the step, the argument, the value and what is allowed.
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inferchip.catalog.vision_networks import load_network_spec, vision_network_ids
from inferchip.errors import SpecError
from inferchip.workload.vision.network import load_network

# (network id, step index, argument, its value) for every whole-number or bool argument a bundled network sets.
STEPS = [(net, i, name, value) for net in vision_network_ids()
         for i, step in enumerate(load_network_spec(net).graph)
         for name, value in step.items() if name not in ("op", "as", "in", "scope")]
NUMBERS = [s for s in STEPS if isinstance(s[3], int) and not isinstance(s[3], bool)]  # whole-number arguments only
FLAGS = [s for s in STEPS if isinstance(s[3], bool)]
_SERIAL = itertools.count()
ZERO_ALLOWED = {"pad", "convs", "output_tokens", "first_level"}
ZERO_ALLOWED_IN = {("vit", "classes")}  # (op, argument): a ViT backbone with no classifier head


def _write(tmp: Path, net: str, i: int, name: str, value: object) -> Path:
    raw = yaml.safe_load(load_network_spec(net).model_dump_json())
    raw["graph"][i][name] = value
    raw = {k: v for k, v in raw.items() if v is not None}
    path = tmp / f"{net}-{i}-{name}-{next(_SERIAL)}.yaml"  # one file per example: no cache can answer for it
    path.write_text(yaml.safe_dump(raw))
    return path


def _hint(net: str, i: int, name: str) -> object:
    """The annotation of a step argument in its builder (what the YAML value must be)."""
    import typing

    from inferchip.workload.vision import blocks
    from inferchip.workload.vision.network import BLOCKS
    from inferchip.workload.vision.tracer import Tracer

    fn = BLOCKS[load_network_spec(net).graph[i]["op"]]
    return typing.get_type_hints(Tracer.conv if fn is blocks.conv else fn).get(name)


def _takes_none(net: str, i: int, name: str) -> bool:
    import typing

    return type(None) in typing.get_args(_hint(net, i, name))


NUMBERS = [s for s in NUMBERS if "int" in str(_hint(*s[:3]))]  # not bev_encoder's cameras_hit (a float: 2.5 is fine)


def _bad_number(net: str, i: int, name: str) -> st.SearchStrategy[object]:
    op = load_network_spec(net).graph[i]["op"]
    floor = 0 if name in ZERO_ALLOWED or (op, name) in ZERO_ALLOWED_IN else 1
    return st.one_of(st.integers(max_value=floor - 1), st.sampled_from([math.nan, math.inf, 2.5, "8", True, None]))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_a_bad_whole_number_argument_names_file_step_argument_value_and_range(tmp_path, data):
    net, i, name, _ = data.draw(st.sampled_from(NUMBERS))
    value = data.draw(_bad_number(net, i, name))
    if value is None and _takes_none(net, i, name):  # pad: null is 'same' padding; tokens' dim: null is the channels
        return
    path = _write(tmp_path, net, i, name, value)
    with pytest.raises(SpecError) as err:
        load_network(str(path))
    msg = str(err.value)
    assert str(path) in msg and f"graph[{i}]" in msg and f"{name} = {value!r}" in msg and "allowed:" in msg, msg
    assert "\n" not in msg and "pydantic" not in msg, msg


@pytest.mark.parametrize(("net", "i", "name", "value"), FLAGS[:12])
def test_a_string_where_a_bool_goes_is_refused(tmp_path, net, i, name, value):
    path = _write(tmp_path, net, i, name, str(not value).lower())  # "false" is truthy: before, read as true
    with pytest.raises(SpecError, match=rf"graph\[{i}\] .*{name} = '(true|false)'; allowed: true or false"):
        load_network(str(path))


def test_a_stride_of_zero_is_refused_in_the_users_words(tmp_path):
    path = _write(tmp_path, "yolov8n-640", 0, "stride", 0)
    with pytest.raises(SpecError, match=r"yolov8n-640-0-stride-\d+\.yaml: graph\[0\] \(op conv\): stride = 0; "
                                        r"allowed: a whole number from 1 to 10,000,000$"):
        load_network(str(path))


def test_an_unchanged_copy_builds_the_bundled_network(tmp_path):
    """Control: the copy of every bundled network loads and counts as the bundled one."""
    for net in vision_network_ids():
        spec = load_network_spec(net)
        path = _write(tmp_path, net, 0, "op", spec.graph[0]["op"])
        mine, bundled = load_network(str(path)), load_network(net)
        assert (mine.params, mine.macs_per_frame) == (bundled.params, bundled.macs_per_frame)


def test_an_edited_network_file_is_rebuilt_not_served_from_the_cache(tmp_path):
    """A notebook user edits their YAML and loads it again: before, the first build was returned by path."""
    path = _write(tmp_path, "yolov8n-640", 0, "out", 16)
    first = load_network(str(path)).params
    raw = yaml.safe_load(path.read_text())
    raw["graph"][0]["out"] = 32
    path.write_text(yaml.safe_dump(raw) + "\n# edited\n")
    assert load_network(str(path)).params > first


def _write_input(tmp: Path, net: str, spatial: list[int]) -> Path:
    raw = yaml.safe_load(load_network_spec(net).model_dump_json())
    raw["input"]["spatial"] = spatial
    raw = {k: v for k, v in raw.items() if v is not None}
    path = tmp / f"{net}-spatial-{next(_SERIAL)}.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_an_input_of_another_rank_than_the_family_is_refused(tmp_path, data):
    """Stop 39 (newuser39): ``spatial: [640]`` on an image network was traced as 1-D convolutions with no remark
    (and [224, 224, 224] on ResNet-50 as 3-D ones, 68 x the published MACs). Now the file, the field, the value and
    the rank the family takes are named."""
    net = data.draw(st.sampled_from(vision_network_ids()))
    rank = 3 if load_network_spec(net).family == "medical-3d" else 2
    n = data.draw(st.sampled_from([r for r in (1, 2, 3) if r != rank]))
    spatial = data.draw(st.lists(st.integers(8, 512), min_size=n, max_size=n))
    path = _write_input(tmp_path, net, spatial)
    with pytest.raises(SpecError) as err:
        load_network(str(path))
    msg = str(err.value)
    assert msg == (f"{path}: input.spatial = {spatial}: a '{load_network_spec(net).family}' network takes {rank} "
                   f"spatial sizes ({'D, H, W' if rank == 3 else 'H, W'}), not {n} (its layers would be traced {n}-D); "
                   f"allowed: {rank} whole numbers"), msg


def test_a_vit_without_a_classifier_head_loads_and_a_negative_head_is_refused(tmp_path):
    """classes 0 is a ViT backbone (no head: the drawn bad numbers for it start below 0, the fuzz above once drew 0)."""
    headless = load_network(str(_write(tmp_path, "vit-b16-224", 0, "classes", 0)))
    assert headless.params < load_network("vit-b16-224").params
    with pytest.raises(SpecError, match=r"classes = -1; allowed: a whole number from 0 to 10,000,000$"):
        load_network(str(_write(tmp_path, "vit-b16-224", 0, "classes", -1)))
