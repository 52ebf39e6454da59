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
                      st.sampled_from(["8", "1,8", True, False, math.nan, math.inf, 2.5, [1, "8"], [[1, 8]], []]))


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
    with pytest.raises(InvalidSettingError, match=rf"chips: must be a whole number from 1 to {MAX_VISION_CHIPS:,}, "
                                                  rf"got "):
        frame_cost(CHIP, NET, 1, chips=chips)


def test_the_largest_batch_and_chip_count_the_cli_takes_are_costed():
    """Control: the ends of the ranges run, as on the CLI."""
    f = frame_cost(CHIP, NET, [1, BATCH_MAX], chips=MAX_VISION_CHIPS)
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
