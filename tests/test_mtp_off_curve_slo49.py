"""Stop 49 (llmuser49's tour): `serve/curve --mtp 0` runs the closed-loop row of `--mtp N` with speculative decoding
off (the same engine, caps, chunk and layout), and `curve --slo-ttft-ms/--slo-tpot-ms` marks the points within the
SLO (mean TTFT and mean TPOT) and names the best throughput per chip among them."""

from __future__ import annotations

import json
import math
from functools import cache

import pytest
from hypothesis import given
from hypothesis import strategies as st

from inferchip.errors import InvalidSettingError
from inferchip.interfaces.cli import main
from inferchip.sim.runs.curve import slo_marks

H100_8B = ["--chip", "nvidia-h100-sxm-80gb", "--model", "meta-llama/Llama-3.1-8B-Instruct"]
SHORT = ["--input-tokens", "512", "--output-tokens", "64"]
SPECULATIVE_KEYS = {"ttft_s_mean", "ttft_s_p50", "ttft_s_p90", "ttft_s_p99", "tpot_s_mean", "tpot_s_p50", "tpot_s_p90",
                    "tpot_s_p99", "e2e_s_mean", "output_tokens_per_s",
                    "output_tokens_per_s_per_chip", "output_tokens_per_s_per_user", "tokens_per_step", "mtp", "notes"}


def _json(args: list[str], capsys: pytest.CaptureFixture[str]) -> dict:
    code = main([*args, "--format", "json"])
    out = capsys.readouterr()
    assert code == 0, out.err
    return json.loads(out.out)


@cache
def _serve_text(*extra: str) -> str:
    import subprocess
    import sys

    res = subprocess.run([sys.executable, "-m", "inferchip.interfaces.cli", "serve", *H100_8B, *SHORT,
                          "--concurrency", "8", *extra, "--format", "json"], capture_output=True, text=True,
                         check=True)
    return res.stdout


def _serve(*extra: str) -> dict:
    return json.loads(_serve_text(*extra))


def test_mtp_0_is_the_mtp_row_without_draft_tokens():
    off, on = _serve("--mtp", "0"), _serve("--mtp", "1")
    # everything but the speculative terms is the same: layout, engine, chips, requests run
    assert {k: v for k, v in off.items() if k not in SPECULATIVE_KEYS} == \
        {k: v for k, v in on.items() if k not in SPECULATIVE_KEYS}
    assert off["mtp"] == {"draft_tokens": 0, "acceptance": None, "tokens_per_step": 1.0}
    assert on["mtp"] == {"draft_tokens": 1, "acceptance": 0.85, "tokens_per_step": 1.85}  # 1 + 0.85, by hand
    # the note stating the engine's caps and chunk is the same line in both
    setup = [n for n in off["notes"] if n.startswith("closed loop simulated")]
    assert len(setup) == 1 and setup[0] in on["notes"]
    # the notes differ only by the speculative ones (MTP's tokens per step, the no-module note, --mtp 0's own)
    differ = set(off["notes"]) ^ set(on["notes"])
    speculative = ("MTP:", "--mtp 0:", "the closed-loop row of --mtp N", "model meta-llama")
    assert all(n.startswith(speculative) for n in differ), differ
    assert any("--mtp 0: speculative decoding off" in n for n in off["notes"])
    assert on["tpot_s_mean"] < off["tpot_s_mean"]  # 1.85 tokens a step for a step a little dearer


def test_mtp_at_zero_acceptance_costs_only_the_verification():
    """With every draft rejected a step emits one token, as off: the only difference left is the cost of verifying
    the draft token, so MTP is slower (never faster) and runs the same requests."""
    off, rejected = _serve("--mtp", "0"), _serve("--mtp", "1", "--mtp-acceptance", "0")
    assert rejected["tokens_per_step"] == off["tokens_per_step"] == 1.0
    assert rejected["requests"] == off["requests"]
    assert off["tpot_s_mean"] <= rejected["tpot_s_mean"] <= off["tpot_s_mean"] * 1.1


