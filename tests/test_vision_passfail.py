"""MLPerf Server pass/fail of vision rows: an overloaded queue fails however short the simulation, a pooled queue
over several devices waits less than independent shares, and the pass/fail summary sets the rows whose predicted
capacity sits within the band of the measured load apart. Hand calculations."""

from __future__ import annotations

import math

import numpy as np
import pytest

from inferchip.performance import vision_scenarios as vs
from inferchip.validation.vision.cases import VisionCase
from inferchip.validation.vision.passfail import (
    OTHERS_ONLY,
    OWN_RUN_IN_POOL,
    OfflineMatch,
    offline_matches,
    predicted_offline_per_s,
    result_directory,
)
from inferchip.validation.vision.summary import (
    CAPACITY_EDGE,
    capacity_ratio,
    chip_class,
    latency_bound_summary,
    on_capacity_edge,
    operating_point_summary,
)
from inferchip.validation.vision.validate import VisionResult


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


# ---- pass/fail at the submitter's operating point (validation/vision/passfail.py) ----


_ROOT = "github.com/mlcommons/inference_results_v4.1 @198fc46799 closed/Acme/results/"


def _case(cid: str, scenario: str, value: float, *, system: str = "S8", n: int = 8, acc: str = "nvidia-x",
          source: str | None = None) -> VisionCase:
    d = "Server" if scenario == "server" else "Offline"
    src = source if source is not None else f"{_ROOT}{system}/resnet50/{d}/performance/run_1/mlperf_log_summary.txt"
    return VisionCase(case_id=cid, source_kind="mlperf-inference-v4.1", accelerator=acc, num_accelerators=n,
                      model="resnet50-v1.5", precision_text="int8", scenario=scenario, batch=None,
                      metric="samples_per_s", value=value, unit="samples/s", notes="", line=2, source=src)


def test_result_directory_blanks_the_scenario_only():
    a = _case("s", "server", 1.0).source
    b = _case("o", "offline", 1.0).source
    assert result_directory(a) == result_directory(b) is not None
    assert result_directory(_case("x", "server", 1.0, system="Other").source) != result_directory(a)
    assert result_directory("https://example.com/blog") is None


def test_offline_counterpart_is_the_per_accelerator_median_of_the_chip_s_runs():
    """Every Offline run of the same chip, network, precision and round counts, per accelerator and whatever its
    chip count, the own system's run among them: 100/8, 40/8, 60/8 and 120/4 per accelerator (12.5, 5, 7.5 and
    30) have the median 10, i.e. 80 for an 8-chip system and 40 for a 4-chip one."""
    cases = [_case("srv", "server", 90.0), _case("off", "offline", 100.0),
             _case("srv2", "server", 45.0, system="T8"),
             _case("offA", "offline", 40.0, system="U8"), _case("offB", "offline", 60.0, system="V8"),
             _case("off4", "offline", 120.0, system="W4", n=4),
             _case("srv4", "server", 30.0, system="S4", n=4),
             _case("srv-other", "server", 30.0, system="X8", acc="nvidia-y")]
    m = offline_matches(cases)
    assert m["srv"].how == OWN_RUN_IN_POOL and set(m["srv"].case_ids) == {"off", "offA", "offB", "off4"}
    assert m["srv"].measured_per_s == pytest.approx(80.0)
    assert m["srv"].fraction(90.0) == pytest.approx(90.0 / 80.0)
    assert m["srv2"].how == OTHERS_ONLY and m["srv2"].measured_per_s == pytest.approx(80.0)
    assert m["srv4"].measured_per_s == pytest.approx(40.0)
    assert "srv-other" not in m and "off" not in m  # another chip has no Offline run; Offline rows get none


def test_offline_pool_keeps_maxq_with_maxq():
    """A MaxQ (power-capped) system's Offline rate is not an uncapped system's throughput: an uncapped Server row
    is matched to the uncapped Offline runs only, and a MaxQ Server row to the MaxQ ones; each ends up with no
    counterpart when its kind has none."""
    cases = [_case("srv", "server", 80.0, system="T8"), _case("srv-q", "server", 50.0, system="Q8_MaxQ"),
             _case("off", "offline", 95.0, system="U8"), _case("off-q", "offline", 70.0, system="R8_MaxQ")]
    m = offline_matches(cases)
    assert m["srv"].case_ids == ("off",) and m["srv"].measured_per_s == pytest.approx(95.0)
    assert m["srv-q"].case_ids == ("off-q",) and m["srv-q"].measured_per_s == pytest.approx(70.0)
    assert "srv" not in offline_matches([c for c in cases if c.case_id != "off"])


def test_predicted_offline_rate_is_the_per_accelerator_median_and_needs_every_row():
    match = OfflineMatch(("a", "b", "c"), OTHERS_ONLY, 1.0, accelerators=(1, 2, 4), num_accelerators=8)
    # 10/1, 30/2, 80/4 per accelerator: 10, 15, 20 -> median 15, x 8 accelerators
    assert predicted_offline_per_s(match, {"a": 10.0, "b": 30.0, "c": 80.0}) == pytest.approx(120.0)
    assert predicted_offline_per_s(match, {"a": 10.0, "b": None, "c": 20.0}) is None
    plain = OfflineMatch(("a", "b", "c"), OTHERS_ONLY, 1.0)  # no counts: the rates are the system's already
    assert predicted_offline_per_s(plain, {"a": 10.0, "b": 30.0, "c": 20.0}) == pytest.approx(20.0)


