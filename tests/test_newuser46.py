"""A new user's tour at stop 46 (branch newuser46): each defect found, with the test that fails on main 346d4e3."""

from __future__ import annotations

from dataclasses import replace

from inferchip.catalog.engines import get_engine

H100 = "nvidia-h100-sxm-80gb"
L70 = "meta-llama/Llama-3.1-70B"


def _args() -> tuple[object, ...]:
    from inferchip.interfaces.cli_options.options import read_model

    return (H100, read_model(L70), 8, None, None, None, None, None, None, None, None, None, 1024, 256)


# ------------------------------------------------------------------ 1. serve --concurrency: one layout rule, stated
def test_serve_at_c_clients_takes_the_lowest_latency_layout_and_says_so():
    """``serve --concurrency C`` chose by tokens/s and printed no rule (``--rate`` printed its own): at C clients the
    lowest mean E2E is the most requests/s (C / E2E), so both loads now take one rule, named in a note. (With an SLO
    the candidates are run in this order since stop 51, the first whose run meets it at its percentile kept:
    ``inferchip.performance.fleet``, tests/test_fleet51.py.)"""
    import inferchip as ic
    from inferchip.errors import DoesNotFitError
    from inferchip.interfaces.serve_system import system
    from inferchip.performance.operating import operating_point
    from inferchip.performance.predict import ask

    step, replicas, fields = system(*_args(), running_cap=1024, concurrency=64)
    rule = fields["layout_rule"]
    assert "lowest mean end-to-end latency at 64 clients" in rule and "hold them in memory" in rule
    # by hand over every candidate: none that holds 64 clients is faster end to end
    s = ic.resolve_setting(H100, L70, count=8)
    q = replace(ask(1024, 256), mode="closed_loop", concurrency=64.0, max_seqs_per_rank=1024.0)
    points = {}
    for lay in s.layouts:
        try:
            points[lay] = operating_point(s.mapped(lay), q, lay.replicas)
        except DoesNotFitError:
            continue
    chosen = points[step.mm.layout]
    assert all(pt.e2e_s >= chosen.e2e_s for pt in points.values() if not pt.saturated)
    # clients no layout holds: the most throughput, said so
    _, _, huge = system(*_args(), running_cap=1024, concurrency=100_000)
    assert "no layout holds 100,000 clients in memory" in huge["layout_rule"]


# ------------------------------------------------------------------ 2. explore's page: axes in words and units
def _frame():  # type: ignore[no-untyped-def]
    import numpy as np
    import pandas as pd

    from inferchip.explore.evaluate import METRICS
    from inferchip.spec.design_space import CATEGORICAL, DEFAULTS, PARAMETERS

    rows = []
    for d in range(4):
        for w in ("a", "b"):
            row = {"design_id": d, "workload_id": w, **{p: DEFAULTS[p] for p in PARAMETERS},
                   "area_mm2": 400.0 + d, "dies": 1, "tdp_w": 500.0, "cost_usd": 3000.0, "feasible": True}
            # two parameters that vary over the front (one held by every design has no axis since stop 49)
            row.update(clock_ghz=float(DEFAULTS["clock_ghz"]) + 0.1 * d, sram_mb=float(DEFAULTS["sram_mb"]) + 8 * d)
            row.update({m: np.nan for m in METRICS})
            row.update(tokens_per_s_per_chip=100.0 * 10 ** d, tokens_per_s_per_w=0.2 * 3 ** d,
                       tokens_per_s_per_usd=0.05 / 2 ** d, latency_s=0.02 / (d + 1))
            rows.append(row)
    assert all(p in DEFAULTS for p in CATEGORICAL)
    return pd.DataFrame(rows)


def test_explore_page_draws_latency_in_ms_labels_log_ticks_and_names_parameters_with_units():
    """explore printed its latency in ms and the page drew it in s; the page's log axes had plotly's bare
    "1000, 2, 5" ticks (the review's had whole values); its parallel coordinates named axes by raw keys
    (``clock_ghz``, ``throughput_per_chip``) with no unit."""
    import json
    import re

    from inferchip.interfaces.report.explore_page import build_page

    page = build_page(_frame(), ["a", "b"], {}, "t")
    figs = [json.loads(m) for m in re.findall(r'Plotly\.newPlot\(\s*"[^"]+",\s*(\[.*?\]),\s*\{', page, re.S)]
    layouts = [json.loads(m) for m in re.findall(r'Plotly\.newPlot\(\s*"[^"]+",\s*\[.*?\],\s*(\{.*?\}),\s*\{"',
                                                  page, re.S)]
    assert len(figs) == 7 and len(layouts) == 7  # six pairs of four objectives, and the parallel coordinates
    lat = [lay for lay in layouts[:6] if lay["yaxis"]["title"]["text"] == "time per output token at batch 1, ms"]
    assert lat
    for lay in layouts[:6]:  # every log axis labelled with whole values
        for ax in ("xaxis", "yaxis"):
            assert lay[ax]["type"] == "log" and lay[ax]["tickvals"] and lay[ax]["ticktext"]
    i = layouts.index(lat[0])
    assert max(figs[i][1]["y"]) == 20.0  # 0.02 s at batch 1, drawn in ms
    dims = {d["label"]: d["values"] for d in figs[6][0]["dimensions"]}
    assert "clock, GHz" in dims and "SRAM, MB" in dims and "clock_ghz" not in dims
    assert max(dims["time per output token at batch 1, ms"]) <= 20.0


