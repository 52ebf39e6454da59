"""Bundled vision networks: each builds, and its parameter and MAC counts match the published (or
independently counted) figures of ``reference/vision_models.md`` within the tolerance its file states."""

from __future__ import annotations

import pytest

from inferchip.catalog.vision_networks import load_network_spec, vision_network_ids
from inferchip.errors import SpecError, UnknownIdError
from inferchip.spec.vision import VisionNetworkSpec
from inferchip.workload.vision.network import build_network, load_network

IDS = vision_network_ids()

# The networks the issue asks for, by id; each must be bundled.
REQUIRED = ["resnet50-v1.5", "retinanet-resnext50-fpn-800", "3d-unet-kits19", "ssd-resnet50-cognata-8mp",
            "deeplabv3plus-resnet50-os16-cognata-8mp", "bevformer-tiny", "bevformer-small", "bevformer-base",
            "vit-b16-224", "yolov8n-640", "vla-vitb16-qwen2.5-0.5b"]


def test_required_networks_are_bundled():
    assert set(REQUIRED) <= set(IDS)


@pytest.mark.parametrize("net_id", IDS)
def test_network_builds_with_sources(net_id):
    net = load_network(net_id)
    assert net.layers and net.params > 0 and net.macs_per_frame > 0
    assert net.spec is not None and net.spec.sources


PUBLISHED = [(i, k) for i in IDS for k in load_network_spec(i).published]


@pytest.mark.parametrize(("net_id", "what"), PUBLISHED)
def test_counts_match_published_figures(net_id, what):
    net = load_network(net_id)
    fig = load_network_spec(net_id).published[what]
    if what == "params":
        got = net.params_in(fig.scope) if fig.scope else net.params
    else:
        got = net.macs_in(fig.scope) if fig.scope else net.macs_per_frame
    assert got == pytest.approx(fig.value, rel=fig.tolerance), f"{net_id} {what}: {got:,.0f} vs {fig.value:,.0f}"


def test_every_figure_network_has_published_counts():
    """The MLPerf networks and the reference ViT/YOLO carry both counts; BEVFormer small/base have none stated."""
    for net_id in set(REQUIRED) - {"bevformer-small", "bevformer-base", "vla-vitb16-qwen2.5-0.5b"}:
        assert set(load_network_spec(net_id).published) == {"params", "macs_per_frame"}, net_id


def test_resnet50_by_hand():
    """ResNet-50 v1.5 stem: 7x7x3 conv to 64 channels at 112x112 = 118.0 M MAC; fc 2048x1000 = 2.05 M MAC."""
    net = load_network("resnet50-v1.5")
    stem, fc = net.layers[0], net.layers[-1]
    assert stem.macs == 112 * 112 * 7 * 7 * 3 * 64
    assert fc.macs == 2048 * 1000 and fc.param_elems == 2048 * 1000 + 1000


def test_unknown_id_names_closest():
    with pytest.raises(UnknownIdError, match="resnet50-v1.5"):
        load_network("resnet50")


def _spec(graph, **over):
    base = dict(id="t", name="t", family="classification", input={"channels": 3, "spatial": [32, 32]},
                sources=[{"citation": "test"}], graph=graph)
    base.update(over)
    return VisionNetworkSpec.model_validate(base)


def test_unknown_op_is_a_clear_error():
    with pytest.raises(SpecError, match=r"graph\[0\] \(op warp\): unknown op; allowed: .*conv"):
        build_network(_spec([{"op": "warp"}]))


def test_bad_argument_is_a_clear_error():
    with pytest.raises(SpecError, match=r"graph\[0\] \(op conv\).*colour"):
        build_network(_spec([{"op": "conv", "out": 8, "k": 3, "colour": "red"}]))


def test_tensor_used_before_produced():
    with pytest.raises(SpecError, match="tensor 'c9' is used before it is produced"):
        build_network(_spec([{"op": "conv", "out": 8, "k": 3, "in": "c9"}]))


def test_depthwise_conv_goes_to_vector_units():
    net = build_network(_spec([{"op": "conv", "out": 3, "k": 3, "groups": 3}]))
    assert net.layers[0].op == "depthwise" and net.macs_per_frame == 0


def test_weights_shared_across_levels_counted_once():
    """RetinaNet's head runs on 5 levels with one set of weights."""
    net = load_network("retinanet-resnext50-fpn-800")
    heads = [x for x in net.layers if x.name.startswith("head")]
    assert sum(1 for x in heads if x.param_elems > 0) * 5 == len(heads)
