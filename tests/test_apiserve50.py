"""Stop 50 (apiserve50): the Python API judges an SLO as the CLI does since fleet50. ``ic.serve`` and ``ic.curve``
take ``slo_percentile`` (default 99) beside their ``slo_ttft_s`` / ``slo_tpot_s``. ``ic.serve``'s record carries the
verdict (``slo``), ``ic.curve``'s result marks its points (``meets_slo``, ``.slo``), and ``ic.find_count`` answers
``serve --find-count``'s question. The SLO logic and the count search are one implementation
(``inferchip.sim.runs.slo``) that the CLI and the API both call.

On main every test here failed: ``slo_percentile`` was an unknown keyword of ``ic.serve`` (a TypeError) and of
``ic.curve``, ``ic.serve``'s record had no ``slo`` key, ``ic.find_count`` did not exist, and ``inferchip.sim.runs.slo``
could not be imported. ``ic.serve`` also took ``slo_ttft_s=True`` (a bool, read as 1 s) and ``slo_tpot_s=inf``."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from functools import cache

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import inferchip as ic
from inferchip.errors import DoesNotFitError, InvalidSettingError, UnknownIdError
from inferchip.sim.runs.curve import SLO_STATISTICS
from inferchip.sim.runs.slo import STATISTICS_ALLOWED, checked_slo, parse_statistic, smallest_count

H100 = "nvidia-h100-sxm-80gb"
L8 = "meta-llama/Llama-3.1-8B-Instruct"
SHORT = {"input_tokens": 512, "output_tokens": 128}


@cache
def _serve(**kw: object) -> dict:
    return ic.serve(H100, L8, concurrency=16, num_requests=200, **SHORT, **kw)


@cache
def _cli(*args: str) -> dict:
    res = subprocess.run([sys.executable, "-m", "inferchip.interfaces.cli", *args, "--format", "json"],
                         capture_output=True, text=True, check=True)
    return json.loads(res.stdout)


def test_serve_returns_the_verdict_at_p99_by_default():
    """The verdict reads the run's p99 TTFT and p99 TPOT; the limits judge the run and do not change it."""
    plain = _serve()
    assert plain["slo"] is None  # no limit, no verdict
    met, missed = _serve(slo_ttft_s=0.2, slo_tpot_s=0.02), _serve(slo_ttft_s=0.1, slo_tpot_s=0.02)
    for d, ok in ((met, True), (missed, False)):
        s = d["slo"]
        assert s["statistic"] == "p99" and s["meets"] is ok and "p99 TTFT" in s["rule"]
        assert s["ttft_s_at_statistic"] == plain["ttft_s_p99"] and s["tpot_s_at_statistic"] == plain["tpot_s_p99"]
        assert (plain["ttft_s_p99"] <= s["ttft_s"] and plain["tpot_s_p99"] <= s["tpot_s"]) is ok  # by hand
        assert d["ttft_s_p99"] == plain["ttft_s_p99"] and d["output_tokens_per_s"] == plain["output_tokens_per_s"]
    # the mean passes where p99 misses: 100 ms is above the mean TTFT and below the p99
    assert plain["ttft_s_mean"] <= 0.1 < plain["ttft_s_p99"]
    assert _serve(slo_ttft_s=0.1, slo_tpot_s=0.02, slo_percentile="mean")["slo"]["meets"] is True


@pytest.mark.parametrize("spelling", [90, 90.0, "90", "p90", " P90 ", np.float64(90.0), np.int64(90)])
def test_serve_reads_the_percentile_however_it_is_spelled(spelling):
    s = _serve(slo_ttft_s=0.1, slo_tpot_s=0.02, slo_percentile=spelling)["slo"]
    plain = _serve()
    assert s["statistic"] == "p90" and s["ttft_s_at_statistic"] == plain["ttft_s_p90"]
    assert s["meets"] is (plain["ttft_s_p90"] <= 0.1 and plain["tpot_s_p90"] <= 0.02)


def test_serve_verdict_is_the_clis_for_the_same_run():
    """One implementation: `inferchip serve --format json` of the same run gives the same `slo` record."""
    cli = _cli("serve", "--chip", H100, "--model", L8, "--tp", "1", "--concurrency", "16", "--requests", "200",
               "--input-tokens", "512", "--output-tokens", "128", "--slo-ttft-ms", "100", "--slo-tpot-ms", "20",
               "--slo-percentile", "90")
    assert _serve(slo_ttft_s=0.1, slo_tpot_s=0.02, slo_percentile=90)["slo"] == cli["slo"]