def test_mtp_0_keeps_the_mtp_rows_launch_recipe_under_disagg(capsys):
    """TensorRT-LLM's DeepSeek 1k/1k recipe of 4 decode workers of 8 GPUs caps a worker at 32 requests with MTP and
    128 without (catalog/engines.yaml): --mtp 0 runs the MTP row's 32, so on and off share the caps."""
    args = ["serve", "--chip", "nvidia-gb200-186gb", "--model", "deepseek-ai/DeepSeek-R1-0528", "--weights", "fp4",
            "--activations", "fp4", "--software", "NVIDIA Dynamo + TensorRT-LLM, PD-disaggregated",
            "--disagg", "1xtp4ep4:4xtp8ep8", "--concurrency", "4", "--input-tokens", "1024", "--output-tokens", "1024"]
    off, on = _json([*args, "--mtp", "0"], capsys), _json([*args, "--mtp", "1"], capsys)
    cap = "decode workers' launch recipe: at most 32 request(s) per worker and iteration"
    assert cap in off["notes"] and cap in on["notes"]
    assert off["tokens_per_step"] == 1.0 and on["tokens_per_step"] == 1.85
    assert on["output_tokens_per_s_per_chip"] > off["output_tokens_per_s_per_chip"]


def test_mtp_0_with_acceptance_is_refused_naming_it(capsys):
    code = main(["serve", *H100_8B, "--concurrency", "4", "--mtp", "0", "--mtp-acceptance", "0.5"])
    err = capsys.readouterr().err
    assert code == 2 and "--mtp-acceptance" in err and "allowed" in err and "Traceback" not in err


POINTS = [  # a hand-made curve: (concurrency, mean TTFT s, mean TPOT s, tok/s per chip)
    {"concurrency": 1, "ttft_s_mean": 0.05, "tpot_s_mean": 0.008, "output_tokens_per_s_per_chip": 100.0},
    {"concurrency": 2, "ttft_s_mean": 0.10, "tpot_s_mean": 0.010, "output_tokens_per_s_per_chip": 180.0},
    {"concurrency": 4, "ttft_s_mean": 0.30, "tpot_s_mean": 0.012, "output_tokens_per_s_per_chip": 300.0},
    {"concurrency": 8, "ttft_s_mean": 0.20, "tpot_s_mean": 0.030, "output_tokens_per_s_per_chip": 400.0},
    {"concurrency": 16, "ttft_s_mean": math.nan, "tpot_s_mean": math.nan, "output_tokens_per_s_per_chip": 500.0},
]


@pytest.mark.parametrize(("ttft_s", "tpot_s", "marks", "best"), [
    (0.25, None, [True, True, False, True, False], 3),  # TTFT only: 0.30 out, NaN meets no TTFT limit
    (None, 0.011, [True, True, False, False, True], 4),  # TPOT only: NaN TPOT (one-token outputs) is within
    (0.25, 0.011, [True, True, False, False, False], 1),  # both
    (0.01, 0.011, [False] * 5, None),  # nothing meets 10 ms TTFT
])
def test_slo_marks_hand_checked(ttft_s, tpot_s, marks, best):
    assert slo_marks(POINTS, ttft_s, tpot_s, "mean") == (marks, best)  # the means (fleet50: p99 is the default)
    assert slo_marks(POINTS, None, None, "mean") == ([True] * 5, 4)  # no limit: every point, the best the most


@pytest.mark.parametrize("bad", [0.0, -1.0, math.inf, math.nan, True])
def test_slo_marks_refuses_a_limit_that_is_not_a_positive_number(bad):
    with pytest.raises(InvalidSettingError, match="slo_ttft_s"):
        slo_marks(POINTS, bad, None, "mean")


_point = st.fixed_dictionaries({
    **{f"ttft_s_{s}": st.floats(0.001, 10.0) for s in ("mean", "p50", "p90", "p99")},
    **{f"tpot_s_{s}": st.floats(0.001, 1.0) for s in ("mean", "p50", "p90", "p99")},
    "output_tokens_per_s_per_chip": st.floats(0.0, 1e5)})
_limit = st.one_of(st.none(), st.floats(0.001, 10.0))


@given(st.lists(_point, min_size=1, max_size=12), _limit, _limit, st.floats(0.01, 1.0), st.floats(0.01, 1.0),
       st.sampled_from(("mean", "p50", "p90", "p99")))
def test_a_stricter_slo_never_admits_more_throughput(points, ttft_s, tpot_s, f_ttft, f_tpot, stat):
    pts = [{**p, "concurrency": i + 1} for i, p in enumerate(points)]
    loose, loose_best = slo_marks(pts, ttft_s, tpot_s, stat)
    strict, strict_best = slo_marks(pts, None if ttft_s is None else ttft_s * f_ttft,
                                    None if tpot_s is None else tpot_s * f_tpot, stat)
    assert all(not s or lo for s, lo in zip(strict, loose, strict=True))  # every strict point meets the loose SLO

    def best_y(i):
        return -math.inf if i is None else pts[i]["output_tokens_per_s_per_chip"]
    assert best_y(strict_best) <= best_y(loose_best)
    if loose_best is not None:  # the best is the most throughput among the points within
        within = [p["output_tokens_per_s_per_chip"] for p, ok in zip(pts, loose, strict=True) if ok]
        assert best_y(loose_best) == max(within)


