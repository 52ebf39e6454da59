"""A closed-loop case row the validator cannot express is refused in the case file's terms: its line, its id
and the columns at fault (tp, ep, num_accelerators), never the command line's options (--tp) and never by
quietly predicting another system than the row states (found by the new-user check of issues 12 and 14)."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest

from inferchip.errors import InvalidSettingError
from inferchip.spec.calibration import Calibration
from inferchip.validation.cases import COLUMNS, CaseFileError, parse_cases
from inferchip.validation.closed_loop import row_facts
from inferchip.validation.validate import validate_cases
from inferchip.validation.vision.cases import parse_vision_cases

VISION = Path(__file__).parents[1] / "src" / "inferchip" / "catalog" / "vision" / "vision_cases.csv"


def _row(**over: str):
    vals = {"case_id": "imax-x-tp2ep1-1024-1024-c4-r1-tput", "source_kind": "x", "source": "x",
            "accelerator": "nvidia-h100-sxm-80gb", "num_accelerators": "2", "software": "vLLM; vllm:v0.11.2",
            "model": "openai/gpt-oss-120b", "weight_dtype": "mxfp4", "act_dtype": "", "kv_dtype": "", "tp": "2",
            "pp": "1", "ep": "1", "scenario": "server", "input_tokens": "1024", "output_tokens": "1024",
            "concurrency": "4", "metric": "output_tokens_per_s_total", "value": "700", "unit": "tokens/s",
            "notes": ""}
    vals.update(over)
    return parse_cases(",".join(COLUMNS) + "\n" + ",".join(f'"{vals[c]}"' for c in COLUMNS) + "\n")[0]


@pytest.mark.parametrize(("over", "column"), [({"tp": "3", "num_accelerators": "3"}, "tp"), ({"ep": "3"}, "ep")])
def test_a_closed_loop_layout_refusal_names_the_row_and_column(over, column):
    res = validate_cases([_row(**over)], Calibration(), compare=False)[0]
    assert res.status == "invalid_setting"
    assert res.reason.startswith("line 2 (imax-x-tp2ep1-1024-1024-c4-r1-tput), column")
    assert re.search(rf"columns? [a-z_, ]*\b{column}\b", res.reason), res.reason
    assert "--tp" not in res.reason and "--ep" not in res.reason


@pytest.mark.parametrize("count", ["1", "3", "5"])
def test_a_chip_count_that_is_not_whole_workers_is_refused(count):
    """tp=2 workers on 3 chips (or on 1) used to run as one worker of 2 chips, the row's count ignored."""
    with pytest.raises(InvalidSettingError, match=r"line 2 .*column num_accelerators: .*" + count + r".*tp=2"):
        row_facts(_row(num_accelerators=count))
    assert row_facts(_row(num_accelerators="4")).decode_workers == 2


def test_disaggregated_pools_must_add_up_to_the_chip_count():
    notes = ("MULTINODE PREFILL/DECODE-DISAGGREGATED: 4 prefill GPUs (1 worker(s), TP4/EP4, DP-attention false) + "
             "32 decode GPUs (4 worker(s), TP8/EP8, DP-attention false)")
    cid = "imax-d-disagg-p4x4e4-d32x8e8-1024-1024-c4-r1-tput"
    assert row_facts(_row(case_id=cid, notes=notes, num_accelerators="36")).decode_workers == 4
    with pytest.raises(InvalidSettingError, match=r"line 2 .*column num_accelerators: .*40.*36"):
        row_facts(_row(case_id=cid, notes=notes, num_accelerators="40"))


# ------------------------------------------------------------------ numeric columns past the command line's bounds
@pytest.mark.parametrize(("column", "value", "allowed"), [
    ("num_accelerators", "1e12", "100,000"), ("tp", "1e12", "100,000"), ("pp", "200000", "100,000"),
    ("ep", "1e12", "100,000"), ("concurrency", "1e12", "1,000,000"), ("input_tokens", "1e12", "10,000,000"),
    ("output_tokens", "20000000", "10,000,000")])
def test_a_case_value_beyond_the_cli_bounds_is_a_file_error(column, value, allowed):
    """They used to reach the simulator and come back as its pydantic text ("ClosedLoopArrivals: field
    'concurrency' ...", "UniformLength: field 'mean_tokens' ...", "replicas: value 125000000000 ..."), naming
    neither the row nor the column."""
    with pytest.raises(CaseFileError, match=rf"line 2, column \d+ \({column}\): value '{value}'.*at most {allowed}"):
        _row(**{column: value})


def _vision_text(column: str, value: str) -> str:
    """The shipped vision file's header and first row, with ``column`` set to ``value``, as CSV text."""
    text = VISION.read_text(encoding="utf-8").splitlines()
    header = next(csv.reader([text[0]]))
    row = next(csv.reader([text[1]]))
    row[header.index(column)] = value
    buf = io.StringIO()
    csv.writer(buf).writerows([header, row])
    return buf.getvalue()


@pytest.mark.parametrize(("column", "value", "allowed"), [("num_accelerators", "1e12", "100,000"),
                                                          ("batch", "1e12", "1,000,000")])
