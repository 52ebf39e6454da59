"""tools/closed_loop_runs/decode_request_costs.py: the line by hand and its refusal, the public per-token figures and
the published saturation steps by hand, and on the real GB200 FP4 1k/1k row the operator slopes summing to the class
and step slopes, the expert all-to-all's slope equal to its bytes over the link's share by hand."""

from __future__ import annotations

import pytest

from conftest import load_tool


@pytest.fixture(scope="module")
def drc():
    return load_tool("decode_request_costs")


def test_line_by_hand(drc):
    a, b = drc.line([10, 20, 40], [1.5, 2.5, 4.5])  # t = 0.5 + 0.1 n
    assert a == pytest.approx(0.5)
    assert b == pytest.approx(0.1)
    with pytest.raises(ValueError, match="two distinct"):
        drc.line([64, 64], [1.0, 2.0])


def test_public_figures_by_hand(drc):
    rows = dict(drc.public_rows(58))
    # blog 18, EP 32: dispatch (61.5 - 37.8) / 128 = 0.18516 us a token at BF16, / 3.06 in NVFP4 = 0.060509, x 58
    assert rows["dispatch (nvfp4)"] == pytest.approx(3.5095, rel=1e-4)
    # combine (59.7 - 41.1) / 128 = 0.14531 us a token, x 58 = 8.4281
    assert rows["combine (bf16)"] == pytest.approx(8.4281, rel=1e-4)
    # LMSYS part II: 1408 / 13,386 tokens/s = 105.18 ms; 768 / (0.9 x 13,386) = 63.75 ms
    (n1, t1), (n2, t2) = drc.published_steps_ms()
    assert (n1, n2) == (1408, 768)
    assert t1 == pytest.approx(105.184, rel=1e-4)
    assert t2 == pytest.approx(63.747, rel=1e-4)


@pytest.fixture(scope="module")
def row_costs(drc):
    from inferchip.catalog.calibration_file import load_calibration
    from inferchip.validation.cases import read_cases
    from inferchip.validation.validate import Validator

    case = next(c for c in read_cases("src/inferchip/catalog/inferencemax_cases.csv") if drc.DEFAULT_CASE in c.case_id)
    with drc.catching() as rec:
        assert Validator(load_calibration(None), server_model="sim", compare=False).predict_case(case).status == "ok"
    dec = rec["reps"]["decode"]
    return dec, drc.request_costs(dec, [128, 256], 1382.4)


def test_slopes_add_up(row_costs):
    _dec, costs = row_costs
    classes = {k: v for k, v in costs.items() if k.startswith("class: ")}
    ops = {k: v for k, v in costs.items() if k != "step" and not k.startswith("class: ")}
    assert sum(b for _a, b in classes.values()) == pytest.approx(costs["step"][1], rel=1e-9)
    assert sum(b for _a, b in ops.values()) == pytest.approx(costs["step"][1], rel=1e-9)
    assert sum(a for a, _b in classes.values()) == pytest.approx(costs["step"][0], rel=1e-9)


def test_all_to_all_slope_by_hand(row_costs):
    dec, costs = row_costs
    from inferchip.mapping.sharding import destination_ranks

    assert dec.ranks == 32
    # a token goes to 32 (1 - (1 - 1/32)^8) = 7.1776 ranks, 7,168 elements each: FP8 out (1 B), bf16 back (2 B);
    # 31/32 of it leaves the chip, at 0.45958 x 900 GB/s (the calibrated link share); 58 MoE layers
    copies = destination_ranks(8, 32)
    per_token_s = copies * 7168 * (1 + 2) * 31 / 32 / (900e9 * 0.4595822999925881)
    assert costs["class: communication"][1] == pytest.approx(per_token_s * 58 * 1e6, rel=1e-6)
    assert costs["class: communication"][1] == pytest.approx(20.97, abs=0.01)


def test_busiest_rank_load_by_hand(drc):
    # 32 ranks of 9 experts, log sd 1.0: cv sqrt((e - 1) / 9) = 0.43695; Blom z_32 = 2.0675; 1 + 2.0675 x 0.43695
    assert drc.busiest_rank_load(32, 9, 1.0) == pytest.approx(1.9034, abs=1e-3)
    assert drc.busiest_rank_load(32, 9, 0.0) == pytest.approx(1.0)  # equal popularity: no busiest rank
    assert drc.busiest_rank_load(1, 288, 1.0) == pytest.approx(1.0)  # one rank holds every expert
    with pytest.raises(ValueError, match="need >= 1"):
        drc.busiest_rank_load(0, 9, 1.0)


def test_rank_load_extra_by_hand(drc):
    costs = {"experts: experts_up": (1.0, 10.0), "experts: experts_down": (0.5, 5.0), "experts: router": (0.1, 3.0),
             "class: communication": (3.0, 20.0)}
    # experts 15 x (2 / 1.25 - 1) = 9; all-to-all 20 x (2 - 1) = 20; the router is per token of the rank, unscaled
    assert drc.rank_load_extra_us(costs, 2.0, 1.25) == pytest.approx(29.0)
    assert drc.rank_load_extra_us(costs, 1.25, 1.25) == pytest.approx(5.0)  # only the all-to-all's 0.25 x 20
