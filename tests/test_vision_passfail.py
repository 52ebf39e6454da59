"""MLPerf Server pass/fail of vision rows: an overloaded queue fails however short the simulation, a pooled queue
over several devices waits less than independent shares, and the pass/fail summary sets the rows whose predicted
capacity sits within the band of the measured load apart. Hand calculations."""

from __future__ import annotations

import math

import numpy as np
import pytest

from inferchip.performance import vision_scenarios as vs
from inferchip.validation.vision.cases import VisionCase
from inferchip.validation.vision.validate import (
    CAPACITY_EDGE,
    VisionResult,
    capacity_ratio,
    chip_class,
    latency_bound_summary,
    on_capacity_edge,
)


def test_capacity_by_hand():
    # t(1) = 1 ms, t(2) = 1.5 ms: the best batch is 2 at 1,333/s per device; two devices 2,667/s
    table = np.array([0.0, 1e-3, 1.5e-3])
    assert vs.server_capacity_per_s(table, 2) == pytest.approx(2 * 2 / 1.5e-3)


def test_overload_fails_even_when_a_short_run_stays_under_the_bound():
    """1 ms per sample, no batching gain: capacity 1,000/s. At 1,020/s a 200-query run builds only a few
    milliseconds of backlog (its p99 is under 15 ms), but a full MLPerf run's backlog grows without bound."""
    def service(b):
        return np.asarray(b, dtype=float) * 1e-3

    over = vs.server_at_rate(service, rate_per_s=1020.0, latency_bound_s=0.015, max_batch=1, queries=200)
    assert over.latency_s["p99"] < 0.015  # the short simulation alone would have passed it
    assert over.passed is False and math.isinf(over.value)
    under = vs.server_at_rate(service, rate_per_s=500.0, latency_bound_s=0.015, max_batch=1, queries=200)
    assert under.passed and math.isfinite(under.value)


@pytest.mark.parametrize("load", [0.5, 0.8, 0.95])
def test_pooled_queue_waits_less_than_independent_shares(load):
    """Four devices behind one queue at the system's rate against one device at a quarter of it (the same
    utilisation): the pooled p99 is lower (M/G/4 against M/G/1)."""
    def service(b):
        return 2e-3 + 0.5e-3 * np.asarray(b, dtype=float)

    cap = vs.server_capacity_per_s(np.concatenate(([0.0], service(np.arange(1, 9)))), 4)
    pooled = vs.server_at_rate(service, rate_per_s=cap * load, latency_bound_s=0.1, max_batch=8, devices=4,
                               queries=4000)
    split = vs.server_at_rate(service, rate_per_s=cap * load / 4, latency_bound_s=0.1, max_batch=8, devices=1,
                              queries=4000)
    assert pooled.value < split.value


def _result(cid: str, measured: float, predicted_max: float, passed: bool) -> VisionResult:
    case = VisionCase(case_id=cid, source_kind="mlperf-inference", accelerator="nvidia-x", num_accelerators=8,
                      model="resnet50-v1.5", precision_text="int8", scenario="server", batch=None,
                      metric="samples_per_s", value=measured, unit="samples/s", notes="", line=2)
    return VisionResult(case, "ok", predicted_max_load=predicted_max, bound_met_at_load=passed, bound_ms=15.0)


def test_pass_fail_summary_sets_the_capacity_edge_apart():
    rows = [_result("a", 100.0, 110.0, True),   # decided, right
            _result("b", 100.0, 98.0, False),   # on the edge (-2 %), counted wrong in the strict count
            _result("c", 100.0, 80.0, False),   # decided, wrong (-20 %)
            _result("d", 100.0, 103.0, True)]   # on the edge, right
    assert capacity_ratio(rows[2]) == pytest.approx(0.8)
    assert on_capacity_edge(rows[1]) and not on_capacity_edge(rows[0]) and CAPACITY_EDGE == 0.05
    s = latency_bound_summary(rows)
    assert (s["rows"], s["predicted_pass"], s["right_fraction"]) == (4, 2, 0.5)
    assert (s["on_capacity_edge"], s["on_edge_predicted_pass"], s["decided_rows"], s["decided_right"]) == (2, 1, 2, 1)
    assert s["misjudged"] == {"b": pytest.approx(-2.0), "c": pytest.approx(-20.0)}


def test_chip_class():
    assert chip_class("cpu:intel-xeon-6980p") == "cpu"
    assert chip_class("nvidia-l4") == "gpu" and chip_class("amd-mi300x") == "gpu"
    assert chip_class("qualcomm-cloud-ai-100-pro") == "accelerator"
