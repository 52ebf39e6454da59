"""The lowest-cost silicon part's second reading on the report's first screen: its verdict on the silicon of the
deployment that serves each case, under the part's own verdict, and a note with its figures (the claimed chip's
deployments, the closest rival's) and whether the verdict moves (review.deploy.silicon; the ledger's silicon basis).
"""

from __future__ import annotations

from typing import Any

from inferchip.interfaces.report.tables import esc
from inferchip.review.claim_file import pct

VERDICT_CLASS = {"holds": "first", "does not hold": "no", "undecided": "und"}


def deployment_cell(part: dict[str, Any]) -> str:
    """The lowest-cost silicon part's verdict on the silicon of the deployment that serves each case, under its own
    ("" for any other part)."""
    d = part.get("deployment")
    if not d:
        return ""
    return (f'<div class="src" id="silicon-deployment-verdict" style="min-width:0">serving deployment: '
            f'<span class="{VERDICT_CLASS[d["verdict"]]}">{esc(d["verdict"])}</span> '
            f'({esc(pct(d["probability"]))}; {"moves" if d["moves"] else "same verdict"})</div>')


def deployment_note(parts: list[dict[str, Any]]) -> str:
    """The note under the parts: the deployment reading's figures (claimed chip, closest rival) and its verdict."""
    d = next((p["deployment"] for p in parts if p.get("deployment")), None)
    if d is None:
        return ""
    moves = "the verdict moves" if d["moves"] else "the verdict does not move"
    return (f'<p class="note" id="silicon-deployment"><b>Lowest-cost silicon, read as the silicon of the deployment '
            f'that serves each case</b> (chips in it x modelled cost per chip; ledger: silicon basis): '
            f'{esc(d["figures"])}. On that reading: {esc(d["verdict"])} ({esc(pct(d["probability"]))}); '
            f'{moves}.</p>')
