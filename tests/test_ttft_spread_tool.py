"""The run's TTFT spread in the notes (case_notes.stated_ttft_spread_s), the stall read from it
(case_notes.measured_stall_s) and its flag in validate's output, and tools/closed_loop/ttft_spread.py: notes written
once and only for matching means, the shipped B200 SGLang rows' spread consistent with their values."""

from __future__ import annotations

import csv
import functools
import io
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import load_tool
from inferchip.validation.case_notes import SATURATED_MEDIAN_SHARE, STALL_WAIT_S, measured_stall_s, stated_ttft_spread_s
from inferchip.validation.cases import parse_cases, read_cases
from inferchip.validation.results import CaseResult

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "src" / "inferchip" / "catalog" / "inferencemax_cases.csv"
SPREAD = ROOT / "docs" / "data" / "imax_b200_sglang_ttft_spread.csv"


@pytest.fixture(scope="module")
def ts():
    return load_tool("ttft_spread")


def _shipped_rows() -> list[dict]:
    with SHIPPED.open(newline="") as f:
        return list(csv.DictReader(f))


@functools.cache
def _first_ttft_row() -> tuple[tuple[str, str], ...]:
    """The shipped file's first TTFT row, read once (a Hypothesis test builds a case from it per example)."""
    return tuple(next(r for r in _shipped_rows() if r["metric"] == "ttft_ms").items())


def _case_with_notes(notes: str):
    row = dict(_first_ttft_row())
    row["notes"] = notes
    out = io.StringIO()
    w = csv.DictWriter(out, fieldnames=list(row), lineterminator="\n")
    w.writeheader()
    w.writerow(row)
    (case,) = parse_cases(out.getvalue(), "one.csv")
    return case


def test_spread_read_from_the_notes(ts):
    case = _case_with_notes("closed loop; " + ts.spread_note(306.3, 71925.7))
    assert stated_ttft_spread_s(case) == pytest.approx((0.3063, 71.9257))
    # 71.9257 - 0.3063 = 71.6194 s: a stall
    assert measured_stall_s(case) == pytest.approx(71.6194)
    assert stated_ttft_spread_s(_case_with_notes("TTFT MEAN over requests")) is None
    assert measured_stall_s(_case_with_notes("TTFT MEAN over requests")) is None


def test_a_saturated_run_is_no_stall(ts):
    # MI355X SGLang PD, 8k prompts at 256 clients: median 19.2 s, p99 100.2 s -> the median request queued too
    assert measured_stall_s(_case_with_notes(ts.spread_note(19207.2, 100150.8))) is None
    # the same excess over a 0.3 s median: a stall
    assert measured_stall_s(_case_with_notes(ts.spread_note(300.0, 81243.6))) == pytest.approx(80.9436)


def test_a_wide_start_wave_is_no_stall(ts):
    # the widest wave of the B200 rows (128 clients, 8k prompts): median 1.69 s, p99 21.43 s -> 19.74 s, below 30 s
    assert measured_stall_s(_case_with_notes(ts.spread_note(1691.7, 21432.4))) is None


@given(med=st.floats(10.0, 5e3), extra=st.floats(0.0, 2e5))
def test_stall_is_the_excess_over_the_median_or_none(ts, med, extra):
    wait = measured_stall_s(_case_with_notes(ts.spread_note(med, med + extra)))
    expect = (round(med + extra, 1) - round(med, 1)) / 1e3
    if wait is None:
        assert expect < STALL_WAIT_S + 1e-9 or round(med, 1) / 1e3 > SATURATED_MEDIAN_SHARE * expect - 1e-9
    else:
        assert wait >= STALL_WAIT_S and wait == pytest.approx(expect, abs=1e-9)


def test_flag_in_the_output_without_a_prediction_change(ts):
    case = _case_with_notes(ts.spread_note(400.0, 75000.0))
    d = CaseResult(case, "ok", "", predicted=500.0).to_dict()
    assert d["measured_stall_s"] == pytest.approx(74.6)
    assert d["predicted"] == 500.0 and d["signed_error_pct"] == pytest.approx((500.0 / case.value - 1) * 100)
    assert CaseResult(_case_with_notes("none"), "ok", "", predicted=1.0).to_dict()["measured_stall_s"] is None


