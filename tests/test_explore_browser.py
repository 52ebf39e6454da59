"""The exploration's Pareto page in headless Chromium (as tests/test_report_browser.py does for the review)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from browser_page import ARTIFACTS, open_page, requires_chromium
from inferchip.interfaces.cli import main

DATA = Path(__file__).parent / "data"

pytestmark = requires_chromium

STATE = """() => [...document.querySelectorAll('div.js-plotly-plot')].map(d => ({
    id: d.id,
    title: ((d.layout || {}).title || {}).text || '',
    traces: (d.data || []).map(t => ({name: t.name || '', type: t.type,
                                      n: (t.x || (t.dimensions || [{values: []}])[0].values || []).length})),
    drawn: d.querySelectorAll('g.trace, .gl-container canvas, g.parcoords, .scatterlayer').length,
}))"""


@pytest.fixture(scope="module")
def page(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("explore") / "run"
    rc = main(["explore", str(DATA / "explore_space_small.yaml"), "--out", str(out), "--budget", "1000",
               "--models", "meta-llama/Llama-3.1-8B-Instruct,openai/gpt-oss-120b", "--workers", "1"])
    assert rc == 0
    return out / "explore.html"


def test_pareto_page_renders_fronts_real_chips_hover_and_parallel_coordinates(page):
    with open_page(page) as (pg, errors):
        pg.wait_for_function("document.querySelectorAll('div.js-plotly-plot').length >= 7", timeout=60_000)
        state = pg.evaluate(STATE)
        hover = pg.evaluate("() => document.getElementById('pair0').data[1].hovertext[0]")
        ARTIFACTS.mkdir(exist_ok=True)
        pg.screenshot(path=str(ARTIFACTS / "explore-page.png"), full_page=False)
    assert not errors, errors
    pairs = [s for s in state if s["id"].startswith("pair")]
    assert len(pairs) == 6  # every pair of the four objectives
    for s in pairs:
        names = {t["name"]: t["n"] for t in s["traces"]}
        off = re.search(r"([\d,]+) design\(s\) \(([\d,]+) of the front\) off the axes", s["title"])
        n_off = int(off.group(1).replace(",", "")) if off else 0  # designs serving no workload: counted, not drawn
        assert names["Pareto front"] > 0 and names["designs"] + names["Pareto front"] + n_off == 96
        assert names["catalogue chips"] >= 5
        assert s["drawn"] > 0
    par = [s for s in state if s["id"] == "parcoords"]
    assert par and par[0]["traces"][0]["type"] == "parcoords" and par[0]["drawn"] > 0
    assert "matrix_units" in hover and "cost_usd" in hover
