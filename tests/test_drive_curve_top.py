"""The deadline curve's line names its highest rate under the threshold; where that is the grid's fastest rate (4 x
--fps), it says faster rates were not tried: "at 8 cameras, highest fps with misses <= 1%: 144.0" read as AI5's
limit on BEVFormer-tiny, which a tick of about 2 ms puts near 400 fps."""

from __future__ import annotations

from cli_in_process import run_main


def _curve_line(tmp_path, chip: str) -> str:
    code, out = run_main(["drive", "--chip", chip, "--cameras", "8", "--fps", "36", "--duration", "0.5",
                          "--plot", str(tmp_path / "curve.html")])
    assert code == 0, out
    flat = " ".join(out.split())
    return flat[flat.index("highest fps"):]


def test_a_rate_at_the_top_of_the_grid_is_said_to_be_the_top(tmp_path):
    line = _curve_line(tmp_path, "tesla-ai5")
    assert line.startswith("highest fps with misses <= 1%: 144.0 (the grid's fastest rate"), line


def test_a_rate_below_the_top_is_not(tmp_path):
    line = _curve_line(tmp_path, "tesla-ai4-hw4")  # a tick of about 18 ms: misses from about 50 fps
    assert "grid's fastest" not in line.split(" note")[0], line
