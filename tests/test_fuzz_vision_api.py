"""The Python API's ``frame_cost`` with bad arguments (stop 38, newuser38).

Before: ``batch="8"`` and ``batch=True`` were costed as 8 and 1 frames, ``batch=10**12`` and ``chips=10**9`` were
costed though `inferchip vision` refuses them (a 17.8-million-second call), and ``calibration="none"`` or a
calibration file's path (what `--calibration` takes) ended in ``AttributeError: 'str' object has no attribute
'matrix_fraction_for'``. Now each bad value is one ``InvalidSettingError`` naming the argument, the value and the
range, the same ranges as the CLI's, and a calibration is taken as a path or ``"none"`` too.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inferchip.catalog.vision_networks import CALIBRATION_FILE, load_vision_calibration
from inferchip.errors import InvalidSettingError
from inferchip.performance.vision import frame_cost

CHIP, NET = "nvidia-h100-sxm-80gb", "resnet50-v1.5"
BATCH_MAX, MAX_VISION_CHIPS = 65536, 4096  # `inferchip vision --help`: --batch 1 to 65536, --count 1 to 4,096

BAD_BATCH = st.one_of(st.integers(max_value=0), st.integers(min_value=BATCH_MAX + 1),
                      st.sampled_from(["8", "1,8", True, False, math.nan, math.inf, 2.5, [1, "8"], [[1, 8]], [],
                                       [True, 2], [2, False], (1, np.True_)]))  # stop 39: [True, 2] read as [1, 2]


@settings(max_examples=60, deadline=None)
@given(batch=BAD_BATCH)
def test_a_bad_batch_names_the_argument_value_and_range(batch):
    with pytest.raises(InvalidSettingError, match=rf"batch: frames per call must be whole numbers from 1 to "
                                                  rf"{BATCH_MAX:,} .*got "):
        frame_cost(CHIP, NET, batch)


@settings(max_examples=40, deadline=None)
@given(chips=st.one_of(st.integers(max_value=0), st.integers(min_value=MAX_VISION_CHIPS + 1),
                       st.sampled_from(["2", True, 2.0, math.nan])))
def test_a_bad_chip_count_names_the_argument_value_and_range(chips):
    with pytest.raises(InvalidSettingError, match=rf"count: must be a whole number from 1 to {MAX_VISION_CHIPS:,}, "
                                                  rf"got "):
        frame_cost(CHIP, NET, 1, count=chips)


def test_the_largest_batch_and_chip_count_the_cli_takes_are_costed():
    """Control: the ends of the ranges run, as on the CLI."""
    f = frame_cost(CHIP, NET, [1, BATCH_MAX], count=MAX_VISION_CHIPS)
    assert np.all(np.isfinite(f.latency_s)) and np.all(f.latency_s > 0)


def test_a_calibration_is_taken_as_a_path_or_none_as_the_cli_takes_it():
    shipped = frame_cost(CHIP, NET, 8).latency_s
    assert frame_cost(CHIP, NET, 8, calibration=str(CALIBRATION_FILE)).latency_s == pytest.approx(shipped)
    assert frame_cost(CHIP, NET, 8, calibration=CALIBRATION_FILE).latency_s == pytest.approx(shipped)
    bare = frame_cost(CHIP, NET, 8, calibration=load_vision_calibration("none")).latency_s
    assert frame_cost(CHIP, NET, 8, calibration="none").latency_s == pytest.approx(bare)


@pytest.mark.parametrize("calibration", [0.6, {"matrix_fraction": 0.6}, ["none"]])
def test_a_calibration_of_another_type_is_refused(calibration):
    with pytest.raises(InvalidSettingError, match=r"calibration = .*; allowed: a VisionCalibration, a calibration "
                                                  r"YAML path, 'none'"):
        frame_cost(CHIP, NET, 1, calibration=calibration)


# Stop 39 (newuser39): a vision call had no memory check. `spatial: [1e7, 1e7]` was costed at 35 million seconds a
# frame and `vision --batch 65536` of ResNet-50 on one H100 (118 GB of activations at least) was answered.

def _resnet_with_input(tmp_path, side: int):
    import yaml

    from inferchip.catalog.vision_networks import load_network_spec

    raw = yaml.safe_load(load_network_spec(NET).model_dump_json())
    raw["input"]["spatial"] = [side, side]
    raw["id"] = "my-r50"
    path = tmp_path / f"r50-{side}.yaml"
    path.write_text(yaml.safe_dump({k: v for k, v in raw.items() if v is not None}))
    return path


@settings(max_examples=15, deadline=None)
@given(side=st.integers(min_value=400_000, max_value=10**7))
def test_an_input_no_chip_memory_holds_is_refused_with_what_would_make_it_fit(side):
    import tempfile
    from pathlib import Path

    from inferchip.errors import DoesNotFitError
    from inferchip.performance.vision import load_network

    with tempfile.TemporaryDirectory() as tmp:
        net = load_network(str(_resnet_with_input(Path(tmp), side)))
    with pytest.raises(DoesNotFitError, match=r"r50-\d+\.yaml \(my-r50\) does not fit on nvidia-h100-sxm-80gb: a "
                                              r"call of 1 frame needs at least .* GB per chip .* GB is usable; what "
                                              r"would make it fit: a smaller input"):
        frame_cost(CHIP, net, 1)


def test_the_memory_floor_is_the_weights_and_the_largest_layers_input_and_output():
    """Hand count: ResNet-50 int8 holds 25,557,032 weights (1 B each); its largest layer is the first bottleneck's
    1x1 expansion at 56 x 56 (in 64 channels + the 256-channel shortcut, out 256: 576 x 3,136 = 1,806,336 B)."""
    from inferchip.performance.vision import load_network, memory_need

    need = memory_need(load_network(NET), "int8")
    assert need.weights_bytes == 25_557_032
    assert need.activation_bytes_per_frame == (64 + 256 + 256) * 56 * 56
    f = frame_cost(CHIP, NET, [1, 8])
    assert list(f.memory_per_chip_bytes) == [need.weights_bytes + k * need.activation_bytes_per_frame for k in (1, 8)]


def test_vision_cli_refuses_a_batch_the_memory_does_not_hold_and_names_the_largest():
    from cli_in_process import run_main
    from inferchip.performance.vision import load_network, memory_need

    code, out = run_main(["vision", "--chip", CHIP, "--model", NET, "--batch", "1,8,65536"])
    usable = frame_cost(CHIP, NET, 1).usable_memory_bytes
    fits = memory_need(load_network(NET), "int8").fitting_frames(usable)
    assert code == 2 and "Traceback" not in out, out
    assert f"error: --batch 65536: resnet50-v1.5 at int8 does not fit on 1 x {CHIP}" in out, out
    assert f"allowed: at most {fits:,} frames per call on 1 chip" in out, out
    assert run_main(["vision", "--chip", CHIP, "--model", NET, "--batch", str(fits)])[0] == 0  # control: the edge
    assert run_main(["vision", "--chip", CHIP, "--model", NET, "--batch", str(fits + 1)])[0] == 2
    assert run_main(["vision", "--chip", CHIP, "--model", NET, "--batch", "65536", "--count", "2"])[0] == 0


@pytest.mark.parametrize("batch", ["1,1", "8,1,8", "2,4,2,4"])
def test_vision_cli_refuses_a_batch_size_given_twice(batch):
    """Stop 39: `vision --batch 1,1` printed the row twice."""
    from cli_in_process import run_main

    code, out = run_main(["vision", "--chip", CHIP, "--model", NET, "--batch", batch])
    assert code == 2 and f"'{batch}': batch size(s) given twice" in out and "allowed: each batch size once" in out, out


def test_api_notes_a_batch_the_memory_does_not_hold_as_the_cli_refuses_it():
    """``frame_cost`` answered a 65,536-frame call of ResNet-50 on one H100 (about 118 GB of activations against
    about 84 GB usable) with figures and no word; the CLI refuses it. The API now names the batch in its notes, from
    the one rule both read (FrameCost.over_memory); a batch that fits gets no such note."""
    from inferchip.performance.vision import load_network, memory_need

    f = frame_cost(CHIP, NET, [1, 8, 65536])
    assert f.over_memory() == [65536]
    fits = memory_need(load_network(NET), "int8").fitting_frames(f.usable_memory_bytes)
    assert any(n.startswith("batch 65536: more than the chip's usable memory") and f"at most {fits:,} frames" in n
               for n in f.notes), f.notes
    ok = frame_cost(CHIP, NET, [1, 8])
    assert ok.over_memory() == [] and not any("usable memory" in n for n in ok.notes)
    two = frame_cost(CHIP, NET, [65536], count=2)  # split over two chips it fits
    assert two.over_memory() == []
