"""The review report in a real browser: headless Chromium (Debian's ``chromium``) via Playwright.

Checks that the page loads with no console error, that every chart rendered with data
(each plotly div has traces and an SVG with drawn traces), and saves a screenshot under
``test-artifacts/``. Skipped, with the reason, where chromium or Playwright is missing
(CI's .ci/run installs chromium).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from browser_page import ARTIFACTS, open_page, requires_chromium
from inferchip.interfaces.cli import main

pytestmark = requires_chromium


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("review") / "rv"
    # Two catalogue chips plus the claimed estimate, a dense and an MoE model, both service
    # levels and the sensitivity analysis: every chart of the report has something to draw.
    rc = main(["review", "--chips", "nvidia-h100-sxm-80gb,amd-mi300x", "--models",
               "meta-llama/Llama-3.1-8B-Instruct,mistralai/Mixtral-8x7B-Instruct-v0.1", "--out", str(out)])
    assert rc == 0
    return out / "report.html"


CHART_STATE = """() => [...document.querySelectorAll('div.chart')].map(d => ({
    id: d.id,
    plotly: d.classList.contains('js-plotly-plot'),
    traces: (d.data || []).length,
    points: (d.data || []).reduce((n, t) => n + ((t.x || t.z || []).length), 0),
    svg: d.querySelectorAll('svg.main-svg').length,
    drawn: d.querySelectorAll('g.trace, g.hm, .heatmaplayer image').length,
    titles: [...d.querySelectorAll('.xtitle, .ytitle')].filter(t => t.textContent.trim()).length,
}))"""


def test_report_renders_every_chart_without_console_errors(report):
    with open_page(report) as (page, errors):
        page.wait_for_function("document.querySelectorAll('div.chart').length > 0 && "
                               "[...document.querySelectorAll('div.chart')]"
                               ".every(d => d.classList.contains('js-plotly-plot'))",
                               timeout=30_000)
        charts = page.evaluate(CHART_STATE)
        verdict = page.inner_text("#verdict")
        claim = page.inner_text("#claim")
        first_screen = page.evaluate("document.querySelector('#claim').getBoundingClientRect().top")
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "review-report.png"), full_page=True)
    assert errors == []
    ids = {c["id"] for c in charts}
    # bars of each figure of merit, curves, Pareto, memory fit, a roofline per chip, the tornado
    for expected in ("fig-curves", "fig-pareto", "fig-memory", "fig-tornado", "fig-bars-energy"):
        assert expected in ids
    street = json.loads((report.parent / "results.json").read_text())["views"][0]
    assert ("fig-bars-tco" in ids) == bool(street["priced"])  # $ bars only on the street basis, when priced
    assert sum(i.startswith("fig-roof-") for i in ids) == 3
    for c in charts:
        assert c["plotly"] and c["traces"] > 0 and c["points"] > 0, c
        assert c["svg"] > 0 and c["drawn"] > 0, c
        assert c["titles"] > 0, c  # an axis says what it measures
    assert "AI5" in verdict and "tesla-ai5" not in verdict  # the sentences name chips (review44)
    # the first screen: the claim quoted with its date, every part with a verdict and a probability
    assert first_screen < 1100 and "2025-09-06" in claim and "best inference chip of any kind" in claim
    for word in ("per chip", "lowest-cost silicon", "performance per watt", "interactive latency limits"):
        assert word in claim
    assert re.search(r"(holds|does not hold|undecided)\s+(\d+%|not judged)", claim)
    assert "fig-boundary" in ids  # the claim-boundary map is drawn
    assert (ARTIFACTS / "review-report.png").stat().st_size > 10_000


FIRST_SCREEN = """() => {
    const t = document.querySelector('#claim table');
    const rows = [...t.querySelectorAll('tbody tr')].map(r => [...r.querySelectorAll('td')].map(td => td.innerText));
    const heads = [...t.querySelectorAll('th')].map(th => th.innerText.replace(/\\s+/g, ' '));
    return {rows, heads, table: t.getBoundingClientRect().right,
            box: document.querySelector('#claim').getBoundingClientRect().right};
}"""


def test_first_screen_names_rivals_with_their_system_and_the_model_error(report):
    """The first screen's verdict table fits the claim box (nothing cut off at 1400 px), names each rival by its
    name with the chips of the system it is judged on, and shows the validated model error beside each part."""
    import yaml

    errors = yaml.safe_load((Path(__file__).resolve().parents[1] / "src/inferchip/review/model_error.yaml")
                            .read_text())
    with open_page(report) as (page, _errors):
        page.wait_for_selector("#claim table")
        fs = page.evaluate(FIRST_SCREEN)
    assert fs["table"] <= fs["box"], "the claim table runs past its box"
    assert "main rival (its system)" in fs["heads"] and "model error (median / p90)" in fs["heads"]
    col = fs["heads"].index("main rival (its system)")
    err = fs["heads"].index("model error (median / p90)")
    per_chip = next(r for r in fs["rows"] if r[0].startswith("best inference chip, per chip"))
    assert "figure: output tokens/s per chip (tok/s)" in per_chip[0]
    rival = per_chip[col]
    assert rival.split("\n")[0] in ("H100 SXM5 80GB", "Instinct MI300X (OAM)"), rival  # the name, not the id
    assert rival.endswith("8 chips a system")
    t = errors["throughput"]
    assert per_chip[err] == f"throughput {t['median_ape_pct']:.1f} / {t['p90_ape_pct']:.1f} %"
    watt = next(r for r in fs["rows"] if r[0].startswith("best performance per watt"))
    pw = errors["power"]
    assert f"power {pw['median_ape_pct']:.1f} / {pw['p90_ape_pct']:.1f} %" in watt[err]
    latency = next(r for r in fs["rows"] if r[0].startswith("milliseconds matter: best at the interactive"))
    assert "TTFT" in latency[err] and "TPOT" in latency[err]
    silicon = next(r for r in fs["rows"] if r[0].startswith("by far the lowest-cost silicon"))
    assert silicon[err].startswith("none validated")
    verdict_col = fs["heads"].index("verdict")  # the claim's reading (one chip's cost), then the serving deployment's
    assert "\nserving deployment: " in silicon[verdict_col], silicon[verdict_col]


CLAIM_DETAIL = """() => {
    const t = document.querySelector('#corners table');
    const wrap = t.parentElement;
    const b = document.querySelector('#fig-boundary');
    return {heads: [...t.querySelectorAll('th')].map(th => th.innerText.replace(/\\s+/g, ' ')),
            figures: [...t.querySelectorAll('tbody tr')].map(r => r.querySelectorAll('td')[2].innerText),
            overflow: t.scrollWidth - wrap.clientWidth,
            flips: [...document.querySelectorAll('#ledger tbody tr')].map(r => r.querySelectorAll('td')[3].innerText),
            menu: b ? b.layout.updatemenus[0].buttons.map(x => x.label) : []};
}"""


def test_parts_are_named_in_words_and_corner_figures_carry_units(report):
    """The corners' column heads, the ledger's flipped verdicts and the boundary map's menu name each part in words
    ("equal money (street)", not the key "equal_money (street)"); the corners table shows every column at 1400 px
    with no side scroll, and its figures carry their units."""
    with open_page(report) as (page, _errors):
        page.wait_for_selector("#corners table")
        page.wait_for_function("document.querySelector('#fig-boundary') === null || "
                               "document.querySelector('#fig-boundary').classList.contains('js-plotly-plot')",
                               timeout=30_000)
        d = page.evaluate(CLAIM_DETAIL)
    parts = d["heads"][3:]
    assert "per chip" in parts and "equal money (street)" in parts, parts
    assert not [h for h in parts + d["menu"] + d["flips"] if "_" in h], (parts, d["menu"], d["flips"])
    assert d["overflow"] <= 0, f"the corners table scrolls sideways by {d['overflow']} px"
    joined = " | ".join(d["figures"])
    for unit in ("TB/s", "GB", " W", "USD", "dense TFLOPS"):
        assert unit in joined, (unit, joined)
    assert "bandwidth_tb_per_s" not in joined and "tdp_w" not in joined


def test_in_car_chart_reads_every_chip_against_the_deadline(report):
    """The in-car chart puts the chips on a log axis where they span more than 10x (HW3's ~1.4 s p99 would
    otherwise flatten every other bar and the 27.8 ms deadline onto zero), and the chart and table name the
    chips (the id on hover), not their catalogue ids."""
    with open_page(report) as (page, _errors):
        page.wait_for_function("document.querySelector('#fig-in-car') && "
                               "document.querySelector('#fig-in-car').classList.contains('js-plotly-plot')",
                               timeout=30_000)
        d = page.evaluate("""() => { const f = document.querySelector('#fig-in-car');
            return {type: f.layout.yaxis.type, x: f.data[0].x, y: f.data[0].y,
                    table: [...document.querySelectorAll('#in-car tbody tr')].map(r => r.cells[0].innerText)}; }""")
    assert max(d["y"]) / min(d["y"]) > 10  # the case the axis is for
    assert d["type"] == "log"
    assert "AI5" in d["x"] and not [x for x in d["x"] if "-" in x and x == x.lower()], d["x"]
    assert "AI5 (estimate)" in d["table"] and not [t for t in d["table"] if t.startswith(("tesla-", "nvidia-"))]


def test_rankings_show_each_system_and_its_throughput_and_fit_the_page(report):
    """Each ranking table gives the chips of the system a chip is judged on beside the system's tokens/s (per chip
    x chips), and shows every column at 1400 px (the status column was scrolled off)."""
    with open_page(report) as (page, _errors):
        page.wait_for_selector("#rankings details[open] table")
        d = page.evaluate("""() => { const t = document.querySelector('#rankings details[open] table');
            const heads = [...t.querySelectorAll('th')].map(th => th.innerText.replace(/\\s+/g, ' '));
            return {heads, overflow: t.scrollWidth - t.parentElement.clientWidth,
                    rows: [...t.querySelectorAll('tbody tr')].map(r => [...r.cells].map(c => c.innerText))}; }""")
    assert d["overflow"] <= 0, f"the ranking table scrolls sideways by {d['overflow']} px"
    h = d["heads"]
    n, sys_, chip = h.index("chips per system"), h.index("tok/s per system"), h.index("tok/s per chip")
    served = [r for r in d["rows"] if r[sys_]]
    assert served
    for r in served:
        chips, per_system, per_chip = (float(r[i].replace(",", "")) for i in (n, sys_, chip))
        assert per_system == pytest.approx(per_chip * chips, rel=1e-3, abs=chips), r


def test_memory_fit_model_names_clear_the_axis_title(report):
    """The memory-fit map's model names (long: "Mixtral-8x7B-Instruct-v0.1") do not run into its axis title, also
    where they crowd (the map drawn 420 px wide: six models at 1400 px crowd as two do here)."""
    with open_page(report) as (page, _errors):
        page.wait_for_function("document.querySelector('#fig-memory .xtitle') !== null", timeout=30_000)
        page.evaluate("Plotly.relayout(document.querySelector('#fig-memory'), {width: 420})")
        page.wait_for_timeout(500)
        d = page.evaluate("""() => { const f = document.querySelector('#fig-memory');
            const box = e => { const b = e.getBoundingClientRect(); return [b.left, b.top, b.right, b.bottom]; };
            return {title: box(f.querySelector('.xtitle')),
                    ticks: [...f.querySelectorAll('.xtick text')].map(box)}; }""")
    t = d["title"]
    assert d["ticks"]
    hit = [b for b in d["ticks"] if b[0] < t[2] and t[0] < b[2] and b[1] < t[3] and t[1] < b[3]]
    assert not hit, f"tick labels {hit} overlap the axis title {t}"
