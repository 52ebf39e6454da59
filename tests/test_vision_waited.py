"""validation/vision/waited.py: a SingleStream row whose measured one-sample query outlasts its own system's
8-sample MultiStream query is flagged (the row stays in every figure); the system's MultiStream latency comes from
the twin MLPerf result path or from the row's notes."""

from __future__ import annotations

from functools import partial
from pathlib import Path

from inferchip.validation.vision.cases import read_vision_cases
from inferchip.validation.vision.waited import same_system_multistream_ms, waited_query
from vision_rows import vision_case

ROOT = Path(__file__).resolve().parents[1]
PATH = "github.com/mlcommons/inference_results_v5.1 @965182b033 closed/X/results/SYS/retinanet/{}/run_1/s.txt"
BASE = {"source_kind": "mlperf-inference-v5.1-closed", "accelerator": "nvidia-l4", "software": "TensorRT 10.2",
        "model": "retinanet-resnext50-fpn-800", "precision": "int8", "unit": "ms"}
_case = partial(vision_case, BASE)


def _ss(value: str, notes: str = "n", case_id: str = "ss"):
    return _case(case_id=case_id, source=PATH.format("SingleStream"), scenario="single_stream", metric="latency_p90_ms",
                 value=value, notes=notes)


def _ms(value: str):
    return _case(case_id="ms", source=PATH.format("MultiStream"), scenario="multi_stream", batch="",
                 metric="latency_p99_ms", value=value)


def test_the_twin_multistream_row_is_the_systems_query():
    ss, ms = _ss("5.0"), _ms("40.0")
    assert same_system_multistream_ms(ss, [ss, ms]) == (40.0, "row ms")
    assert waited_query(ss, [ss, ms]) == ""  # 5 ms for one sample against 40 ms for eight: as a batch-1 call runs
    slow = _ss("45.0")
    text = waited_query(slow, [slow, ms])
    assert text.startswith("measured query waited") and "45 ms" in text and "40 ms, row ms" in text
    assert "kept in every figure" in text


def test_the_notes_state_it_when_the_run_is_no_row():
    ss = _ss("51.0", notes="the same system's RetinaNet MultiStream run completes an 8-sample query in 29.59 ms (mean")
    assert same_system_multistream_ms(ss, [ss]) == (29.59, "stated in the row's notes")
    assert waited_query(ss, [ss])
    other = _case(case_id="o", source=PATH.format("SingleStream").replace("SYS", "OTHER"), scenario="multi_stream",
                  batch="", metric="latency_p99_ms", value="1.0")
    assert same_system_multistream_ms(ss, [ss, other]) == (29.59, "stated in the row's notes")  # another system


def test_only_singlestream_latency_rows_are_read():
    off = _case(source=PATH.format("Offline"), scenario="offline", batch="", metric="samples_per_s", value="100",
                unit="samples/s", notes="MultiStream run completes an 8-sample query in 1 ms")
    assert same_system_multistream_ms(off, [off]) is None and waited_query(off, [off]) == ""
    assert same_system_multistream_ms(_ss("5.0"), []) is None


def test_the_shipped_rows_flag_exactly_the_hpe_rtx_4000_ada_retinanet_run():
    rows = read_vision_cases(ROOT / "src" / "inferchip" / "catalog" / "vision" / "vision_cases.csv")
    flagged = [c.case_id for c in rows if waited_query(c, rows)]
    assert flagged == ["mlpinf-v5.1-hpe-hpe-proliant-ml30-rtx-4000-ada-pcie-20gbx1-trt-trt-retinanet-single-stream"]
    known = [c for c in rows if same_system_multistream_ms(c, rows) is not None]
    assert len(known) >= 3  # the Lenovo RTX 2000E and Dell L4 twins are read and not flagged


def test_validate_carries_the_flag_and_keeps_the_prediction():
    from inferchip.catalog.vision_networks import load_vision_calibration
    from inferchip.validation.vision.validate import validate_vision
    ss = _ss("51.0", notes="its MultiStream run completes an 8-sample query in 29.59 ms")
    ok = _ss("4.8", case_id="ss2")
    flagged, plain = validate_vision([ss, ok], load_vision_calibration(), loao=False, simulate=False)
    assert flagged.flag.startswith("measured query waited") and flagged.to_dict()["flag"] == flagged.flag
    assert plain.flag == "" and plain.to_dict()["flag"] == ""
    assert flagged.status == "ok" and flagged.predicted == plain.predicted  # predicted alike, kept in the figures
