"""Closed-loop rows say which engine ran them when the row does not: a blank software column takes the
catalogue's default and says so (it was silent), --engine says it overrides the row's software; an
unknown software text is an error naming the line and the column."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from cli_in_process import run_main
from inferchip.catalog.engines import get_engine

SHIPPED = Path(__file__).resolve().parents[1] / "src" / "inferchip" / "catalog" / "inferencemax_cases.csv"


def _one_row(tmp_path: Path, **over: str) -> Path:
    with SHIPPED.open(newline="") as f:
        rows = list(csv.DictReader(f))
    row = next(r for r in rows if "gpt-oss" in r["model"] and r["metric"] == "tpot_ms"
               and float(r["concurrency"] or 0) == 4 and r["tp"] in ("1", "1.0"))
    row.update(over)
    path = tmp_path / "one.csv"
    with path.open("w", newline="") as f:
        w = csv.DictWriter(f, list(row))
        w.writeheader()
        w.writerow(row)
    return path


def _notes(args: list[str]) -> list[str]:
    code, text = run_main(["validate", *args, "--workers", "1", "--format", "json"])
    assert code == 0, text
    (case,) = json.loads(text)["cases"]
    assert case["status"] == "ok", case["reason"]
    return case["notes"]


def test_blank_software_names_the_assumed_engine(tmp_path):
    notes = _notes([str(_one_row(tmp_path, software=""))])
    default = get_engine(None).id
    assert any(f"column software is blank: the engine catalogue's default, {default}, assumed" in n for n in notes)


def test_engine_flag_says_it_overrides_the_row(tmp_path):
    notes = _notes([str(_one_row(tmp_path)), "--engine", "trtllm"])
    assert any(n.startswith("engine trtllm from --engine (the row's software: vLLM") for n in notes)


@pytest.mark.parametrize("software", ["FooServe 1.2", "tgi"])
def test_unknown_software_names_line_and_column(tmp_path, software):
    code, text = run_main(["validate", str(_one_row(tmp_path, software=software)), "--workers", "1",
                           "--format", "json"])
    # the file's one row is not predicted, so validate refuses the file (stop 49), with the row's reason
    assert code == 2, text
    err = " ".join(text.split())
    assert err.startswith("error: ") and "none of its 1 case could be predicted" in err, err
    assert "line 2" in err and "column software" in err and software in err, err
