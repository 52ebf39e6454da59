"""tools/closed_loop/first_wave_fit.py: the prompts per client read from a row's notes, the build of a row, the
amortised first-wave wait by hand, the fit recovering planted times and waits, and a fold without a build's rows
taking the wait of the build it runs on."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import load_tool


@pytest.fixture(scope="module")
def fw():
    return load_tool("first_wave_fit")


def row(metric: str, **kw: object) -> dict:
    base = {"engine": "sglang", "chip": "nvidia-x", "metric": metric, "meas": 1.0, "ttft": 0.3, "tpot": 0.01,
            "e2e": 12.0, "tput": 900.0, "s0": 0.0015, "r0": 0.175, "tau": 1.0, "steps": 900.0, "P": 10.0,
            "build": "cuda", "case_id": "c"}
    base.update(kw)
    return base


def test_prompts_per_client_from_the_notes(fw):
    stated = ("...; benchmark prompts per client: 50 (InferenceX runners/launch_mi355x-amd.sh @02f181b "
              "(github.com/SemiAnalysisAI/InferenceX): NUM_PROMPTS = CONC * 50, CONC * 20 at OSL 8192)")
    assert fw.prompts_per_client(stated) == 50
    assert fw.prompts_per_client("Benchmark prompts per client: 20") == 20
    assert fw.prompts_per_client("--num-prompts 40 (10x conc)") == fw.DEFAULT_PROMPTS_PER_CLIENT == 10


def test_build_of_a_row(fw):
    assert fw.build_of("nvidia-b200-180gb", False) == "cuda"
    assert fw.build_of("nvidia-b200-180gb", True) == "cuda"  # no NVIDIA recipe runs aiter
    assert fw.build_of("amd-mi355x", True) == "rocm_fp8kv"
    assert fw.build_of("amd-mi355x", False) == "rocm"
    assert fw.build_of("amd-mi300x", True) == "rocm"  # its runs predate the recipe's FP8 KV cache


def test_amortised_wait_by_hand(fw):
    # 22 s once for the first of 50 waves: 0.44 s on the mean; of 20 waves: 1.1 s
    assert fw.amortised_wait_s(22.0, 50) == pytest.approx(0.44)
    assert fw.amortised_wait_s(22.0, 20) == pytest.approx(1.1)
    rows = [row(m, P=20.0) for m in ("ttft_ms", "tpot_ms", "output_tokens_per_s_total")]
    s, r, w = 0.002, 0.03, 4.0
    p = fw.predict(rows, np.array(s), np.array(r), np.array(w))
    ds, dr = s - 0.0015, r + w / 20.0 - 0.175
    assert p[0] == pytest.approx((0.3 + dr + ds) * 1e3)
    assert p[1] == pytest.approx((0.01 + ds) * 1e3)  # the wait is not in the decode steps
    assert p[2] == pytest.approx(900.0 * 12.0 / (12.0 + dr + ds * 900.0))  # the run's span, per request


def test_grid_matches_single_points(fw):
    rows = [row(m, P=p) for m in ("ttft_ms", "output_tokens_per_s_total") for p in (10.0, 50.0)]
    s, r, w = fw.STEP_GRID_S[:3, None, None], fw.REQUEST_GRID_S[None, 5:9, None], fw.WAIT_GRID_S[None, None, :4]
    grid = fw.predict(rows, s, r, w)
    assert grid.shape == (4, 3, 4, 4)
    one = fw.predict(rows, np.array(s[1, 0, 0]), np.array(r[0, 2, 0]), np.array(w[0, 0, 3]))
    assert np.allclose(grid[:, 1, 2, 3], one)


def _planted(fw, s_true: float, r_true: float, waits: dict[str, float], chips: dict[str, str]) -> list[dict]:
    rows = []
    for build, chip in chips.items():
        for prompts in (10.0, 50.0, 20.0):
            for metric in ("ttft_ms", "tpot_ms", "output_tokens_per_s_total"):
                x = row(metric, chip=chip, build=build, P=prompts, ttft=0.2 + prompts * 1e-3)
                x["meas"] = float(fw.predict([x], np.array(s_true), np.array(r_true), np.array(waits[build]))[0])
                rows.append(x)
    return rows


def test_fit_recovers_planted_times_and_waits(fw):
    s_true, r_true = float(fw.STEP_GRID_S[12]), float(fw.REQUEST_GRID_S[40])
    waits = {"cuda": float(fw.WAIT_GRID_S[30]), "rocm": float(fw.WAIT_GRID_S[45]),
             "rocm_fp8kv": float(fw.WAIT_GRID_S[66])}
    rows = _planted(fw, s_true, r_true, waits, {"cuda": "nvidia-a", "rocm": "amd-b", "rocm_fp8kv": "amd-c"})
    f = fw.fit(rows)
    assert (f.s, f.r) == pytest.approx((s_true, r_true))
    assert f.waits == pytest.approx(waits)
    assert all(abs(e) < 1e-6 for _, e in fw.errors(rows, f))


def test_a_fold_without_a_build_takes_the_build_it_runs_on(fw):
    assert fw.wait_of("rocm_fp8kv", {"rocm": 3.0}) == 3.0
    assert fw.wait_of("rocm_fp8kv", {"rocm": 3.0, "rocm_fp8kv": 20.0}) == 20.0
    assert fw.wait_of("cuda", {"rocm": 3.0}) == 0.0
    waits = {"cuda": float(fw.WAIT_GRID_S[20]), "rocm": float(fw.WAIT_GRID_S[45]),
             "rocm_fp8kv": float(fw.WAIT_GRID_S[66])}
    rows = _planted(fw, float(fw.STEP_GRID_S[12]), float(fw.REQUEST_GRID_S[40]), waits,
                    {"cuda": "nvidia-a", "rocm": "amd-b", "rocm_fp8kv": "amd-c"})
    folds = {chip: (f, errs) for chip, f, errs in fw.loao(rows)}
    f, errs = folds["amd-c"]
    assert "rocm_fp8kv" not in f.waits and f.waits["rocm"] == pytest.approx(waits["rocm"])
    ttft = [e for x, e in errs if x["metric"] == "ttft_ms"]
    assert ttft and all(e < 0 for e in ttft)  # the held-out build's longer wait is not known: under-predicted


def test_parse_fixed_waits(fw):
    assert fw.parse_fixed(["rocm_fp8kv=19.5", "cuda=1"]) == {"rocm_fp8kv": 19.5, "cuda": 1.0}
    assert fw.parse_fixed([]) == {}
    for bad in ("rocm_fp8kv", "nobuild=3", "cuda="):
        with pytest.raises(SystemExit):
            fw.parse_fixed([bad])


def test_a_given_wait_and_request_time_are_kept_in_every_fold(fw):
    waits = {"cuda": float(fw.WAIT_GRID_S[20]), "rocm": float(fw.WAIT_GRID_S[45]),
             "rocm_fp8kv": float(fw.WAIT_GRID_S[66])}
    s_true, r_true = float(fw.STEP_GRID_S[12]), float(fw.REQUEST_GRID_S[40])
    rows = _planted(fw, s_true, r_true, waits, {"cuda": "nvidia-a", "rocm": "amd-b", "rocm_fp8kv": "amd-c"})
    given = {"rocm_fp8kv": waits["rocm_fp8kv"]}
    f = fw.fit(rows, given, r_true)
    assert (f.s, f.r) == pytest.approx((s_true, r_true)) and f.waits == pytest.approx(waits)
    folds = {chip: (g, errs) for chip, g, errs in fw.loao(rows, given, r_true)}
    g, errs = folds["amd-c"]  # the fold without the build's rows still knows its wait: exact again
    assert g.waits["rocm_fp8kv"] == waits["rocm_fp8kv"] and g.r == r_true
    assert all(abs(e) < 1e-6 for _, e in errs)
    # a wrong given value is kept, not refitted: the rows then carry its error (1 s more: over-predicted)
    off = fw.fit(rows, {"rocm_fp8kv": waits["rocm_fp8kv"] + 1.0}, r_true)
    assert off.waits["rocm_fp8kv"] == pytest.approx(waits["rocm_fp8kv"] + 1.0)
    ttft = [e for x, e in fw.errors([x for x in rows if x["build"] == "rocm_fp8kv"], off) if x["metric"] == "ttft_ms"]
    assert ttft and all(e > 0 for e in ttft)
