"""Screenshot of the review report's first screen (the README's docs/review-report.png).

Usage: PYTHONPATH=src python tools/report/review_screenshot.py REPORT_HTML [OUT_PNG]
(default OUT_PNG: docs/review-report.png). Opens the page in headless Chromium through
Playwright, as tests/test_report_browser.py does, waits for the charts, and saves the
viewport (1400 x 1000 CSS pixels): what a reader sees before scrolling.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

WIDTH, HEIGHT = 1400, 1000


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("report", type=Path, metavar="REPORT_HTML", help="the review's HTML report")
    ap.add_argument("out", type=Path, nargs="?", metavar="OUT_PNG",
                    default=Path(__file__).resolve().parents[2] / "docs" / "review-report.png",
                    help="where to save the screenshot (default: docs/review-report.png)")
    a = ap.parse_args(argv)
    report, out = a.report.resolve(), a.out
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": WIDTH, "height": HEIGHT})
        page.goto(report.as_uri())
        page.wait_for_function("[...document.querySelectorAll('div.chart')]"
                               ".every(d => d.classList.contains('js-plotly-plot'))", timeout=120_000)
        page.screenshot(path=str(out))
        browser.close()
    print(f"{out}: first screen of {report}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
