"""Stop 53's loose ends (branch loose53): a flag given twice taken; a non-UTF-8 option value shown readably; the
engine resolved once per setting; ``ic.frame_cost``'s rig views."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st


def _flags():
    from typer.main import get_command

    from inferchip.interfaces.cli import app

    return [(name, p) for name, c in sorted(get_command(app).commands.items()) for p in c.params
            if getattr(p, "param_type_name", "") == "option" and p.is_flag and not p.is_eager and not p.count]


@pytest.mark.parametrize(("name", "option"), _flags(), ids=lambda v: v if isinstance(v, str) else v.opts[0])
def test_a_flag_given_twice_meaning_the_same_is_taken(name, option):
    """Failed on main: ``drive --own-views --own-views`` was refused as an option given more than once, though a
    flag repeated says the same thing; its on and off spellings together (``--moe --dense``) are still refused."""
    from inferchip.interfaces.app import refuse_repeated

    opt = option.opts[0]
    refuse_repeated([option, option], [opt, opt])  # taken
    if option.secondary_opts:
        from inferchip.errors import InvalidSettingError

        with pytest.raises(InvalidSettingError, match="given more than once"):
            refuse_repeated([option, option], [opt, option.secondary_opts[0]])


def test_drive_own_views_twice_runs_as_once():
    from cli_in_process import run_main

    base = ["drive", "--chip", "nvidia-l4", "--cameras", "3", "--fps", "10", "--model", "bevformer-tiny",
            "--duration", "1", "--format", "json"]
    once = run_main([*base, "--own-views"])
    twice = run_main([*base, "--own-views", "--own-views"])
    assert once[0] == 0, once[1][-300:]
    assert twice == once


@pytest.mark.parametrize("option", ["--engine", "--chip", "--weights"])
def test_a_value_that_is_no_utf8_is_shown_as_its_bytes(option):
    """Failed on main: ``--engine $'vl\\xffm'`` said "unknown engine 'vl\\udcffm'": Python's surrogateescape
    stand-in for the byte, which the user never typed; the error shows the byte as repr of bytes writes it."""
    from cli_in_process import run_main

    args = {"--engine": "vllm", "--chip": "nvidia-h100-sxm-80gb", "--weights": "fp8"}
    args[option] = b"vl\xffm".decode("utf-8", "surrogateescape")
    code, out = run_main(["predict", "--model", "meta-llama/Llama-3.1-8B", "--batch", "1",
                          *[x for kv in args.items() for x in kv]])
    assert code == 2, out[-300:]
    assert "vl\\xffm" in out and "udc" not in out and "\udcff" not in out


def test_readable_shows_a_surrogate_escaped_byte_and_keeps_a_typed_backslash():
    from hypothesis import given
    from hypothesis import strategies as st

    from inferchip.errors import readable

    assert readable("engine " + repr("a\udc80b")) == "engine 'a\\x80b'"
    assert readable(repr("a\\udcffb")) == repr("a\\udcffb")  # a backslash the user typed, repr doubles it

    @given(st.binary(max_size=40))
    def no_surrogate_left(raw: bytes) -> None:
        text = raw.decode("utf-8", "surrogateescape")
        for message in (f"value {text!r}", f"value {text}"):
            out = readable(message)
            assert not any(0xDC80 <= ord(c) <= 0xDCFF for c in out)
            out.encode("utf-8")  # printable on a UTF-8 terminal

    no_surrogate_left()


@pytest.mark.parametrize(("cameras", "own_views"), [(8, False), (3, False), (8, True), (None, False)])
def test_frame_cost_costs_a_rig_network_at_the_rigs_views_as_drive_does(cameras, own_views):
    """Failed on main: ``ic.frame_cost`` took no ``cameras=`` / ``own_views=`` (a TypeError), so BEVFormer-tiny was
    costed at its own 6 views only, where ``ic.drive`` on an 8-camera rig costs it at 8. The network it costs is the
    one drive's rig costs, and more views cost more."""
    import inferchip as ic
    from inferchip.performance.vision_drive import setup

    f = ic.frame_cost("nvidia-l4", "bevformer-tiny", [1, 2], cameras=cameras, own_views=own_views)
    (driven,) = setup("nvidia-l4", ["bevformer-tiny"], max_cameras=cameras or 6, own_views=own_views).networks
    own = ic.frame_cost("nvidia-l4", "bevformer-tiny", [1, 2])
    at_rig = ic.frame_cost("nvidia-l4", driven.network, [1, 2])
    assert f.flop_per_frame == at_rig.flop_per_frame and list(f.latency_s) == list(at_rig.latency_s)
    views = 6 if cameras is None or own_views else cameras
    assert (f.flop_per_frame > own.flop_per_frame) == (views > 6)
    assert (f.flop_per_frame < own.flop_per_frame) == (views < 6)
    if cameras not in (None, 6):
        assert any(f"{cameras} camera" in n for n in f.notes)