def test_curve_marks_its_points_at_the_percentile():
    kw = {"concurrencies": [1, 8, 64], **SHORT}
    plain = ic.curve(H100, L8, **kw)
    assert plain.slo is None and "meets_slo" not in plain.points[0] and "SLO" not in repr(plain)
    cur = ic.curve(H100, L8, slo_ttft_s=0.2, slo_tpot_s=0.02, **kw)
    # the same runs: every figure of every point as without the SLO
    assert [{k: v for k, v in p.items() if k != "meets_slo"} for p in cur.points] == plain.points
    want = [p["ttft_s_p99"] <= 0.2 and p["tpot_s_p99"] <= 0.02 for p in plain.points]
    assert list(cur.to_dataframe()["meets_slo"]) == want and any(want) and not all(want)
    best = max((p for p, ok in zip(plain.points, want, strict=True) if ok),
               key=lambda p: p["output_tokens_per_s_per_chip"])
    assert cur.slo["statistic"] == "p99" and cur.slo["points_meeting"] == sum(want)
    assert cur.slo["best_concurrency"] == best["concurrency"]
    assert cur.slo["best_ttft_s_at_statistic"] == best["ttft_s_p99"]
    assert f"{sum(want)} within the SLO (best: {best['concurrency']} users)" in repr(cur) and ".slo>" in repr(cur)
    by_mean = ic.curve(H100, L8, slo_ttft_s=0.2, slo_tpot_s=0.02, slo_percentile="mean", **kw)
    assert [p["meets_slo"] for p in by_mean.points] == [p["ttft_s_mean"] <= 0.2 and p["tpot_s_mean"] <= 0.02
                                                        for p in plain.points]


def _rate_run(**kw: object) -> dict:
    return ic.serve(H100, L8, rate_per_s=60.0, num_requests=900, **SHORT, **kw)


def test_find_count_answers_the_fewest_chips_and_lists_every_count_run():
    """At 60 requests/s, p99 TTFT <= 50 ms and p99 TPOT <= 12 ms: the search doubles 1 -> 2 -> 4 (met), then bisects 3
    (missed). Hand check: ic.serve at 4 chips meets the SLO and at 3 misses it. (open53b: 900 requests, 15 s of
    arrivals; with 300, 3 chips met, their batch not yet full, and 2 chips' 2.5 s ramp is now too short to judge: the
    load needs 4.9 s there.)"""
    slo = {"slo_ttft_s": 0.05, "slo_tpot_s": 0.012}
    d = ic.find_count(H100, L8, rate_per_s=60.0, num_requests=900, **SHORT, **slo)
    n = d["sizing"]["count"]
    assert n == d["num_chips"] == 4 and d["slo"]["meets"]
    assert _rate_run(count=4, **slo)["slo"]["meets"] and not _rate_run(count=3, **slo)["slo"]["meets"]
    runs = d["sizing"]["counts_run"]
    assert [(t["count"], t["meets"]) for t in runs] == [(1, False), (2, False), (3, False), (4, True)]
    assert runs[3]["layout"] == f"tp={d['tp']} pp=1 ep=1, {d['num_replicas']} replica(s)"  # 2 x tp 2
    assert all(t["reason"] is None for t in runs)
    assert runs[1]["ttft_s_at_statistic"] == _rate_run(count=2, **slo)["ttft_s_p99"]
    # since stop 51 (fleet51) the layout is searched at each count, as the CLI's: tp 1 x 3 is the first candidate
    assert "the layout searched at each count" in d["sizing"]["rule"] and "p99 TTFT" in d["sizing"]["rule"]


def test_find_count_is_the_clis_search():
    """The CLI with the layout given runs the same counts and finds the same figures at each."""
    cli = _cli("serve", "--chip", H100, "--model", L8, "--tp", "1", "--rate", "60", "--requests", "900",
               "--input-tokens", "512", "--output-tokens", "128", "--slo-ttft-ms", "50", "--slo-tpot-ms", "12",
               "--find-count")
    d = ic.find_count(H100, L8, tp=1, rate_per_s=60.0, num_requests=900, slo_ttft_s=0.05, slo_tpot_s=0.012, **SHORT)
    assert d["sizing"]["counts_run"] == cli["sizing"]["counts_run"] and d["slo"] == cli["slo"]


def test_find_count_misses_a_count_the_layout_does_not_divide():
    """tp=2 from 3 chips: 3 builds no system (its reason listed), 6 meets, then 4 (bisected) meets."""
    d = ic.find_count(H100, L8, tp=2, count=3, rate_per_s=5.0, num_requests=40, slo_ttft_s=1.0, **SHORT)
    runs = {t["count"]: t for t in d["sizing"]["counts_run"]}
    assert d["sizing"]["count"] == 4 and d["num_chips"] == 4 and d["tp"] == 2 and d["num_replicas"] == 2
    assert runs[3]["meets"] is False and "not a whole number of replicas" in runs[3]["reason"]
    assert runs[3]["layout"] is None and runs[4]["meets"] and runs[4]["reason"] is None