def test_operating_point_summary_counts_and_names_the_misses():
    def r(cid: str, how: str, rho: float, rho_star: float) -> VisionResult:
        res = _result(cid, 100.0, 100.0, True)
        res.offline_match, res.operating_fraction, res.max_passing_fraction = how, rho, rho_star
        res.bound_met_at_operating_point = rho <= rho_star
        return res

    rows = [r("a", f"{OWN_RUN_IN_POOL}: o1", 0.90, 0.95), r("b", f"{OWN_RUN_IN_POOL}: o2", 0.97, 0.95),
            r("c", f"{OTHERS_ONLY}: o3, o4", 0.80, 0.95), _result("d", 100.0, 90.0, False)]
    s = operating_point_summary(rows)
    assert (s["rows"], s["without_offline_counterpart"], s["predicted_pass"]) == (3, 1, 2)
    assert (s["same_system_rows"], s["same_system_right"]) == (2, 1)
    assert s["right_fraction"] == pytest.approx(2 / 3)
    assert s["misjudged"] == {"b": [0.97, 0.95]}


def test_p99_at_the_operating_point_is_checked_against_the_stated_measurement():
    def r(cid: str, predicted_ms: float, measured_ms: float) -> VisionResult:
        case = _case(cid, "server", 100.0)
        case = VisionCase(**{**case.__dict__, "notes": f"server: target latency 15 ms at p99; measured p99 "
                                                      f"{measured_ms} ms, mean 3 ms"})
        res = VisionResult(case, "ok", predicted_max_load=100.0, bound_met_at_load=True, bound_ms=15.0)
        res.offline_match, res.operating_fraction, res.max_passing_fraction = "same system: o", 0.9, 0.95
        res.p99_at_operating_point_ms = predicted_ms
        res.bound_met_at_operating_point = predicted_ms <= 15.0
        return res

    rows = [r("a", 15.0, 10.0), r("b", 6.0, 12.0), r("c", math.inf, 14.0)]
    assert rows[0].case.measured_p99_ms == 10.0
    assert _case("o", "offline", 1.0).measured_p99_ms is None
    s = operating_point_summary(rows)["p99_vs_measured"]
    assert (s["cases"], s["overloaded"]) == (2, 1)
    assert s["median_ape"] == pytest.approx(50.0)  # |+50 %| and |-50 %|
    assert s["median_signed_pct"] == pytest.approx(0.0)


def _server_row(accelerator: str, n: int):
    from inferchip.catalog.vision_networks import load_vision_calibration
    from inferchip.validation.vision.rows import build_row

    case = VisionCase(case_id="s", source_kind="mlperf-inference", accelerator=accelerator, num_accelerators=n,
                      model="resnet50-v1.5", precision_text="int8", scenario="server", batch=64,
                      metric="samples_per_s", value=1000.0, unit="samples/s",
                      notes="target latency 15 ms at p99", line=2)
    cal = load_vision_calibration()
    return build_row(case, cal), cal


def test_calls_in_flight_keep_capacity_and_lengthen_latency_under_load():
    """Little's law: with CALLS_IN_FLIGHT calls sharing each accelerator, each call stays CALLS_IN_FLIGHT x the time
    per call under load, while the accelerator still completes one call per that time: the same capacity, a longer
    p99 near it. CPUs (whose harness runs many instances per socket, not modelled) keep one call per socket."""
    from inferchip.sim.vision.queue import service_table
    from inferchip.validation.vision.scenario_sim import CALLS_IN_FLIGHT, loaded_servers, server_cap
    from inferchip.validation.vision.validate import params_of

    row, cal = _server_row("nvidia-l4", 2)
    p = params_of(cal)
    service, servers = loaded_servers(row, p)
    assert servers == 2 * CALLS_IN_FLIGHT
    t = row.pipelined_s(p)
    assert service(np.array([row.batches[3]]))[0] == pytest.approx(CALLS_IN_FLIGHT * t[3])
    cap = server_cap(row)
    single = lambda b: np.interp(np.asarray(b, dtype=float), row.batches, t)  # noqa: E731
    c_loaded = vs.server_capacity_per_s(service_table(service, cap), servers)
    c_single = vs.server_capacity_per_s(service_table(single, cap), 2)
    assert c_loaded == pytest.approx(c_single, rel=1e-9)
    near = vs.server_at_rate(service, rate_per_s=0.9 * c_single, latency_bound_s=1.0, max_batch=cap, devices=servers,
                             queries=4000)
    one = vs.server_at_rate(single, rate_per_s=0.9 * c_single, latency_bound_s=1.0, max_batch=cap, devices=2,
                            queries=4000)
    assert near.value > one.value
    cpu, _ = _server_row("cpu:intel-xeon-platinum-8592+", 2)
    service_cpu, servers_cpu = loaded_servers(cpu, p)
    assert servers_cpu == 2
    assert service_cpu(np.array([cpu.batches[3]]))[0] == pytest.approx(cpu.pipelined_s(p)[3])