def test_frame_cost_says_when_cameras_or_own_views_change_nothing():
    import inferchip as ic

    f = ic.frame_cost("nvidia-l4", "yolov8n-640", [1], cameras=8)
    assert f.flop_per_frame == ic.frame_cost("nvidia-l4", "yolov8n-640", [1]).flop_per_frame
    assert any("cameras= changes nothing" in n for n in f.notes)
    f = ic.frame_cost("nvidia-l4", "bevformer-tiny", [1], own_views=True)
    assert any("own_views=True changes nothing without cameras=" in n for n in f.notes)


def _error(call):
    from inferchip.errors import InvalidSettingError

    with pytest.raises(InvalidSettingError) as got:
        call()
    return str(got.value)


@pytest.mark.parametrize("kw", [{"cameras": 0}, {"cameras": 1001}, {"cameras": 2.5}, {"cameras": True},
                                {"cameras": "8"}, {"own_views": "no"}, {"own_views": None}, {"own_views": 1}])
def test_frame_cost_refuses_bad_cameras_and_own_views_as_drive_does(kw):
    import inferchip as ic

    got = _error(lambda: ic.frame_cost("nvidia-l4", "bevformer-tiny", [1], **kw))
    rig = {"cameras": 8, "fps": 10, "duration_s": 1, **kw}
    assert got == _error(lambda: ic.drive("nvidia-l4", **rig))
    assert next(iter(kw)) in got


def test_frame_cost_cameras_fuzz():
    """Any cameras= is costed or refused by name; a rig network's FLOP grow with its views."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    import inferchip as ic
    from inferchip.errors import InvalidSettingError

    @settings(max_examples=25, deadline=None)
    @given(st.one_of(st.none(), st.integers(-5, 1010), st.floats(allow_nan=True), st.booleans(), st.text(max_size=3)),
           st.one_of(st.booleans(), st.none(), st.integers(0, 2)))
    def costed_or_named(cameras, own_views):
        try:
            f = ic.frame_cost("nvidia-l4", "bevformer-tiny", [1], cameras=cameras, own_views=own_views)
        except InvalidSettingError as exc:
            assert "cameras" in str(exc) or "own_views" in str(exc)
            return
        assert isinstance(own_views, bool) and (cameras is None or 1 <= cameras <= 1000)
        assert np.all(np.isfinite(f.latency_s)) and f.flop_per_frame > 0

    costed_or_named()


@pytest.mark.parametrize("args", [
    ["predict", "--batch", "8"],
    ["serve", "--concurrency", "4", "--requests", "8", "--tp", "1"],
    ["curve", "--tp", "1"],
], ids=lambda a: a[0])
def test_the_cli_resolves_the_engine_once_with_the_setting(args, monkeypatch):
    """Failed on main: predict / serve / curve called ``served_engine`` up front for the output and the load's cap,
    and the setting they ran called it again from the same arguments (2 calls); the command now reads it from the
    setting (``Setting.engine``, ``Setting.choice``), as ``ic.find_count`` reads its first setting's caps."""
    from cli_in_process import run_main
    from inferchip.performance import predict as predict_module
    from inferchip.performance.setting import engine as engine_module
    from inferchip.performance.setting import resolve as resolve_module

    calls = []
    real = engine_module.served_engine

    def counted(*a, **k):
        calls.append(a[0])
        return real(*a, **k)

    monkeypatch.setattr(engine_module, "served_engine", counted)
    resolve_module._SETTINGS.clear()  # the settings' cache: an earlier test's setting resolves nothing here
    predict_module._RECENT.clear()
    code, out = run_main([*args, "--chip", "nvidia-h100-sxm-80gb", "--model", "meta-llama/Llama-3.1-8B",
                          "--engine", "vllm", "--format", "json"])
    assert code == 0, out[-400:]
    assert calls == ["vllm"]
    assert '"id": "vllm"' in out


def test_frame_cost_suggests_its_new_keywords():
    import inferchip as ic

    with pytest.raises(TypeError, match=r"did you mean 'cameras'\?.*allowed: .*cameras, own_views"):
        ic.frame_cost("nvidia-l4", "bevformer-tiny", [1], camera=8)


def _clients_run(warmups, clients=32, requests=96, kv_tokens=200_000):
    from inferchip.sim import LinearStepModel, benchmark_clients, simulate

    step = LinearStepModel(fixed_s=0.01, per_token_s=2e-5, per_decode_seq_s=1e-5, kv_capacity_tokens=kv_tokens)
    return simulate(step, benchmark_clients(clients, 2048, 64, 1.0), num_requests=requests, seed=3,
                    warmup_requests=warmups)