# ------------------------------------------------------------------ 3. the report names a chip by one helper
def test_the_report_shortens_a_chips_name_by_one_helper():
    """in_car_page, claim_page and deciding each wrote ``short_name(chip_name(id, res))`` (deciding as a private
    ``_name``, in_car_page as a nested ``named``): one public helper, ``deciding.chip_short_name``."""
    from pathlib import Path

    from inferchip.interfaces.report import deciding

    folder = Path(deciding.__file__).parent
    uses = {p.name: p.read_text().count("short_name(chip_name(") for p in folder.glob("*.py")}
    assert sum(uses.values()) == 1 and uses["deciding.py"] == 1  # the helper's own body
    assert "def _name(" not in (folder / "deciding.py").read_text()
    assert "def named(" not in (folder / "in_car_page.py").read_text()

    class Res:  # a stand-in review: its chips and no claim
        chips = [type("C", (), {"id": "x1", "name": "X1 (a test chip)"})()]
        claim = None

    assert deciding.chip_short_name("x1", Res()) == "X1"  # type: ignore[arg-type]


# ------------------------------------------------------------------ 4. one meaning of "estimate" in chips and review
def test_chips_and_review_star_the_same_chips_a_price_range_being_no_estimate(capsys):
    """The review starred every chip with a street-price range as an estimate (H100, H200, L40S) and ``chips`` only
    those marked ``estimate: true`` (not Trillium's estimated TDP): one rule, a figure other than the price given
    as a range (or the whole chip announced)."""
    import json

    from inferchip.catalog.chips import load_chip
    from inferchip.interfaces.cli import main
    from inferchip.review.inputs import chip_entry, is_estimate

    assert main(["chips", "--format", "json"]) == 0
    listed = {r["id"]: r["estimate"] for r in json.loads(capsys.readouterr().out)}
    for cid in ("nvidia-h100-sxm-80gb", "nvidia-h200-sxm-141gb", "google-tpu-v6e-trillium", "tesla-ai5"):
        assert chip_entry(cid, 8).estimate == listed[cid] == is_estimate(load_chip(cid))
    assert not listed["nvidia-h100-sxm-80gb"] and "price.usd" in load_chip("nvidia-h100-sxm-80gb").estimated_fields()
    assert listed["google-tpu-v6e-trillium"] and listed["tesla-ai5"]  # an estimated TDP; an announced chip


# ------------------------------------------------------------------ 5. the ranking's fallback says what is missing
def test_a_claimed_chip_without_a_street_price_is_told_so_and_the_ranking_is_not_called_the_verdict():
    """A chip of one's own (a TDP, no street price) was told "no price or power: the verdict ranks tok/s per chip",
    where it has power and the claim's verdicts are judged part by part (``--metric`` ranks, it does not judge)."""
    import math
    from types import SimpleNamespace

    from inferchip.interfaces.cmd_review import review_cmd
    from inferchip.review.review import _lacks

    own = SimpleNamespace(id="acme-x1", params=SimpleNamespace(tdp_w=1000.0))
    street = [SimpleNamespace(name="street", unpriced={"acme-x1": "no street or list price in the price table"})]
    assert _lacks(own, "tco", street) == "no street or list price"  # type: ignore[arg-type]
    bare = SimpleNamespace(id="x", params=SimpleNamespace(tdp_w=math.nan))
    assert _lacks(bare, "energy", []) == "no TDP"  # type: ignore[arg-type]
    assert _lacks(bare, "tco", street[:0]) == "no TDP"  # type: ignore[arg-type]
    import inspect

    metric_help = inspect.signature(review_cmd).parameters["metric"].default.help
    assert "ranking" in metric_help and "verdict:" not in metric_help


