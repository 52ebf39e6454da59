"""tools/report/review_compare.py: rows added, removed and changed, and the parts' verdicts, on two tiny outputs."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from tests.conftest import load_tool

rc = load_tool("review_compare")


def _out(folder: Path, rows: list[dict[str, str]], parts: list[dict[str, object]]) -> Path:
    folder.mkdir()
    with (folder / "results.csv").open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    (folder / "results.json").write_text(json.dumps({"claim_parts": parts, "ledger": []}))
    return folder


def test_what_moved(tmp_path: Path) -> None:
    base = {"chip_id": "g", "model_id": "m", "slo": "batch", "setting": "domain", "status": "does not fit",
            "reason": "x"}
    b = _out(tmp_path / "b", [base], [{"part": "per_chip", "verdict": "holds", "probability": 0.8, "rival": "h"}])
    a = _out(tmp_path / "a", [{**base, "status": "ok", "reason": "", "deployment_chips": "96"},
                              {**base, "setting": "scaleup", "reason": "", "deployment_chips": "8"}],
             [{"part": "per_chip", "verdict": "holds", "probability": 0.8, "rival": "g"}])
    lines = rc.report(b, a)
    assert lines[0] == "rows: 1 -> 2; columns added: ['deployment_chips']; removed: -"
    assert "  added   g | m | batch | scaleup" in lines and "rows changed: 1" in lines
    assert "  g | m | batch | domain: status: does not fit -> ok (reason changed)" in lines
    assert "  per_chip: holds 0.8 h -> holds 0.8 g   <- moved" in lines
    with pytest.raises(SystemExit) as exit_:  # argparse: the usage line and exit 2
        rc.main([])
    assert exit_.value.code == 2
