"""Stop 52 (fleet52): sizing a DeepSeek-R1 fleet end to end, the points a capacity planner met.

``serve --rate 2000 --find-count`` (DeepSeek-R1 1k/1k on GB200) ran 11 counts for three minutes, 72 to 73,728 chips,
and called every one saturated, p99 TTFT 39 ms at the largest: the default 1,000 requests arrive in 0.5 s, shorter
than one request's 25 s end to end, so the requests in flight were still climbing towards rate x E2E (Little's law)
when the arrivals stopped and the saturation test, which skips the first half of the arrivals, read that ramp as a
growing queue. A run whose warm-up ends before its fastest request could finish is now judged by nothing and the
search refuses it at once, naming the ``--duration`` that would do. Its log also held one blank line a run: the
transient progress bar, drawn on a stderr that was no terminal."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

import inferchip as ic
from inferchip.errors import InvalidSettingError
from inferchip.interfaces.cli import main
from inferchip.sim.runs.slo import judge_run, smallest_count, too_short_text

H100_8B = ["--chip", "nvidia-h100-sxm-80gb", "--model", "meta-llama/Llama-3.1-8B-Instruct"]


def _summary(ramp_s: float | None, service_s_min: float, saturated: bool = False) -> dict[str, object]:
    return {"ttft_s_p99": 0.1, "tpot_s_p99": 0.01, "output_tokens_per_s_per_chip": 1.0,
            "output_tokens_per_s_per_user": 1.0, "saturated": saturated, "ramp_s": ramp_s,
            "service_s_min": service_s_min, "percentile_requests": 100}


@given(st.one_of(st.none(), st.floats(0.0, 1e4)), st.floats(0.001, 1e4), st.booleans())
def test_fuzz_a_run_shorter_than_its_requests_meets_no_slo(ramp_s, service_s_min, saturated):
    """An open loop whose warm-up ends before its fastest request could finish is too short, and meets nothing; one as
    long or longer (or a closed loop: no warm-up) is judged by its figures, which are within the limits here."""
    v = judge_run(_summary(ramp_s, service_s_min, saturated), 1.0, 0.05, "p99")
    assert v is not None
    short = ramp_s is not None and ramp_s < service_s_min
    assert v["too_short"] is short
    assert v["meets"] is (not short and not saturated)


def test_the_advice_is_twice_the_latency_at_least():
    text = too_short_text({"ramp_s": 0.25, "service_s_min": 24.7, "e2e_s_p99": 25.4}, "--duration")
    assert "arrivals last 0.5 s" in text and "(24.7 s from its first step" in text and "(25.4 s)" in text
    assert "--duration 110" in text  # 4 x 25.4, up to 10 s


def test_the_advice_is_a_value_each_interface_takes():
    """The example duration was '--duration 1,360' (no number --duration parses) and, in the API, 'duration_s 1,360'
    (review52c): written as it is given, '--duration 1360' and 'duration_s=1360'."""
    verdict = {"ramp_s": 0.25, "service_s_min": 24.7, "e2e_s_p99": 339.2}
    assert "e.g. --duration 1360," in too_short_text(verdict, "--duration")
    assert "e.g. duration_s=1360," in too_short_text(verdict, "duration_s")


def test_the_search_refuses_a_run_too_short_at_the_first_count():
    """One run, then the refusal naming the count, the option and a duration; not a list of 11 'saturated' counts."""
    calls: list[int] = []

    def run(n: int) -> int:
        calls.append(n)
        return n

    def judged(_: int) -> dict[str, object]:
        return {"meets": False, "saturated": True, "layout": "tp=8", "ttft_s_at_statistic": 0.5,
                "tpot_s_at_statistic": 0.02, "too_short": True, "ramp_s": 0.25, "service_s_min": 24.7,
                "e2e_s_p99": 25.4}

    with pytest.raises(InvalidSettingError, match=r"--find-count: at 72 chips the run is too short.*--duration 110"):
        smallest_count(run, 72, judged, option="--find-count", duration_option="--duration")
    assert calls == [72]


def test_serve_find_count_on_a_short_open_loop_is_one_error_line(capsys):
    """1,000 requests at 40/s (a 12.8 s ramp) of 1,024 output tokens, where the load needs 61 s to settle: refused,
    exit 2 (open53: at 1,000/s, above what 8 H100s complete at most, the run is saturated, not too short; open53b: at
    60/s, more than the step model's steady state on 8 H100s, a growing queue is saturated)."""
    code = main(["serve", *H100_8B, "--rate", "40", "--slo-ttft-ms", "2000", "--slo-tpot-ms", "50",
                 "--find-count", "--count", "8"])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert err.startswith("error: --find-count: at 8 chips the run is too short") and "--duration" in err  # one line


def test_serve_says_a_short_run_is_not_judged(capsys):
    code = main(["serve", *H100_8B, "--count", "8", "--tp", "1", "--rate", "40", "--slo-ttft-ms", "2000",
                 "--slo-tpot-ms", "50", "--format", "json"])
    d = json.loads(capsys.readouterr().out)
    assert code == 0 and d["slo"]["too_short"] and not d["slo"]["meets"] and d["ramp_s"] == pytest.approx(
        d["slo"]["ramp_s"]) and d["ramp_s"] < d["ramp_s_needed"] == d["slo"]["ramp_s_needed"]
    assert d["ramp_s"] > d["service_s_min"]  # open53b: fleet52's rule judged it (its queue test: saturated)


def test_ic_find_count_names_its_own_argument():
    with pytest.raises(InvalidSettingError,
                       match=r"find_count: at 8 chips the run is too short.*e\.g\. duration_s=\d+,"):
        ic.find_count("nvidia-h100-sxm-80gb", "meta-llama/Llama-3.1-8B-Instruct", rate_per_s=40.0,
                      slo_ttft_s=2.0, slo_tpot_s=0.05, count=8, tp=1)


def test_a_long_enough_run_is_judged():
    """A load run for long enough (warm-up past the fastest request) is judged by its figures."""
    d = ic.serve("nvidia-h100-sxm-80gb", "meta-llama/Llama-3.1-8B-Instruct", count=8, tp=1, rate_per_s=20.0,
                 input_tokens=512, output_tokens=128, num_requests=400, slo_ttft_s=2.0, slo_tpot_s=0.05)
    assert not d["slo"]["too_short"] and d["ramp_s"] > d["service_s_min"] and d["slo"]["meets"]


def test_serve_writes_no_blank_lines_on_a_stderr_that_is_no_terminal():
    res = subprocess.run([sys.executable, "-m", "inferchip.interfaces.cli", "serve", *H100_8B, "--tp", "1",
                          "--concurrency", "2", "--requests", "4", "--input-tokens", "64", "--output-tokens", "8"],
                         capture_output=True, text=True, check=True)
    assert res.stderr == ""  # main: "\n", the bar's end


def test_the_curve_slo_line_of_case_rows_ends_with_the_best_point():
    """A --mtp/--disagg curve's rows state no count of requests read: the line ended '..., is concurrency 64, its
    percentiles' with nothing after it."""
    from inferchip.interfaces.cli_options.curve_slo import slo_line

    slo = {"ttft_s": 2.0, "tpot_s": 0.05, "statistic": "p99", "points_meeting": 7, "best_concurrency": 64,
           "best_output_tokens_per_s_per_chip": 289.3, "best_output_tokens_per_s_per_user": 171.8,
           "best_requests_judged": None, "best_first_wave_requests": None}
    assert slo_line(slo, 9).endswith("is concurrency 64")
    slo.update(best_requests_judged=512, best_first_wave_requests=64)
    assert slo_line(slo, 9).endswith("its percentiles over all 512 finished requests, the first wave of 64 (one a "
                                     "client, sent at the start) included")


def test_a_disagg_row_says_what_its_kv_link_rate_is_made_of(capsys):
    """The note read 'KV 35.1 kB/token over the scale-up link at 1.65e+03 GB/s', above one NVLink 5's 900 GB/s per
    direction: it is 4 chips' links at the calibration's efficiency. Hand check of the hand-off: 1,024 tokens x
    35,136 B (61 layers x 576 fp8 values) = 36.0 MB, over 4 x 900 GB/s x the efficiency."""
    code = main(["serve", "--chip", "nvidia-gb200-186gb", "--model", "deepseek-ai/DeepSeek-R1-0528", "--weights",
                 "fp4", "--activations", "fp4", "--engine", "dynamo", "--mtp", "1", "--disagg", "1xtp4ep4:4xtp8ep8",
                 "--concurrency", "1", "--format", "json"])
    assert code == 0
    note = next(n for n in json.loads(capsys.readouterr().out)["notes"] if n.startswith("disaggregated:"))
    m = re.search(r"4 chip\(s\)' links of 900 GB/s per direction x ([0-9.]+) \(the calibration's "
                  r"link_bandwidth_fraction\)\) at ([0-9,]+) GB/s: a 1,024-token prompt's 36.0 MB in ([0-9.]+) us",
                  note)
    assert m is not None, note
    eff, rate_gb_s, us = float(m[1]), float(m[2].replace(",", "")), float(m[3])
    assert rate_gb_s == pytest.approx(4 * 900 * eff, rel=0.01)
    assert us == pytest.approx(1024 * 35_136 / (rate_gb_s * 1e9) * 1e6, rel=0.01)


@given(st.integers(1, 3000), st.integers(1, 300), st.sampled_from([1, 2, 4, 8, 72]))
def test_fuzz_a_given_layout_is_searched_in_whole_replicas(threshold, start_replicas, tp):
    """With the layout given (tp chips a replica), only multiples of tp build a system: the search runs those only
    and answers the fewest multiple of tp from which the SLO is met. On main, 1,440 to 1,800 chips at tp 8 bisected
    by chip: 1,620, 1,710, ..., 1,799 built no system, and 1,800 was answered with 1,448 to 1,792 never run."""
    from inferchip.performance.fleet import FleetQuestion

    calls: list[int] = []

    def simulate(count: int) -> int:
        calls.append(count)
        if count % tp:
            raise InvalidSettingError(f"{count} chips: tp={tp} does not divide them")
        return count

    def judged(n: int) -> dict[str, object]:
        return {"meets": n >= threshold, "saturated": False, "layout": f"tp={tp}", "ttft_s_at_statistic": 0.1,
                "tpot_s_at_statistic": 0.01}

    question = FleetQuestion(lambda count, **_: count, {"tp": tp, "pp": None, "ep": None, "attn_dp": False}, None,
                             simulate, None, "p99")  # type: ignore[arg-type]
    start = start_replicas * tp
    if start * 2 ** 12 < threshold:
        return  # beyond the doublings: refused, as before
    n, sizing = question.smallest(start, judged, option="--find-count", start_option="--count")
    assert n == -(-threshold // tp) * tp  # the fewest whole replicas that meet it
    assert all(c % tp == 0 for c in calls) and len(calls) == len(set(calls))
    assert n == tp or n - tp in calls  # one replica fewer was run and missed


def test_a_row_with_attention_dp_takes_the_tp_as_its_ep(capsys):
    """`serve --mtp 1 --tp 8 --attn-dp` ran its row at ep 1 (each expert split 8 ways, tokens all-gathered) where
    `predict` and plain `serve` with the same options run ep 8, the README's --attn-dp default: --mtp N against plain
    serve compared two layouts."""
    args = ["serve", "--chip", "nvidia-gb200-186gb", "--count", "8", "--model", "deepseek-ai/DeepSeek-R1-0528", "--tp",
            "8", "--attn-dp", "--concurrency", "8", "--input-tokens", "256", "--output-tokens", "16", "--format",
            "json"]
    assert main([*args, "--mtp", "1"]) == 0
    row = json.loads(capsys.readouterr().out)
    assert main([*args, "--requests", "16"]) == 0
    plain = json.loads(capsys.readouterr().out)
    assert row["layout"]["ep"] == plain["ep"] == 8 and row["layout"]["attn_dp"] and plain["attn_dp"]


def test_serve_without_an_slo_says_a_short_runs_growing_queue_is_its_ramp(capsys):
    code = main(["serve", *H100_8B, "--count", "8", "--tp", "1", "--rate", "40"])  # below the bound (71.3)
    text = " ".join(capsys.readouterr().out.split())
    assert code == 0 and "too short to tell" in text and "this load exceeds what the system sustains" not in text
    assert "first half of the arrivals (open loop)" in text and "ramp the load needs to settle (estimate)" in text