def test_a_vision_case_value_beyond_the_bounds_is_a_file_error(column, value, allowed):
    with pytest.raises(CaseFileError, match=rf"line 2, column \d+ \({column}\): value '{value}'.*at most {allowed}"):
        parse_vision_cases(_vision_text(column, value))


@pytest.mark.parametrize(("column", "value"), [("accelerator", "acme-npu-9000"), ("model", "no-such-net")])
def test_an_unknown_vision_chip_or_network_names_the_row_and_column(column, value):
    from inferchip.catalog.vision_networks import load_vision_calibration
    from inferchip.validation.vision.rows import Unexpressible, build_row

    case = parse_vision_cases(_vision_text(column, value))[0]
    with pytest.raises(Unexpressible, match=rf"^line 2, column {column}: .*'{value}'.*allowed: "):
        build_row(case, load_vision_calibration())



def test_a_vision_file_with_a_header_and_no_rows_is_an_error_as_an_llm_file_is(tmp_path):
    """`validate` of an LLM case file with a header and no rows exits 2 ("no cases"); a vision one printed empty
    tables and exited 0."""
    from cli_in_process import run_main

    for name, header in (("llm.csv", ",".join(COLUMNS)), ("vision.csv", VISION.read_text(encoding="utf-8")
                                                          .splitlines()[0])):
        path = tmp_path / name
        path.write_text(header + "\n", encoding="utf-8")
        code, text = run_main(["validate", str(path)])
        assert code == 2 and "no cases: the file has a header and no rows" in text and name in text, text


def test_more_clients_than_the_simulator_runs_names_the_column():
    """Concurrency 1,000,000 parses (the command line's bound on users), but its simulated run (three rounds of
    clients, num_requests) would be 3,000,000 requests: the row came back as the simulator's "num_requests: value
    3000000 must be ...", naming no row."""
    res = validate_cases([_row(concurrency="1000000")], Calibration(), compare=False)[0]
    assert res.status == "invalid_setting"
    assert re.match(r"line 2 \(imax-x-tp2ep1-1024-1024-c4-r1-tput\), column concurrency: 1,000,000 clients need "
                    r"3,000,000 simulated requests.*allowed: at most 333,333", res.reason), res.reason


@pytest.mark.parametrize("per_client", [1, 2, 3, 5, 10])
def test_the_most_clients_is_what_the_simulated_run_allows(per_client):
    """The bound is on the requests the validator simulates, not on the benchmark's (ten prompts per client, of
    which three rounds are run): 333,333 clients of ten prompts simulate 999,999 requests and are not refused;
    one more client would pass the simulator's cap."""
    from inferchip.validation.closed_loop import num_requests
    from inferchip.validation.closed_loop_rows import most_clients
    from inferchip.workload.limits import MAX_REQUESTS

    most = most_clients(per_client)
    assert num_requests(most, per_client)[1] <= MAX_REQUESTS < num_requests(most + 1, per_client)[1]
    assert most_clients(10) == 333_333


def test_a_disaggregated_worker_layout_refusal_names_the_notes_pool():
    """A disaggregated row's workers are the pools its notes state: a prefill pool of TP4/EP3 was refused as
    "columns ep, tp (ep 8, tp 8): ep 3 must divide tp 4", naming columns that hold the decode pool's layout."""
    notes = ("MULTINODE PREFILL/DECODE-DISAGGREGATED: 4 prefill GPUs (1 worker(s), TP4/EP3, DP-attention false) + "
             "32 decode GPUs (4 worker(s), TP8/EP8, DP-attention false)")
    row = _row(case_id="imax-d-disagg-p4x4e3-d32x8e8-1024-1024-c4-r1-tput", notes=notes, num_accelerators="36",
               accelerator="nvidia-b200-180gb", model="deepseek-ai/DeepSeek-R1-0528", weight_dtype="fp8",
               software="SGLang", tp="8", ep="8")
    res = validate_cases([row], Calibration(), compare=False)[0]
    assert res.status == "invalid_setting"
    assert res.reason.startswith("line 2 (imax-d-disagg-p4x4e3-d32x8e8-1024-1024-c4-r1-tput), column notes (prefill "
                                 "pool): ep 3 must divide tp 4"), res.reason


@pytest.mark.parametrize(("pool", "workers"), [("4 prefill GPUs (3 worker(s)", "3"),
                                               ("32 decode GPUs (0 worker(s)", "0")])
def test_a_pool_that_is_not_whole_workers_is_refused(pool, workers):
    """4 prefill GPUs of 3 workers were read as 3 workers of 1 GPU (one GPU dropped without a note); 0 workers as
    one worker."""
    notes = ("MULTINODE PREFILL/DECODE-DISAGGREGATED: 4 prefill GPUs (1 worker(s), TP4/EP4, DP-attention false) + "
             "32 decode GPUs (4 worker(s), TP8/EP8, DP-attention false)")
    notes = notes.replace(pool.split(" (")[0] + (" (1 worker(s)" if "prefill" in pool else " (4 worker(s)"), pool)
    cid = "imax-d-disagg-p4x4e4-d32x8e8-1024-1024-c4-r1-tput"
    with pytest.raises(InvalidSettingError, match=rf"line 2 .*column notes: .* are not {workers} whole worker"):
        row_facts(_row(case_id=cid, notes=notes, num_accelerators="36"))
