"""serve's one layout rule for an open-loop load (branch serve45): ``--rate`` with an SLO and ``--trace`` take the
layout that carries the load and meets the SLO with the lowest mean end-to-end latency, as ``--rate`` alone does."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

H100 = "nvidia-h100-sxm-80gb"
L70 = "meta-llama/Llama-3.1-70B"


def _args() -> tuple[object, ...]:
    from inferchip.interfaces.cli_options.options import read_model

    return (H100, read_model(L70), 8, None, None, None, None, None, None, None, None, None, 1024, 256)


def _trace(path: Path, gap_s: float, n: int = 21) -> Path:
    path.write_text("arrival_s,input_tokens,output_tokens\n" + "".join(f"{i * gap_s},1024,256\n" for i in range(n)))
    return path


def test_serve_at_a_rate_takes_the_lowest_latency_layout_that_carries_it():
    """Llama-3.1-70B (bf16) on 8 H100 at 2 requests/s, 1,024/256 tokens: the most throughput was tp 4 x 2 replicas (at
    main af23d872), where tp 8 carries the rate faster. (An SLO was judged here by the analytic means until stop 51;
    ``serve`` now runs the candidates in this order and keeps the first whose run meets it at its percentile,
    ``inferchip.performance.fleet``, tests/test_fleet51.py.)"""
    from inferchip.interfaces.serve_system import system

    step, replicas, fields = system(*_args(), running_cap=1024, rate_per_s=2.0)
    assert (step.mm.layout.tp, step.mm.layout.pp, replicas) == (8, 1, 1)
    assert "the lowest mean end-to-end latency at 2 requests/s" in fields["layout_rule"]
    # a rate no layout carries: the most throughput, said so
    over, _, over_fields = system(*_args(), running_cap=1024, rate_per_s=1e4)
    assert "no layout carries 10000" in over_fields["layout_rule"] and over.mm.layout != step.mm.layout


def test_lowest_latency_keeps_only_the_layouts_whose_point_meets_the_questions_limits():
    import inferchip as ic
    from inferchip.performance.layout_choice import lowest_latency
    from inferchip.performance.operating import operating_point
    from inferchip.performance.predict import ask

    s = ic.resolve_setting(H100, "meta-llama/Llama-3.1-8B", count=4, weights="fp8")
    q = replace(ask(512, 128), mode="open_loop", rate_per_s=20.0)
    points = {lay: operating_point(s.mapped(lay), q, lay.replicas) for lay in s.layouts}
    carried = sorted(pt.tpot_s for pt in points.values() if not pt.saturated)
    limit_s = (carried[0] + carried[-1]) / 2  # between the fastest and the slowest TPOT that carries the rate
    assert carried[0] < limit_s < carried[-1]
    best = lowest_latency(s, replace(q, max_tpot_s=limit_s))
    assert best is not None and best.point.tpot_s <= limit_s
    for pt in points.values():  # by hand over every candidate: none within the limit is faster end to end
        if not pt.saturated and pt.tpot_s <= limit_s:
            assert pt.e2e_s >= best.point.e2e_s
    assert lowest_latency(s, replace(q, max_tpot_s=carried[0] / 2)) is None  # a limit none meets: none


def _serve_json(capsys, *extra: str) -> dict[str, object]:
    from inferchip.interfaces.cli import main

    main(["serve", "--chip", H100, "--model", L70, "--count", "8", "--format", "json", *extra])
    return dict(json.loads(capsys.readouterr().out))


def test_serve_on_a_trace_takes_the_layout_of_its_mean_rate_as_serve_at_that_rate_does(tmp_path, capsys):
    """A trace of 21 requests of 1,024/256 tokens, one every 0.5 s (2 requests/s): serve --trace took the
    most-throughput layout searched at the --input-tokens/--output-tokens defaults, whatever the trace (tp 4 x 2 at
    main af23d872)."""
    at_rate = _serve_json(capsys, "--rate", "2", "--input-tokens", "1024", "--output-tokens", "256",
                          "--requests", "21")
    traced = _serve_json(capsys, "--trace", str(_trace(tmp_path / "t.csv", 0.5)))
    assert (traced["tp"], traced["pp"], traced["num_replicas"]) == (at_rate["tp"], at_rate["pp"], 1) == (8, 1, 1)
    assert any("the trace's mean rate (2 requests/s of 1,024/256 mean input/output tokens)" in n
               for n in traced["notes"])
    # a trace whose requests all arrive at one instant states no rate: the most output tokens/s, said so
    # (tp 1 x pp 4, 2 replicas since decodestep46: without --engine the bf16 GEMMs split K on Hopper as the default
    # engine's cuBLASLt does; tp 2 x pp 2 before, under the full-wave rule)
    burst = _serve_json(capsys, "--trace", str(_trace(tmp_path / "b.csv", 0.0)))
    assert (burst["tp"], burst["pp"], burst["num_replicas"]) == (1, 4, 2)
    assert any("the trace states no arrival rate" in n for n in burst["notes"])


def test_trace_load_is_the_mean_gap_rate_and_the_mean_lengths(tmp_path):
    from inferchip.interfaces.serve_system import trace_load

    path = tmp_path / "t.csv"
    path.write_text("arrival_s,input_tokens,output_tokens\n1.0,100,10\n2.0,300,30\n5.0,200,20\n")
    assert trace_load(path) == (2 / 4.0, (200.0, 20.0))  # 2 gaps over 4 s; means by hand
    path.write_text("arrival_s,input_tokens,output_tokens\n3.0,100,10\n")
    assert trace_load(path) == (None, (100.0, 10.0))