def test_notes_written_once_and_only_for_matching_means(ts):
    rows = [r for r in _shipped_rows() if "-b200-sglang-" in r["case_id"]][:6]
    for r in rows:
        r["notes"] = r["notes"].split("; TTFT spread of the run")[0]
    out = io.StringIO()
    w = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    text = out.getvalue()
    spread = {p: v for p, v in ts.read_spread(SPREAD).items() if any(r["case_id"].startswith(p + "-") for r in rows)}
    once, n1 = ts.add_notes(text, spread)
    twice, n2 = ts.add_notes(once, spread)
    assert n1 == sum(r["case_id"].rsplit("-", 1)[0] in spread for r in rows) > 0 and n2 == 0 and twice == once
    wrong = {p: (m * 2, med, p99) for p, (m, med, p99) in spread.items()}
    if any(r["metric"] == "ttft_ms" for r in rows):
        with pytest.raises(SystemExit):
            ts.add_notes(text, wrong)


def test_shipped_spread_matches_the_rows_and_leaves_a_gap_at_the_threshold(ts):
    spread = ts.read_spread(SPREAD)
    ttft = {r["case_id"].rsplit("-", 1)[0]: r for r in _shipped_rows() if r["metric"] == "ttft_ms"}
    agg_b200_sglang = {p for p in ttft if "-b200-sglang-" in p and "-disagg-" not in p}
    assert set(spread) == agg_b200_sglang
    for p, (mean, med, p99) in spread.items():
        assert float(ttft[p]["value"]) == pytest.approx(mean, abs=0.1)  # the record's seconds to 4 places
        assert med <= mean <= p99  # a right-skewed spread: every run's mean lies between its median and its p99
        assert "TTFT spread of the run" in ttft[p]["notes"]
    waits_s = sorted((p99 - med) / 1e3 for _, med, p99 in spread.values())
    # the threshold falls in an empty band: no run's excess lies within 10 s of it
    assert not any(STALL_WAIT_S - 10.0 < w < STALL_WAIT_S + 10.0 for w in waits_s)


OTHER = ROOT / "docs" / "data" / "imax_sglang_atom_ttft_spread.csv"


def test_other_runs_spread_matches_the_rows(ts):
    """The H200 / MI300X / MI355X SGLang (aggregated and PD) and MI355X ATOM runs' spread: every row of those
    engines and chips is listed, each mean is its row's value, and the notes of all three metrics of each run
    carry it."""
    spread = ts.read_spread(OTHER)
    rows = _shipped_rows()
    ttft = {r["case_id"].rsplit("-", 1)[0]: r for r in rows if r["metric"] == "ttft_ms"}
    listed = {p for p in ttft if any(f"-{chip}-sglang-" in p for chip in ("h200", "mi300x", "mi355x"))
              or "-mi355x-atom-" in p or "-mi355x-amd_0-sglang-disagg-" in p}
    assert listed == set(spread)
    for p, (mean, med, p99) in spread.items():
        assert float(ttft[p]["value"]) == pytest.approx(mean, abs=0.1)
        assert mean <= p99 and med <= p99  # saturated PD runs: the median can exceed the mean
    stated = {r["case_id"].rsplit("-", 1)[0] for r in rows if "TTFT spread of the run" in r["notes"]}
    assert set(spread) <= stated
    assert sum("TTFT spread of the run" in r["notes"] for r in rows) == 3 * len(stated)


RUN_SPREADS = {
    "dynamo": (ROOT / "docs" / "data" / "imax_dynamo_ttft_spread.csv", "-gb200-dynamo-", 374),
    "vllm": (ROOT / "docs" / "data" / "imax_vllm_ttft_spread.csv", "-vllm-", 461),
    "trtllm": (ROOT / "docs" / "data" / "imax_trtllm_ttft_spread.csv", "-b200-trt-trt-", 235),
}


@pytest.mark.parametrize("engine", sorted(RUN_SPREADS))
def test_runs_spread_matches_the_rows(ts, engine):
    """The GB200 Dynamo (TensorRT-LLM and SGLang, PD-disaggregated), the vLLM (H100 / H200 / B200 gpt-oss-120b) and
    the B200 TensorRT-LLM (gpt-oss-120b) runs' spread: every TTFT row of the engine is listed, each mean is its row's
    value, the median and mean lie below the p99, and the notes of all three metrics of each run state the listed
    median and p99."""
    path, marker, runs = RUN_SPREADS[engine]
    spread = ts.read_spread(path)
    rows = _shipped_rows()
    ttft = {r["case_id"].rsplit("-", 1)[0]: r for r in rows if r["metric"] == "ttft_ms"}
    assert {p for p in ttft if marker in p} == set(spread)
    assert len(spread) == runs
    for p, (mean, med, p99) in spread.items():
        assert float(ttft[p]["value"]) == pytest.approx(mean, abs=0.1)
        assert mean <= p99 and med <= p99
    noted = ts.notes_spread(SHIPPED)
    listed = [r["case_id"] for r in rows if r["case_id"].rsplit("-", 1)[0] in spread]
    assert len(listed) == 3 * len(spread)
    for cid in listed:
        assert noted[cid] == pytest.approx(spread[cid.rsplit("-", 1)[0]][1:], abs=0.05)


