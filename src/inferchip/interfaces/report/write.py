"""The review report: one self-contained HTML file (plotly.js inline once), plus CSV and JSON.

Charts are plain plotly figure dictionaries drawn by ``Plotly.newPlot`` in the page, so
the page works offline and the Python side needs plotly only for its bundled plotly.js.
Files are written into a staging folder beside ``--out`` and renamed into place at the
end, file by file (:func:`prepare_output`, :func:`commit_output`): a failed or interrupted run leaves
no half-written report.

The report is split by concept; this module writes the files and re-exports the names of
its parts, so ``from inferchip.interfaces.report.write import ...`` serves every caller:

* :mod:`~inferchip.interfaces.report.output`: the output folder, written atomically;
* :mod:`~inferchip.interfaces.report.data`: ``results.json`` and the list of assumptions;
* :mod:`~inferchip.interfaces.report.charts`: the plotly figures;
* :mod:`~inferchip.interfaces.report.tables`: the HTML tables;
* :mod:`~inferchip.interfaces.report.page`: the page that holds them.
"""

from __future__ import annotations

from pathlib import Path

from inferchip.interfaces import fmt
from inferchip.interfaces.cli_options.files import write_text
from inferchip.interfaces.report.charts import (
    CLAIM_COLOUR,
    PALETTE,
    bars_figure,
    colours,
    curves_figure,
    memory_figure,
    pareto_figure,
    roofline_figure,
    tornado_figure,
)
from inferchip.interfaces.report.data import collect_assumptions, results_json
from inferchip.interfaces.report.output import (
    REPORT_FILES,
    commit_output,
    discard_output,
    prepare_output,
)
from inferchip.interfaces.report.page import CSS, HOW_TO_READ, render_html, sections
from inferchip.interfaces.report.tables import SHORT_LABELS, esc
from inferchip.review.review import ReviewResult

__all__ = [
    "CLAIM_COLOUR", "CSS", "FILES", "HOW_TO_READ", "PALETTE", "SHORT_LABELS", "bars_figure", "collect_assumptions",
    "colours", "commit_output", "curves_figure", "discard_output", "esc", "memory_figure", "pareto_figure",
    "prepare_output", "render_html", "results_json", "roofline_figure", "sections", "tornado_figure", "write_report",
]

FILES = REPORT_FILES


def write_report(res: ReviewResult, folder: Path) -> None:
    """report.html, results.csv and results.json into ``folder``."""
    import pandas as pd

    assumptions = collect_assumptions(res)
    write_text(folder / "results.csv", pd.DataFrame(res.rows).to_csv(index=False))
    write_text(folder / "results.json", fmt.to_json(results_json(res, assumptions)))
    write_text(folder / "report.html", render_html(res, assumptions))
