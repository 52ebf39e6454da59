"""The review report as a busy reader reads it (report45): the first screen gives each part's deciding numbers
with units and a one-line count of the verdicts; the verdict table fits an 800 px window; log axes are labelled
with whole values; the assumptions table fits the page; each section of predictions shows the model's error.

Browser tests use headless Chromium via Playwright (``tests/browser_page.py``); skipped where it is missing.
"""

from __future__ import annotations

import json
import re
import statistics
from pathlib import Path

import pytest
import yaml

from browser_page import open_page, requires_chromium
from inferchip.interfaces.cli import main
from inferchip.interfaces.report.log_ticks import label_log_axes, log_ticks, tick_text

ERRORS = yaml.safe_load((Path(__file__).resolve().parents[1] / "src/inferchip/review/model_error.yaml").read_text())


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("review") / "rv"
    rc = main(["review", "--chips", "nvidia-h100-sxm-80gb,amd-mi300x", "--models",
               "meta-llama/Llama-3.1-8B-Instruct,mistralai/Mixtral-8x7B-Instruct-v0.1", "--out", str(out),
               "--no-sensitivity"])
    assert rc == 0
    return out / "report.html"


def test_tick_labels_are_whole_values_with_si_suffixes():
    assert [tick_text(v) for v in (2000.0, 1e15, 0.05, 20.0, 2.5e6)] == ["2k", "1P", "0.05", "20", "2.5M"]
    vals, text = log_ticks(3.0, 4000.0, dense=True)  # from the tick at or below 3 to the one at or above 4000
    assert vals[0] == 2.0 and vals[-1] == 5e3 and "2k" in text and text[:3] == ["2", "5", "10"]
    vals, text = log_ticks(3e11, 2e16, dense=False)
    assert vals == [1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17] and text[4] == "1P"


def test_label_log_axes_spans_the_drawn_data_and_keeps_set_ticks():
    fig = {"data": [{"x": ["a", "b"], "y": [0.3, 700.0], "error_y": {"array": [0.0, 1300.0]}}],
           "layout": {"yaxis": {"type": "log"}, "xaxis": {"type": "log", "tickvals": [1.0]}}}
    label_log_axes(fig)
    y = fig["layout"]["yaxis"]
    assert y["tickvals"][0] == 0.2 and y["tickvals"][-1] == 2000.0  # 700 + 1300 = 2000, the top of the bar
    assert y["ticktext"][y["tickvals"].index(1000.0)] == "1k"
    assert fig["layout"]["xaxis"]["tickvals"] == [1.0] and "ticktext" not in fig["layout"]["xaxis"]


def test_each_part_carries_its_central_numbers_in_results(report):
    """The per-chip part's deciding ratio is the median over the claim's cases of the claimed chip's tok/s per chip
    over the rival's (the scale-up-domain rows of results.json), and the cost part gives both chips' USD."""
    d = json.loads((report.parent / "results.json").read_text())
    per_chip = next(p for p in d["claim_parts"] if p["part"] == "per_chip")
    c = per_chip["central"]
    assert c["rival"] == per_chip["leader_at_central"]
    rows = {(r["chip_id"], r["model_id"], r["slo"]): r["output_tokens_per_s_per_chip"] for r in d["rows"]
            if r["setting"] == "domain" and r["status"] == "ok"}
    claim = next(r["chip_id"] for r in d["rows"] if r["is_claim"])
    ratios = [rows[(claim, m, s)] / rows[(c["rival"], m, s)] for m, s in (k.split("|") for k in d["claim_cases"])
              if (claim, m, s) in rows and (c["rival"], m, s) in rows]
    assert c["cases_both"] == len(ratios) > 0
    assert c["ratio"] == pytest.approx(statistics.median(ratios), rel=1e-9)
    assert 0 <= c["claimed_score"] <= 1 and 0 <= c["rival_score"] <= 1
    cost = next(p for p in d["claim_parts"] if p["part"] == "lowest_cost_silicon")["central"]
    assert cost["claimed_usd"] > 0 and cost["rival_usd"] > 0 and cost["by_far"] == 2.0