def test_itl_reads_the_steady_tail_by_hand():
    """Failed on main: ``--warmups N`` left ITL read from every step, the warm-up requests' token gaps included,
    while TTFT / TPOT / E2E read the steady tail. Now a step's tokens of the warm-up requests are left out: by hand,
    the ITL samples are each step's duration weighted by the steady requests decoding in it (first token before
    the step's end, last token at or after it, on its replica)."""
    from inferchip.sim.results.metrics import weighted_percentile

    res = _clients_run(32)
    r, s = res.requests, res.steps
    ends = s["start_s"] + s["duration_s"]
    steady = np.array([np.sum((r["first_token_s"][32:] < e) & (e <= r["finish_s"][32:])
                              & (r["replica"][32:] == rep)) for e, rep in zip(ends, s["replica"], strict=True)])
    keep = steady > 0
    got = res.summary()
    assert res.itl_extra_s.size == 0  # no preemption: every gap is one step
    assert np.isclose(got["itl_s_mean"], np.average(s["duration_s"][keep], weights=steady[keep]))
    assert np.isclose(got["itl_s_p99"], weighted_percentile(s["duration_s"][keep], steady[keep].astype(float), 99))
    whole = _clients_run(0).summary()
    assert got["itl_s_mean"] != whole["itl_s_mean"]  # the first wave's long mixed steps no longer read


@given(st.integers(0, 95))
def test_warmup_tokens_and_steady_tokens_are_every_decode_token(n):
    """Without preemption, the warm-up requests' decode tokens of a step plus the rest's are the step's tokens
    (the attribution by first and last token times is exact), and all requests as warm-ups are every token."""
    res = _clients_run(n)
    tokens = res.steps["num_decode_seqs"] - res.itl_skip_per_step
    warm = res.warmup_decoding() if n else np.zeros(tokens.size)
    assert np.all(warm <= tokens) and np.all(warm >= 0)
    from dataclasses import replace

    assert np.array_equal(replace(res, warmup_requests=96).warmup_decoding(), tokens)


def test_itl_of_no_warmups_is_as_before():
    a, b = _clients_run(0), _clients_run(0)
    assert a.summary()["itl_s_p99"] == b.summary()["itl_s_p99"]
    assert np.isclose(a.summary()["itl_s_mean"],
                      np.average(a.steps["duration_s"], weights=a.steps["num_decode_seqs"]))


def test_serve_help_says_itl_reads_the_steady_tail_and_why_mtp_refuses():
    from typer.main import get_command

    from cli_in_process import run_main
    from inferchip.interfaces.cli import app

    serve = dict(get_command(app).commands)["serve"]
    (warmups,) = [p for p in serve.params if "--warmups" in p.opts]
    assert "TTFT, TPOT, E2E and ITL (their tokens' gaps) read the steady tail" in warmups.help
    assert "Not with --mtp / --disagg" in warmups.help
    code, out = run_main(["serve", "--chip", "nvidia-h100-sxm-80gb", "--model", "deepseek-ai/DeepSeek-R1", "--count",
                          "8", "--concurrency", "8", "--disagg", "1xtp4:1xtp4", "--warmups", "4"])
    flat = " ".join(out.split())
    assert code == 2 and "--warmups with --disagg" in flat and "not the requests one by one" in flat


def _float_options():
    from typer.main import get_command

    from inferchip.interfaces.cli import app

    return [(name, p.opts[0]) for name, c in sorted(get_command(app).commands.items()) for p in c.params
            if getattr(p, "param_type_name", "") == "option" and getattr(p.callback, "allowed", "").startswith(
                "a finite number")]


@pytest.mark.parametrize(("name", "option"), _float_options())
def test_a_number_past_a_float_is_named_as_one(name, option):
    """Failed on main: ``serve --rate 1e400`` said "Invalid value for '--rate': inf", a value nobody typed (click
    reads 1e400 as infinity); every bounded number option now says the value is infinite or past the largest float,
    with what is allowed."""
    from cli_in_process import run_main

    code, out = run_main([name, option, "1e400"])
    flat = " ".join(out.split())
    assert code == 2, flat[-300:]
    assert f"'{option}': inf (infinite, or past the largest number a float holds" in flat
    assert "allowed: a finite" in flat


def test_software_without_mtp_or_disagg_names_its_value_and_what_is_allowed():
    """Failed on main: the refusal named neither the value nor what is allowed."""
    from cli_in_process import run_main

    code, out = run_main(["serve", "--chip", "nvidia-h100-sxm-80gb", "--model", "meta-llama/Llama-3.1-8B",
                          "--concurrency", "2", "--software", "sglang 0.5"])
    flat = " ".join(out.split())
    assert code == 2 and "--software 'sglang 0.5'" in flat and "allowed: with --mtp N or --disagg" in flat
