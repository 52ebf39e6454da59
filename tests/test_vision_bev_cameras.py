"""BEVFormer's spatial cross-attention camera count (workload/vision/bev.py ``cameras_hit``): the sampled rows scale
with it, and a count that is not a positive number of views is refused."""

from __future__ import annotations

import pytest

from inferchip.errors import SpecError
from inferchip.workload.vision.bev import bev_encoder
from inferchip.workload.vision.tracer import Tensor, Tracer


def _sca_rows(cameras_hit: float) -> float:
    tr = Tracer(where="test")
    bev_encoder(tr, Tensor(1, 256, (15, 25)), [50, 50], layers=1, cameras_hit=cameras_hit)
    (sampling,) = [layer for layer in tr.layers if layer.name.startswith("sca-sampling")]
    return float(sampling.in_elems)


def test_the_sampled_work_grows_with_the_cameras():
    assert _sca_rows(6.0) == pytest.approx(3.0 * _sca_rows(2.0))


@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan")])
def test_a_camera_count_that_is_not_positive_is_refused(bad):
    with pytest.raises(SpecError, match="cameras_hit"):
        _sca_rows(bad)
