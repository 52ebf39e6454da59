"""`inferchip calibrate` on rows it cannot predict (issue 12, "bad input"): every such row is listed
with its line and reason, never dropped silently; a file with no row to fit is refused (exit 2, one
`error:` line) and writes no calibration. An unreadable case file names the file, not a "line 0"."""

from __future__ import annotations

import csv
import io
import json

from inferchip.interfaces.cli import main
from inferchip.validation.cases import COLUMNS, read_cases

GOOD = dict(case_id="good", source_kind="synthetic", source="test", accelerator="nvidia-h100-sxm-80gb",
            num_accelerators=1, software="-", model="meta-llama/Llama-3.1-8B-Instruct", weight_dtype="fp8",
            act_dtype="fp8", kv_dtype="fp8", tp=1, pp=1, ep="", scenario="fixed_length", input_tokens=128,
            output_tokens=512, concurrency=8, metric="output_tokens_per_s_total", value=1000, unit="tokens/s",
            notes="")
# a row the validator cannot predict (an unknown id is refused at the read: test_case_row_ids.py)
BAD = {**GOOD, "case_id": "bad-model", "model": "meta-llama/Llama-3.1-405B-Instruct", "weight_dtype": "bf16"}


def _write(path, rows):
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    path.write_text(buf.getvalue())
    return path


def test_calibrate_lists_each_row_it_could_not_predict(tmp_path, capsys):
    src = _write(tmp_path / "two.csv", [GOOD, BAD])
    out = tmp_path / "cal.yaml"
    assert main(["calibrate", str(src), "-o", str(out), "--no-cv", "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    listed = {r["case_id"]: r for r in report["not_predicted"]}
    assert set(listed) == {"bad-model"}
    assert listed["bad-model"]["line"] == 3 and listed["bad-model"]["status"] == "does_not_fit"
    assert "do not fit nvidia-h100-sxm-80gb" in listed["bad-model"]["reason"]
    assert out.exists()
    assert main(["calibrate", str(src), "-o", str(tmp_path / "cal2.yaml"), "--no-cv"]) == 0
    text = capsys.readouterr().out
    assert "not predicted: bad-model (line 3): does_not_fit" in " ".join(text.split())


def test_calibrate_with_no_row_to_fit_is_refused_and_writes_nothing(tmp_path, capsys):
    src = _write(tmp_path / "bad.csv", [BAD])
    out = tmp_path / "cal.yaml"
    assert main(["calibrate", str(src), "-o", str(out), "--no-cv"]) == 2
    err_lines = capsys.readouterr().err.strip().splitlines()
    errors = [ln for ln in err_lines if ln.startswith("error:")]
    assert len(errors) == 1 and err_lines[-1] == errors[0]  # progress lines before it, one error line last
    err = errors[0]
    assert "bad.csv" in err and "bad-model (line 2)" in err and "Traceback" not in err
    assert not out.exists() and not list(tmp_path.glob("*.tmp")) and not list(tmp_path.glob(".*"))


def test_an_unreadable_case_file_names_the_file_without_a_line_zero(tmp_path, capsys):
    missing = tmp_path / "missing.csv"
    assert main(["validate", str(missing)]) == 2
    err = capsys.readouterr().err
    assert "missing.csv" in err and "line 0" not in err
    try:
        read_cases(missing)
    except Exception as exc:  # the library's error says the same
        assert "line 0" not in str(exc) and "cannot read file" in str(exc)
    else:
        raise AssertionError("a missing file must raise")


def test_validate_with_no_row_predicted_is_refused_and_writes_no_page(tmp_path, capsys):
    """validate on a file none of whose rows it can predict answered exit 0 with an empty comparison, which a
    script reads as a pass (stop 49's tour); it is refused like calibrate's, naming the file and each row's
    reason, and writes no page. One predicted row is enough to validate (the other listed as not predicted)."""
    bad = _write(tmp_path / "bad.csv", [BAD, {**BAD, "case_id": "bad-2"}])
    page = tmp_path / "page.md"
    for fmt in ("table", "json"):
        assert main(["validate", str(bad), "--format", fmt, "--page", str(page)]) == 2
        err = " ".join(capsys.readouterr().err.split())
        assert err.startswith(f"error: {bad}: none of its 2 cases could be predicted"), err
        assert "bad-model (line 2): does_not_fit" in err and "bad-2 (line 3): does_not_fit" in err, err
        assert not page.exists()
    both = _write(tmp_path / "both.csv", [GOOD, BAD])
    assert main(["validate", str(both), "--format", "json"]) == 0
    assert {r["case_id"]: r["status"] for r in json.loads(capsys.readouterr().out)["cases"]} == {
        "good": "ok", "bad-model": "does_not_fit"}
