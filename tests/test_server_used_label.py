"""The "(used)" mark of validate's server-model table follows the rows: a closed-loop throughput row is the
simulator's whatever the by-metric rule says for open-loop rows (it was marked "analytic (used)")."""

from __future__ import annotations

from types import SimpleNamespace

from inferchip.interfaces.report.validation_page import server_rows
from inferchip.validation.stats import server_comparison


def _row(metric: str, used: str, sim: float, analytic: float, measured: float = 100.0):
    case = SimpleNamespace(metric=metric)
    return SimpleNamespace(case=case, by_model={"sim": sim, "analytic": analytic}, server_model=used, status="ok",
                           measured=measured)


def _labels(rows, chosen="auto"):
    return {(g, m.split(" ")[0]): m for g, m, *_ in server_rows(server_comparison(rows), chosen)}


def test_closed_loop_throughput_rows_mark_the_simulator():
    rows = [_row("output_tokens_per_s_total", "sim", 90, 60), _row("ttft_ms", "sim", 50, 20)]
    lab = _labels(rows)
    assert lab[("server throughput", "sim")] == "sim (used)"
    assert lab[("server throughput", "analytic")] == "analytic"
    assert lab[("server rows", "sim")] == "sim (used)"


def test_mixed_groups_count_the_rows_each_model_gave():
    rows = [_row("output_tokens_per_s_total", "sim", 90, 60), _row("output_tokens_per_s_total", "analytic", 80, 70),
            _row("output_tokens_per_s_total", "analytic", 85, 75)]
    lab = _labels(rows)
    assert lab[("server throughput", "sim")] == "sim (used on 1)"
    assert lab[("server throughput", "analytic")] == "analytic (used on 2)"


def test_summary_without_counts_keeps_the_rule():
    cmp = server_comparison([_row("ttft_ms", "sim", 50, 20)])
    for by_model in cmp.values():
        for st in by_model.values():
            st.pop("used")
    labels = [m for _, m, *_ in server_rows(cmp, "sim")]
    assert "sim (used)" in labels and "analytic" in labels
