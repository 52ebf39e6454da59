"""A rig network on a rig of N cameras is costed at N views: BEVFormer (6 views in its published configuration) on
an 8-camera rig runs its image backbone on 8 views and samples all 8 in its spatial cross-attention (tiny:
``cameras_hit: all``). Before, it was costed at its own 6 views whatever the rig, a note saying so; ``--own-views``
(API ``own_views=True``) keeps that reading."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import inferchip as ic
from cli_in_process import run_main
from inferchip.errors import SpecError
from inferchip.workload.vision.bev import bev_encoder
from inferchip.workload.vision.network import at_views, load_network
from inferchip.workload.vision.tracer import Tensor, Tracer

GMAC_PER_CAMERA = 31.70e9  # BEVFormer-tiny backbone + neck per camera (the network file's published 190.2 / 6)


def test_the_backbone_work_is_per_view():
    net = load_network("bevformer-tiny")
    at8 = at_views(net, 8)
    assert net.macs_in("backbone") == pytest.approx(6 * GMAC_PER_CAMERA, rel=0.02)
    assert at8.macs_in("backbone") == pytest.approx(8 / 6 * net.macs_in("backbone"), rel=1e-9)
    assert at8.spec.input.views == 8 and at8.id == net.id


def test_at_its_own_views_the_network_is_the_same_object():
    net = load_network("bevformer-tiny")
    assert at_views(net, 6) is net


@settings(max_examples=20, deadline=None)
@given(views=st.integers(1, 12))
def test_tiny_samples_every_view(views):
    """``cameras_hit: all``: the sampled rows are the BEV queries x the views, whatever the views."""
    net = at_views(load_network("bevformer-tiny"), views)
    sampled = [x for x in net.layers if "sca-sampling" in x.name]
    per_view = sum(x.in_elems for x in sampled) / views
    at6 = sum(x.in_elems for x in load_network("bevformer-tiny").layers if "sca-sampling" in x.name) / 6
    assert per_view == pytest.approx(at6, rel=1e-9)


def test_cameras_hit_names_only_all():
    with pytest.raises(SpecError, match="'every'.*allowed.*'all'"):
        bev_encoder(Tracer(where="test"), Tensor(6, 256, (15, 25)), [50, 50], layers=1, cameras_hit="every")


def test_an_onnx_graph_is_not_rebuilt():
    class Graph:  # an imported graph: no spec to rebuild from
        spec = None

    assert at_views(Graph(), 8) is None  # type: ignore[arg-type]


RIG = dict(fps=36.0, models=["bevformer-tiny"], duration_s=0.5)


def test_drive_costs_the_rig_network_at_the_rig_cameras():
    r8, r6 = ic.drive("tesla-ai4-hw4", 8, **RIG), ic.drive("tesla-ai4-hw4", 6, **RIG)
    own = ic.drive("tesla-ai4-hw4", 8, own_views=True, **RIG)
    busy8, busy6 = r8["networks"][0]["busy_per_cycle_s"], r6["networks"][0]["busy_per_cycle_s"]
    assert busy8 > 1.15 * busy6  # two more views of the backbone
    assert own["networks"][0]["busy_per_cycle_s"] == pytest.approx(busy6)
    assert any("costed at the rig's 8 camera views" in n for n in r8["notes"])
    assert any("is costed so" in n for n in own["notes"])
    assert not any("camera views" in n for n in r6["notes"])


def test_the_cli_takes_own_views():
    base = ["drive", "--chip", "tesla-ai4-hw4", "--cameras", "8", "--fps", "36", "--duration", "0.5"]
    code, out = run_main([*base, "--format", "json"])
    code_own, out_own = run_main([*base, "--own-views", "--format", "json"])
    assert code == 0 and code_own == 0, (out, out_own)
    assert "costed at the rig's 8 camera views" in out and "is costed so" in out_own


def test_the_json_names_the_views_each_network_was_costed_at():
    r = ic.drive("tesla-ai4-hw4", 8, models=["bevformer-tiny", "yolov8n-640@camera"], fps=36.0, duration_s=0.5)
    own = ic.drive("tesla-ai4-hw4", 8, models=["bevformer-tiny"], fps=36.0, duration_s=0.5, own_views=True)
    assert [n["views"] for n in r["networks"]] == [8, 1] and own["networks"][0]["views"] == 6


@pytest.mark.parametrize("bad", ["no", "False", 0, 1, None])
def test_own_views_is_a_bool(bad):
    """own_views="no" was read by its truth and kept the network's own 6 views; None by its falsehood: refused by
    name, before the rig is costed, in ic.drive and the deadline curve."""
    from inferchip.errors import InvalidSettingError
    from inferchip.performance.vision_drive import drive_curve

    with pytest.raises(InvalidSettingError, match=r"^own_views: value .*allowed: True or False"):
        ic.drive("tesla-ai5", 3, 10, own_views=bad, duration_s=1.0)
    with pytest.raises(InvalidSettingError, match=r"^own_views: value"):
        drive_curve("tesla-ai5", [3], [10.0], own_views=bad, duration_s=1.0)


def test_own_views_without_a_rig_network_says_it_changes_nothing():
    """--own-views on camera networks alone was taken silently (review52c): a note says it changes nothing, in the
    API and the command; with a rig network among them there is no such note."""
    cams = ic.drive("tesla-ai4-hw4", 8, models=["yolov8n-640"], fps=36.0, duration_s=0.5, own_views=True)
    assert any(n.startswith("--own-views (API own_views=True) changes nothing") for n in cams["notes"])
    mixed = ic.drive("tesla-ai4-hw4", 8, models=["bevformer-tiny", "yolov8n-640@camera"], fps=36.0, duration_s=0.5,
                     own_views=True)
    plain = ic.drive("tesla-ai4-hw4", 8, models=["yolov8n-640"], fps=36.0, duration_s=0.5)
    assert not any("changes nothing" in n for n in [*mixed["notes"], *plain["notes"]])
    code, out = run_main(["drive", "--chip", "tesla-ai4-hw4", "--cameras", "8", "--fps", "36", "--duration", "0.5",
                          "--model", "yolov8n-640", "--own-views"])
    assert code == 0 and "changes nothing" in " ".join(out.split()), out
