"""Stop 51's loose ends (branch loose51): the statistic ``serve --find-count`` judges each count by, named in its
lines; ``ic.frame_cost``'s keywords as ``ic.predict``'s; predict's cache key and the sweep's rebuild of it."""

from __future__ import annotations

import pytest

from inferchip.errors import InvalidSettingError
from inferchip.interfaces.cli_options import fleet
from inferchip.sim.runs import slo


def _judged(meets_from: int):
    def judged(n: int) -> dict[str, object]:
        return {"meets": n >= meets_from, "layout": f"tp{n}", "saturated": False,
                "ttft_s_at_statistic": 0.5 / n, "tpot_s_at_statistic": 0.05 / n}
    return judged


def test_find_count_lines_name_the_statistic_the_search_judged_by():
    """Failed on main: "counts run: 1: missed (TTFT 500.0 ms, ...)" said not at which statistic (a p99 search and a
    mean one read alike); the sizing record now carries it and the line names it at every figure."""
    n, sizing = slo.smallest_count(lambda c: c, 1, _judged(3), option="--find-count", start_option="--count",
                                   statistic="p99")
    assert n == 3 and sizing["statistic"] == "p99"
    line = fleet.sizing_line(sizing)
    assert "1: missed (p99 TTFT 500.0 ms, p99 TPOT 50.0 ms)" in line
    assert "3: met (p99 TTFT 166.7 ms, p99 TPOT 16.7 ms)" in line


def test_find_count_refusal_names_the_statistic():
    """The refusal (no count meets it) lists the counts run with their figures at the statistic too."""
    with pytest.raises(InvalidSettingError, match=r"1: missed \(p90 TTFT 500\.0 ms"):
        slo.smallest_count(lambda c: c, 1, _judged(10**9), option="--find-count", start_option="--count",
                           statistic="p90")
