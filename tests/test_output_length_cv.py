"""The spread of a run's output lengths, where the run states it (issue 12, energy): the ML.ENERGY leaderboard
publishes each run's output-length histogram; ``tools/energy/mlenergy_output_cv.py`` turns it into the CV that the
gpqa and lm-arena-chat rows' notes state (``output length CV``), and the energy rows draw the run's outputs with that
spread (``LengthDist.lognormal_cv``), which sets the closed loop's length-biased context ``E[i] + E[o^2] / (2 E[o])``.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pytest
from tests.conftest import load_tool

from inferchip.performance.question import LengthDist
from inferchip.spec.calibration import DatasetLengths
from inferchip.validation.energy.row_setting import row_setting
from inferchip.validation.energy.rows import predict_energy_run
from inferchip.validation.moe_kernels import stated_output_cv

CATALOG = Path(__file__).resolve().parents[1] / "src" / "inferchip" / "catalog"
cvtool = load_tool("mlenergy_output_cv")
fs = load_tool("energy_fold_split")


def _rows(name: str) -> list[dict[str, str]]:
    with (CATALOG / name).open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def _cv(d: LengthDist) -> float:
    return math.sqrt(d.second_moment / (d.mean * d.mean) - 1.0)


def test_histogram_moments_by_hand() -> None:
    # two bins over [0, 4]: mid-points 1 and 3, one request each: mean 2, E[x^2] = 5, variance 1, CV 0.5
    n, mean, cv = cvtool.histogram_moments([1, 1], 0.0, 4.0)
    assert (n, mean, cv) == (2, pytest.approx(2.0), pytest.approx(0.5))
    # all in one bin: no spread at the mid-points
    assert cvtool.histogram_moments([0, 5, 0], 0.0, 3.0)[1:] == (pytest.approx(1.5), pytest.approx(0.0))
    with pytest.raises(ValueError, match="no requests"):
        cvtool.histogram_moments([0, 0], 0.0, 1.0)
    with pytest.raises(ValueError, match="not increasing"):
        cvtool.histogram_moments([1], 2.0, 1.0)


@pytest.mark.parametrize("cv", [0.3, 0.51, 0.9, 1.36])
def test_lognormal_cv_points_carry_the_stated_spread_and_mean(cv: float) -> None:
    d = LengthDist.lognormal_cv(2000.0, 32768.0, cv)
    assert len(d.points) == 16
    assert d.mean == pytest.approx(2000.0, rel=1e-9)
    assert _cv(d) == pytest.approx(cv, rel=1e-6)
    # the length-biased context the closed loop reads: E[o^2] / (2 E[o]) = E[o] (1 + CV^2) / 2
    assert d.second_moment / (2.0 * d.mean) == pytest.approx(1000.0 * (1.0 + cv * cv), rel=1e-6)


def test_the_default_shape_has_a_cv_of_0_59() -> None:
    # LENGTH_SIGMA 0.6 on 16 quantile points: narrower than the continuous lognormal's 0.66 (the tail is cut)
    assert _cv(LengthDist.lognormal(2000.0, 32768.0)) == pytest.approx(0.5908, abs=1e-3)


@pytest.mark.parametrize("cv", [0.0, -0.5, math.nan, math.inf])
def test_lognormal_cv_refuses_a_spread_that_is_not_positive(cv: float) -> None:
    with pytest.raises(ValueError, match="not a positive finite number"):
        LengthDist.lognormal_cv(2000.0, 32768.0, cv)


def test_lognormal_cv_refuses_a_spread_the_cap_clips() -> None:
    with pytest.raises(ValueError, match="out of reach"):
        LengthDist.lognormal_cv(2000.0, 2100.0, 0.9)


def test_the_statement_is_read_and_a_bad_value_refused() -> None:
    assert stated_output_cv({"notes": "x; output length CV 0.880 (source)"}) == pytest.approx(0.88)
    assert stated_output_cv({"notes": "output length CV 1.2"}) == pytest.approx(1.2)
    assert stated_output_cv({"notes": "median ITL 6.65 ms"}) is None
    for bad in ("-0.3", "0", "abc", "nan"):
        with pytest.raises(ValueError, match=r"row 'r1', notes: 'output length CV .*' is not a positive number"):
            stated_output_cv({"case_id": "r1", "notes": f"output length CV {bad} (x)"})


def test_every_gpqa_and_lm_arena_row_states_its_runs_cv_and_no_other_row_does() -> None:
    hist = cvtool.load_histograms()
    measured = [r for r in _rows("mlenergy_cases.csv") if r["dataset"] in ("gpqa", "lm-arena-chat")]
    assert len(measured) == 124 + 294 and {cvtool.run_of(r["case_id"]) for r in measured} == set(hist)
    for r in measured:
        assert cvtool.statement(hist[cvtool.run_of(r["case_id"])]) in r["notes"], r["case_id"]
        assert r["notes"].count("output length CV") == 1, r["case_id"]
        assert stated_output_cv(r) == pytest.approx(round(hist[cvtool.run_of(r["case_id"])]["cv"], 3))
    for name in ("mlenergy_cases.csv", "energy_cases.csv", "validation_cases.csv", "inferencemax_cases.csv"):
        others = [r for r in _rows(name) if r.get("dataset") not in ("gpqa", "lm-arena-chat")]
        assert not [r["case_id"] for r in others if stated_output_cv(r) is not None], name


def test_writing_the_statement_again_replaces_it() -> None:
    """The statement's source text holds a ';' (``mid-points; tools/...``): a second ``--write`` must replace the
    first statement, not append a second one."""
    h = {"cv": 0.9731, "leaderboard_file": "x__lm-arena-chat.json"}
    notes = "median ITL 7.3 ms" + cvtool.statement({**h, "cv": 0.5})
    assert cvtool._STATEMENT.sub("", notes) + cvtool.statement(h) == "median ITL 7.3 ms" + cvtool.statement(h)


def test_lm_arena_request_counts_by_hand() -> None:
    # 1,024 prompts (benchmark.yaml) x num_request_repeats (the model's H100 sweeps.yaml)
    assert cvtool.lm_arena_num_requests("Llama-3.1-8B-Instruct", 128) == 1024
    assert cvtool.lm_arena_num_requests("Llama-3.1-8B-Instruct", 768) == 3072
    assert cvtool.lm_arena_num_requests("Llama-3.1-70B-Instruct", 1024) == 2048
    assert cvtool.lm_arena_num_requests("Llama-3.1-405B-Instruct-FP8", 256) == 1024
    assert cvtool.lm_arena_num_requests("Qwen3-30B-A3B-Instruct-2507", 256) == 1024
    assert cvtool.lm_arena_num_requests("Qwen3-30B-A3B-Instruct-2507", 256, "x-bs256-rep2-power") == 2048
    assert cvtool.lm_arena_num_requests("Qwen3-8B", 512) == 1024


def test_the_transcribed_histograms_agree_with_the_published_runs() -> None:
    """Each histogram holds the run's request count (gpqa 198 x its repeats, lm-arena-chat 1,024 x its repeats) and
    its mean is the published mean length within the mid-point binning (a mistyped count would break one or the
    other)."""
    rows = {cvtool.run_of(r["case_id"]): r for r in _rows("mlenergy_cases.csv")
            if r["dataset"] in ("gpqa", "lm-arena-chat")}
    for run_id, h in cvtool.load_histograms().items():
        r = rows[run_id]
        assert h["n"] == cvtool.num_requests(r), run_id
        assert h["mean"] == pytest.approx(float(r["output_tokens"]), rel=cvtool.MEAN_TOLERANCE), run_id


def test_every_lm_arena_run_spreads_wider_than_the_default() -> None:
    """Many short replies and a tail to the 4,096-token cap: every lm-arena-chat run's CV lies above the default
    shape's 0.59, and the cap leaves the stated spread reachable (lognormal_cv refuses a spread the cap clips)."""
    hist = cvtool.load_histograms()
    lm = [r for r in _rows("mlenergy_cases.csv")
          if r["dataset"] == "lm-arena-chat" and r["metric"] == "power_w_board_total"]
    assert len(lm) == 147
    for r in lm:
        cv = hist[cvtool.run_of(r["case_id"])]["cv"]
        assert 0.8 < cv < 1.2, r["case_id"]
        outputs = row_setting(r, DatasetLengths()).question.outputs  # capped at the data set's 4,096 tokens
        assert max(outputs.points) <= 4096.0
        assert _cv(outputs) == pytest.approx(cv, abs=5e-4), r["case_id"]  # the statement's three decimals


