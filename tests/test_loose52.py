"""Stop 52's loose ends (branch loose52): a repeated option refused, never dropped; ``FrameCost.to_dataframe``'s
``power_dynamic_only``; one bound on ``drive``'s duration; ``ic.find_count``'s attention-DP refusal once; explore's
driving workload at the rig's cameras; Gaudi's padded prompt rows priced in energy as in time."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize(("chip", "dynamic_only"), [("nvidia-drive-agx-thor", True), ("nvidia-l4", False)])
def test_frame_cost_dataframe_says_when_its_energy_is_the_dynamic_floor(chip, dynamic_only):
    """Failed on main: ``to_dict()`` carried ``power_dynamic_only`` and ``to_dataframe()`` did not, so a reader of
    the frame took a chip with no TDP's dynamic energy for its energy."""
    import inferchip as ic

    f = ic.frame_cost(chip, "yolov8n-640", [1, 2])
    df = f.to_dataframe()
    assert df["power_dynamic_only"].tolist() == [dynamic_only] * 2
    assert f.to_dict()["power_dynamic_only"] is dynamic_only
