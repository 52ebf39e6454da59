"""One HTML page of inferchip's in headless Chromium (Debian's ``chromium``) via Playwright, for the
browser tests: where the browser is, the skip mark where it is not, and the page opened with its
console errors collected."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"  # screenshots
CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)

requires_chromium = pytest.mark.skipif(CHROMIUM is None,
                                       reason="Debian's chromium is not installed (apt-get install chromium)")


@contextlib.contextmanager
def open_page(path: Path) -> Iterator[tuple[Any, list[str]]]:
    """(page, console errors so far) of ``path`` in a 1400 x 1100 headless Chromium, closed on exit.

    The pages inline plotly.js (several MB): on a loaded CI machine their "load" event can come
    late, so the page is taken at DOMContentLoaded (within 120 s); each test then waits for the
    plots it checks to be drawn."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")
    errors: list[str] = []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1100})
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(path.as_uri(), wait_until="domcontentloaded", timeout=120_000)
            yield page, errors
        finally:
            browser.close()