def test_the_energy_row_draws_its_outputs_with_the_stated_spread() -> None:
    row = next(r for r in _rows("mlenergy_cases.csv") if r["case_id"] == "mle3-gpqa-gpt-oss-20b-h100x1-bs256-power")
    q = row_setting(row, DatasetLengths()).question
    assert q.outputs.mean == pytest.approx(float(row["output_tokens"]))
    assert _cv(q.outputs) == pytest.approx(stated_output_cv(row), rel=1e-6)
    unstated = {**row, "notes": row["notes"].split("; output length CV")[0]}
    assert _cv(row_setting(unstated, DatasetLengths()).question.outputs) == pytest.approx(0.5908, abs=1e-3)


def test_a_wider_spread_means_a_longer_context_and_a_slower_run() -> None:
    """gpt-oss-20b at 256 sequences: its runs' CV 0.91 against the default 0.59 lengthens the mean context a running
    sequence holds, so the attention reads more KV per step: fewer tokens per second."""
    row = next(r for r in _rows("mlenergy_cases.csv") if r["case_id"] == "mle3-gpqa-gpt-oss-20b-h100x1-bs256-power")
    base = row["notes"].split("; output length CV")[0]
    runs = {}
    for cv in (0.59, 0.91):
        run, why = predict_energy_run({**row, "notes": f"{base}; output length CV {cv} (test)"})
        assert run is not None, why
        runs[cv] = run
    assert runs[0.91].output_tokens_per_s < runs[0.59].output_tokens_per_s