@pytest.mark.parametrize(("kw", "error", "match"), [
    ({}, InvalidSettingError, "find_count: no SLO to meet"),
    ({"slo_ttft_s": 0.0}, InvalidSettingError, "slo_ttft_s= must be positive, got 0.0"),
    ({"slo_tpot_s": True}, InvalidSettingError, "slo_tpot_s= must be a number, got True"),
    ({"slo_ttft_s": 1.0, "slo_percentile": 95}, InvalidSettingError, "slo_percentile: 95 is no statistic"),
    ({"slo_ttft_s": 1.0, "count": 0}, InvalidSettingError, "count: 0; allowed: a whole number of chips"),
    ({"slo_ttft_s": 1.0, "count": 2.5}, InvalidSettingError, "count: 2.5; allowed"),
    ({"slo_ttft_s": 1.0, "count": True}, InvalidSettingError, "count: True; allowed"),
    ({"slo_ttft_s": 1.0, "weights": "fp9"}, InvalidSettingError, "unknown number format 'fp9'"),
    ({"slo_ttft_s": 1.0, "num_requests": 0}, InvalidSettingError, "num_requests: value 0"),
    ({"slo_ttft_s": 1.0, "seed": -1}, InvalidSettingError, "seed: value -1"),
    ({"slo_ttft_s": 1.0, "input_tokens": 200_000}, InvalidSettingError, "context"),
    ({"slo_ttft_s": 1.0, "tp": 3}, InvalidSettingError, "tp"),
    ({"slo_ttft_s": 1.0, "colour": "red"}, TypeError, "unexpected keyword argument 'colour'"),
])
def test_find_count_refuses_a_bad_argument_before_any_run(kw, error, match, monkeypatch):
    """Each bad argument raises at once, naming it (none is a 'count that misses' of a 13-run search)."""
    def no_run(*a: object, **k: object) -> dict:
        raise AssertionError("a run was simulated before the arguments were checked")

    monkeypatch.setattr("inferchip.sim.simulate", no_run)  # ic.serve's simulator, looked up at each run
    with pytest.raises(error, match=match):
        ic.find_count(H100, L8, **{"rate_per_s": 5.0, **SHORT, **kw})


def test_find_count_refuses_what_no_count_can_run(monkeypatch):
    monkeypatch.setattr("inferchip.sim.simulate", lambda *a, **k: pytest.fail("a run was simulated"))
    with pytest.raises(UnknownIdError):
        ic.find_count("nvidia-h101", L8, rate_per_s=5.0, slo_ttft_s=1.0)
    # the layout is fixed: a model one replica does not hold fits no count of it (what would make it fit is said)
    with pytest.raises(DoesNotFitError, match="more chips"):
        ic.find_count(H100, "meta-llama/Llama-3.1-70B-Instruct", tp=1, rate_per_s=5.0, slo_ttft_s=1.0)
    s = ic.resolve_setting(H100, L8, tp=1)
    with pytest.raises(InvalidSettingError, match="chip: a resolved Setting, whose count is fixed"):
        ic.find_count(s, rate_per_s=5.0, slo_ttft_s=1.0)  # type: ignore[arg-type]


def test_find_count_says_when_no_count_meets_the_slo():
    with pytest.raises(InvalidSettingError, match=r"find_count: none of 1, 2, 4, .*, 4,096 chips meets the SLO"):
        ic.find_count(H100, L8, concurrency=4, num_requests=8, slo_tpot_s=1e-6, **SHORT)


def test_a_percentile_without_a_limit():
    """The default judges nothing without a limit (no verdict); another statistic with none is refused, as the CLI
    refuses --slo-percentile without --slo-ttft-ms / --slo-tpot-ms."""
    assert _serve(slo_percentile=99)["slo"] is None
    for call in (lambda: ic.serve(H100, L8, concurrency=2, num_requests=4, slo_percentile=90),
                 lambda: ic.curve(H100, L8, concurrencies=[1], slo_percentile="mean")):
        with pytest.raises(InvalidSettingError, match="slo_percentile: 90 with no limit|slo_percentile: 'mean' with"):
            call()