def test_notes_spread_reads_what_the_notes_state(ts):
    spread = ts.notes_spread(SHIPPED)
    case_id = next(r["case_id"] for r in _shipped_rows() if "-r20609406656-ttft" in r["case_id"])
    mean, med, p99 = ts.read_spread(OTHER)[case_id.rsplit("-", 1)[0]]
    assert spread[case_id] == pytest.approx((med, p99), abs=0.05)


def test_first_wave_tokens_by_hand(ts):
    # 32 clients, 1,024-token prompts drawn from [819.2, 1024]: 32 x 1024 x 0.9 = 29,491.2 tokens at once
    assert ts.first_wave_tokens(32, 1024, 0.8) == pytest.approx(29491.2)
    assert ts.first_wave_tokens(4, 8192, 1.0) == pytest.approx(32768.0)


@given(c=st.integers(1, 4096), isl=st.floats(1.0, 1e5), r=st.floats(0.0, 1.0))
def test_first_wave_lies_between_the_shortest_and_longest_prompts(ts, c, isl, r):
    wave = ts.first_wave_tokens(c, isl, r)
    assert c * r * isl - 1e-6 * c * isl <= wave <= c * isl * (1 + 1e-12)


def test_wave_rows_read_the_ratio_the_recipe_step_and_the_flag(ts):
    notes = "--random-range-ratio 0.8, closed loop; " + ts.spread_note(300.0, 72300.0)
    case = _case_with_notes(notes)
    # the shipped file's first TTFT row: B200 SGLang FP8 TP8, 1k/1k, 4 clients
    assert (case.accelerator, case.weight_dtype, case.tp, case.concurrency, case.input_tokens) == (
        "nvidia-b200-180gb", "fp8", 8, 4, 1024)
    ((eng, chip, w, tp, isl, c, wave, step, stalled),) = ts.wave_rows([case])
    # dsr1_fp8_b200.sh at TP8: --chunked-prefill-size 32768 (engines.yaml recipe_chunk_tokens)
    assert (eng, chip, w, tp, isl, c, step, stalled) == ("sglang", "nvidia-b200-180gb", "fp8", 8, 1024, 4, 32768, True)
    assert wave == pytest.approx(4 * 1024 * 0.9)
    ((*_, wave1, _, calm),) = ts.wave_rows([_case_with_notes(ts.spread_note(300.0, 900.0))])
    assert wave1 == pytest.approx(4 * 1024) and calm is False  # no ratio stated: the nominal length
    assert ts.wave_rows([_case_with_notes("no spread stated")]) == []


def test_shipped_b200_stalls_only_where_the_first_wave_needs_more_than_one_step(ts):
    """The finding the tool reports (docs: stop 26, branch sglang-jit): no B200 SGLang run whose first wave fits in
    one prefill step stalled, most of those whose wave does not did; the H200 runs of the same image, client and
    workflow runs overflow the same 32,768-token step and none stalled."""
    rows = ts.wave_rows(read_cases(SHIPPED))
    b200 = [r for r in rows if r[0] == "sglang" and r[1] == "nvidia-b200-180gb"]
    fits = [r for r in b200 if r[6] <= r[7]]
    over = [r for r in b200 if r[6] > r[7]]
    assert fits and not any(r[8] for r in fits)
    assert sum(r[8] for r in over) > len(over) / 2
    h200_over = [r for r in rows if r[0] == "sglang" and r[1] == "nvidia-h200-sxm-141gb" and r[6] > r[7]]
    assert h200_over and not any(r[8] for r in h200_over)


def test_error_parts_by_hand(ts):
    # measured mean 1,000 ms, median 400; simulated mean 600, median 500: -40 % = +10 (median) - 50 (spread)
    assert ts.error_parts(1000.0, 400.0, 600.0, 500.0) == pytest.approx((10.0, -50.0))
    assert [ts.band(c) for c in (1, 64, 65, 512, 513, 2048, 2049)] == \
        ["1-64", "1-64", "65-512", "65-512", "513-2,048", "513-2,048", "2,049+"]


@given(st.floats(1.0, 1e5), st.floats(0.1, 1.0), st.floats(1.0, 1e5), st.floats(0.1, 1.0))
def test_error_parts_add_up_to_the_signed_error(ts, meas, med_share, sim, sim_share):
    median_part, spread_part = ts.error_parts(meas, med_share * meas, sim, sim_share * sim)
    assert median_part + spread_part == pytest.approx(100.0 * (sim - meas) / meas, abs=1e-6)
    # the spread part is the simulated excess of the mean over the median less the measured one (over the mean)
    excess_pct = 100.0 * ((sim - sim_share * sim) - (meas - med_share * meas)) / meas
    assert spread_part == pytest.approx(excess_pct, abs=1e-6)