@cache
def _curve_text(*extra: str) -> str:
    import subprocess
    import sys

    res = subprocess.run([sys.executable, "-m", "inferchip.interfaces.cli", "curve", *H100_8B, *SHORT, *extra],
                         capture_output=True, text=True, check=True)
    return res.stdout


def test_curve_slo_marks_the_points_its_means_meet_and_moves_none():
    plain = json.loads(_curve_text("--format", "json"))
    d = json.loads(_curve_text("--slo-ttft-ms", "200", "--slo-tpot-ms", "20", "--slo-percentile", "mean",
                               "--format", "json"))
    assert plain["slo"] is None and "meets_slo" not in plain["points"][0]
    # the SLO marks the same run: every figure of every point as without it
    assert [{k: v for k, v in p.items() if k != "meets_slo"} for p in d["points"]] == plain["points"]
    want = [p["ttft_s_mean"] <= 0.2 and p["tpot_s_mean"] <= 0.02 for p in plain["points"]]  # by hand
    assert [p["meets_slo"] for p in d["points"]] == want and any(want) and not all(want)
    within = [p for p, ok in zip(plain["points"], want, strict=True) if ok]
    best = max(within, key=lambda p: p["output_tokens_per_s_per_chip"])
    assert d["slo"]["best_concurrency"] == best["concurrency"]
    assert d["slo"]["best_output_tokens_per_s_per_chip"] == best["output_tokens_per_s_per_chip"]
    assert d["slo"]["points_meeting"] == sum(want) and d["slo"]["ttft_s"] == 0.2 and d["slo"]["tpot_s"] == 0.02
    text = _curve_text("--slo-ttft-ms", "200", "--slo-tpot-ms", "20", "--slo-percentile", "mean")
    flat = " ".join(text.split())  # prose wraps at COLUMNS (a pytest child may inherit 80 from the C environment)
    assert f"{sum(want)} of {len(want)} points meet it" in flat and f"is concurrency {best['concurrency']:,}" in flat
    row = next(line for line in text.splitlines() if line.strip().startswith(f"{best['concurrency']:,} "))
    assert row.rstrip().endswith("best")


def test_curve_slo_none_met_says_so(capsys):
    d = _json(["curve", *H100_8B, *SHORT, "--slo-ttft-ms", "0.001"], capsys)
    assert d["slo"]["best_concurrency"] is None and not any(p["meets_slo"] for p in d["points"])
    assert "none of the" in _curve_text("--slo-ttft-ms", "0.001")


def test_curve_slo_on_the_mtp_rows_compares_on_and_off(capsys):
    """The fleet-sizing question: the most tokens/s per chip under a TPOT limit with MTP on and off."""
    on = _json(["curve", *H100_8B, *SHORT, "--mtp", "1", "--slo-tpot-ms", "8"], capsys)
    off = _json(["curve", *H100_8B, *SHORT, "--mtp", "0", "--slo-tpot-ms", "8"], capsys)
    for d in (on, off):  # by the rows' p99 TPOT (fleet50: the default statistic)
        assert [p["meets_slo"] for p in d["points"]] == [p["tpot_s_p99"] <= 0.008 for p in d["points"]]
    assert on["slo"]["best_output_tokens_per_s_per_chip"] > off["slo"]["best_output_tokens_per_s_per_chip"]


def test_curve_plot_draws_the_slo(tmp_path):
    plot = tmp_path / "c.html"
    _curve_text("--slo-tpot-ms", "20", "--slo-percentile", "mean", "--plot", str(plot))
    html = plot.read_text()
    assert "best within SLO: concurrency" in html and "within SLO (mean TPOT" in html and "TPOT 20 ms" in html


@pytest.mark.parametrize("opt", ["--slo-ttft-ms", "--slo-tpot-ms"])
def test_curve_refuses_a_bad_slo_naming_it(opt, capsys):
    code = main(["curve", *H100_8B, *SHORT, opt, "-5"])
    err = capsys.readouterr().err
    assert code == 2 and opt in err and "Traceback" not in err
