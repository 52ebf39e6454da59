"""tools/closed_loop/decode_step_classes.py: the engine padding of a decode step by hand, the batch grid parser,
and on a real Dynamo + SGLang row: the classes add up to the step, the step grows with the batch, and the wrapped
``simulate_closed_loop`` is restored."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import load_tool

CASES = Path(__file__).resolve().parents[1] / "src/inferchip/catalog/inferencemax_cases.csv"


@pytest.fixture(scope="module")
def dsc():
    return load_tool("decode_step_classes")


def test_padding_by_hand(dsc):
    # 10 requests per rank pad to the graph bucket 16 (step 8); 48 ranks: 768 sequences; one MTP draft token per
    # padded sequence doubles the tokens
    assert dsc.padded_tokens(10, 48, 8, 512, 0) == (768, 768)
    assert dsc.padded_tokens(10, 48, 8, 512, 1) == (1536, 768)
    # above the largest graph the batch is not padded
    assert dsc.padded_tokens(600, 2, 8, 512, 0) == (1200, 1200)


@settings(max_examples=50, deadline=None)
@given(st.integers(1, 1000), st.integers(1, 72), st.sampled_from([1, 8, 16]), st.sampled_from([64, 256, 512]))
def test_padding_never_drops_requests(dsc, per_rank, ranks, step, largest):
    tokens, seqs = dsc.padded_tokens(per_rank, ranks, step, largest, 0)
    assert seqs >= per_rank * ranks and tokens == seqs


def test_parse_ints(dsc):
    assert dsc.parse_ints("64, 32,64") == (32, 64)
    with pytest.raises(ValueError):
        dsc.parse_ints("0,4")
    with pytest.raises(ValueError):
        dsc.parse_ints("a")


def test_real_row_classes_add_up_and_wrapper_restored(dsc):
    from inferchip.catalog.calibration_file import load_calibration
    from inferchip.validation import closed_loop_rows
    from inferchip.validation.cases import read_cases
    from inferchip.validation.validate import Validator

    orig = closed_loop_rows.simulate_closed_loop
    case = next(c for c in read_cases(str(CASES))
                if "sglang-fp4-disagg-p16x1e1dpa-d48x1e1dpa-1024-1024-c1024" in c.case_id and c.metric == "tpot_ms")
    v = Validator(load_calibration(None), server_model="sim", compare=False)
    with dsc.catching() as rec:
        result = v.predict_case(case)
    assert closed_loop_rows.simulate_closed_loop is orig
    assert result.status == "ok" and rec["reps"]["decode"].ranks == 48
    rows = dsc.class_rows(rec["reps"]["decode"], (16, 128), 1536.0)
    for r in rows:  # pp 1: the step is the sum of its classes
        assert sum(c["time_s"] for c in r["classes"].values()) == pytest.approx(r["time_s"], rel=1e-6)
    assert rows[1]["time_s"] > rows[0]["time_s"]
    assert rows[0]["classes"]["communication"]["network_s"] > 0
    lines = dsc.report(case, rec["reps"]["decode"], rows, float(result.predicted))
    assert len(lines) == 5 and "48 attention-DP ranks" in lines[0]


def test_little_per_rank_by_hand(dsc):
    # 171,000 output tokens/s at 25 ms per token on 48 ranks: 171,000 x 0.025 / 48 = 89.06 requests per rank
    assert dsc.little_per_rank(171_000.0, 25.0, 48) == pytest.approx(89.0625)
    # the FP8 1k/1k p4-d16 row at 16 clients: 1,456 tokens/s at 10.12 ms over 4 workers of 4 ranks: 0.92 a rank
    assert dsc.little_per_rank(1456.0, 10.12, 4, 4) == pytest.approx(1456.0 * 0.01012 / 16)


def test_padding_is_dropped_where_padded_rows_reach_no_expert(dsc):
    # 5 a rank on 4 ranks: the 8-row graph each (32 rows, 1 draft each: 64 tokens), or the 20 real rows
    assert dsc.padded_tokens(5, 4, 8, 512, 1) == (64, 32)
    assert dsc.padded_tokens(5, 4, 8, 512, 1, routed=False) == (40, 20)


@settings(max_examples=50, deadline=None)
@given(st.floats(1.0, 1e6), st.floats(0.1, 1e3), st.integers(1, 72))
def test_little_requests_times_rate_give_the_tokens(dsc, tokens_per_s, tpot_ms, ranks):
    # each decoding request emits 1 / TPOT tokens per second: requests x ranks / TPOT is the throughput again
    n = dsc.little_per_rank(tokens_per_s, tpot_ms, ranks)
    assert n * ranks / (tpot_ms / 1e3) == pytest.approx(tokens_per_s)


def test_run_records_group_a_run(dsc, tmp_path):
    import json

    cases = [{"case_id": "row-a-c64-r1-tput"}, {"case_id": "row-a-c64-r1-tpot"}, {"case_id": "row-a-c128-r1-tpot"}]
    f = tmp_path / "x.json"
    f.write_text(json.dumps({"cases": cases}))
    got = dsc.run_records(str(f), "row-a-c64-r1-ttft")
    assert sorted(got) == ["tpot", "tput"] and got["tpot"]["case_id"] == "row-a-c64-r1-tpot"


def test_decode_floor_sets_and_restores_the_family(dsc):
    """``--decode-floor-us``: the family carries the figure while open, its own defaults come back after."""
    from inferchip.catalog.chips import family_defaults

    before = family_defaults("nvidia-blackwell")
    assert before.expert_a2a_decode_floor_us == (23.5, 0.099)  # shipped since stop 33
    with dsc.decode_floor("nvidia-blackwell", 30.0, 0.5):
        assert family_defaults("nvidia-blackwell").expert_a2a_decode_floor_us == (30.0, 0.5)
        assert family_defaults("nvidia-hopper").expert_a2a_decode_floor_us == (0.0, 0.0)
    assert family_defaults("nvidia-blackwell") is before


@pytest.mark.parametrize("figure", [(-1.0, 0.1), (23.5, float("nan")), (23.5, float("inf"))])
def test_decode_floor_rejects_a_figure_the_family_file_could_not_hold(dsc, figure):
    """The tool's figure is checked by the family field's own bound (0 to 1e6 us, finite) and the family is left
    as it was: a negative or NaN floor would otherwise price a call below zero."""
    from inferchip.catalog.chips import family_defaults
    from inferchip.errors import SpecError

    before = family_defaults("nvidia-blackwell")
    with pytest.raises(SpecError, match=r"decode-floor-us.*expert_a2a_decode_floor_us"):
        with dsc.decode_floor("nvidia-blackwell", *figure):
            pass
    assert family_defaults("nvidia-blackwell") is before


def test_decode_floor_rejects_an_unknown_family(dsc):
    from inferchip.errors import SpecError

    with pytest.raises(SpecError, match="unknown chip family 'nvidia-nope'"):
        with dsc.decode_floor("nvidia-nope", 23.5, 0.099):
            pass