def _row(metric: str, **kw: float) -> dict:
    base = {"engine": "e", "chip": "c", "metric": metric, "meas": 1.0, "ttft": 0.2, "tpot": 0.01, "e2e": 10.0,
            "tput": 1000.0, "s0": 0.0, "r0": 0.05, "k0": 0.0, "conc": 16.0, "tau": 1.0, "steps": 400.0,
            "m0": {}, "w": {}, "med": 0.0, "sim_med": 0.0}
    base.update(kw)
    return base


def test_median_view_and_wave_shortfall_by_hand(ts):
    x = _row("ttft_ms", meas=120.0, ttft=0.090, med=40.0, sim_med=30.0)
    assert ts.median_view(x)["meas"] == 40.0 and ts.median_view(x)["ttft"] == pytest.approx(0.030)
    assert ts.median_view(x)["ttft"] != x["ttft"] and x["meas"] == 120.0  # the row itself is left as it is
    assert ts.median_view(_row("ttft_ms", med=40.0)) == _row("ttft_ms", med=40.0)  # no simulated median: as is
    assert ts.median_view(_row("tpot_ms", med=40.0, sim_med=30.0))["meas"] == 1.0
    # measured mean 100 over a median of 60 (excess 40); simulated mean 80 over 70 (excess 10): 30 ms short
    assert ts.wave_shortfall_ms(100.0, 60.0, 80.0, 70.0) == pytest.approx(30.0)


def test_median_fit_finds_the_request_time_a_mean_fit_inflates(ts):
    """Rows whose simulation lacks 30 ms of first-wave excess: fitted on the means, the request time absorbs it; on the
    medians it is the planted one, and the mean is then short by the simulated wave's shortfall."""
    fe = ts.fit_engines
    r_true, wave_s = float(fe.REQUEST_GRID[50]), 0.030
    rows = [_row("tpot_ms", meas=10.0)]  # pins the step time at its run value (0)
    for conc, ttft in ((4, 0.10), (16, 0.15), (64, 0.30)):
        dr = r_true - 0.05
        rows.append(_row("ttft_ms", conc=float(conc), ttft=ttft, sim_med=(ttft - 0.01) * 1e3,
                         meas=(ttft + dr + wave_s) * 1e3, med=(ttft - 0.01 + dr) * 1e3))
    mean_fit = fe.fit(rows)
    fe.FIT_VIEW = ts.median_view
    try:
        median_fit = fe.fit(rows)
    finally:
        fe.FIT_VIEW = None
    assert median_fit.r == pytest.approx(r_true)
    assert mean_fit.r > r_true + 0.02  # the missing wave taken for request time


def test_median_fit_report_states_the_refit_and_the_shortfall(ts, tmp_path, capsys):
    import json

    cases, notes = [], []
    for chip in ("c1", "c2"):
        for metric, measured in (("ttft_ms", 260.0), ("tpot_ms", 10.0), ("output_tokens_per_s_total", 1000.0)):
            cid = f"imax-x-{chip}-e-fp8-tp8-1024-1024-c16-r1-{metric}"
            sim = {"kind": "closed_loop", "engine": "e", "ttft_ms": 200.0, "ttft_median_ms": 190.0, "tpot_ms": 10.0,
                   "e2e_ms": 10_000.0, "output_tokens_per_s": 1000.0, "step_overhead_s": 0.0,
                   "request_overhead_s": 0.05, "tokens_per_step": 1.0}
            cases.append({"status": "ok", "case_id": cid, "accelerator": chip, "metric": metric, "measured": measured,
                          "sim": sim})
            notes.append({"case_id": cid, "metric": metric, "notes": "closed loop; " + ts.spread_note(200.0, 900.0)})
    (tmp_path / "v.json").write_text(json.dumps({"cases": cases}))
    with (tmp_path / "cases.csv").open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["case_id", "metric", "notes"])
        w.writeheader()
        w.writerows(notes)
    ts.median_fit(str(tmp_path / "v.json"), tmp_path / "cases.csv")
    out = capsys.readouterr().out
    assert ts.fit_engines.FIT_VIEW is None  # the hook is left as found
    assert "       e: r" in out and "LOAO by engine" in out
    # (260 - 200) - (200 - 190) = 50 ms short, 50 / 260 = 19.2 % of the measured mean; share 60 / 700
    line = next(s for s in out.splitlines() if s.strip().startswith("e c1 ") and "rows:" in s)
    assert "    60.0     10.0     50.0   19.2 %" in line and line.rstrip().endswith("0.086")
