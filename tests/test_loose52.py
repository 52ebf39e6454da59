"""Stop 52's loose ends (branch loose52): a repeated option refused, never dropped; ``FrameCost.to_dataframe``'s
``power_dynamic_only``; one bound on ``drive``'s duration; ``ic.find_count``'s attention-DP refusal once; explore's
driving workload at the rig's cameras; Gaudi's padded prompt rows priced in energy as in time."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest


@pytest.mark.parametrize(("chip", "dynamic_only"), [("nvidia-drive-agx-thor", True), ("nvidia-l4", False)])
def test_frame_cost_dataframe_says_when_its_energy_is_the_dynamic_floor(chip, dynamic_only):
    """Failed on main: ``to_dict()`` carried ``power_dynamic_only`` and ``to_dataframe()`` did not, so a reader of
    the frame took a chip with no TDP's dynamic energy for its energy."""
    import inferchip as ic

    f = ic.frame_cost(chip, "yolov8n-640", [1, 2])
    df = f.to_dataframe()
    assert df["power_dynamic_only"].tolist() == [dynamic_only] * 2
    assert f.to_dict()["power_dynamic_only"] is dynamic_only


def _commands():
    from typer.main import get_command

    from inferchip.interfaces.cli import app

    group = get_command(app)
    return sorted(group.commands.items())


def _options(command):
    return [p for p in command.params
            if getattr(p, "param_type_name", "") == "option" and not p.is_eager and not p.count]


@pytest.mark.parametrize(("name", "option"), [(n, o) for n, c in _commands() for o in _options(c)],
                         ids=lambda v: v if isinstance(v, str) else v.opts[0])
def test_an_option_given_twice_is_refused_or_honoured_never_dropped(name, option):
    """Failed on main: ``vision --batch 1 --batch 8`` costed batch 8 alone (click keeps the last value of an option
    given twice, unsaid). Every option of every command, generated: one that takes several values keeps both, one
    that takes one refuses the second naming the option, before any work."""
    from typer.main import get_command

    from cli_in_process import run_main
    from inferchip.interfaces.cli import app

    opt = option.opts[0]
    if option.is_flag and not option.secondary_opts:  # a flag twice says one thing (loose53): test_loose53
        return
    twice = [opt, option.secondary_opts[0]] if option.is_flag else [opt, "1", opt, "2"]
    if option.multiple:
        command = dict(get_command(app).commands)[name]
        ctx = command.make_context(name, [], resilient_parsing=True)
        opts, _, _ = command.make_parser(ctx).parse_args(args=twice)
        assert list(opts[option.name]) == ["1", "2"]
        return
    code, out = run_main([name, *twice])
    flat = " ".join(out.split())
    assert code == 2, flat[-300:]
    assert f"error: {'/'.join([*option.opts, *option.secondary_opts])} given more than once" in flat
    assert "Traceback" not in out