@requires_chromium
def test_first_screen_states_each_verdict_with_its_deciding_numbers(report):
    """A headline counts the verdicts; each part's row gives its deciding numbers at the central figures with the
    part's unit and the rival's name; the table fits an 800 px window (rows stack; nothing scrolls off)."""
    with open_page(report) as (page, _errors):
        page.wait_for_selector("#claim table")
        wide = page.evaluate("""() => { const t = document.querySelector('#claim table');
            const heads = [...t.querySelectorAll('th')].map(th => th.innerText.replace(/\\s+/g, ' '));
            return {heads, rows: [...t.querySelectorAll('tbody tr')].map(r => [...r.cells].map(c => c.innerText)),
                    headline: document.querySelector('#claim-headline').innerText}; }""")
        page.set_viewport_size({"width": 800, "height": 1100})
        page.wait_for_timeout(200)
        narrow = page.evaluate("""() => { const t = document.querySelector('#claim table');
            const box = t.parentElement.getBoundingClientRect();
            const cells = [...t.querySelectorAll('td')].filter(c => c.innerText.trim());
            return {overflow: t.scrollWidth - t.parentElement.clientWidth,
                    outside: cells.filter(c => c.getBoundingClientRect().right > box.right + 1).length}; }""")
    assert re.fullmatch(r"\d+ of \d+ parts hold.*\.", wide["headline"]), wide["headline"]
    col = wide["heads"].index("at the central figures: deciding numbers")
    by_part = {r[0].split("\n")[0]: r[col] for r in wide["rows"]}
    per_chip = by_part["best inference chip, per chip"]
    assert re.search(r"AI5 [\d.]+x \S.*'s tok/s \(median of \d+ cases\); suite score [\d.]+ vs [\d.]+", per_chip)
    money = next(v for k, v in by_part.items() if k.startswith("best at equal money"))
    assert "$/Mtok" in money and "lower is better" in money
    assert re.search(r"AI5 \$[\d,]+ vs .+ \$[\d,]+ modelled cost per chip", by_part["by far the lowest-cost silicon"])
    frame = next(v for k, v in by_part.items() if k.startswith("milliseconds matter: frame"))
    assert re.search(r"p99 frame latency AI5 [\d.,]+ ms vs .+ [\d.,]+ ms \(deadline [\d.]+ ms\)", frame), frame
    assert narrow["overflow"] <= 0 and narrow["outside"] == 0, narrow


LOG_TICKS = """() => [...document.querySelectorAll('div.chart')].flatMap(d => ['x', 'y']
    .filter(a => d._fullLayout && d._fullLayout[a + 'axis'] && d._fullLayout[a + 'axis'].type === 'log')
    .map(a => ({id: d.id, axis: a,
                labels: [...d.querySelectorAll('.' + a + 'tick text')].map(t => t.textContent)})))"""
SI = {"k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15}


def _value(label: str) -> float | None:
    m = re.fullmatch(r"x?([\d.]+(?:e-?\d+)?)([kMGTP]?)", label.replace("\u2212", "-"))  # x: a multiplier
    return float(m.group(1)) * SI.get(m.group(2), 1.0) if m else None


@requires_chromium
def test_log_axes_label_whole_values_in_order(report):
    """Every log axis of every chart labels its ticks with whole values ("2k", "1P"), rising along the axis: not
    plotly's bare leading digits between the powers of ten ("1000, 2, 5, 10k") nor "10^15" beside "100T"."""
    with open_page(report) as (page, _errors):
        page.wait_for_function("[...document.querySelectorAll('div.chart')]"
                               ".every(d => d.classList.contains('js-plotly-plot'))", timeout=30_000)
        axes = page.evaluate(LOG_TICKS)
    assert len(axes) >= 5, axes
    for a in axes:
        values = [_value(t) for t in a["labels"]]
        assert None not in values, a
        assert values == sorted(values) and len(set(values)) == len(values), a


@requires_chromium
def test_assumptions_table_fits_the_page(report):
    """Every column of "Every assumption used", its source included, shows without a side scroll, also in a
    1,000 px window (the full review's longer names pushed the source column 82 px off at 1400 px)."""
    with open_page(report) as (page, _errors):
        page.wait_for_selector("#assumptions table")
        page.set_viewport_size({"width": 1000, "height": 1100})
        page.wait_for_timeout(200)
        over = page.evaluate("""() => { const t = document.querySelector('#assumptions table');
            return t.scrollWidth - t.parentElement.clientWidth; }""")
    assert over <= 0, f"the assumptions table scrolls sideways by {over} px (its source column cut off)"


def test_prediction_sections_show_the_model_error(report):
    """The rankings, the bars, the curves and the Pareto front state the model's validated error beside the
    predictions they show (median / p90 from review/model_error.yaml)."""
    text = report.read_text()
    t = ERRORS["throughput"]
    want = f"throughput {t['median_ape_pct']:.1f} / {t['p90_ape_pct']:.1f} %"
    for section in ("rankings", "merit", "curves", "pareto"):
        body = text.split(f'<section id="{section}">', 1)[1].split("</section>", 1)[0]
        assert 'class="note model-error"' in body and want in body, section


def test_frame_latency_text_keeps_three_figures_and_a_unit():
    """The frame part's sentence said "p99 37,004.5 ms" (six figures of a Monte Carlo central value); three
    significant figures, in seconds past one second."""
    from inferchip.review.in_car import latency_text

    assert [latency_text(v) for v in (5.75, 13.4, 711.0, 1379.0, 37004.5)] == \
        ["5.75 ms", "13.4 ms", "711 ms", "1.38 s", "37 s"]


def test_headline_counts_a_part_without_a_case_as_not_judged_not_undecided():
    """A part with no case of its service level has no probability: the first screen's cell reads "not judged", so
    the headline must not count it among the undecided parts (the two branches of stop 45 met here)."""
    from inferchip.interfaces.report.deciding import headline_html

    parts = [{"part": "per_chip", "view": "", "verdict": "holds", "probability": 0.99},
             {"part": "equal_power", "view": "", "verdict": "undecided", "probability": 0.5},
             {"part": "per_system", "view": "", "verdict": "undecided", "probability": None}]
    text = re.sub(r"<[^>]+>", "", headline_html(parts))
    assert text.startswith("1 of 3 parts hold (per chip)")
    assert "1 undecided (equal power)" in text
    assert "1 not judged (per system)" in text
