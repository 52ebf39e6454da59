"""The in-car frame-deadline part checks a chip's power against the car's budget (claim53b, stop 53).

Before: the review's in-car part said "holds" (P 90 %) for Cerebras WSE-3, a 23 kW wafer, because the rig had no
power budget: any chip fast enough kept it. Now every chip runs the rig within the car's budget
(``IN_CAR_POWER_BUDGET_W``, 100 W: Tesla HW3's board under 100 W, AI4's 80-100 W system), through drive's
``power_budget_w`` (a chip over it is clocked down; one whose idle power alone exceeds it cannot run the rig), and
without a stated budget the part is not judged. By hand: WSE-3's idle power on the rig is 4,600 W (drive's error
names it), 46 times the budget, so it holds in no sample.
"""

from __future__ import annotations

import pytest

from inferchip.catalog.chips import load_chip
from inferchip.errors import PowerBudgetError
from inferchip.performance.vision_drive import IN_CAR_POWER_BUDGET_W, drive
from inferchip.review.in_car import RigSetting, in_car_section

SHORT = RigSetting(duration_s=2.0)  # the rig's figures at a short run: the budget's verdicts do not depend on it


@pytest.fixture(scope="module")
def wafer():
    return in_car_section(load_chip("cerebras-wse-3"), "frame deadlines", "p99", 200, 3, SHORT, ledger=False)


def test_a_23_kw_wafer_does_not_hold_the_in_car_part(wafer):
    part = wafer.part
    assert part["judged"] and part["probability"] == 0.0 and part["verdict"] == "does not hold"
    assert "cannot run the rig in a car" in part["decided_by"] and f"{IN_CAR_POWER_BUDGET_W:g} W" in part["decided_by"]
    row = next(r for r in wafer.rows if r["chip"] == "cerebras-wse-3")
    assert row["over_budget"] and row["idle_w"] > 40 * IN_CAR_POWER_BUDGET_W
    assert wafer.to_dict()["power_budget_w"] == IN_CAR_POWER_BUDGET_W


def test_the_in_car_chips_run_within_the_budget(wafer):
    """The five in-car chips draw under 100 W on the rig at their central figures (AI5 ~73 W), unthrottled: the
    budget moves none of them there."""
    for r in wafer.rows:
        if r["chip"] != "cerebras-wse-3":
            assert "error" not in r, r
            assert r["average_power_w"] <= IN_CAR_POWER_BUDGET_W and r["clock_fraction"] == 1.0, r


def test_no_stated_budget_is_not_judged():
    s = RigSetting(duration_s=2.0, power_budget_w=None)
    part = in_car_section(load_chip("tesla-ai5"), "frame deadlines", "p99", 50, 3, s, ledger=False).part
    assert part["probability"] is None and not part["judged"] and "no in-car power budget" in part["decided_by"]


def test_a_budget_below_a_chips_draw_clocks_it_down_and_one_below_its_idle_refuses():
    """drive's budget rule, which the part reads: AI5 draws ~73 W on the rig (idle 66.6 W), so 70 W clocks it
    below 1 and stretches its p99; 60 W is below its idle power, a PowerBudgetError naming both."""
    full = drive("tesla-ai5", 8, 36.0, deadline_ms=1e3 / 36, duration_s=2.0)
    slow = drive("tesla-ai5", 8, 36.0, deadline_ms=1e3 / 36, duration_s=2.0, power_budget_w=70.0)
    assert slow["clock_fraction"] < 1.0 and slow["latency_ms"]["p99"] > full["latency_ms"]["p99"]
    assert slow["average_power_w"] == pytest.approx(70.0, rel=0.02)
    with pytest.raises(PowerBudgetError) as exc:
        drive("tesla-ai5", 8, 36.0, deadline_ms=1e3 / 36, duration_s=2.0, power_budget_w=60.0)
    assert exc.value.budget_w == 60.0 and exc.value.idle_w > 60.0


def test_the_ledgers_budget_is_not_given_the_defaults_source():
    s = RigSetting(duration_s=2.0, power_budget_w=150.0)
    text = in_car_section(load_chip("cerebras-wse-3"), "frame deadlines", "p99", 50, 3, s, ledger=False).part[
        "decided_by"]
    assert "150 W budget (the ledger's alternative)" in text and "HW3" not in text
