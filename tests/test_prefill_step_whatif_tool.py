"""tools/ttft/prefill_step_whatif.py: the scaled prefill timer and the decode-step floor by hand, the subset and
merge helpers, the per-configuration summary, and one simulated disaggregated row whose TTFT grows when its prefill
steps are slower while an unscaled rerun reproduces the plain validation exactly, and whose TPOT grows when its
decode steps are floored above the model's."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from conftest import load_tool

ROOT = Path(__file__).resolve().parents[1]
SUBSET = ROOT / "tests" / "data" / "inferencemax_subset.csv"
ROW = "imax-dsr1-gb200-dynamo-sglang-fp4-disagg-p4x1e1dpa-d8x1e1dpa-1024-1024-c64-r20402179983"


@pytest.fixture(scope="module")
def wi():
    return load_tool("prefill_step_whatif")


class _Linear:
    """A step model of 10 ms plus 1 us a token."""

    kv_capacity_tokens = 1 << 20
    num_chips = 1

    def step_time_s(self, num_tokens, num_decode_seqs, decode_kv_tokens, prefill_attn_pairs):
        return 0.010 + 1e-6 * np.asarray(num_tokens, dtype=np.float64)


def test_scaled_timer_by_hand(wi):
    from inferchip.sim.step.steptime import StepTimer

    plain, scaled = StepTimer(_Linear(), exact=True), wi.scale_timer(StepTimer(_Linear(), exact=True), 1.5)
    # 4,000 tokens: 10 ms + 4 ms = 14 ms, and 1.5 x that = 21 ms
    assert plain.time_s(4000, 0, 0, 0) == pytest.approx(0.014)
    assert scaled.time_s(4000, 0, 0, 0) == pytest.approx(0.021)
    keys = [plain.key(1000, 0, 0, 0), plain.key(2000, 0, 0, 0)]
    assert scaled.times_s(keys) == pytest.approx([0.0165, 0.018])  # 1.5 x 11 ms, 1.5 x 12 ms
    assert wi.scale_timer(scaled, 1.5) is scaled  # a shared timer is scaled once
    assert scaled.time_s(4000, 0, 0, 0) == pytest.approx(0.021)
    with pytest.raises(ValueError, match="already scaled by 1.5"):
        wi.scale_timer(scaled, 2.0)
    with pytest.raises(ValueError, match="scale must be above 0"):
        wi.scale_timer(StepTimer(_Linear()), 0.0)


def test_decode_floor_by_hand(wi):
    from inferchip.sim.step.steptime import StepTimer

    floored = wi.decode_floor_timer(StepTimer(_Linear(), exact=True), 4, (13.0, 0.5))
    # 40 decoding sequences on 4 ranks: the floor is 13 + 0.5 x 10 = 18 ms, above the model's 10.04 ms
    assert floored.time_s(40, 40, 4000, 0) == pytest.approx(0.018)
    # 4,000 sequences: the model gives 14 ms, the floor 13 + 0.5 x 1,000 = 513 ms
    assert floored.time_s(4000, 4000, 0, 0) == pytest.approx(0.513)
    # a step with prompt tokens (more tokens than sequences, or prompt pairs) keeps the model's price
    assert floored.time_s(1040, 40, 4000, 500_000) == pytest.approx(0.01104)
    assert floored.time_s(1000, 0, 0, 0) == pytest.approx(0.011)
    keys = [(8, 8, 800, 0), (1008, 8, 800, 1000)]
    assert floored.times_s(keys) == pytest.approx([0.014, 0.011008])  # 13 + 0.5 x 2 ms; the mixed step as modelled
    assert wi.decode_floor_timer(floored, 4, (13.0, 0.5)) is floored
    with pytest.raises(ValueError, match="already floored"):
        wi.decode_floor_timer(floored, 4, (1.0, 0.5))
    with pytest.raises(ValueError, match="ranks must be >= 1"):
        wi.decode_floor_timer(StepTimer(_Linear()), 0, (1.0, 0.5))


def test_subset_merge_and_summary_by_hand(wi, tmp_path):
    src = tmp_path / "cases.csv"
    src.write_text("case_id,x\nimax-a-p16-c8-r1-ttft,1\nimax-b-p4-c8-r1-ttft,2\nimax-a-p16-c8-r1-tput,3\n")
    out = tmp_path / "sub.csv"
    assert wi.subset_csv(src, "a-p16", out) == 2
    assert out.read_text() == "case_id,x\nimax-a-p16-c8-r1-ttft,1\nimax-a-p16-c8-r1-tput,3\n"

    base = {"summary": 1, "cases": [{"case_id": "imax-a-p16-c8-r1-ttft", "signed_error_pct": -40.0},
                                    {"case_id": "imax-b-p4-c8-r1-ttft", "signed_error_pct": 5.0},
                                    {"case_id": "imax-a-p16-c8-r2-ttft", "signed_error_pct": -50.0}]}
    new = [{"case_id": "imax-a-p16-c8-r1-ttft", "signed_error_pct": -10.0},
           {"case_id": "imax-a-p16-c8-r2-ttft", "signed_error_pct": 10.0}]
    merged = wi.merge(base, new)
    assert merged["summary"] == 1
    assert [c["signed_error_pct"] for c in merged["cases"]] == [-10.0, 5.0, 10.0]
    # two runs of one configuration: medians (-40 - 50) / 2 = -45 before, (-10 + 10) / 2 = 0 after
    assert wi.by_configuration(base, new) == ["a-p16 c8: ttft -45.0 -> +0.0"]


def test_slower_prefill_lengthens_a_simulated_rows_ttft(wi, tmp_path):
    import inferchip.validation.closed_loop as cl

    original = cl.closed_loop_disagg_run
    csv = tmp_path / "row.csv"
    assert wi.subset_csv(SUBSET, ROW, csv) == 3
    one = {c["case_id"]: c for c in wi.run_subset(csv, 1, 1.0)["cases"]}
    two = {c["case_id"]: c for c in wi.run_subset(csv, 1, 2.0)["cases"]}
    assert cl.closed_loop_disagg_run is original  # the patch is undone
    plain = {c["case_id"]: c for c in _validate(csv)}
    for cid, c in one.items():  # scale 1 is the plain validation, to the last digit
        assert c["predicted"] == plain[cid]["predicted"]
    assert two[ROW + "-ttft"]["predicted"] > one[ROW + "-ttft"]["predicted"]
    assert two[ROW + "-tput"]["predicted"] <= one[ROW + "-tput"]["predicted"]
    # decode steps floored at 30 ms + 1 ms a request a rank, far above this row's ~14 ms steps: TPOT grows
    slow = {c["case_id"]: c for c in wi.run_subset(csv, 1, 1.0, (30.0, 1.0))["cases"]}
    assert cl.closed_loop_disagg_run is original
    assert slow[ROW + "-tpot"]["predicted"] > 30.0 > one[ROW + "-tpot"]["predicted"]


def _validate(csv: Path) -> list[dict]:
    import contextlib
    import io
    import sys

    from inferchip.interfaces.cli import main

    buf, argv = io.StringIO(), sys.argv
    sys.argv = ["inferchip", "validate", str(csv), "--workers", "1", "--format", "json"]
    try:
        with contextlib.redirect_stdout(buf):
            try:
                main()
            except SystemExit as e:
                assert e.code in (0, None)
    finally:
        sys.argv = argv
    cases: list[dict] = json.loads(buf.getvalue())["cases"]
    return cases