# ------------------------------------------------------------------ 6. curve's point is a serve run, and says which
def test_a_curve_point_is_the_serve_run_its_note_names(capsys):
    """curve's help said each point is the run ``serve --concurrency`` makes, but a point runs 8 requests a client
    and serve 1,000 requests: at Qwen3-32B on an H200, 64 clients, TTFT mean 612 ms on the curve, 389 ms in serve.
    The note now names the serve run that gives the point, number for number."""
    import json

    from inferchip.interfaces.cli import main

    common = ["--chip", "nvidia-h100-sxm-80gb", "--model", "meta-llama/Llama-3.1-8B", "--input-tokens", "256",
              "--output-tokens", "64", "--format", "json"]
    assert main(["curve", *common]) == 0
    cur = json.loads(capsys.readouterr().out)
    assert any("--requests 8C" in n for n in cur["notes"])
    point = next(p for p in cur["points"] if p["concurrency"] == 4)
    assert main(["serve", *common, "--concurrency", "4", "--requests", "32"]) == 0
    run = json.loads(capsys.readouterr().out)
    for key in ("ttft_s_mean", "tpot_s_mean", "output_tokens_per_s_per_chip"):
        assert run[key] == point[key]


# ------------------------------------------------------------------ 7. predict's serve command: its layout and cap
def test_predicts_ttft_note_names_the_serve_run_on_its_layout_and_the_cap_that_run_keeps(capsys):
    """predict --max-throughput said ``serve --concurrency C --range-ratio 1`` "with the same options simulates that
    closed loop"; serve searched its own layout and admitted 256 sequences a replica where predict ran thousands
    (Llama-3.1-70B FP8 on 8 H200: 21,990 tok/s predicted, 14,816 in that serve run, TTFT 0.13 against 8.2 s)."""
    import json

    from inferchip.interfaces.cli import main

    args = ["predict", "--chip", "nvidia-h200-sxm-141gb", "--model", "meta-llama/Llama-3.1-8B", "--weights", "fp8",
            "--max-throughput", "--input-tokens", "256", "--output-tokens", "64", "--format", "json"]
    assert main(args) == 0
    d = json.loads(capsys.readouterr().out)
    note = next(n for n in d["notes"] if n.startswith("TTFT is the service time"))
    assert f"--tp {d['tp']} --pp {d['pp']} --ep {d['ep']}" in note
    cap = get_engine("vllm").max_num_seqs  # serve's default cap, the vLLM engine record's (stop 46; 256 before)
    assert d["batch"] > cap and f"at most {cap:,} sequences a replica" in note
    assert main([*args, "--max-ttft-ms", "60", "--max-tpot-ms", "8"]) == 0  # a point within the cap: no such caveat
    small = json.loads(capsys.readouterr().out)
    assert small["batch"] <= cap
    assert not any(f"at most {cap:,}" in n for n in small["notes"])


# ------------------------------------------------------------------ 8. serve and curve name the chip as predict does
def test_serve_and_curve_name_a_chip_file_by_its_id_in_the_title_and_the_json(tmp_path, capsys):
    """serve's title read "on 8 x mychip.yaml" (the path typed) where predict's reads the chip's id, and neither
    serve's nor curve's JSON named the chip or the model: a fleet sizer's loop over chips could not tell its files
    apart."""
    import json
    from pathlib import Path

    import inferchip
    from inferchip.interfaces.cli import main

    mine = tmp_path / "mine.yaml"
    mine.write_text((Path(inferchip.__file__).parent / "catalog" / "chips" / "nvidia-h100-sxm-80gb.yaml").read_text())
    common = ["--chip", str(mine), "--model", "meta-llama/Llama-3.1-8B", "--input-tokens", "256",
              "--output-tokens", "64"]
    assert main(["serve", *common, "--concurrency", "2", "--requests", "8"]) == 0
    text = capsys.readouterr().out
    assert "on 1 x nvidia-h100-sxm-80gb" in text and "mine.yaml" not in text.split("\n(")[0]
    assert "other" not in text  # the ids are the title's, not figures the table does not know
    assert main(["serve", *common, "--concurrency", "2", "--requests", "8", "--format", "json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert (d["chip_id"], d["model_id"]) == ("nvidia-h100-sxm-80gb", "meta-llama/Llama-3.1-8B")
    assert main(["curve", *common, "--format", "json"]) == 0
    c = json.loads(capsys.readouterr().out)
    assert (c["chip_id"], c["model_id"]) == ("nvidia-h100-sxm-80gb", "meta-llama/Llama-3.1-8B")


# ------------------------------------------------------------------ 9. the command list: one summary a command
def test_the_command_list_keeps_no_line_break_of_a_docstring(capsys, monkeypatch):
    """``inferchip --help`` broke curve's summary after "memory" and chips' after "every" on any width: rich kept
    the docstrings' own line breaks. Each summary is now its first paragraph on one line."""
    from inferchip.interfaces.app import app
    from inferchip.interfaces.cli import main

    monkeypatch.setenv("COLUMNS", "250")
    main(["--help"])
    out = capsys.readouterr().out
    assert "concurrency 1 up to the memory limit or the running-batch cap" in out
    assert "or the chips that meet every filter given." in out
    for c in app.registered_commands:
        assert c.short_help is None or "\n" not in c.short_help