@pytest.mark.parametrize(("kw", "match"), [
    ({"slo_ttft_s": True}, "slo_ttft_s= must be a number, got True"),  # main: read as 1 s
    ({"slo_tpot_s": math.inf}, "slo_tpot_s= must be positive, got inf"),  # main: taken
    ({"slo_ttft_s": math.nan}, "slo_ttft_s= must be positive, got nan"),
    ({"slo_ttft_s": "0.2"}, "slo_ttft_s= must be a number, got '0.2'"),
    ({"slo_ttft_s": 0.2, "slo_percentile": "p95"}, "slo_percentile: 'p95' is no statistic"),
    ({"slo_ttft_s": 0.2, "slo_percentile": None}, "slo_percentile: None is no statistic"),
])
def test_serve_and_curve_refuse_bad_slo_arguments(kw, match):
    for call in (lambda: ic.serve(H100, L8, concurrency=2, num_requests=4, **kw),
                 lambda: ic.curve(H100, L8, concurrencies=[1], **kw)):
        with pytest.raises(InvalidSettingError, match=match):
            call()


def test_the_cli_refuses_pmean():
    """The CLI read '--slo-percentile pmean' as the mean (its 'p' was stripped first); the one reader refuses it."""
    assert parse_statistic("pmean") is None and parse_statistic(" Mean ") == "mean"


_values = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**400), st.floats(allow_nan=True),
                    st.text(max_size=8), st.sampled_from(["99", "p90", "P50", "mean", "MEAN", "50.0", "p99.0"]),
                    st.lists(st.integers(), max_size=2))


@given(_values, _values, _values)
@example(99, None, None)
@example(0.2, None, "p90")
@example(0.2, 0.02, 10**400)
@example(0.2, 0.02, True)
@example(1e-300, 1e300, 50.0)
def test_fuzz_the_api_slo_arguments(ttft, tpot, percentile):
    """Any value of the three arguments is taken (each limit a finite number above 0 or None, the statistic one of
    SLO_STATISTICS) or refused with an InvalidSettingError naming the argument and what is allowed; never another
    error."""
    try:
        stat = checked_slo(ttft, tpot, percentile)
    except InvalidSettingError as exc:
        msg = str(exc)
        assert msg.startswith(("slo_ttft_s", "slo_tpot_s", "slo_percentile")) and "allowed" in msg
        return
    assert stat in SLO_STATISTICS and stat == parse_statistic(percentile)
    for v in (ttft, tpot):
        assert v is None or (not isinstance(v, bool) and isinstance(v, int | float) and 0 < v < math.inf)
    assert ttft is not None or tpot is not None or stat == "p99"


@given(st.one_of(st.integers(-5, 10**6), st.floats(allow_nan=True), st.booleans(), st.text(max_size=4)))
def test_fuzz_the_search_start(start):
    """The search's starting count is a whole number of chips in 1..100,000, or it is refused naming the option
    the caller gives (``count`` in the API, ``--count`` in the CLI) before any run."""
    runs: list[int] = []

    def run(n: int) -> int:
        runs.append(n)
        return n

    judged = lambda n: {"meets": n >= 3, "layout": "x", "saturated": False,  # noqa: E731
                        "ttft_s_at_statistic": 0.1, "tpot_s_at_statistic": 0.01}
    try:
        n, sizing = smallest_count(run, start, judged, start_option="count")
    except InvalidSettingError as exc:
        assert str(exc).startswith("count: ") and "from 1 to 100,000" in str(exc) and not runs
        assert isinstance(start, bool | float | str) or not 1 <= start <= 100_000
        return
    assert n == 3 and sizing["run"] == 3 and sizing["count"] == 3


def test_one_allowed_text_for_the_cli_and_the_api(capsys):
    from inferchip.interfaces.cli import main

    code = main(["curve", "--chip", H100, "--model", L8, "--slo-tpot-ms", "20", "--slo-percentile", "95"])
    assert code == 2 and STATISTICS_ALLOWED in capsys.readouterr().err.replace("\n", " ")
    with pytest.raises(InvalidSettingError) as exc:
        checked_slo(0.1, None, 95)
    assert STATISTICS_ALLOWED in str(exc.value)


@pytest.mark.parametrize("call", ["serve", "find_count"])
def test_an_unknown_keyword_is_named_before_the_loads_checks(call):
    """``ic.serve(..., rate=40)`` answered "give exactly one of rate_per_s or concurrency": the load's check ran
    before the unknown keyword was looked at, so the message named a rule the caller thought they had met."""
    extra = {"slo_ttft_s": 0.2} if call == "find_count" else {}
    with pytest.raises(TypeError, match=r"'rate' \(did you mean 'rate_per_s'\?\)"):
        getattr(ic, call)("nvidia-h100-sxm-80gb", "meta-llama/Llama-3.1-8B-Instruct", rate=40, input_tokens=512,
                          output_tokens=128, **extra)
