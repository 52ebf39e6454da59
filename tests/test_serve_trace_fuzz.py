"""A new user's traces and load options to ``inferchip serve`` (stop 36): a request the model cannot hold, in
any row of a generated trace (CSV or JSONL), is one ``error:`` line naming the file, the row, the line and the
context window, as ``--input-tokens`` + ``--output-tokens`` beyond it are; a ``--range-ratio`` that the open
loop (``--rate``) or a trace would ignore is refused instead of silently dropped. (Per-cell trace parsing is
tested in tests/test_sim_trace.py; the options' bounds in tests/test_fuzz_cli.py.)"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from cli_in_process import run_main
from inferchip.errors import SpecError
from inferchip.sim.load.trace import load_trace

BASE = ["serve", "--chip", "nvidia-h100-sxm-80gb", "--model", "meta-llama/Llama-3.1-8B-Instruct", "--tp", "1"]
CONTEXT = 131_072  # Llama-3.1-8B's max_position_embeddings


def _trace(path: Path, rows: list[tuple[float, int, int]]) -> Path:
    if path.suffix == ".jsonl":
        path.write_text("".join(json.dumps({"arrival_s": a, "input_tokens": i, "output_tokens": o}) + "\n"
                                for a, i, o in rows), encoding="utf-8")
    else:
        path.write_text("arrival_s,input_tokens,output_tokens\n" + "".join(f"{a},{i},{o}\n" for a, i, o in rows),
                        encoding="utf-8")
    return path


def _long_request_traces() -> list[tuple[str, int, int, int]]:
    """(suffix, row of the long request (1-based), its input, its output): generated, seeded."""
    rng = random.Random(36)
    cases = []
    for suffix in (".csv", ".jsonl"):
        for _ in range(3):
            total = CONTEXT + rng.choice((1, 2, 1000, 10**6))
            inp = rng.randint(1, total - 1)
            cases.append((suffix, rng.randint(1, 5), inp, total - inp))
    return cases


@pytest.mark.parametrize(("suffix", "row", "inp", "out"), _long_request_traces())
def test_a_trace_request_beyond_the_context_window_is_one_error_naming_file_row_and_window(tmp_path, suffix, row,
                                                                                            inp, out):
    rows = [(0.1 * k, 100, 10) for k in range(6)]
    rows[row - 1] = (0.1 * (row - 1), inp, out)
    path = _trace(tmp_path / f"trace{suffix}", rows)
    code, text = run_main([*BASE, "--trace", str(path)])
    errors = [line for line in text.splitlines() if line.startswith("error:")]
    assert code == 2 and len(errors) == 1, text[-400:]
    assert str(path) in errors[0] and f"row {row} (line {row + (0 if suffix == '.jsonl' else 1)})" in errors[0]
    assert f"{inp + out:,}" in errors[0] and f"at most {CONTEXT:,} tokens" in errors[0]


def test_a_trace_within_the_context_window_is_served(tmp_path):
    path = _trace(tmp_path / "t.csv", [(0.0, CONTEXT - 10, 10), (0.5, 100, 10)])
    code, text = run_main([*BASE, "--trace", str(path), "--format", "json"])
    assert code == 0, text[-400:]
    assert json.loads(text)["num_completed"] == 2


def test_load_trace_checks_the_window_only_when_given(tmp_path):
    path = _trace(tmp_path / "t.csv", [(0.0, 10**6, 10)])
    assert load_trace(path)[1][0] == 10**6
    with pytest.raises(SpecError, match="row 1 \\(line 2\\).*beyond the context window of m: at most 1,000"):
        load_trace(path, 1000, "m")


@pytest.mark.parametrize("load", [["--rate", "5", "--requests", "10"], ["--trace", "TRACE"]])
@pytest.mark.parametrize("ratio", ["0.5", "1", "0.01"])
def test_a_range_ratio_the_open_loop_or_trace_would_ignore_is_refused(tmp_path, load, ratio):
    trace = _trace(tmp_path / "t.csv", [(0.0, 100, 10)])
    code, text = run_main([*BASE, *[str(trace) if a == "TRACE" else a for a in load], "--range-ratio", ratio])
    errors = [line for line in text.splitlines() if line.startswith("error:")]
    assert code == 2 and len(errors) == 1 and f"--range-ratio {float(ratio):g}" in errors[0], text[-400:]
    assert "--concurrency" in errors[0]


def test_the_default_range_ratio_still_serves_an_open_loop():
    code, text = run_main([*BASE, "--rate", "5", "--requests", "10", "--format", "json"])
    assert code == 0 and json.loads(text)["num_completed"] == 10, text[-400:]


def _duplicated_traces() -> list[tuple[str, str, str]]:
    """(file name, text, the name given twice): a column or key repeated in a generated position, seeded."""
    rng = random.Random(39)
    fields = ["arrival_s", "input_tokens", "output_tokens"]
    cases = []
    for _ in range(4):
        twice = rng.choice(fields)
        cols = [*fields]
        cols.insert(rng.randint(0, 3), twice)
        values = {"arrival_s": "0", "input_tokens": "128", "output_tokens": "16"}
        cases.append(("t.csv", ",".join(cols) + "\n" + ",".join(values[c] for c in cols) + "\n", twice))
        pairs = [f'"{c}": {values[c]}' for c in cols]
        cases.append(("t.jsonl", '{"arrival_s": 0, "input_tokens": 128, "output_tokens": 16}\n{' + ", ".join(pairs)
                      + "}\n", twice))
    return cases


@pytest.mark.parametrize(("name", "text", "twice"), _duplicated_traces())
def test_a_column_or_key_given_twice_is_refused_naming_it(tmp_path, name, text, twice):
    """Stop 39 (newuser39): ``input_tokens,...,input_tokens`` (CSV) or a JSON object with a key twice was served with
    one of the two values, silently (csv.DictReader and json keep the last)."""
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SpecError, match=rf"{path.name}: (header|row 2 \(line 2\)): '{twice}' given twice; allowed: "
                                        r"each of \['arrival_s', 'input_tokens', 'output_tokens'\] once"):
        load_trace(path)


@pytest.mark.parametrize("line", ["[]", "[1, 2]", '[["arrival_s", 0]]', "3", '"x"', "null"])
def test_a_jsonl_row_that_is_not_an_object_is_refused(tmp_path, line):
    path = tmp_path / "t.jsonl"
    path.write_text(line + "\n", encoding="utf-8")
    with pytest.raises(SpecError, match=r"row 1 \(line 1\): expected a JSON object"):
        load_trace(path)


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_a_byte_order_mark_is_dropped_as_for_case_files(tmp_path, suffix):
    """A UTF-8 BOM (spreadsheets write one) was read into the first column's name: `header: missing ['arrival_s'],
    unknown ['\\ufeffarrival_s']` (stop 45's fuzz). Case files already dropped it."""
    text = ("arrival_s,input_tokens,output_tokens\n0,128,16\n0.5,64,8\n" if suffix == ".csv" else
            '{"arrival_s": 0, "input_tokens": 128, "output_tokens": 16}\n')
    path = tmp_path / f"t{suffix}"
    path.write_bytes(b"\xef\xbb\xbf" + text.encode())
    arrival, inp, _ = load_trace(path)
    assert list(inp)[:1] == [128] and arrival[0] == 0.0
