"""An explore run's Pareto page for tests of its charts: the run written under a test's folder, the page built from
its store."""

from __future__ import annotations

from pathlib import Path

from cli_in_process import run_main


def explore_page(tmp_path: Path, space_text: str, budget: int, model: str) -> str:
    """Run ``inferchip explore`` on a space file of ``space_text`` (one worker, no page written) and build the Pareto
    page's HTML from the run's store, as the command would."""
    from inferchip.explore.designs import load_space
    from inferchip.explore.evaluate import default_suite
    from inferchip.explore.store import Store
    from inferchip.interfaces.report.explore_page import build_page

    space = tmp_path / "space.yaml"
    space.write_text(space_text)
    out = tmp_path / "run"
    code, text = run_main(["explore", str(space), "--out", str(out), "--budget", str(budget), "--no-page",
                           "--workers", "1", "--models", model])
    assert code == 0, text
    store = Store(out, load_space(space), default_suite([model]).workload_ids)
    try:
        return build_page(store.frame(), store.workload_ids, {}, "t")
    finally:
        store.close()
