"""Stop 50's second reading (review50) of the stop's merges: fleet50's SLO verdicts and --find-count, vision50's
drive verdict and time split, and the lead's Hypothesis profile under CI."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from inferchip.interfaces.cli_options import curve_slo as cs
from inferchip.interfaces.cli_options import fleet

H100_8B = ["--chip", "nvidia-h100-sxm-80gb", "--model", "meta-llama/Llama-3.1-8B"]
SHORT = ["--input-tokens", "512", "--output-tokens", "128"]


def _cli(*args: str) -> str:
    res = subprocess.run([sys.executable, "-m", "inferchip.interfaces.cli", *args], capture_output=True, text=True,
                         check=True)
    return res.stdout


def _summary(saturated: bool) -> dict[str, float | bool]:
    return {"ttft_s_p99": 0.2, "tpot_s_p99": 0.05, "ttft_s_mean": 0.1, "tpot_s_mean": 0.04,
            "output_tokens_per_s_per_chip": 1000.0, "output_tokens_per_s_per_user": 25.0, "saturated": saturated}


@given(st.sampled_from(["p99", "mean"]), st.booleans())
def test_a_saturated_run_meets_no_slo(stat, saturated):
    """Failed on main: the verdict read the percentiles of the requests that finished, so a run whose queue grows
    without bound met a TPOT limit (and a loose TTFT one): the figures are within, the run is not."""
    v = cs.judge_run(_summary(saturated), 1000.0, 100.0, stat)
    assert v is not None and v["saturated"] is saturated and v["meets"] is (not saturated)
    assert ("saturated" in cs.run_line(v)) is saturated


def test_serve_find_count_does_not_answer_a_saturated_count():
    """Failed on main: 50 requests/s of Llama-3.1-8B (512 in, 128 out) at p99 TPOT <= 100 ms answered 1 H100, whose
    run the same output flagged saturated (the queue grows: the load exceeds what it sustains)."""
    base = ["serve", *H100_8B, *SHORT, "--rate", "50", "--slo-tpot-ms", "100"]
    one = json.loads(_cli(*base, "--format", "json"))
    assert one["saturated"] and one["slo"]["tpot_s_at_statistic"] <= 0.1  # within the limit, yet saturated
    assert one["slo"]["meets"] is False and one["slo"]["saturated"] is True
    d = json.loads(_cli(*base, "--find-count", "--format", "json"))
    n = d["sizing"]["count"]
    assert n > 1 and d["slo"]["meets"] and not d["saturated"]
    assert all(not t["meets"] for t in d["sizing"]["counts_run"] if t["saturated"])
    assert f"sizing (--find-count): {n:,} chips" in fleet.sizing_line(d["sizing"])


def test_the_api_judges_a_saturated_run_as_the_cli_does():
    """Failed on main: ic.serve and ic.find_count (apiserve50: sim/runs/slo.py, the CLI's implementation) met a
    TPOT limit with a run whose queue grows, and sized 50 requests/s of Llama-3.1-8B at 1 H100."""
    import inferchip as ic
    from inferchip.sim.runs.slo import judge_run

    load = {"rate_per_s": 50.0, "input_tokens": 512, "output_tokens": 128, "slo_tpot_s": 0.1}
    one = ic.serve(H100_8B[1], H100_8B[3], **load)
    assert one["saturated"] and one["slo"]["tpot_s_at_statistic"] <= 0.1 and one["slo"]["meets"] is False
    sized = ic.find_count(H100_8B[1], H100_8B[3], **load)
    assert sized["sizing"]["count"] > 1 and sized["slo"]["meets"] and not sized["saturated"]
    assert judge_run({**_summary(True)}, 1.0, 0.1, "p99")["meets"] is False  # the one rule, in seconds


def test_sizing_line_says_one_chip():
    """Failed on main: '1 chips'."""
    line = fleet.sizing_line({"count": 1, "counts_run": [{"count": 1, "meets": True, "saturated": False,
                                                          "ttft_s_at_statistic": 0.1, "tpot_s_at_statistic": 0.01,
                                                          "reason": None}]})
    assert line.startswith("sizing (--find-count): 1 chip, ")


def test_ic_curve_runs_a_point_as_ic_serve_and_the_cli_curve_do():
    """Failed on main: ic.curve ran every request at exactly input_tokens / output_tokens where ic.serve's closed loop
    and `inferchip curve` draw them from [0.8 L, L] (benchmark_serving's --random-range-ratio): Llama-3.1-8B on an
    H100 at 16 users, 512 / 128, read 1,468 tok/s a chip and a 207 ms mean TTFT against their 1,544 and 40 ms."""
    import inferchip as ic

    point = ic.curve(H100_8B[1], H100_8B[3], concurrencies=[16], input_tokens=512, output_tokens=128).points[0]
    run = ic.serve(H100_8B[1], H100_8B[3], concurrency=16, num_requests=8 * 16, input_tokens=512, output_tokens=128)
    cli = json.loads(_cli("curve", *H100_8B, *SHORT, "--format", "json"))["points"]
    cli_point = next(p for p in cli if p["concurrency"] == 16)
    for key in ("output_tokens_per_s_per_chip", "ttft_s_mean", "tpot_s_mean", "ttft_s_p99"):
        assert point[key] == run[key] == cli_point[key]
    fixed = ic.curve(H100_8B[1], H100_8B[3], concurrencies=[16], input_tokens=512, output_tokens=128,
                     range_ratio=1.0).points[0]
    assert fixed["ttft_s_mean"] != point["ttft_s_mean"]  # the ratio given is the one run


@given(st.sampled_from(["nvidia-l4", "nvidia-h100-pcie-80gb", "untetherai-speedai240-slim", "amd-mi250x"]),
       st.lists(st.integers(1, 256), min_size=1, max_size=4, unique=True), st.integers(1, 4))
def test_frame_cost_to_dict_is_json_and_its_time_split_sums_to_the_latency(chip, batch, count):
    """Failed on main (pyapi50's to_dict meeting vision50's time_split_s): FrameCost.to_dict() held the split's numpy
    arrays, so json.dumps(ic.frame_cost(...).to_dict()) raised TypeError (test_pyapi50's own repr test failed)."""
    import math

    import inferchip as ic

    f = ic.frame_cost(chip, "resnet50-v1.5", sorted(batch), count=count)
    d = json.loads(json.dumps(f.to_dict()))
    split = d["time_split_s"]
    assert split is not None and set(split) == {"compute", "memory", "overhead", "host_copy", "power_limit"}
    for i, t in enumerate(d["latency_s"]):
        assert math.isclose(sum(v[i] for v in split.values()), t, rel_tol=1e-9)
        assert all(v[i] >= -1e-15 for v in split.values())


def test_drive_names_the_network_that_takes_most_of_the_job():
    """Failed on main: 12 cameras through resnet50-v1.5 at --max-batch 1 (12 calls of 0.42 ms a tick on an Orin) and
    yolov8n-640 once a tick (0.53 ms): 'what binds' named yolov8n-640, the longest single call, a tenth of the work."""
    from inferchip.performance.vision_drive import drive

    d = drive("nvidia-jetson-agx-orin-64gb", 12, 10, ["resnet50-v1.5@camera", "yolov8n-640@rig"], max_batch=1,
              duration_s=2)
    assert d["binds"]["part"] == "service" and d["binds"]["network"] == "resnet50-v1.5"
    assert "12 calls in a frame's job" in d["binds"]["text"]
    whole = drive("nvidia-jetson-agx-orin-64gb", 12, 10, ["resnet50-v1.5@camera", "yolov8n-640@rig"], duration_s=2)
    assert "calls" not in whole["binds"]["text"]  # one call of 12 frames: the call is the job's


@given(st.integers(1, 12), st.one_of(st.none(), st.integers(1, 12)), st.sampled_from(["tick", "frame"]),
       st.floats(1.0, 60.0))
def test_fuzz_drive_binds_the_network_with_the_most_work(cameras, max_batch, batching, fps):
    """The network 'what binds' names spends at least as long in a frame's job (a tick's work when the chip cannot
    keep up) as any other, the seconds simulate_rig runs them for."""
    from inferchip.performance import vision_drive as vd

    d = vd.drive("nvidia-jetson-orin-nano-8gb", cameras, fps, ["resnet50-v1.5@camera", "yolov8n-640@rig"],
                 max_batch=max_batch, batching=batching, duration_s=1)
    b = d["binds"]
    if b is None or b["network"] is None:
        return
    s = vd.setup("nvidia-jetson-orin-nano-8gb", ["resnet50-v1.5@camera", "yolov8n-640@rig"], max_cameras=cameras,
                 max_batch=max_batch, batching=batching)
    load = vd.RigLoad(cameras, fps, duration_s=1, batching=batching, max_batch=max_batch)
    over = d["offered_load"] >= 1.0
    work = {st.name: vd._work_s(st, load, over)[0] for st in s.stages}
    assert work[b["network"]] == max(work.values())
    if not over or batching == "tick":  # a frame's job as the rig ran it: its networks' seconds sum to its work
        assert sum(work.values()) * 1e3 == pytest.approx(d["latency_split_ms"]["service"], rel=1e-9)


def test_a_catalogue_chip_given_as_its_chipspec_gets_no_left_out_note():
    """Failed on main: architect50's note on the fields a user's chip file leaves out keyed 'the catalogue' on the
    argument being an id string, so the ChipSpec ic.load_chip returns (which every call takes, pyapi50) and the
    bundled file's Path were told their chip file left fields out, where the same chip by id was not. A variant
    (another id, or a changed field) is the user's chip and is told."""
    from pathlib import Path

    import inferchip as ic
    from inferchip.catalog.chips import get_chip_params

    h100 = "nvidia-h100-sxm-80gb"
    spec = ic.load_chip(h100)
    bundled = Path(ic.__file__).parent / "catalog" / "chips" / f"{h100}.yaml"

    def left_out(chip: object) -> list[str]:
        return [n for n in get_chip_params(chip).notes if "left out of the chip file" in n]

    assert left_out(h100) == left_out(spec) == left_out(bundled) == []
    assert ic.predict(spec, H100_8B[3], batch=8).notes == ic.predict(h100, H100_8B[3], batch=8).notes
    variant = spec.model_copy(update={"id": "my-h100"})
    assert len(left_out(variant)) == 1 and left_out(variant)[0].startswith("my-h100: left out of the chip file")
