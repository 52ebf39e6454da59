"""A user's network YAML whose graph misses its own ``published`` figures (stop 38, newuser38).

Before: ``published.params: {value: 1e9, tolerance: 0.03}`` on a graph of 3.2 M parameters loaded without a word
(the tolerance was read only by the bundled networks' tests), so a user who typed the graph or the figure wrong
got the graph's costs with nothing to say which disagreed. Now each figure missed beyond its tolerance is a note
on the network (shown by `inferchip vision` and `drive`), naming the file, the counts and the tolerance.
"""

from __future__ import annotations

import pytest
import yaml

from inferchip.catalog.vision_networks import load_network_spec, vision_network_ids
from inferchip.workload.vision.network import load_network


def _copy(tmp_path, net: str, what: str, factor: float):
    raw = yaml.safe_load(load_network_spec(net).model_dump_json())
    raw["published"][what]["value"] *= factor
    raw = {k: v for k, v in raw.items() if v is not None}
    path = tmp_path / f"{net}-{what}-{factor:g}.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


PUBLISHED = [(n, w) for n in vision_network_ids() for w in load_network_spec(n).published]


@pytest.mark.parametrize(("net", "what"), PUBLISHED)
def test_a_figure_missed_beyond_its_tolerance_is_a_note_naming_file_and_counts(tmp_path, net, what):
    path = _copy(tmp_path, net, what, 300.0)
    notes = [n for n in load_network(str(path)).notes if n.startswith(f"{path}: the graph counts ")]
    assert len(notes) == 1 and f"published.{what}" in notes[0] and "tolerance" in notes[0], notes


def test_the_bundled_networks_and_a_figure_within_tolerance_carry_no_such_note(tmp_path):
    for net in vision_network_ids():
        assert not any("the graph counts" in n for n in load_network(net).notes), net
    path = _copy(tmp_path, "yolov8n-640", "params", 1.01)  # 1 % off, tolerance 3 %
    assert not any("the graph counts" in n for n in load_network(str(path)).notes)
