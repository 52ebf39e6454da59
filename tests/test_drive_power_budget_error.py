"""A power budget no clock can meet is refused with the field, the value and what is allowed (it once named no
field and no allowed range)."""

from cli_in_process import run_main


def test_a_budget_below_idle_power_names_the_field_and_the_allowed_range():
    code, out = run_main(["drive", "--chip", "nvidia-jetson-agx-orin-64gb", "--cameras", "6", "--fps", "30",
                          "--power-budget-w", "1", "--duration", "0.5"])
    assert code == 2, out
    assert "power_budget_w = 1 W" in out and "allowed: above" in out and "Traceback" not in out
