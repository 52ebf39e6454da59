"""One explore objective per claim part (inferchip.explore.claim_parts), --target/--beat per part and its
points on the review's claim-boundary map."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest

from inferchip.catalog.assumptions import load_assumptions
from inferchip.cost.tco import tco_breakdown_per_hour_usd
from inferchip.explore.beat import BeatResult, Change, beat, with_beat_points
from inferchip.explore.claim_parts import CLAIM_OBJECTIVES, NOT_SCORED, claim_values, wins
from inferchip.review.claim_file import BY_FAR, load_claim

A = load_assumptions()
MODEL = "meta-llama/Llama-3.1-8B-Instruct"


def _chips(cost, tdp):
    return SimpleNamespace(cost_usd=np.asarray(cost, float), tdp_w=np.asarray(tdp, float), system=None,
                           covers=None)  # servers, each price the accelerator's


def test_every_claim_part_is_scored_or_says_why_not():
    for part in load_claim().parts:
        assert (part in CLAIM_OBJECTIVES) != (part in NOT_SCORED), part


def test_claim_values_by_hand():
    suite = SimpleNamespace(workload_ids=["a|interactive", "a|batch", "b|interactive", "b|batch"])
    tput = np.array([[100.0, 400.0, 50.0, 200.0], [10.0, 1000.0, 0.0, 300.0]])
    metrics = {"tokens_per_s_per_chip": tput, "tokens_per_s_per_w": tput / np.array([[500.0], [250.0]])}
    ch = _chips([10_000.0, 2_000.0], [500.0, 250.0])
    v = claim_values(suite, metrics, ch, A)  # type: ignore[arg-type]
    assert v["per_chip"][0] == pytest.approx((100 * 400 * 50 * 200) ** 0.25)
    assert v["latency_interactive"][0] == pytest.approx((100 * 50) ** 0.5)
    assert v["latency_interactive"][1] == pytest.approx((10 * 1e-6) ** 0.5)  # not served: the floor
    assert v["performance_per_watt"][1] == pytest.approx((10 / 250 * 1000 / 250 * 1e-6 * 300 / 250) ** 0.25)
    assert v["lowest_cost_silicon"].tolist() == [10_000.0, 2_000.0]
    per_h = float(tco_breakdown_per_hour_usd(10_000.0, 500.0, assumptions=A)["total_usd_per_h"])
    mtok = per_h / (3600.0 * tput[0]) * 1e6
    assert v["equal_money"][0] == pytest.approx(float(np.exp(np.mean(np.log(mtok)))))


def test_lowest_cost_silicon_is_won_only_by_far():
    rival = 1000.0
    assert not wins("lowest_cost_silicon", np.array([rival / BY_FAR * 1.01]), rival)[0]
    assert wins("lowest_cost_silicon", np.array([rival / BY_FAR * 0.99]), rival)[0]
    assert wins("per_chip", np.array([1.01]), 1.0)[0] and not wins("per_chip", np.array([1.0]), 1.0)[0]
    assert wins("equal_money", np.array([0.99]), 1.0)[0] and not wins("equal_money", np.array([1.01]), 1.0)[0]


def _result() -> BeatResult:
    ch = Change("per_chip", 2.0, 4.0, 1.0, 10.0, "r", 9.0, 100.0, 500.0, 3000.0, 8.0, 1.5)
    return BeatResult("t", ["r"], {}, [ch], [], [], {}, 2.0, 2000.0, 0.4)


def test_beat_points_land_on_the_boundary_map_keys():
    bmap = {"x_tb_per_s": [1.0, 2.0], "y_cost_multiplier": [0.5, 1.0], "range": {},
            "parts": {"per_chip": [[True, True], [False, True]], "equal_money (modelled)": [[True], [True]]}}
    out = with_beat_points(bmap, _result())
    assert out["parts"] == bmap["parts"] and "explore_points" not in bmap  # a copy
    pts = out["explore_points"]
    assert pts["per_chip"]["x_tb_per_s"] == 8.0 and pts["per_chip"]["y_cost_multiplier"] == 1.5
    # the cost part: no change wins it here, but its boundary (cost multiple at which it holds) is a point
    assert pts["lowest_cost_silicon"] == {"x_tb_per_s": 2.0, "y_cost_multiplier": 0.4, "compute_x": 1.0,
                                          "memory_x": 1.0, "link_x": 1.0}


@pytest.fixture(scope="module")
def small_beat():
    return beat("tesla-ai5", ["nvidia-h100-sxm-80gb", "nvidia-l4"], models=[MODEL])


def test_each_change_is_first_by_its_part_and_sits_on_the_map(small_beat):
    r = small_beat
    assert {c.objective for c in r.changes} | set(r.not_reached) == set(CLAIM_OBJECTIVES)
    for c in r.changes:
        assert wins(c.objective, np.array([c.value]), c.rival_value)[0], c.objective
        assert c.boundary_x_tb_per_s == pytest.approx(r.target_bandwidth_tb_per_s * c.memory_x)
        assert c.boundary_y_cost_multiplier == pytest.approx(c.cost_usd / r.target_cost_usd)
        assert c.boundary_y_cost_multiplier >= 1.0 - 1e-12  # the grid only adds silicon
    rivals_cost = [r.baseline[x]["lowest_cost_silicon"] for x in r.rivals]
    assert r.cost_boundary_multiplier == pytest.approx(min(rivals_cost) / BY_FAR / r.target_cost_usd)


def test_beat_page_and_boundary_map_from_the_cli(tmp_path):
    from typer.testing import CliRunner

    from inferchip.interfaces.cli import app

    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"nothing": 1}))
    res = CliRunner().invoke(app, ["explore", "--target", "tesla-ai5", "--beat", "nvidia-l4",
                                   "--models", MODEL, "--boundary-map", str(bad), "--out", str(tmp_path / "o")])
    # the command raises the clear error the CLI's main() prints (an InferchipError, no traceback)
    from inferchip.errors import InferchipError

    assert res.exit_code != 0 and isinstance(res.exception, InferchipError)
    assert "holds no boundary map" in str(res.exception)
    good = tmp_path / "data.json"
    good.write_text(json.dumps({"boundary_map": {"x_tb_per_s": [1.0], "y_cost_multiplier": [1.0],
                                                 "parts": {"per_chip": [[True]]}, "range": {}}}))
    res = CliRunner().invoke(app, ["explore", "--target", "tesla-ai5", "--beat", "nvidia-l4", "--models", MODEL,
                                   "--boundary-map", str(good), "--out", str(tmp_path / "o")])
    assert res.exit_code == 0, res.output
    merged = json.loads((tmp_path / "o" / "boundary_map.json").read_text())
    assert merged["explore_target"] == "tesla-ai5" and "per_chip" in merged["parts"]
    assert "plotly" in (tmp_path / "o" / "beat.html").read_text().lower()