def test_repeated_batch_names_both_values_and_the_list_form():
    from cli_in_process import run_main

    code, out = run_main(["vision", "--chip", "nvidia-l4", "--model", "yolov8n-640", "--batch", "1", "--batch=8"])
    flat = " ".join(out.split())
    assert code == 2
    assert "(--batch 1, --batch=8)" in flat and "comma-separated" in flat
    code, out = run_main(["models", "--moe", "--dense"])
    assert code == 2 and "one of --moe, --dense, once" in " ".join(out.split())
    readme = " ".join((Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8").split())
    assert "An option that takes one value given twice is refused" in readme


@pytest.mark.parametrize("duration_s", [1e-4, 86_400.5, 1e5, 2e7, float("nan"), float("inf")])
def test_drive_duration_has_one_bound_named_per_interface(duration_s):
    """Failed on main: ``drive --duration`` stopped at 86,400 s while ``ic.drive`` ran 100,000 s (its bound was
    1e7 s, and 1e-4 s reached the frame check, which named ``duration_s (--duration)`` in both interfaces)."""
    import inferchip as ic
    from cli_in_process import run_main
    from inferchip.errors import InvalidSettingError
    from inferchip.workload.limits import MAX_DURATION_S, MIN_DURATION_S

    assert not MIN_DURATION_S <= duration_s <= MAX_DURATION_S
    with pytest.raises(InvalidSettingError, match=r"^duration_s=\S+: allowed: .* from 0\.001 up to 86,400") as got:
        ic.drive("nvidia-l4", cameras=2, fps=10, models=["yolov8n-640@camera"], duration_s=duration_s)
    assert "--duration" not in str(got.value)
    code, out = run_main(["drive", "--chip", "nvidia-l4", "--cameras", "2", "--fps", "10", "--model",
                          "yolov8n-640@camera", "--duration", repr(duration_s)])
    flat = " ".join(out.split())
    assert code == 2 and "'--duration'" in flat and "from 0.001 up to 86,400" in flat and "duration_s" not in flat


def test_a_duration_holding_no_frame_is_named_as_the_caller_wrote_it():
    import inferchip as ic
    from cli_in_process import run_main
    from inferchip.errors import InvalidSettingError

    with pytest.raises(InvalidSettingError, match=r"^duration_s=0.05 s at 10 fps holds no whole frame"):
        ic.drive("nvidia-l4", cameras=2, fps=10, models=["yolov8n-640@camera"], duration_s=0.05)
    code, out = run_main(["drive", "--chip", "nvidia-l4", "--cameras", "2", "--fps", "10", "--model",
                          "yolov8n-640@camera", "--duration", "0.05"])
    assert code == 2 and "error: --duration 0.05 s at 10 fps holds no whole frame" in " ".join(out.split())


@pytest.mark.parametrize("attn_dp", ["yes", 1, "True"])
def test_find_count_refuses_an_attn_dp_that_is_no_flag_once_before_the_search(attn_dp):
    """Failed on main: ``ic.find_count(attn_dp="yes")`` on a MoE model ran the doubling and listed "no parallel layout
    ... with attention data parallelism on suits" at each of 13 counts ('yes' is no layout's flag); ``ic.serve``
    said "attn_dp= spreads sequences ... got tp=1". Refused as it is, naming the value, by both."""
    import inferchip as ic
    from inferchip.errors import InvalidSettingError

    for call in (ic.find_count, ic.serve):
        extra = {"slo_ttft_s": 0.5} if call is ic.find_count else {}
        with pytest.raises(InvalidSettingError) as got:
            call("nvidia-h100-sxm-80gb", "Qwen/Qwen3-30B-A3B", attn_dp=attn_dp, rate_per_s=5, num_requests=16, **extra)
        text = str(got.value)
        assert text.startswith(f"attn_dp={attn_dp!r}: allowed: True, False or None"), text
        assert text.count("attn_dp") == 1 and "chips meets" not in text, text


def test_a_numpy_flag_is_a_flag_for_attn_dp():
    import numpy as np

    import inferchip as ic

    s = ic.resolve_setting("nvidia-h100-sxm-80gb", "Qwen/Qwen3-30B-A3B", count=2, attn_dp=np.False_)
    assert not s.layout.attn_dp


def test_explores_driving_workload_costs_the_rig_network_at_the_rigs_cameras_as_drive_does():
    """Failed on main: explore's driving workload costed BEVFormer-tiny at its own 6 views where ``drive`` rebuilds
    it at the rig's 8 cameras (drive52), so the two disagreed on the same rig. The network explore costs is the one
    drive costs (same views, same MACs), and more views cost more."""
    from inferchip.explore.driving import DrivingWorkload
    from inferchip.performance.vision_drive import network_views, setup
    from inferchip.workload.vision.network import load_network

    w = DrivingWorkload()
    rig = setup("nvidia-jetson-agx-orin-64gb", [w.network], max_cameras=w.cameras)
    (driven,) = rig.networks
    assert network_views(driven.network) == w.views == w.cameras == 8
    assert w.network_at_rig().macs_per_frame == driven.network.macs_per_frame
    own = load_network(w.network)
    assert network_views(own) == 6 and w.network_at_rig().macs_per_frame > own.macs_per_frame
    assert w.workload_id.endswith("|views-8")


def test_a_store_of_the_driving_workload_at_its_own_views_is_refused_and_left_as_it_was(tmp_path):
    """A store written before (the driving workload's id without its views, costed at 6) holds other figures for
    the same designs: it is refused naming the workloads that differ, and its file is not touched."""
    from inferchip.explore.driving import DrivingWorkload
    from inferchip.explore.store import STORE_FILE, ForeignStoreError, Store
    from inferchip.spec.design_space import DesignSpace

    space = DesignSpace.from_dict({"parameters": {"matrix_units": [64, 128], "clock_ghz": [1.0, 2.0]}})
    old_id = "bevformer-tiny|rig-8x36fps"  # stop 51's id: costed at the network's own 6 views
    Store(tmp_path, space, [old_id]).con.close()
    before = (tmp_path / STORE_FILE).read_bytes()
    with pytest.raises(ForeignStoreError) as got:
        Store(tmp_path, space, [DrivingWorkload().workload_id])
    text = str(got.value)
    assert f"stored, not in this suite: {old_id};" in text and "not stored: bevformer-tiny|rig-8x36fps|views-8" in text
    assert (tmp_path / STORE_FILE).read_bytes() == before


def test_a_padded_gaudi_step_is_priced_in_energy_at_the_rows_its_time_runs():
    """Failed on main: vllm-gaudi's prompt buckets ran ten 200-token prompts as 2,560 rows in the step's time, while
    its energy took the power of the 2,000 logged tokens over that time (serve52's left item). The step's energy is
    the power at the padded rows (no attention pairs added) times its duration; a step with no padding unchanged."""
    import inferchip as ic
    from inferchip.performance.serving import serving_step
    from inferchip.sim import ClosedLoopArrivals, simulate

    setting = ic.resolve_setting("intel-gaudi3", "meta-llama/Llama-3.1-8B", tp=1, pp=1, ep=1)
    step, _ = serving_step(setting)
    res = simulate(step, ClosedLoopArrivals(concurrency=10, input_tokens=200, output_tokens=2), num_requests=10,
                   exact_step_times=True)
    s = res.steps
    pairs = 10 * 200 * 201 // 2
    assert int(s["num_tokens"][0]) == 2000 and float(s["duration_s"][0]) == pytest.approx(
        float(step.step_time_s(2560, 0, 0, pairs)), rel=1e-12)
    padded_w = float(step.step_power_w(2560, 0, 0, pairs))
    assert padded_w > float(step.step_power_w(2000, 0, 0, pairs))  # the padding's work is dynamic energy
    assert float(s["energy_j"][0]) == pytest.approx(padded_w * float(s["duration_s"][0]), rel=1e-12)
    later = s["prefill_tokens"] == 0  # decode steps: no prompt padding, priced at their logged tokens as before
    assert later.any()
    k = int(np.flatnonzero(later)[0])
    unpadded = float(step.step_power_w(s["num_tokens"][k], s["num_decode_seqs"][k], s["decode_kv_tokens"][k], 0.0))
    assert float(s["energy_j"][k]) == pytest.approx(unpadded * float(s["duration_s"][k]), rel=1e-12)
